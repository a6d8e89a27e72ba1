"""Model files through the binding: round trips, other backends, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import clmlp
from conftest import HAS_OPENCL


def trained(backend: str, dtype: str, loss: str = "ce") -> clmlp.Net:
    rng = np.random.default_rng(3)
    net = clmlp.Net([6, 5, 3], loss=loss, dtype=dtype, backend=backend, seed=4)
    x = rng.normal(size=(64, 6))
    y = rng.integers(0, 3, 64) if loss == "ce" else rng.uniform(-0.5, 0.5, (64, 3))
    net.fit(x, y, epochs=2, batch=8, progress=False)
    return net


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_round_trip(backend: str, dtype: str, loss: str, tmp_path: Path) -> None:
    net = trained(backend, dtype, loss)
    net.set_standardization(np.linspace(-1, 1, 6), np.linspace(1, 3, 6))
    path = tmp_path / "model.clmlp"
    net.save(path)  # a Path
    other = "host" if backend == "opencl" else ("opencl" if HAS_OPENCL else "host")
    for b in {backend, other}:
        back = clmlp.load(str(path), backend=b)  # a str
        assert back.sizes == net.sizes and back.loss == loss and back.dtype == dtype
        assert back.backend_name.startswith("opencl") == (b == "opencl")
        for l in range(1, net.layers + 1):
            for got, want in zip(back.get_layer(l), net.get_layer(l)):
                np.testing.assert_array_equal(got, want)  # bit-identical
        m, s = back.standardization
        np.testing.assert_array_equal(m, np.linspace(-1, 1, 6))
        np.testing.assert_array_equal(s, np.linspace(1, 3, 6))
        x = np.random.default_rng(5).normal(size=(10, 6))
        tol = 1e-12 if dtype == "f64" else 1e-5
        np.testing.assert_allclose(back.predict(x), net.predict(x), rtol=tol, atol=tol)
        back.save(tmp_path / "again.clmlp")
        assert (tmp_path / "again.clmlp").read_bytes() == path.read_bytes()


def test_missing_file_is_eio(tmp_path: Path) -> None:
    with pytest.raises(clmlp.Error) as e:
        clmlp.load(tmp_path / "nothing.clmlp")
    assert e.value.status == "CLMLP_EIO"
    net = clmlp.Net([2, 2], backend="host")
    with pytest.raises(clmlp.Error) as e:
        net.save(tmp_path / "no" / "such" / "dir.clmlp")
    assert e.value.status == "CLMLP_EIO"


def test_bad_files_are_eformat(tmp_path: Path) -> None:
    good = tmp_path / "good.clmlp"
    trained("host", "f64").save(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.clmlp"
    variants = {
        "empty": b"",
        "foreign": b"this is not a model file at all, just some text" * 4,
        "truncated": data[: len(data) // 2],
        "flipped": data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],
        "trailing": data + b"\0",
    }
    for name, content in variants.items():
        bad.write_bytes(content)
        with pytest.raises(clmlp.Error) as e:
            clmlp.load(bad)
        assert e.value.status == "CLMLP_EFORMAT", name
        assert e.value.message, name
    with pytest.raises(clmlp.Error) as e:
        clmlp.load(tmp_path)  # a directory
    assert e.value.status in ("CLMLP_EIO", "CLMLP_EFORMAT")


def test_load_a_command_model_with_its_preprocessing(tmp_path: Path) -> None:
    """A model file carries its image preprocessing; prepare_images applies it."""
    net = trained("host", "f64")
    path = tmp_path / "m.clmlp"
    net.save(path)
    back = clmlp.load(path, backend="host")
    assert back.preprocess is not None and back.preprocess["scale_255"] in (True, False)
    assert net.preprocess is None
    with pytest.raises(clmlp.Error):
        net.prepare_images(np.zeros((1, 2, 3), dtype=np.uint8))
    images = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    x = back.prepare_images(images)  # 2 × 3 = 6 inputs
    assert x.shape == (2, 6)
    pp = back.preprocess
    expected = images.reshape(2, 6).astype(np.float64) / (255.0 if pp["scale_255"] else 1.0)
    if pp["normalize"] != "none":
        expected = (expected - pp["mean"]) / pp["std"]
    np.testing.assert_allclose(x, expected, rtol=1e-12)


def test_fspath(tmp_path: Path) -> None:
    class P:
        def __fspath__(self) -> str:
            return os.fspath(tmp_path / "p.clmlp")

    net = clmlp.Net([3, 2], backend="host")
    net.save(P())
    assert clmlp.load(P(), backend="host").sizes == (3, 2)
