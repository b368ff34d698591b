"""Abstract values: what a transform knows about an array without its data.

Example:
    >>> from fx.core.aval import ShapedArray
    >>> ShapedArray((2, 3), "float32")
    f32[2,3]
"""
from __future__ import annotations

import numpy as np

from fx import dtypes

_SHORT = {"bool": "bool", "float16": "f16", "float32": "f32", "float64": "f64",
          "complex64": "c64", "complex128": "c128", "int8": "i8", "int16": "i16",
          "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16", "uint32": "u32",
          "uint64": "u64"}


class ShapedArray:
    """Shape, dtype and weak type of an array; hashable, so it can key caches."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    @classmethod
    def of(cls, shape: tuple, dtype: np.dtype, weak_type: bool = False) -> ShapedArray:
        """Fast constructor for a shape that is already a tuple of ints and a ``np.dtype``."""
        aval = object.__new__(cls)
        aval.shape, aval.dtype, aval.weak_type = shape, dtype, weak_type
        return aval

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        """Copy with some fields replaced."""
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def str_short(self) -> str:
        return f"{_SHORT.get(self.dtype.name, self.dtype.name)}[{','.join(map(str, self.shape))}]"

    __repr__ = str_short

    def __eq__(self, other) -> bool:
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))


def aval_of(x) -> ShapedArray:
    """Abstract value of an fx array, tracer, backend buffer or Python scalar."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if dtypes.is_weak_scalar(x):
        return ShapedArray((), dtypes.scalar_dtype(x), weak_type=True)
    return ShapedArray(x.shape, x.dtype)
