"""Searching and index construction: ``nonzero``, ``argwhere``, ``compress``, ``ix_``,
``diag_indices``, ``tril_indices``, ``select``, ``choose``.

``nonzero`` and friends have data-dependent shapes: they need concrete input, or a
static ``size=`` (with ``fill_value=``) to work on traced values, as in JAX.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.nonzero(fnp.asarray([0, 3, 0, 4]))
    (Array([1, 3], dtype=int32),)
"""
from __future__ import annotations

import operator

import numpy as np

from fx import dtypes
from fx.array import Array
from fx.core.elementwise import as_operand, cast
from fx.core.primitive import bind
from fx.core.trace import Tracer
from fx.errors import ConcretizationError
from fx.numpy import math as fm
from fx.numpy.indexing import _constant, _index_array, _ravel, _take
from fx.prims import shape as sp
from fx.prims.indexing import ARRAY, scatter_p

__all__ = ["nonzero", "argwhere", "flatnonzero", "compress", "diag_indices",
           "diag_indices_from", "tril_indices", "triu_indices", "tril_indices_from",
           "triu_indices_from", "ix_", "select", "choose"]


# --- nonzero and friends ----------------------------------------------------------------------
def _int_result(like, host) -> Array:
    return _constant(like, np.asarray(host, dtype=dtypes.default_dtype_for_kind("i")))


def _nonzero_sized(a, size: int, fill_value):
    """Fixed-length ``nonzero``: the first ``size`` hits, then ``fill_value`` (traceable)."""
    import fx.numpy as fnp
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value or 0,) * a.ndim
    if a.size == 0:
        return tuple(_int_result(a, np.full(size, fill)) for fill in fills)
    mask = fm.not_equal(_ravel(a), 0)
    rank = fm.subtract(fnp.cumsum(cast(mask, np.int32)), 1)
    slot = fm.where(fm.logical_and(mask, fm.less(rank, size)), rank, size)
    spec = (ARRAY,)
    positions = bind(scatter_p, _int_result(a, np.zeros(size + 1)),
                     _int_result(a, np.arange(a.size)), slot, spec=spec, mode="set")
    found = bind(scatter_p, _constant(a, np.zeros(size + 1, bool)),
                 _constant(a, np.ones(a.size, bool)), slot, spec=spec, mode="set")
    positions, found = positions[:size], found[:size]
    out, stride = [], a.size
    for n, fill in zip(a.shape, fills):
        stride //= n
        coord = fm.mod(fm.floor_divide(positions, stride), n)
        out.append(fm.where(found, coord, fill))
    return tuple(out)


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements, one int32 array per axis.

    The result length depends on the data, so a traced ``a`` needs ``size=N``: the first
    ``N`` hits, padded with ``fill_value`` (default 0; a tuple gives one per axis).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.nonzero(fnp.asarray([0, 3, 0, 4]))
        (Array([1, 3], dtype=int32),)
    """
    a = as_operand(a)
    if not isinstance(a, Array) or a.ndim == 0:
        raise ValueError("nonzero: 0-d inputs are not supported; use fnp.atleast_1d first")
    if size is not None:
        return _nonzero_sized(a, operator.index(size), fill_value)
    if isinstance(a, Tracer):
        raise ConcretizationError(
            f"nonzero: the number of non-zero elements of a traced {a.aval.str_short()} is not "
            "known while tracing; pass size=N (and fill_value=) for a fixed-length result, "
            "or use fnp.where(condition, x, y)")
    return tuple(_int_result(a, i) for i in np.nonzero(a._v))


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements of the flattened array (``size=`` as ``nonzero``)."""
    return nonzero(_ravel(as_operand(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements as rows of an ``(N, ndim)`` array (``size=`` as
    ``nonzero``).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.argwhere(fnp.asarray([[0, 1], [1, 0]]))
        Array([[0, 1],
               [1, 0]], dtype=int32)
    """
    import fx.numpy as fnp
    a = as_operand(a)
    if size is None and type(a) is Array:
        return _int_result(a, np.argwhere(a._v))
    return fnp.stack(nonzero(a, size=size, fill_value=fill_value), axis=1)


def compress(condition, a, axis=None):
    """Slices of ``a`` along ``axis`` where the 1-D ``condition`` is true (concrete only).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.compress([True, False, True], fnp.asarray([1, 2, 3]))
        Array([1, 3], dtype=int32)
    """
    cond = as_operand(condition)
    if not isinstance(cond, Array) or cond.ndim != 1:
        raise ValueError("compress: condition must be a 1-d array")
    if isinstance(cond, Tracer):
        raise ConcretizationError("compress: a traced condition gives a data-dependent shape; "
                                  "use fnp.where(condition, a, fill) instead")
    return _take("compress", a, nonzero(cond)[0], axis, "raise")


# --- index constructors --------------------------------------------------------------------------
def diag_indices(n, ndim=2):
    """Indices ``(i, i, ...)`` of the main diagonal of an ``n``-sided ``ndim``-d array."""
    idx = _int_result(None, np.arange(n))
    return (idx,) * ndim


def diag_indices_from(arr):
    """``diag_indices`` for ``arr`` (all sides must be equal)."""
    if arr.ndim < 2 or len(set(arr.shape)) != 1:
        raise ValueError(f"diag_indices_from: needs an array with equal sides, got {arr.shape}")
    return diag_indices(arr.shape[0], arr.ndim)


def tril_indices(n, k=0, m=None):
    """Row and column indices of the lower triangle of an ``(n, m)`` array."""
    return tuple(_int_result(None, i) for i in np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    """Row and column indices of the upper triangle of an ``(n, m)`` array."""
    return tuple(_int_result(None, i) for i in np.triu_indices(n, k, m))


def _triangle_from(indices):
    def from_array(arr, k=0):
        if arr.ndim != 2:
            raise ValueError(f"{from_array.__name__}: needs a 2-D array, got shape {arr.shape}")
        return indices(arr.shape[0], k, arr.shape[1])
    from_array.__name__ = f"{indices.__name__}_from"
    from_array.__doc__ = f"``{indices.__name__}`` for the 2-D ``arr``."
    return from_array


tril_indices_from, triu_indices_from = _triangle_from(tril_indices), _triangle_from(triu_indices)


def ix_(*args):
    """Open mesh from 1-D sequences: ``x[ix_(rows, cols)]`` picks a sub-grid.

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.arange(9).reshape(3, 3)[fnp.ix_([0, 2], [1])]
        Array([[1],
               [7]], dtype=int32)
    """
    out = []
    for k, arg in enumerate(args):
        a = _index_array("ix_", None, arg)
        if a.ndim != 1:
            raise ValueError(f"ix_: cross index must be 1-dimensional, got shape {a.shape}")
        if a.dtype == np.bool_:
            (a,) = nonzero(a)
        shape = (1,) * k + a.shape + (1,) * (len(args) - k - 1)
        out.append(bind(sp.reshape_p, a, new_sizes=shape))
    return tuple(out)


def select(condlist, choicelist, default=0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, else ``default``.

    Example:
        >>> import fx.numpy as fnp
        >>> x = fnp.arange(4)
        >>> fnp.select([x < 1, x > 2], [x, x * 10], default=-1)
        Array([ 0, -1, -1, 30], dtype=int32)
    """
    if len(condlist) != len(choicelist):
        raise ValueError("select: condlist and choicelist must have the same length")
    out = as_operand(default)
    for i in reversed(range(len(condlist))):
        cond = as_operand(condlist[i])
        if cond.dtype != np.bool_:
            raise TypeError(f"select: condlist[{i}] must be boolean, got {cond.dtype}")
        out = fm.where(cond, choicelist[i], out)
    return _constant(None, out) if dtypes.is_weak_scalar(out) else out


def choose(a, choices, out=None, mode="raise"):
    """``choices[a[i]][i]`` elementwise (all broadcast together).

    ``mode``: ``"raise"`` (IndexError for concrete out-of-range ``a``; traced values out of
    range pick the last choice), ``"clip"`` or ``"wrap"``.

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.choose([1, 0], [[1, 2], [10, 20]])
        Array([10,  2], dtype=int32)
    """
    if out is not None:
        raise TypeError("choose: out= is not supported (fx arrays are immutable)")
    n = len(choices)
    a = _index_array("choose", None, a)
    if mode == "raise" and type(a) is Array and a.size:
        lo, hi = int(a._v.min()), int(a._v.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"choose: index {lo if lo < 0 else hi} is out of bounds for "
                             f"{n} choices")
    elif mode == "clip":
        a = fm.clip(a, 0, n - 1)
    elif mode == "wrap":
        a = fm.mod(a, n)
    elif mode != "raise":
        raise ValueError(f"choose: mode must be 'raise', 'clip' or 'wrap', got {mode!r}")
    return select([fm.equal(a, i) for i in range(n - 1)], choices[:n - 1], choices[n - 1])
