"""Fixtures of the clmlp Python tests: backends, numpy references, Fashion-MNIST."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

import clmlp

FASHION = Path(os.environ.get("CLMLP_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))


def _has_opencl() -> bool:
    try:
        return bool(clmlp.devices())
    except clmlp.Error:
        return False


HAS_OPENCL = _has_opencl()


@pytest.fixture(params=["host", "opencl"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on the host path and on the OpenCL device."""
    if request.param == "opencl" and not HAS_OPENCL:
        pytest.skip("no OpenCL device")
    return request.param


# ---- numpy references, from the README's math --------------------------------


def np_forward(
    layers: List[Tuple[np.ndarray, np.ndarray]], x: np.ndarray, loss: str
) -> Tuple[List[Optional[np.ndarray]], List[np.ndarray]]:
    """z[l] = a[l-1] W[l]^T + b[l], a[l] = tanh(z[l]); the last layer linear for CE."""
    L = len(layers)
    zs: List[Optional[np.ndarray]] = [None]
    a = [x]
    for l, (W, b) in enumerate(layers, start=1):
        z = a[-1] @ W.T + b
        zs.append(z)
        a.append(z if (loss == "ce" and l == L) else np.tanh(z))
    return zs, a


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_loss_and_grads(
    layers: List[Tuple[np.ndarray, np.ndarray]], x: np.ndarray, y: np.ndarray, loss: str
) -> Tuple[float, Dict[int, Tuple[np.ndarray, np.ndarray]]]:
    """The loss summed over the batch and dL/dW[l], dL/db[l] by hand-written backprop."""
    zs, a = np_forward(layers, x, loss)
    L = len(layers)
    if loss == "mse":
        value = float(((a[L] - y) ** 2).sum())
        delta = 2 * (a[L] - y) * (1 - np.tanh(zs[L]) ** 2)  # sech² = 1 − tanh²
    else:
        z = zs[L]
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        value = float(-(y * log_p).sum())
        delta = softmax(z) * y.sum(axis=1, keepdims=True) - y
    grads: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    for l in range(L, 0, -1):
        grads[l] = (delta.T @ a[l - 1], delta.sum(axis=0))
        if l > 1:
            delta = (delta @ layers[l - 1][0]) * (1 - np.tanh(zs[l - 1]) ** 2)
    return value, grads


# ---- Fashion-MNIST -----------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzip or raw), with gzip and numpy only."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


@pytest.fixture(scope="session")
def fashion() -> Tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's test set: x 10000 × 784 (pixels/255, standardized), labels."""
    images = FASHION / "t10k-images-idx3-ubyte.gz"
    labels = FASHION / "t10k-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        pytest.skip(f"no Fashion-MNIST in {FASHION} (Debian: dataset-fashion-mnist)")
    x = read_idx(images).reshape(-1, 784).astype(np.float64) / 255.0
    x = (x - 0.2860) / 0.3530
    y = read_idx(labels).astype(np.int64)
    return x, y
