"""dtypes and the promotion policy.

Policy (DESIGN.md):
* explicit dtypes are honoured, float64 included;
* Python scalars are *weak*: they adopt the dtype of the array they meet
  (``x * 2.0`` keeps ``x.dtype``) unless their kind is higher (``int_array * 2.0``
  gives the default float, ``float_array * 1j`` the matching complex);
* values created without a dtype default to float32 / int32 (``fx.config``);
* promotion between arrays follows NumPy 2 (``np.result_type``).

Example:
    >>> import fx
    >>> fx.dtypes.result_type(fx.numpy.ones(3, dtype="int32"), 2.0)
    dtype('float32')
"""
from __future__ import annotations

import numpy as np

from fx.config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_SCALAR_KIND = {bool: "b", int: "i", float: "f", complex: "c"}


def canonicalize(dtype) -> np.dtype:
    """Turn a dtype-like (``"float32"``, ``np.float32``, ``fx.float32``) into ``np.dtype``.

    Raises:
        TypeError: for dtypes fx cannot compute with (object, strings, datetimes).
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"not a dtype: {dtype!r}") from e
    if dt.kind not in _KIND_RANK:
        raise TypeError(f"fx arrays cannot hold dtype {dt}; "
                        "use a bool, integer, float or complex dtype")
    return dt


def is_weak_scalar(x) -> bool:
    """True for Python ``bool``/``int``/``float``/``complex`` (weakly typed operands)."""
    return type(x) in _SCALAR_KIND


def default_dtype_for_kind(kind: str) -> np.dtype:
    """The dtype a weak value of ``kind`` ('b', 'i', 'f', 'c') takes on its own."""
    if kind == "b":
        return bool_
    if kind in "iu":
        return config.default_int
    if kind == "f":
        return config.default_float
    return config.default_complex


def scalar_dtype(x) -> np.dtype:
    """dtype a Python scalar takes when it becomes an array on its own."""
    return default_dtype_for_kind(_SCALAR_KIND[type(x)])


def _lift_kind(dtype: np.dtype, kind: str) -> np.dtype:
    """Smallest sensible dtype of ``kind`` that holds values of ``dtype`` (weak promotion)."""
    if kind == "c" and dtype.kind == "f":
        return np.result_type(dtype, np.complex64)
    return default_dtype_for_kind(kind)


def result_type(*args) -> np.dtype:
    """dtype of an elementwise operation on ``args`` (arrays, tracers or Python scalars)."""
    strong, weak_kinds = [], []
    for a in args:
        if is_weak_scalar(a):
            weak_kinds.append(_SCALAR_KIND[type(a)])
        elif getattr(a, "weak_type", False):  # a traced Python number (a jit argument)
            weak_kinds.append(a.dtype.kind)
        else:
            strong.append(a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype)
    if not weak_kinds and all(d == strong[0] for d in strong[1:]):
        return strong[0]  # the common case: one dtype, nothing to promote
    if not strong:
        return default_dtype_for_kind(max(weak_kinds, key=_KIND_RANK.__getitem__))
    dt = strong[0] if len(strong) == 1 else np.result_type(*strong)
    for kind in weak_kinds:
        if _KIND_RANK[kind] > _KIND_RANK[dt.kind]:
            dt = _lift_kind(dt, kind)
    return dt


def to_inexact(dtype: np.dtype) -> np.dtype:
    """dtype used by float-only functions (``sin``, ``/``): ints and bools go to default float."""
    return dtype if dtype.kind in "fc" else config.default_float


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def finfo(dtype):
    """Machine limits of a float dtype (``numpy.finfo``)."""
    return np.finfo(canonicalize(dtype))


def iinfo(dtype):
    """Machine limits of an integer dtype (``numpy.iinfo``)."""
    return np.iinfo(canonicalize(dtype))
