"""Bit-level primitives the counter-based random generator needs.

Threefry-2x32 itself (``fx.random``) is a composition of the uint32 elementwise
primitives (``add``, ``xor``, ``or``, shifts wrap around as in C); what it cannot
derive is reinterpreting random bits as a float, which ``bitcast_convert_type`` does.

Example:
    >>> import fx
    >>> from fx.prims.random_bits import bitcast_convert_type_p
    >>> bitcast_convert_type_p.bind(fx.asarray([1.0]), new_dtype=fx.uint32)
    Array([1065353216], dtype=uint32)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import zero_jvp
from fx.core.aval import ShapedArray
from fx.core.batching import vectorized_batch
from fx.core.primitive import Primitive
from fx.core.rule_kit import check_kinds
from fx.errors import op_error


def _bitcast_abstract(x, *, new_dtype):
    check_kinds("bitcast_convert_type", "biufc", x)
    new_dtype = np.dtype(new_dtype)
    if new_dtype.itemsize != x.dtype.itemsize:
        raise op_error(TypeError, "bitcast_convert_type",
                       f"cannot reinterpret {x.dtype} ({x.dtype.itemsize} bytes) as {new_dtype} "
                       f"({new_dtype.itemsize} bytes): the sizes must match", x)
    return ShapedArray(x.shape, new_dtype)


def _bitcast_impl(x, *, new_dtype):
    if np.dtype(new_dtype).itemsize != x.dtype.itemsize:
        raise ValueError("size mismatch")  # NumPy would reshape; the shape rule explains
    return x.view(new_dtype)


bitcast_convert_type_p = Primitive("bitcast_convert_type", impl=_bitcast_impl,
                                   abstract_eval=_bitcast_abstract)

bitcast_convert_type_p.jvp = zero_jvp(bitcast_convert_type_p)  # integer bit patterns
bitcast_convert_type_p.batch = vectorized_batch(bitcast_convert_type_p)
