"""clmlp: tanh MLPs trained with backpropagation on OpenCL devices (POCL on a CPU), with
a plain-C host path as the reference — the Python binding of libclmlp.

A thin ctypes layer over the shared library installed inside this package; numpy arrays
in and out (float64, C-contiguous; anything else is converted, without a copy when none
is needed). Every failed call raises :class:`clmlp.Error` with the library's status
name and message.

    >>> import clmlp
    >>> net = clmlp.Net([784, 256, 128, 10], loss="ce", dtype="f32")
    >>> history = net.fit(x_train, y_train, epochs=3, validation=0.1)
    >>> net.evaluate(x_test, y_test)["accuracy"]
"""

from ._lib import Error
from ._net import Device, History, Net, devices, get_include, load, version

__all__ = ["Net", "Error", "History", "Device", "load", "devices", "version", "get_include", "__version__"]

__version__: str = version()
