"""NumPy-compatible functions over fx arrays: ``import fx.numpy as fnp``.

Names, signatures, broadcasting and ``axis``/``keepdims`` follow NumPy; results are
immutable fx arrays and every function works under ``grad``, ``vmap`` and ``jit``.
A NumPy name fx does not provide raises ``NotImplementedError`` naming it.

Example:
    >>> import fx.numpy as fnp
    >>> x = fnp.arange(6.0).reshape(2, 3)
    >>> fnp.sum(x * 2, axis=0)
    Array([ 6., 10., 14.], dtype=float32)
"""
import numpy as _np

from fx.array import Array as ndarray
from fx.dtypes import (
    bool_,
    complex64,
    complex128,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    result_type,
    uint8,
    uint16,
    uint32,
    uint64,
)
from fx.errors import UnsupportedError
from fx.numpy import linalg
from fx.numpy.contractions import *
from fx.numpy.creation import *
from fx.numpy.index_tricks import *
from fx.numpy.indexing import *
from fx.numpy.manipulation import *
from fx.numpy.math import *
from fx.numpy.padding import *
from fx.numpy.reductions import *
from fx.numpy.sorting import *

pi, e, inf, nan, newaxis, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, None, _np.euler_gamma
dtype = _np.dtype

# isort: off
from fx.numpy import _methods  # noqa: E402  (attaches operators and methods: needs all above)
# isort: on


def __getattr__(name: str):
    if hasattr(_np, name) and not name.startswith("__"):
        raise UnsupportedError(
            f"fx.numpy.{name} is not implemented; see the README for the supported functions")
    raise AttributeError(f"module 'fx.numpy' has no attribute {name!r}")
