"""clmlp.Net and the module-level functions over the ctypes layer (_lib)."""

from __future__ import annotations

import operator
import os
import signal
import threading
from ctypes import byref, c_double, c_int, c_size_t, POINTER
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _lib
from ._lib import Error, check, decode, lib
from ._progress import make_bar

__all__ = ["Net", "History", "Device", "load", "devices", "version", "get_include"]

PathLike = Union[str, "os.PathLike[str]"]
DeviceSpec = Union[None, str, Tuple[int, int], "Device"]
F64Array = npt.NDArray[np.float64]


def _einval(message: str) -> Error:
    return Error("CLMLP_EINVAL", message)


def _choice(value: str, table: Dict[str, int], what: str) -> int:
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        raise _einval(f"{what} {value!r} is not one of {', '.join(repr(k) for k in table)}")
    return table[key]


def _f64(a: npt.ArrayLike, what: str) -> F64Array:
    """a as float64 and C-contiguous; no copy when it already is."""
    try:
        return np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise _einval(f"{what}: cannot be converted to float64: {e}") from e


def _rows(a: npt.ArrayLike, cols: int, what: str) -> Tuple[F64Array, bool]:
    """a as a float64 batch × cols matrix; a 1-D array of cols values is one row.
    Returns (matrix, was_1d)."""
    m = _f64(a, what)
    if m.ndim == 1 and m.shape[0] == cols:
        return m.reshape(1, cols), True
    if m.ndim != 2 or m.shape[1] != cols:
        raise _einval(f"{what} has shape {m.shape}, not (batch, {cols})")
    return m, False


def _to_path(path: PathLike) -> bytes:
    return os.fsencode(os.fspath(path))


def _config(backend: str, device: DeviceSpec, seed: int, dtype: str = "f64", loss: str = "mse") -> _lib.clmlp_config:
    cfg = _lib.clmlp_config()
    lib.clmlp_config_init(byref(cfg))
    cfg.backend = _choice(backend, _lib.BACKENDS, "backend")
    cfg.dtype = _choice(dtype, _lib.DTYPES, "dtype")
    cfg.loss = _choice(loss, _lib.LOSSES, "loss")
    if isinstance(device, Device):
        device = (device.platform, device.device)
    if isinstance(device, tuple):
        if len(device) != 2:
            raise _einval(f"device {device!r} is not (platform, device)")
        cfg.platform, cfg.device = (operator.index(v) for v in device)
    elif isinstance(device, str):
        spec = device.encode()
        if len(spec) >= 32:
            raise _einval(f"device spec {device!r} is longer than 31 bytes")
        cfg.device_spec = spec
    elif device is not None:
        raise _einval(f"device {device!r} is not None, 'gpu', 'cpu', 'P:D', (P, D) or a clmlp.Device")
    seed = operator.index(seed)
    if not 0 <= seed < 2**64:
        raise _einval(f"seed {seed} is not in [0, 2^64)")
    cfg.seed = seed
    return cfg


class History(list):  # type: ignore[type-arg]
    """What Net.fit returns: a list with one dict per epoch that ran.

    Each dict has ``epoch`` (from 1), ``loss`` and ``accuracy`` (the epoch's training
    loss per sample and accuracy, as trained), ``samples``, ``seconds``, ``lr`` (the
    epoch's learning rate), with validation ``val_loss`` and ``val_accuracy``, and
    ``interrupted: True`` on an epoch that Ctrl-C cut short.

    Attributes:
        interrupted: Ctrl-C stopped the training.
        stopped_early: patience ran out.
        best_epoch: with patience, the epoch (from 1) whose weights the net holds now.
    """

    interrupted: bool = False
    stopped_early: bool = False
    best_epoch: Optional[int] = None


@dataclass(frozen=True)
class Device:
    """An OpenCL device (clmlp_device_info); pass one as ``device=`` to pick it."""

    platform: int
    device: int
    platform_name: str
    name: str
    type: str  # "GPU", "CPU", "accelerator", "other"
    compute_units: int
    global_memory: int  # bytes
    max_allocation: int  # bytes
    fp64: bool
    chosen: bool  # what an open choice would pick now

    @property
    def spec(self) -> str:
        """The device as "P:D" (clmlp_config.device_spec, CLMLP_DEVICE, --device)."""
        return f"{self.platform}:{self.device}"


class _Dataset:
    """A clmlp_dataset on a net's device; destroy before the net (close)."""

    def __init__(self, net: "Net", handle: Any) -> None:
        self.net = net
        self.handle = handle

    @property
    def count(self) -> int:
        return int(lib.clmlp_dataset_count(self.handle))

    def close(self) -> None:
        if self.handle:
            lib.clmlp_dataset_destroy(self.handle)
            self.handle = None


class _Stop:
    """The flag a SIGINT handler sets during Net.fit, read by the progress callback."""

    def __init__(self) -> None:
        self.flag = False
        self.previous: Any = None
        self.installed = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.flag = True

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self)
            self.installed = True

    def restore(self) -> None:
        if self.installed:
            # None: a handler not installed from Python; the default is the closest
            signal.signal(signal.SIGINT, self.previous if self.previous is not None else signal.SIG_DFL)
            self.installed = False


class Net:
    """A tanh MLP ``MyNet(n_0 … n_L)`` on an OpenCL device or the host path (clmlp_net).

    For l = 1..L: ``z[l] = a[l-1] W[l]^T + b[l]``, ``a[l] = tanh(z[l])`` with W[l] of
    shape n_l × n_{l-1} (as torch's nn.Linear.weight); with ``loss="ce"`` the last layer
    is linear and the loss is softmax cross-entropy, with ``"mse"`` it is
    ``Σ (a[L] − y)²``; both summed over the batch.

    Arrays go in as anything numpy converts to float64 (C-contiguous float64 arrays pass
    without a copy) and come out as new float64 arrays. One net must not be used from
    two threads at once, except :meth:`predict`. Failures raise :class:`clmlp.Error`.

    Args:
        sizes: n_0 … n_L (at least two, each ≥ 1).
        loss: ``"ce"`` (softmax cross-entropy) or ``"mse"`` (tanh + squared error).
        dtype: ``"f32"`` or ``"f64"``: what the net computes in (the API speaks float64).
        backend: ``"auto"`` (the OpenCL device when one is usable, else the host path),
            ``"opencl"`` or ``"host"``.
        device: None (open choice, ``CLMLP_DEVICE`` decides), ``"gpu"``, ``"cpu"``,
            ``"P:D"``, a (platform, device) tuple or a :class:`Device`; a device asked
            for that cannot be used is ``CLMLP_ENODEVICE``.
        seed: the weight initialization's seed (like nn.Linear: U(±1/√n_{l-1})).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        loss: str = "ce",
        dtype: str = "f32",
        backend: str = "auto",
        device: DeviceSpec = None,
        seed: int = 0,
    ) -> None:
        self._h: Any = None
        cfg = _config(backend, device, seed, dtype=dtype, loss=loss)
        try:
            values = [operator.index(n) for n in sizes]
        except TypeError as e:
            raise _einval(f"sizes {sizes!r} are not integers") from e
        if any(n < 0 or n >= 2**63 for n in values):
            raise _einval(f"sizes {values} must be ≥ 1")
        arr = (c_size_t * max(len(values), 1))(*values)
        h = _lib.NET_P()
        check(lib.clmlp_create(arr, len(values), byref(cfg), byref(h)))
        self._adopt(h, None)

    @classmethod
    def _from_handle(cls, h: Any, pp: Optional[_lib.clmlp_preprocess]) -> "Net":
        net = cls.__new__(cls)
        net._h = None
        net._adopt(h, pp)
        return net

    def _adopt(self, h: Any, pp: Optional[_lib.clmlp_preprocess]) -> None:
        self._h = h
        self._pp = pp
        self._lib = lib  # kept for __del__ at interpreter shutdown
        L = int(lib.clmlp_num_layers(h))
        self._sizes = tuple(int(lib.clmlp_layer_size(h, i)) for i in range(L + 1))
        self._batch: Optional[int] = None  # rows of the last successful forward

    # ---- lifetime --------------------------------------------------------

    def close(self) -> None:
        """Destroy the net now (clmlp_destroy); later calls raise CLMLP_EINVAL."""
        h, self._h = self._h, None
        if h:
            self._lib.clmlp_destroy(h)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> "Net":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def _handle(self) -> Any:
        if not self._h:
            raise _einval("the net is closed")
        return self._h

    def __repr__(self) -> str:
        if not self._h:
            return "<clmlp.Net (closed)>"
        return (
            f"<clmlp.Net {list(self._sizes)} loss={self.loss!r} dtype={self.dtype!r} "
            f"backend={self.backend_name!r}>"
        )

    # ---- properties ----------------------------------------------------------

    @property
    def sizes(self) -> Tuple[int, ...]:
        """(n_0, …, n_L)."""
        return self._sizes

    @property
    def layers(self) -> int:
        """L, the number of layers with weights."""
        return len(self._sizes) - 1

    @property
    def backend_name(self) -> str:
        """``"opencl: <device name>"`` or ``"host"`` (clmlp_backend_name)."""
        return decode(lib.clmlp_backend_name(self._handle))

    @property
    def fallback_reason(self) -> str:
        """Why backend "auto" fell back to the host path; "" when it did not."""
        return decode(lib.clmlp_fallback_reason(self._handle))

    @property
    def kernel_info(self) -> str:
        """What the OpenCL kernels run with ("" on the host path; clmlp_kernel_info)."""
        return decode(lib.clmlp_kernel_info(self._handle))

    @property
    def loss(self) -> str:
        """``"mse"`` or ``"ce"``."""
        return "ce" if lib.clmlp_loss_type(self._handle) == _lib.LOSSES["ce"] else "mse"

    @property
    def dtype(self) -> str:
        """``"f32"`` or ``"f64"``."""
        return "f32" if lib.clmlp_dtype_of(self._handle) == _lib.DTYPES["f32"] else "f64"

    @property
    def preprocess(self) -> Optional[Dict[str, Any]]:
        """The image preprocessing a loaded model file carries (clmlp_preprocess:
        scale_255, normalize, mean, std, crop, target), or None for a net made here."""
        pp = self._pp
        if pp is None:
            return None
        norm = {v: k for k, v in _lib.NORMALIZE.items()}.get(pp.normalize, str(pp.normalize))
        target = {v: k for k, v in _lib.TARGETS.items()}.get(pp.target, str(pp.target))
        return {
            "scale_255": bool(pp.scale_255),
            "normalize": norm,
            "mean": pp.mean,
            "std": pp.std,
            "crop": int(pp.crop),
            "target": target,
        }

    # ---- parameters ----------------------------------------------------------

    def _layer(self, l: int, lowest: int = 1) -> int:
        try:
            l = operator.index(l)
        except TypeError as e:
            raise _einval(f"layer {l!r} is not an integer") from e
        if not lowest <= l <= self.layers:
            raise _einval(f"layer {l} is not in {lowest}..{self.layers}")
        return l

    def set_layer(self, l: int, W: npt.ArrayLike, b: npt.ArrayLike) -> None:
        """Set W[l] (n_l × n_{l-1}) and b[l] (n_l) for l in 1..L; finite values only
        (CLMLP_ENUMERIC names the element)."""
        h = self._handle
        l = self._layer(l)
        rows, cols = self._sizes[l], self._sizes[l - 1]
        W = _f64(W, "W")
        b = _f64(b, "b")
        if W.shape != (rows, cols):
            raise _einval(f"set_layer({l}): W has shape {W.shape}, not ({rows}, {cols})")
        if b.shape != (rows,):
            raise _einval(f"set_layer({l}): b has shape {b.shape}, not ({rows},)")
        check(lib.clmlp_set_layer(h, l, W, b))

    def get_layer(self, l: int) -> Tuple[F64Array, F64Array]:
        """(W[l], b[l]) as new arrays, l in 1..L."""
        h = self._handle
        l = self._layer(l)
        W = np.empty((self._sizes[l], self._sizes[l - 1]))
        b = np.empty(self._sizes[l])
        check(lib.clmlp_get_layer(h, l, W, b))
        return W, b

    def _weights(self) -> List[Tuple[F64Array, F64Array]]:
        return [self.get_layer(l) for l in range(1, self.layers + 1)]

    def _set_weights(self, weights: List[Tuple[F64Array, F64Array]]) -> None:
        for l, (W, b) in enumerate(weights, start=1):
            self.set_layer(l, W, b)

    # ---- forward, backward, step ------------------------------------------------

    def forward(self, x: npt.ArrayLike) -> F64Array:
        """a[L] for a batch x (batch × n_0, or one sample of n_0), keeping z and a for
        :meth:`backward` (clmlp_forward). Returns batch × n_L (n_L for one sample)."""
        h = self._handle
        x, single = _rows(x, self._sizes[0], "forward: x")
        y = np.empty((x.shape[0], self._sizes[-1]))
        check(lib.clmlp_forward(h, x, x.shape[0], y))
        self._batch = x.shape[0]
        return y[0] if single else y

    def backward(self, y_true: npt.ArrayLike) -> float:
        """Gradients of the loss on the last forward's batch against y_true (batch ×
        n_L), summed over the batch; returns the loss (clmlp_backward)."""
        h = self._handle
        if self._batch is None:
            raise _einval("backward: no forward state; call forward first")
        y, _ = _rows(y_true, self._sizes[-1], "backward: y_true")
        if y.shape[0] != self._batch:
            raise _einval(f"backward: y_true has {y.shape[0]} rows, the last forward {self._batch}")
        loss = c_double()
        check(lib.clmlp_backward(h, y, byref(loss)))
        return loss.value

    def grad(self, l: int) -> Tuple[F64Array, F64Array]:
        """(dL/dW[l], dL/db[l]) of the last backward, l in 1..L (clmlp_get_grad)."""
        h = self._handle
        l = self._layer(l)
        dW = np.empty((self._sizes[l], self._sizes[l - 1]))
        db = np.empty(self._sizes[l])
        check(lib.clmlp_get_grad(h, l, dW, db))
        return dW, db

    def state(self, l: int) -> Tuple[Optional[F64Array], F64Array]:
        """(z[l], a[l]) of the last forward, batch × n_l; l in 0..L, z is None for l = 0."""
        h = self._handle
        l = self._layer(l, lowest=0)
        if self._batch is None:
            raise _einval("state: no forward state; call forward first")
        a = np.empty((self._batch, self._sizes[l]))
        z = np.empty_like(a) if l > 0 else None
        check(lib.clmlp_get_state(h, l, z, a))
        return z, a

    def sgd_step(self, lr: float) -> None:
        """W[l] −= lr·dW[l], b[l] −= lr·db[l] on every layer (after a backward)."""
        check(lib.clmlp_sgd_step(self._handle, float(lr)))

    def numeric_grad(
        self, x: npt.ArrayLike, y_true: npt.ArrayLike, l: int, eps: float = 1e-4
    ) -> Tuple[F64Array, F64Array]:
        """Central finite differences of the loss on (x, y_true) for W[l] and b[l]
        (clmlp_numeric_grad); leaves no forward state."""
        h = self._handle
        l = self._layer(l)
        x, _ = _rows(x, self._sizes[0], "numeric_grad: x")
        y, _ = _rows(y_true, self._sizes[-1], "numeric_grad: y_true")
        if y.shape[0] != x.shape[0]:
            raise _einval(f"numeric_grad: x has {x.shape[0]} rows, y_true {y.shape[0]}")
        dW = np.empty((self._sizes[l], self._sizes[l - 1]))
        db = np.empty(self._sizes[l])
        self._batch = None
        check(lib.clmlp_numeric_grad(h, x, y, x.shape[0], l, float(eps), dW, db))
        return dW, db

    # ---- inference -------------------------------------------------------------

    def predict(self, x: npt.ArrayLike) -> F64Array:
        """Outputs for x (batch × n_0, or one sample): a[L] for MSE, the softmax
        probabilities for CE (clmlp_predict). Leaves the net and its forward state
        untouched and may be called from several threads at once (the GIL is released
        while the library computes), as long as nothing modifies the net meanwhile."""
        h = self._handle
        x, single = _rows(x, self._sizes[0], "predict: x")
        y = np.empty((x.shape[0], self._sizes[-1]))
        check(lib.clmlp_predict(h, x, x.shape[0], y))
        return y[0] if single else y

    # ---- standardization -------------------------------------------------------

    @property
    def standardization(self) -> Optional[Tuple[F64Array, F64Array]]:
        """The per-input (mean, std) the model keeps (clmlp_get_standardization), or None."""
        h = self._handle
        mean = np.empty(self._sizes[0])
        std = np.empty(self._sizes[0])
        present = c_int()
        check(lib.clmlp_get_standardization(h, mean, std, byref(present)))
        return (mean, std) if present.value else None

    def set_standardization(self, mean: Optional[npt.ArrayLike], std: Optional[npt.ArrayLike]) -> None:
        """Keep a per-input standardization with the model (n_0 values each, std > 0);
        both None removes it. The net does not apply it by itself: see :meth:`standardize`."""
        h = self._handle
        if (mean is None) != (std is None):
            raise _einval("set_standardization: give both mean and std, or neither")
        if mean is None or std is None:
            check(lib.clmlp_set_standardization(h, None, None))
            return
        m, s = _f64(mean, "mean"), _f64(std, "std")
        for name, v in (("mean", m), ("std", s)):
            if v.shape != (self._sizes[0],):
                raise _einval(f"set_standardization: {name} has shape {v.shape}, not ({self._sizes[0]},)")
        check(lib.clmlp_set_standardization(h, m, s))

    def standardize(self, x: npt.ArrayLike) -> F64Array:
        """A standardized copy of x (rows × n_0): (x − mean) / std per input, x itself
        (copied) without a standardization (clmlp_standardize)."""
        h = self._handle
        m, single = _rows(x, self._sizes[0], "standardize: x")
        out = np.array(m, dtype=np.float64, order="C", copy=True)
        check(lib.clmlp_standardize(h, out, out.shape[0]))
        return out[0] if single else out

    def prepare_images(self, images: npt.ArrayLike) -> F64Array:
        """Inputs from raw uint8 images (count × rows × cols) under the preprocessing
        of a loaded model file (clmlp_preprocess_apply), e.g. a `clmlp train --save` model."""
        if self._pp is None:
            raise _einval("prepare_images: the net has no image preprocessing (it was not loaded from a file)")
        imgs = np.ascontiguousarray(images, dtype=np.uint8)
        if imgs.ndim != 3:
            raise _einval(f"prepare_images: images have shape {imgs.shape}, not (count, rows, cols)")
        count, rows, cols = imgs.shape
        n = c_size_t()
        check(lib.clmlp_preprocess_inputs(byref(self._pp), rows, cols, byref(n)))
        x = np.empty((count, n.value))
        check(lib.clmlp_preprocess_apply(byref(self._pp), imgs, count, rows, cols, x))
        return x

    # ---- datasets, training, evaluation ----------------------------------------

    def _dataset(self, x: npt.ArrayLike, y: npt.ArrayLike, what: str, target: str) -> _Dataset:
        """x with labels (1-D integers: clmlp_dataset_from_labels) or targets (2-D
        floats, or 1-D when n_L is 1: clmlp_dataset_from_arrays) on the net's device."""
        h = self._handle
        n_in, n_out = self._sizes[0], self._sizes[-1]
        xm, _ = _rows(x, n_in, f"{what}: x")
        ya = np.asarray(y)
        ds = _lib.DATASET_P()
        if ya.ndim == 1 and (np.issubdtype(ya.dtype, np.integer) or ya.dtype == np.bool_):
            if ya.shape[0] != xm.shape[0]:
                raise _einval(f"{what}: x has {xm.shape[0]} rows, the labels {ya.shape[0]}")
            if ya.size and (ya.min() < 0 or ya.max() >= n_out):
                bad = ya[(ya < 0) | (ya >= n_out)][0]
                raise _einval(f"{what}: label {bad} is not in 0..{n_out - 1}")
            labels = np.ascontiguousarray(ya, dtype=np.uint32)
            code = _choice(target, _lib.TARGETS, "target")
            check(lib.clmlp_dataset_from_labels(h, xm, labels, xm.shape[0], code, byref(ds)))
        else:
            if ya.ndim == 1 and n_out == 1:
                ya = ya.reshape(-1, 1)
            if ya.ndim != 2:
                raise _einval(
                    f"{what}: y has shape {ya.shape}: give labels (1-D integers) or targets (count × {n_out} floats)"
                )
            ym, _ = _rows(ya, n_out, f"{what}: y")
            if ym.shape[0] != xm.shape[0]:
                raise _einval(f"{what}: x has {xm.shape[0]} rows, y {ym.shape[0]}")
            check(lib.clmlp_dataset_from_arrays(h, xm, ym, xm.shape[0], byref(ds)))
        return _Dataset(self, ds)

    def _evaluate(self, data: _Dataset) -> Dict[str, Any]:
        classes = self._sizes[-1]
        confusion = np.zeros((classes, classes), dtype=np.uintp)
        ev = _lib.clmlp_eval()
        ev.confusion = confusion.ctypes.data_as(POINTER(c_size_t))
        self._batch = None  # evaluation overwrites the forward state
        check(lib.clmlp_evaluate(self._handle, data.handle, byref(ev)))
        return {
            "loss": ev.loss,
            "accuracy": ev.accuracy,
            "n": int(ev.n),
            "confusion": confusion.astype(np.int64),
        }

    def evaluate(self, x: npt.ArrayLike, y: npt.ArrayLike, *, target: str = "01") -> Dict[str, Any]:
        """Loss per sample, accuracy, n and the confusion matrix (n_L × n_L int64, row =
        true class, column = predicted) on (x, y) (clmlp_evaluate). y: labels (1-D
        integers, one-hot targets as `target` says: "01" or "pm1") or targets (2-D)."""
        data = self._dataset(x, y, "evaluate", target)
        try:
            return self._evaluate(data)
        finally:
            data.close()

    def fit(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        epochs: int = 5,
        batch: int = 128,
        lr: float = 0.1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        optimizer: str = "sgd",
        validation: Union[None, float, Tuple[npt.ArrayLike, npt.ArrayLike]] = None,
        patience: Optional[int] = None,
        seed: int = 0,
        progress: bool = True,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        lr_decay: float = 1.0,
        target: str = "01",
        report_every: Optional[int] = None,
    ) -> History:
        """Minibatch training (clmlp_train_epoch per epoch) on the net's device.

        Args:
            x: inputs, count × n_0.
            y: labels (1-D integers < n_L; clmlp_dataset_from_labels, one-hot targets
                as `target` says: "01" or "pm1") or targets (count × n_L floats;
                clmlp_dataset_from_arrays).
            epochs, batch, lr: SGD on the batch-averaged loss; the lr of epoch e (from 0)
                is lr·lr_decay^e.
            momentum, weight_decay, optimizer: "sgd" (torch.optim.SGD) or "adam"
                (torch.optim.Adam, with beta1, beta2, eps); weight decay as the L2 term.
            validation: None, a fraction of the rows held out by a split seeded by
                `seed` (clmlp_dataset_split), or (x_val, y_val); evaluated after every
                epoch (val_loss, val_accuracy).
            patience: stop after this many epochs without a better validation loss,
                and restore the weights of the best epoch (needs validation).
            seed: the shuffles (epoch e's is seeded by (seed, e)) and the split.
            progress: a progress bar on stderr when it is a terminal (tqdm when
                installed, else a plain one).
            report_every: steps between progress reports, which are also when a
                Ctrl-C is noticed (default: every 8 steps, or about 100 per epoch when
                that is fewer reports).

        Ctrl-C during fit stops training cleanly after the current step and returns
        what ran (``history.interrupted``); the previous SIGINT handler is restored.

        Returns:
            a :class:`History`: one dict per epoch.
        """
        h = self._handle
        epochs = operator.index(epochs)
        if epochs < 0:
            raise _einval(f"fit: epochs {epochs} is negative")
        batch = operator.index(batch)
        if batch < 1:
            raise _einval(f"fit: batch {batch} is not ≥ 1")
        if patience is not None:
            patience = operator.index(patience)
            if patience < 1:
                raise _einval(f"fit: patience {patience} is not ≥ 1")
            if validation is None:
                raise _einval("fit: patience needs validation data (a fraction or (x_val, y_val))")
        if isinstance(validation, bool) or not (
            validation is None or isinstance(validation, (float, int)) or isinstance(validation, (tuple, list))
        ):
            raise _einval(f"fit: validation {validation!r} is not None, a fraction or (x_val, y_val)")
        seed = operator.index(seed)

        opt = _lib.clmlp_train_options()
        lib.clmlp_train_options_init(byref(opt))
        opt.batch = batch
        opt.lr = float(lr)
        opt.optimizer = _choice(optimizer, _lib.OPTIMIZERS, "optimizer")
        opt.momentum = float(momentum)
        opt.weight_decay = float(weight_decay)
        opt.beta1, opt.beta2, opt.eps = float(beta1), float(beta2), float(eps)
        opt.lr_decay = float(lr_decay)
        opt.seed = seed
        opt.comm = None

        history = History()
        datasets: List[_Dataset] = []
        stop = _Stop()
        bar = make_bar(progress)
        failure: List[BaseException] = []
        best: Optional[Tuple[float, int, List[Tuple[F64Array, F64Array]]]] = None

        def report(user: Any, done: int, total: int, running_loss: float) -> int:
            try:
                bar.update(int(done), float(running_loss))
            except BaseException as e:  # never let an exception cross into C
                failure.append(e)
                return 1
            return 1 if stop.flag else 0

        callback = _lib.PROGRESS_FN(report)
        try:
            data = self._dataset(x, y, "fit", target)
            datasets.append(data)
            val: Optional[_Dataset] = None
            train = data
            if isinstance(validation, (tuple, list)):
                if len(validation) != 2:
                    raise _einval("fit: validation is not (x_val, y_val)")
                val = self._dataset(validation[0], validation[1], "fit: validation", target)
                datasets.append(val)
            elif validation is not None:
                first, second = _lib.DATASET_P(), _lib.DATASET_P()
                check(lib.clmlp_dataset_split(data.handle, float(validation), seed, byref(first), byref(second)))
                val, train = _Dataset(self, first), _Dataset(self, second)
                datasets += [val, train]
                data.close()  # the parts are copies
            count = train.count
            steps = -(-count // min(batch, count)) if count else 1
            # a report reads the counters back (a sync on a device): every 8 steps at
            # least, about 100 per epoch at most
            every = report_every if report_every is not None else min(steps, max(8, steps // 100))
            opt.report_every = max(1, operator.index(every))
            opt.progress = callback
            stop.install()
            waited = 0
            for e in range(epochs):
                if stop.flag:
                    history.interrupted = True
                    break
                bar.start_epoch(e + 1, epochs, count)
                stats = _lib.clmlp_epoch_stats()
                self._batch = None  # training overwrites the forward state
                status = lib.clmlp_train_epoch(h, train.handle, byref(opt), e, byref(stats))
                if failure:
                    raise failure[0]
                try:
                    check(status)
                except Error as err:
                    err.history = history  # type: ignore[attr-defined]
                    raise
                record: Dict[str, Any] = {
                    "epoch": e + 1,
                    "loss": stats.loss,
                    "accuracy": stats.accuracy,
                    "samples": int(stats.samples),
                    "seconds": stats.seconds,
                    "lr": opt.lr * opt.lr_decay**e,
                }
                if stop.flag and stats.samples < count:
                    record["interrupted"] = True  # cut short: no validation
                if val is not None and "interrupted" not in record:
                    m = self._evaluate(val)
                    record["val_loss"], record["val_accuracy"] = m["loss"], m["accuracy"]
                bar.end_epoch(record)
                history.append(record)
                if patience is not None and "val_loss" in record:
                    if best is None or record["val_loss"] < best[0]:
                        best = (record["val_loss"], e + 1, self._weights())
                        waited = 0
                    else:
                        waited += 1
                        if waited >= patience:
                            history.stopped_early = True
                            bar.message(
                                f"stopped early after epoch {e + 1}: the validation loss has not improved "
                                f"for {patience} epoch{'s' if patience > 1 else ''}"
                            )
                            break
                if stop.flag:
                    history.interrupted = True
                    break
            if history.interrupted:
                where = f"epoch {history[-1]['epoch']}" if history else "before the first epoch"
                if history and "interrupted" in history[-1]:
                    where += f" after {history[-1]['samples']} of {count} samples"
                bar.message(f"interrupted (Ctrl-C): stopped in {where}")
            if best is not None:
                history.best_epoch = best[1]
                if best[1] != history[-1]["epoch"] or "interrupted" in history[-1]:
                    self._set_weights(best[2])
                    bar.message(f"kept: the model of epoch {best[1]} (best validation loss {best[0]:.4f})")
        finally:
            stop.restore()
            bar.close()
            for d in reversed(datasets):
                d.close()
            self._batch = None
        return history

    # ---- model files -------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Write the model file (clmlp_save: sizes, loss, dtype, weights, the
        standardization and a loaded model's preprocessing; atomically)."""
        h = self._handle
        pp = byref(self._pp) if self._pp is not None else None
        check(lib.clmlp_save(h, pp, _to_path(path)))


def load(path: PathLike, backend: str = "auto", device: DeviceSpec = None, seed: int = 0) -> Net:
    """A net from a model file or checkpoint (clmlp_load) on the backend and device
    asked for; the file's loss and dtype are used. CLMLP_EIO when it cannot be read,
    CLMLP_EFORMAT when it is corrupt, truncated or foreign."""
    cfg = _config(backend, device, seed)
    h = _lib.NET_P()
    pp = _lib.clmlp_preprocess()
    check(lib.clmlp_load(_to_path(path), byref(cfg), byref(h), byref(pp)))
    return Net._from_handle(h, pp)


def devices() -> List[Device]:
    """The OpenCL devices (clmlp_list_devices); empty without any OpenCL platform."""
    count = c_size_t()
    check(lib.clmlp_list_devices(None, 0, byref(count)))
    n = count.value
    if n == 0:
        return []
    infos = (_lib.clmlp_device_info * n)()
    check(lib.clmlp_list_devices(infos, n, byref(count)))
    return [
        Device(
            platform=d.platform,
            device=d.device,
            platform_name=decode(d.platform_name),
            name=decode(d.name),
            type=decode(d.type),
            compute_units=int(d.compute_units),
            global_memory=int(d.global_memory),
            max_allocation=int(d.max_allocation),
            fp64=bool(d.fp64),
            chosen=bool(d.chosen),
        )
        for d in infos[: min(n, count.value)]
    ]


def version() -> str:
    """The library's "MAJOR.MINOR.PATCH" (clmlp_version)."""
    return decode(lib.clmlp_version())


def get_include() -> str:
    """The directory of clmlp.h and clmlp_version.h the package's library was built from."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")

