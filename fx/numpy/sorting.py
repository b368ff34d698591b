"""Sorting: ``sort``, ``argsort`` (stable, NaNs last, as NumPy) and ``searchsorted``.

Indices come back as the default integer dtype (int32, ``fx.config.default_int``),
where NumPy gives int64.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.argsort(fnp.asarray([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
"""
from __future__ import annotations

from fx.config import config
from fx.core.elementwise import promote
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.errors import op_error
from fx.numpy import math as m
from fx.numpy.manipulation import as_array, ravel, reshape
from fx.prims import shape as sp

__all__ = ["sort", "argsort", "searchsorted"]


def _sort_operand(op: str, a, axis, order):
    if order is not None:
        raise NotImplementedError(f"{op}: order= (structured arrays) is not supported")
    a = as_array(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis(op, axis, a.ndim, a)


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Sorted copy along ``axis`` (flattened when None); stable, NaNs last.

    ``kind`` and ``stable`` are accepted for compatibility; the sort is always stable.

    Example:
        >>> fnp.sort(fnp.asarray([[3, 1], [0, 2]])).tolist()
        [[1, 3], [0, 2]]
    """
    del kind, stable
    a, axis = _sort_operand("sort", a, axis, order)
    return bind(sp.sort_p, a, dimension=axis)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Indices that sort ``a`` along ``axis`` (flattened when None); stable, NaNs last.

    Example:
        >>> fnp.argsort(fnp.asarray([2, 0, 1])).tolist()
        [1, 2, 0]
    """
    del kind, stable
    a, axis = _sort_operand("argsort", a, axis, order)
    return bind(sp.argsort_p, a, dimension=axis, index_dtype=config.default_int)


def searchsorted(a, v, side="left", sorter=None):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted.

    ``side='left'`` gives the first suitable position, ``'right'`` the last. NaNs sort
    last, as in ``sort``. Costs ``a.size * v.size`` comparisons.

    Example:
        >>> fnp.searchsorted(fnp.asarray([1, 2, 2, 3]), fnp.asarray([2, 5])).tolist()
        [1, 4]
    """
    from fx.numpy.reductions import sum as _sum  # reductions imports this module's package
    a = as_array(a)
    if a.ndim != 1:
        raise op_error(ValueError, "searchsorted", "a must be 1-D", a)
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        from fx.numpy.indexing import take
        a = take(a, sorter)
    a, v = promote((a, as_array(v)))
    rows = reshape(a, (1,) * v.ndim + a.shape)
    cols = reshape(v, v.shape + (1,))
    if side == "left":  # count of a < v, with NaN above every number
        before = m.less(rows, cols)
        if a.dtype.kind in "fc":
            above = m.logical_and(m.isnan(cols), m.logical_not(m.isnan(rows)))
            before = m.logical_or(before, above)
    else:  # count of a <= v
        before = m.less_equal(rows, cols)
        if a.dtype.kind in "fc":
            before = m.logical_or(before, m.isnan(cols))
    return _sum(before, axis=-1, dtype=config.default_int)
