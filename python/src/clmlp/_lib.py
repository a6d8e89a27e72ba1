"""The ctypes layer: libclmlp's structures, enums and prototypes exactly as in clmlp.h.

Everything here mirrors include/clmlp.h (installed beside this file under include/);
tests/test_layout.py compiles a C program against that header and compares every
structure's size, every field's offset and size, and every enum constant with what is
declared here.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

__all__ = ["Error", "lib", "check", "STATUS_NAMES"]

# ---- enums (C enums are ints with these values) ----------------------------

STATUS_NAMES: Dict[int, str] = {
    0: "CLMLP_OK",
    1: "CLMLP_EINVAL",
    2: "CLMLP_ENOMEM",
    3: "CLMLP_EIO",
    4: "CLMLP_EFORMAT",
    5: "CLMLP_ENODEVICE",
    6: "CLMLP_EOPENCL",
    7: "CLMLP_ENUMERIC",
    8: "CLMLP_ECOMM",
}
STATUS_CODES: Dict[str, int] = {name: code for code, name in STATUS_NAMES.items()}

BACKENDS: Dict[str, int] = {"auto": 0, "opencl": 1, "host": 2}  # CLMLP_BACKEND_*
DTYPES: Dict[str, int] = {"f64": 0, "f32": 1}  # CLMLP_F64, CLMLP_F32
LOSSES: Dict[str, int] = {"mse": 0, "ce": 1}  # CLMLP_LOSS_MSE, CLMLP_LOSS_SOFTMAX_CE
OPTIMIZERS: Dict[str, int] = {"sgd": 0, "adam": 1}  # CLMLP_OPT_*
TARGETS: Dict[str, int] = {"01": 0, "pm1": 1}  # CLMLP_TARGET_ONEHOT_01, _PM1
NORMALIZE: Dict[str, int] = {"none": 0, "given": 1, "data": 2}  # CLMLP_NORMALIZE_*

# Every enum constant of clmlp.h this module relies on, by its C name (checked by the
# layout test against the header).
ENUM_CONSTANTS: Dict[str, int] = {
    **STATUS_CODES,
    "CLMLP_BACKEND_AUTO": 0,
    "CLMLP_BACKEND_OPENCL": 1,
    "CLMLP_BACKEND_HOST": 2,
    "CLMLP_F64": 0,
    "CLMLP_F32": 1,
    "CLMLP_LOSS_MSE": 0,
    "CLMLP_LOSS_SOFTMAX_CE": 1,
    "CLMLP_PRODUCTS_AUTO": 0,
    "CLMLP_KERNELS_AUTO": 0,
    "CLMLP_TARGET_ONEHOT_01": 0,
    "CLMLP_TARGET_ONEHOT_PM1": 1,
    "CLMLP_NORMALIZE_NONE": 0,
    "CLMLP_NORMALIZE_GIVEN": 1,
    "CLMLP_NORMALIZE_DATA": 2,
    "CLMLP_OPT_SGD": 0,
    "CLMLP_OPT_ADAM": 1,
}

c_enum = c_int  # every clmlp enum fits an int; GCC and Clang give them int's size

# ---- structures -----------------------------------------------------------


class clmlp_config(Structure):
    _fields_ = [
        ("backend", c_enum),
        ("dtype", c_enum),
        ("loss", c_enum),
        ("platform", c_int),
        ("device", c_int),
        ("device_spec", c_char * 32),
        ("products", c_enum),
        ("kernels", c_enum),
        ("tiles", c_char * 32),
        ("profile", c_int),
        ("seed", c_uint64),
    ]


class clmlp_kernel_profile(Structure):
    _fields_ = [("kernel", c_char * 32), ("launches", c_uint64), ("seconds", c_double)]


class clmlp_preprocess(Structure):
    _fields_ = [
        ("scale_255", c_int),
        ("normalize", c_enum),
        ("mean", c_double),
        ("std", c_double),
        ("crop", c_size_t),
        ("target", c_enum),
        ("n_inputs", c_size_t),
    ]


# int (*progress)(void *user, size_t samples_done, size_t samples_total, double running_loss)
PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_size_t, c_double)


class clmlp_train_options(Structure):
    _fields_ = [
        ("batch", c_size_t),
        ("lr", c_double),
        ("optimizer", c_enum),
        ("momentum", c_double),
        ("weight_decay", c_double),
        ("beta1", c_double),
        ("beta2", c_double),
        ("eps", c_double),
        ("lr_decay", c_double),
        ("seed", c_uint64),
        ("report_every", c_size_t),
        ("progress", PROGRESS_FN),
        ("user", c_void_p),
        ("comm", c_void_p),  # const clmlp_comm *: always NULL here (no MPI in the package)
    ]


class clmlp_epoch_stats(Structure):
    _fields_ = [("loss", c_double), ("accuracy", c_double), ("samples", c_size_t), ("seconds", c_double)]


class clmlp_eval(Structure):
    _fields_ = [
        ("loss", c_double),
        ("accuracy", c_double),
        ("n", c_size_t),
        ("classes", c_size_t),
        ("confusion", POINTER(c_size_t)),
    ]


class clmlp_tune_report(Structure):
    _fields_ = [
        ("tiles", c_char * 32),
        ("default_tiles", c_char * 32),
        ("clblast", c_char * 48),
        ("seconds_default", c_double),
        ("seconds_best", c_double),
        ("candidates", c_size_t),
        ("rejected", c_size_t),
        ("search_seconds", c_double),
    ]


class clmlp_device_info(Structure):
    _fields_ = [
        ("platform", c_int),
        ("device", c_int),
        ("platform_name", c_char * 128),
        ("name", c_char * 128),
        ("type", c_char * 16),
        ("compute_units", c_uint),
        ("global_memory", c_uint64),
        ("max_allocation", c_uint64),
        ("fp64", c_int),
        ("chosen", c_int),
    ]


STRUCTURES = [
    clmlp_config,
    clmlp_kernel_profile,
    clmlp_preprocess,
    clmlp_train_options,
    clmlp_epoch_stats,
    clmlp_eval,
    clmlp_tune_report,
    clmlp_device_info,
]


class clmlp_net(Structure):  # opaque
    pass


class clmlp_dataset(Structure):  # opaque
    pass


class clmlp_idx(Structure):  # opaque
    pass


NET_P = POINTER(clmlp_net)
DATASET_P = POINTER(clmlp_dataset)
IDX_P = POINTER(clmlp_idx)

# ---- numpy pointers ---------------------------------------------------------


def _nullable(base: Any) -> Any:
    """An ndpointer type that also accepts None (NULL), for the header's optional pointers."""

    class _Nullable(base):  # type: ignore[misc]
        @classmethod
        def from_param(cls, obj: Any) -> Any:
            if obj is None:
                return None
            return base.from_param(obj)

    return _Nullable


F64_IN = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
F64_OUT = np.ctypeslib.ndpointer(dtype=np.float64, flags=["C_CONTIGUOUS", "WRITEABLE"])
F64_OUT_OPT = _nullable(F64_OUT)
F64_IN_OPT = _nullable(F64_IN)
U32_IN = np.ctypeslib.ndpointer(dtype=np.uint32, flags="C_CONTIGUOUS")
U8_IN = np.ctypeslib.ndpointer(dtype=np.uint8, flags="C_CONTIGUOUS")
SIZE_IN = np.ctypeslib.ndpointer(dtype=np.uintp, flags="C_CONTIGUOUS")

# ---- errors ---------------------------------------------------------------


class Error(Exception):
    """A failed libclmlp call (or an argument the binding refuses before calling it).

    Attributes:
        status: the clmlp_status name, e.g. ``"CLMLP_EINVAL"``.
        code: its value (``clmlp_status``), e.g. 1.
        message: the library's detail (``clmlp_last_error()``), or the binding's own.
    """

    status: str
    code: int
    message: str

    def __init__(self, status: str, message: str) -> None:
        self.status = status
        self.code = STATUS_CODES.get(status, -1)
        self.message = message
        super().__init__(f"{status}: {message}")

    def __reduce__(self) -> Any:  # picklable (e.g. across multiprocessing)
        return (Error, (self.status, self.message))


# ---- the library ------------------------------------------------------------


def _library_path() -> Path:
    override = os.environ.get("CLMLP_LIBRARY")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "libclmlp.so"


def _load() -> ctypes.CDLL:
    path = _library_path()
    try:
        return ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(
            f"clmlp: cannot load the shared library {path}: {e} "
            "(the package installs it: reinstall with `pip install ./python` from a checkout; "
            "it needs OpenCL's ICD loader, CLBlast and zlib, as the README's packages provide)"
        ) from e


lib = _load()

_S = c_enum  # clmlp_status

_PROTOTYPES: Dict[str, Any] = {
    # errors and version
    "clmlp_strerror": (c_char_p, [c_enum]),
    "clmlp_last_error": (c_char_p, []),
    "clmlp_version": (c_char_p, []),
    # configuration and the net
    "clmlp_config_init": (None, [POINTER(clmlp_config)]),
    "clmlp_create": (_S, [POINTER(c_size_t), c_size_t, POINTER(clmlp_config), POINTER(NET_P)]),
    "clmlp_destroy": (None, [NET_P]),
    "clmlp_num_layers": (c_size_t, [NET_P]),
    "clmlp_layer_size": (c_size_t, [NET_P, c_size_t]),
    "clmlp_loss_type": (c_enum, [NET_P]),
    "clmlp_dtype_of": (c_enum, [NET_P]),
    "clmlp_backend_name": (c_char_p, [NET_P]),
    "clmlp_fallback_reason": (c_char_p, [NET_P]),
    "clmlp_kernel_info": (c_char_p, [NET_P]),
    "clmlp_profile": (_S, [NET_P, POINTER(clmlp_kernel_profile), c_size_t, POINTER(c_size_t), c_int]),
    "clmlp_set_layer": (_S, [NET_P, c_size_t, F64_IN, F64_IN]),
    "clmlp_get_layer": (_S, [NET_P, c_size_t, F64_OUT, F64_OUT]),
    "clmlp_forward": (_S, [NET_P, F64_IN, c_size_t, F64_OUT_OPT]),
    "clmlp_backward": (_S, [NET_P, F64_IN, POINTER(c_double)]),
    "clmlp_get_grad": (_S, [NET_P, c_size_t, F64_OUT, F64_OUT]),
    "clmlp_get_state": (_S, [NET_P, c_size_t, F64_OUT_OPT, F64_OUT]),
    "clmlp_sgd_step": (_S, [NET_P, c_double]),
    "clmlp_predict": (_S, [NET_P, F64_IN, c_size_t, F64_OUT]),
    "clmlp_set_standardization": (_S, [NET_P, F64_IN_OPT, F64_IN_OPT]),
    "clmlp_get_standardization": (_S, [NET_P, F64_OUT_OPT, F64_OUT_OPT, POINTER(c_int)]),
    "clmlp_standardize": (_S, [NET_P, F64_OUT, c_size_t]),
    "clmlp_numeric_grad": (_S, [NET_P, F64_IN, F64_IN, c_size_t, c_size_t, c_double, F64_OUT, F64_OUT]),
    # datasets
    "clmlp_preprocess_init": (None, [POINTER(clmlp_preprocess)]),
    "clmlp_dataset_load": (_S, [NET_P, c_char_p, c_char_p, POINTER(clmlp_preprocess), POINTER(DATASET_P)]),
    "clmlp_dataset_create": (
        _S,
        [NET_P, U8_IN, U8_IN, c_size_t, c_size_t, c_size_t, POINTER(clmlp_preprocess), POINTER(DATASET_P)],
    ),
    "clmlp_dataset_from_arrays": (_S, [NET_P, F64_IN, F64_IN, c_size_t, POINTER(DATASET_P)]),
    "clmlp_dataset_from_labels": (_S, [NET_P, F64_IN, U32_IN, c_size_t, c_enum, POINTER(DATASET_P)]),
    "clmlp_dataset_split": (_S, [DATASET_P, c_double, c_uint64, POINTER(DATASET_P), POINTER(DATASET_P)]),
    "clmlp_dataset_destroy": (None, [DATASET_P]),
    "clmlp_dataset_count": (c_size_t, [DATASET_P]),
    # training and evaluation
    "clmlp_train_options_init": (None, [POINTER(clmlp_train_options)]),
    "clmlp_train_epoch": (
        _S,
        [NET_P, DATASET_P, POINTER(clmlp_train_options), c_size_t, POINTER(clmlp_epoch_stats)],
    ),
    "clmlp_update": (_S, [NET_P, POINTER(clmlp_train_options), c_double]),
    "clmlp_optimizer_state": (_S, [NET_P, POINTER(c_enum), POINTER(c_uint64)]),
    "clmlp_evaluate": (_S, [NET_P, DATASET_P, POINTER(clmlp_eval)]),
    "clmlp_preprocess_inputs": (_S, [POINTER(clmlp_preprocess), c_size_t, c_size_t, POINTER(c_size_t)]),
    "clmlp_preprocess_apply": (_S, [POINTER(clmlp_preprocess), U8_IN, c_size_t, c_size_t, c_size_t, F64_OUT]),
    # model files
    "clmlp_save": (_S, [NET_P, POINTER(clmlp_preprocess), c_char_p]),
    "clmlp_load": (_S, [c_char_p, POINTER(clmlp_config), POINTER(NET_P), POINTER(clmlp_preprocess)]),
    "clmlp_save_checkpoint": (_S, [NET_P, POINTER(clmlp_preprocess), c_size_t, c_char_p]),
    "clmlp_load_checkpoint": (
        _S,
        [c_char_p, POINTER(clmlp_config), POINTER(NET_P), POINTER(clmlp_preprocess), POINTER(c_size_t)],
    ),
    # tuning and devices
    "clmlp_tune": (_S, [POINTER(clmlp_config), POINTER(c_size_t), c_size_t, c_size_t, POINTER(clmlp_tune_report)]),
    "clmlp_list_devices": (_S, [POINTER(clmlp_device_info), c_size_t, POINTER(c_size_t)]),
    # IDX files
    "clmlp_idx_load": (_S, [c_char_p, POINTER(IDX_P)]),
    "clmlp_idx_free": (None, [IDX_P]),
    "clmlp_idx_ndims": (c_size_t, [IDX_P]),
    "clmlp_idx_dim": (c_size_t, [IDX_P, c_size_t]),
    "clmlp_idx_data": (POINTER(c_uint8), [IDX_P]),
    "clmlp_idx_count": (c_size_t, [IDX_P]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes


def decode(s: Optional[bytes]) -> str:
    """A C string from the library as str ("" for NULL)."""
    return s.decode("utf-8", errors="replace") if s else ""


def last_error() -> str:
    """This thread's clmlp_last_error()."""
    return decode(lib.clmlp_last_error())


def check(status: int, what: str = "") -> None:
    """Raise Error for a failed status, with the library's message of this thread."""
    if status == 0:
        return
    name = STATUS_NAMES.get(status, f"CLMLP_STATUS_{status}")
    message = last_error() or decode(lib.clmlp_strerror(status))
    if what and not message.startswith(what):
        message = f"{what}: {message}"
    raise Error(name, message)
