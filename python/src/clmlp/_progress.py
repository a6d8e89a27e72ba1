"""Progress display for Net.fit: tqdm when installed, else a plain bar on stderr; nothing
when stderr is not a terminal or progress is off."""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, TextIO

__all__ = ["make_bar", "Bar", "format_record"]


def format_record(record: Dict[str, Any]) -> str:
    """One line for an epoch's record, like the `clmlp train` command's."""
    parts = [f"loss {record['loss']:.4f}", f"accuracy {100 * record['accuracy']:.2f}%"]
    if "val_loss" in record:
        parts += [f"val loss {record['val_loss']:.4f}", f"val accuracy {100 * record['val_accuracy']:.2f}%"]
    parts.append(f"{record['seconds']:.1f} s")
    if record.get("interrupted"):
        parts.append(f"interrupted after {record['samples']} samples")
    return "  ".join(parts)


class Bar:
    """No display (progress=False, or no terminal)."""

    def start_epoch(self, epoch: int, epochs: int, total: int) -> None:
        pass

    def update(self, done: int, loss: float) -> None:
        pass

    def end_epoch(self, record: Dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class _TqdmBar(Bar):
    def __init__(self, tqdm: Any, stream: TextIO) -> None:
        self._tqdm = tqdm
        self._stream = stream
        self._bar: Optional[Any] = None
        self._done = 0

    def start_epoch(self, epoch: int, epochs: int, total: int) -> None:
        self._bar = self._tqdm(
            total=total, desc=f"epoch {epoch}/{epochs}", unit="sample", unit_scale=True, leave=True, file=self._stream
        )
        self._done = 0

    def update(self, done: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.update(done - self._done)
            self._done = done
            self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end_epoch(self, record: Dict[str, Any]) -> None:
        if self._bar is not None:
            self.update(int(record["samples"]), float(record["loss"]))
            post = {"loss": f"{record['loss']:.4f}", "acc": f"{record['accuracy']:.4f}"}
            if "val_loss" in record:
                post["val_loss"] = f"{record['val_loss']:.4f}"
                post["val_acc"] = f"{record['val_accuracy']:.4f}"
            self._bar.set_postfix(post)
            self._bar.close()
            self._bar = None

    def message(self, text: str) -> None:
        self._tqdm.write(text, file=self._stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _PlainBar(Bar):
    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._head = ""
        self._total = 1
        self._start = 0.0
        self._last = 0.0
        self._open = False

    def start_epoch(self, epoch: int, epochs: int, total: int) -> None:
        self._head = f"epoch {epoch}/{epochs}"
        self._total = max(total, 1)
        self._start = self._last = time.monotonic()
        self._draw(0, None)

    def _draw(self, done: int, loss: Optional[float]) -> None:
        filled = self.WIDTH * done // self._total
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1)
        rate = done / max(time.monotonic() - self._start, 1e-9)
        tail = f"  loss {loss:.4f}  {rate:,.0f} samples/s" if loss is not None else ""
        self._stream.write(f"\r{self._head} [{bar}] {done}/{self._total}{tail}\x1b[K")
        self._stream.flush()
        self._open = True

    def update(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self._draw(done, loss)

    def end_epoch(self, record: Dict[str, Any]) -> None:
        self._stream.write(f"\r{self._head}  {format_record(record)}\x1b[K\n")
        self._stream.flush()
        self._open = False

    def message(self, text: str) -> None:
        if self._open:
            self._stream.write("\n")
            self._open = False
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False


def make_bar(progress: bool, stream: Optional[TextIO] = None) -> Bar:
    """The display fit uses: tqdm's or a plain one on a terminal, else none."""
    stream = sys.stderr if stream is None else stream
    if not progress:
        return Bar()
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return Bar()
    try:
        from tqdm import tqdm  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return _PlainBar(stream)
    return _TqdmBar(tqdm, stream)
