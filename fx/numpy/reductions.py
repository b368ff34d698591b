"""Reductions with NumPy names: sums, means, variances, extrema, logical folds, medians.

``axis`` is an int, a tuple, None (every axis) or negative; ``keepdims`` keeps the reduced
axes with size one. Result dtypes follow NumPy 2, except that the default integer is
int32 (as in JAX): sums and products of bools and small integers give int32 (uint32 for
small unsigned ints), int32 stays int32, and means, variances and medians of integers give
the default float (float32). Index results (``argmax``, ``count_nonzero``) are int32.

Example:
    >>> import fx.numpy as fnp
    >>> x = fnp.asarray([[1, 2], [3, 4]])
    >>> fnp.sum(x, axis=0), fnp.mean(x)
    (Array([4, 6], dtype=int32), Array(2.5, dtype=float32))
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from fx import dtypes
from fx.config import config
from fx.core.elementwise import cast, promote
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axes, normalize_axis
from fx.errors import op_error
from fx.numpy import math as m
from fx.numpy.creation import full_like
from fx.numpy.manipulation import (
    as_array,
    broadcast_arrays,
    ravel,
    reshape,
    slice_axis,
    transpose,
)
from fx.prims import elementwise as ew
from fx.prims import reductions as rp
from fx.prims import shape as sp

__all__ = [
    "sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
    "any", "all", "cumsum", "cumprod", "median", "logsumexp", "ptp", "average",
    "count_nonzero", "nansum", "nanmean", "nanmax", "nanmin",
]


# --- helpers ---------------------------------------------------------------------------------
def _operand(op: str, a, axis):
    """``a`` as an array and ``axis`` as sorted non-negative axes, or an error naming ``op``."""
    a = as_array(a)
    return a, normalize_axes(op, axis, a.ndim, a)


def _kept(out, a, axes, keepdims: bool):
    """``out`` (reduced over ``axes`` of ``a``) with the reduced axes back as size one."""
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
    return reshape(out, shape)


def _count(a, axes) -> int:
    return math.prod(a.shape[i] for i in axes)


def _accumulator(dtype: np.dtype) -> np.dtype:
    """dtype of a sum or product: bools and narrow integers widen to the default width."""
    width = config.default_int.itemsize
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < width):
        return config.default_int
    if dtype.kind == "u" and dtype.itemsize < width:
        return np.dtype(f"uint{8 * width}")
    return dtype


def _reduce(prim, op: str, a, axis, keepdims: bool, dtype=None, logical: bool = False):
    a, axes = _operand(op, a, axis)
    if logical:
        a = _as_bool(a)
    if dtype is not None:
        a = cast(a, dtypes.canonicalize(dtype))
    return _kept(bind(prim, a, axes=axes), a, axes, keepdims)


def _as_bool(a):
    a = as_array(a)
    return a if a.dtype == np.bool_ else m.not_equal(a, 0)


# --- sums and products -------------------------------------------------------------------------
def sum(a, axis=None, dtype=None, keepdims=False):
    """Sum of elements over ``axis``.

    Example:
        >>> fnp.sum(fnp.ones((2, 3)), axis=1)
        Array([3., 3.], dtype=float32)
    """
    a = as_array(a)
    if axis is None and dtype is None and not keepdims and a.dtype.kind in "fc":
        return bind(rp.reduce_sum_p, a, axes=tuple(range(a.ndim)))  # the common case
    return _reduce(rp.reduce_sum_p, "sum", a, axis, keepdims, dtype or _accumulator(a.dtype))


def prod(a, axis=None, dtype=None, keepdims=False):
    """Product of elements over ``axis``.

    Example:
        >>> fnp.prod(fnp.asarray([1, 2, 3]))
        Array(6, dtype=int32)
    """
    a = as_array(a)
    return _reduce(rp.reduce_prod_p, "prod", a, axis, keepdims, dtype or _accumulator(a.dtype))


def _cumulative(prim, op: str, a, axis, dtype):
    a = as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(op, axis, a.ndim, a)
    a = cast(a, dtypes.canonicalize(dtype) if dtype else _accumulator(a.dtype))
    return bind(prim, a, axis=axis)


def cumsum(a, axis=None, dtype=None):
    """Running sum along ``axis`` (of the flattened array when None).

    Example:
        >>> fnp.cumsum(fnp.asarray([1, 2, 3]))
        Array([1, 3, 6], dtype=int32)
    """
    return _cumulative(rp.cumsum_p, "cumsum", a, axis, dtype)


def cumprod(a, axis=None, dtype=None):
    """Running product along ``axis`` (of the flattened array when None)."""
    return _cumulative(rp.cumprod_p, "cumprod", a, axis, dtype)


def count_nonzero(a, axis=None, *, keepdims=False):
    """Number of non-zero elements (int32)."""
    a, axes = _operand("count_nonzero", a, axis)
    return sum(_as_bool(a), axes, keepdims=keepdims)


# --- extrema -----------------------------------------------------------------------------------
def max(a, axis=None, keepdims=False):
    """Largest element over ``axis`` (NaN if any is NaN); empty reductions raise ValueError.

    Example:
        >>> fnp.max(fnp.asarray([[1, 5], [3, 2]]), axis=0)
        Array([3, 5], dtype=int32)
    """
    return _reduce(rp.reduce_max_p, "max", a, axis, keepdims)


def min(a, axis=None, keepdims=False):
    """Smallest element over ``axis`` (NaN if any is NaN); empty reductions raise ValueError."""
    return _reduce(rp.reduce_min_p, "min", a, axis, keepdims)


amax, amin = max, min


def ptp(a, axis=None, keepdims=False):
    """Range of values (maximum minus minimum) over ``axis``."""
    a, axes = _operand("ptp", a, axis)
    return m.subtract(max(a, axes, keepdims), min(a, axes, keepdims))


def _arg(prim, op: str, a, axis, keepdims: bool):
    a = as_array(a)
    if axis is None:
        out = bind(prim, ravel(a), axis=0, index_dtype=config.default_int)
        return reshape(out, (1,) * a.ndim) if keepdims else out
    axis = normalize_axis(op, axis, a.ndim, a)
    out = bind(prim, a, axis=axis, index_dtype=config.default_int)
    return _kept(out, a, (axis,), keepdims)


def argmax(a, axis=None, *, keepdims=False):
    """Index (int32) of the first largest element over ``axis`` (of the flat array when None).

    Example:
        >>> fnp.argmax(fnp.asarray([1, 7, 7]))
        Array(1, dtype=int32)
    """
    return _arg(rp.argmax_p, "argmax", a, axis, keepdims)


def argmin(a, axis=None, *, keepdims=False):
    """Index (int32) of the first smallest element over ``axis`` (of the flat array when None)."""
    return _arg(rp.argmin_p, "argmin", a, axis, keepdims)


# --- logical folds --------------------------------------------------------------------------
def any(a, axis=None, keepdims=False):
    """True where any element over ``axis`` is non-zero."""
    return _reduce(rp.reduce_or_p, "any", a, axis, keepdims, logical=True)


def all(a, axis=None, keepdims=False):
    """True where every element over ``axis`` is non-zero."""
    return _reduce(rp.reduce_and_p, "all", a, axis, keepdims, logical=True)


# --- statistics --------------------------------------------------------------------------------
def mean(a, axis=None, dtype=None, keepdims=False):
    """Arithmetic mean over ``axis`` (integers give float32).

    Example:
        >>> fnp.mean(fnp.asarray([1, 2]))
        Array(1.5, dtype=float32)
    """
    a, axes = _operand("mean", a, axis)
    out_dtype = dtypes.canonicalize(dtype) if dtype else dtypes.to_inexact(a.dtype)
    acc = np.dtype(np.float32) if out_dtype == np.float16 else out_dtype
    total = bind(rp.reduce_sum_p, cast(a, acc), axes=axes)
    return _kept(cast(m.divide(total, _count(a, axes)), out_dtype), a, axes, keepdims)


def var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, correction=None):
    """Variance over ``axis``, dividing by ``N - ddof`` (``correction`` is NumPy 2's name).

    Complex inputs give the real variance of the magnitudes of the deviations.

    Example:
        >>> fnp.var(fnp.asarray([1.0, 3.0]), ddof=1)
        Array(2., dtype=float32)
    """
    a, axes = _operand("var", a, axis)
    ddof = ddof if correction is None else correction
    a = cast(a, dtypes.canonicalize(dtype) if dtype else dtypes.to_inexact(a.dtype))
    dev = m.subtract(a, mean(a, axes, keepdims=True))
    sq = m.real(m.multiply(dev, m.conj(dev))) if a.dtype.kind == "c" else m.multiply(dev, dev)
    total = bind(rp.reduce_sum_p, sq, axes=axes)
    return _kept(m.divide(total, builtins.max(_count(a, axes) - ddof, 0)), a, axes, keepdims)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False, *, correction=None):
    """Standard deviation over ``axis`` (square root of ``var``)."""
    a, axes = _operand("std", a, axis)
    return m.sqrt(var(a, axes, dtype, ddof, keepdims, correction=correction))


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median over ``axis`` (mean of the two middle values for even counts; NaN if any NaN).

    Example:
        >>> fnp.median(fnp.asarray([3.0, 1.0, 4.0, 2.0]))
        Array(2.5, dtype=float32)
    """
    del overwrite_input
    if out is not None:
        raise TypeError("median: out= is not supported (fx arrays are immutable)")
    a, axes = _operand("median", a, axis)
    kept = tuple(i for i in range(a.ndim) if i not in axes)
    n = _count(a, axes)
    x = reshape(transpose(a, kept + axes), tuple(a.shape[i] for i in kept) + (n,))
    if n:
        x = bind(sp.sort_p, x, dimension=x.ndim - 1)
        middle = mean(slice_axis(x, x.ndim - 1, (n - 1) // 2, n // 2 + 1), axis=-1)
        if a.dtype.kind in "fc":  # NaNs sort last: a NaN anywhere makes the last one NaN
            last = bind(sp.squeeze_p, slice_axis(x, x.ndim - 1, n - 1, n), dimensions=(x.ndim - 1,))
            middle = m.where(m.isnan(last), np.nan, middle)
    else:
        middle = mean(x, axis=-1)  # NaN, as NumPy gives for an empty median
    return _kept(middle, a, axes, keepdims)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted mean over ``axis``; 1-D ``weights`` may match the length of a single axis.

    With ``returned=True`` also gives the sum of the weights.

    Example:
        >>> fnp.average(fnp.asarray([1.0, 3.0]), weights=fnp.asarray([3.0, 1.0]))
        Array(1.5, dtype=float32)
    """
    a, axes = _operand("average", a, axis)
    if weights is None:
        avg = mean(a, axes, keepdims=keepdims)
        scale = full_like(avg, _count(a, axes))
        return (avg, scale) if returned else avg
    a, w = promote((a, as_array(weights)), inexact=True)
    if w.shape != a.shape:
        if axis is None or w.ndim != 1 or not isinstance(axis, int):
            raise op_error(TypeError, "average", "weights must have the shape of a, or be "
                           "1-D along a single given axis", a, w)
        ax = normalize_axis("average", axis, a.ndim, a, w)
        if w.shape[0] != a.shape[ax]:
            raise op_error(ValueError, "average", f"the length of weights {w.shape} does not "
                           f"match axis {axis} of shape {a.shape}", a, w)
        w = bind(sp.broadcast_in_dim_p, w, shape=tuple(a.shape), broadcast_dimensions=(ax,))
    scale = sum(w, axes, keepdims=True)
    avg = m.divide(sum(m.multiply(a, w), axes, keepdims=True), scale)
    if not keepdims:
        avg, scale = (reshape(t, tuple(n for i, n in enumerate(a.shape) if i not in axes))
                      for t in (avg, scale))
    return (avg, scale) if returned else avg


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over ``axis``, computed stably (shifted by the maximum).

    ``return_sign=True`` gives ``(log|s|, sign(s))`` for weights ``b`` of either sign.

    Example:
        >>> fnp.logsumexp(fnp.asarray([1000.0, 1000.0]))
        Array(1000.6932, dtype=float32)
    """
    a = as_array(a)
    if b is not None:
        a, b = broadcast_arrays(*promote((a, as_array(b)), inexact=True))
    else:
        a = promote((a,), inexact=True)[0]
    axes = normalize_axes("logsumexp", axis, a.ndim, a)
    # the shift cancels mathematically: no derivative flows through it (nor its ties), and
    # taking the maximum of the stopped value keeps it off the differentiation tape
    shift = max(bind(ew.stop_gradient_p, a), axes, keepdims=True)
    shift = m.where(m.isfinite(shift), shift, 0)
    terms = m.exp(m.subtract(a, shift))
    if b is not None:
        terms = m.multiply(terms, b)
    total = sum(terms, axes, keepdims=keepdims)
    if not keepdims and axes:
        shift = bind(sp.squeeze_p, shift, dimensions=axes)
    if not return_sign:
        return m.add(m.log(total), shift)
    return m.add(m.log(m.abs(total)), shift), m.sign(total)


# --- NaN-ignoring variants ---------------------------------------------------------------------
def _nan_free(a, fill):
    if a.dtype.kind not in "fc":
        return a, None
    nan = m.isnan(a)
    return m.where(nan, fill, a), nan


def nansum(a, axis=None, dtype=None, keepdims=False):
    """Sum treating NaNs as zero."""
    a, axes = _operand("nansum", a, axis)
    return sum(_nan_free(a, 0)[0], axes, dtype, keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    """Mean of the non-NaN elements (NaN where there are none)."""
    a, axes = _operand("nanmean", a, axis)
    clean, nan = _nan_free(a, 0)
    if nan is None:
        return mean(clean, axes, dtype, keepdims)
    out_dtype = dtypes.canonicalize(dtype) if dtype else clean.dtype
    count = sum(m.logical_not(nan), axes, keepdims=keepdims)
    return cast(m.divide(sum(clean, axes, out_dtype, keepdims), count), out_dtype)


def _nan_extremum(op: str, fn, fill, a, axis, keepdims):
    a, axes = _operand(op, a, axis)
    clean, nan = _nan_free(a, fill)
    out = fn(clean, axes, keepdims)
    return out if nan is None else m.where(all(nan, axes, keepdims), np.nan, out)


def nanmax(a, axis=None, keepdims=False):
    """Maximum ignoring NaNs (NaN where every element is NaN)."""
    return _nan_extremum("nanmax", max, -np.inf, a, axis, keepdims)


def nanmin(a, axis=None, keepdims=False):
    """Minimum ignoring NaNs (NaN where every element is NaN)."""
    return _nan_extremum("nanmin", min, np.inf, a, axis, keepdims)
