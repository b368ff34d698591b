"""NumPy indexing: ``x[index]``, functional updates ``x.at[index].set(v)``, ``take``, ``nonzero``.

Every NumPy index works: integers (negative too), slices with any step, ``None``,
``...``, integer arrays (lists, NumPy arrays, fx arrays, traced values) that broadcast
together, and boolean masks. Advanced-index axes are placed as NumPy places them.

Bounds: fx raises ``IndexError`` (naming the axis, the index and the size) instead of
clamping as JAX does. Static integers are checked while tracing, concrete index arrays
when they are used; index arrays that are *traced* (computed inside ``jit``/``vmap``)
cannot be checked at trace time: their negative values are wrapped like NumPy's, and
out-of-range values are not detected here. Boolean masks give data-dependent shapes, so
they need a concrete mask; under a transform use ``fnp.where`` instead.

Example:
    >>> import fx.numpy as fnp
    >>> x = fnp.arange(6).reshape(2, 3)
    >>> x[:, ::-1][1]
    Array([5, 4, 3], dtype=int32)
    >>> x.at[0, [0, 0]].add(10)            # duplicate indices accumulate
    Array([[20,  1,  2],
           [ 3,  4,  5]], dtype=int32)
"""
from __future__ import annotations

import operator

import numpy as np

from fx import dtypes
from fx.array import Array, wrap
from fx.core import trace as _trace
from fx.core.elementwise import as_operand, cast
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.core.trace import Tracer
from fx.errors import ConcretizationError, op_error
from fx.numpy import math as fm
from fx.prims import shape as sp
from fx.prims.indexing import ARRAY, gather_p, indexed_shape, scatter_p

__all__ = ["getitem", "take", "take_along_axis", "put_along_axis", "nonzero", "argwhere",
           "flatnonzero", "compress", "diag_indices", "diag_indices_from", "tril_indices",
           "triu_indices", "tril_indices_from", "triu_indices_from", "ix_", "select", "choose"]

_BASIC_TYPES = (int, slice, type(None), type(Ellipsis))


# --- parsing an index into (spec, index arrays) ------------------------------------------------
def _constant(like, host) -> Array:
    """A constant array on the device of ``like`` (the default device for traced values)."""
    from fx.creation import asarray
    return asarray(host, device=like.device if type(like) is Array else None)


def _index_array(op: str, x, item) -> Array:
    """An index given as a list, buffer or array, as an fx array of integer or bool dtype."""
    a = as_operand(item)
    if not isinstance(a, Array):  # a Python scalar inside as_operand's passthrough
        a = _constant(x, a)
    if a.dtype.kind == "f" and a.size == 0:  # [] means "no indices"
        a = cast(a, np.int32)
    if a.dtype.kind not in "biu":
        raise op_error(IndexError, op, f"arrays used as indices must be of integer or "
                       f"boolean type, got {a.dtype}", a)
    if a.dtype.kind == "b" and a.ndim == 0:
        raise op_error(IndexError, op, "boolean scalar indices are not supported; use None "
                       "to add an axis or fnp.where to select", a)
    return a


def _classify(op: str, x, item):
    """One index entry as None, Ellipsis, a slice, an int or an fx array."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
        return int(item)
    if isinstance(item, (Array, list, tuple, bool)) or hasattr(item, "__array__") or \
            hasattr(item, "__cuda_array_interface__"):
        return _index_array(op, x, item)
    raise op_error(IndexError, op, "only integers, slices (:), ellipsis (...), None and "
                   f"integer or boolean arrays are valid indices, got {type(item).__name__}", x)


def _norm_slice(op: str, x, s: slice, n: int) -> tuple:
    try:
        start, stop, step = s.indices(n)
    except ValueError as e:
        raise op_error(ValueError, op, str(e), x) from None
    if not range(start, stop, step):
        return (0, 0, 1)
    return (start, None if stop < 0 else stop, step)


def _norm_int(op: str, x, i: int, axis: int) -> int:
    n = x.shape[axis]
    if not -n <= i < n:
        raise op_error(IndexError, op, f"index {i} is out of bounds for axis {axis} with size "
                       f"{n}", x)
    return i % n


def normalize_index_array(op: str, x, a, axis: int):
    """``a`` with negative indices wrapped; concrete arrays are checked against the size."""
    n = x.shape[axis]
    if type(a) is Array and a.size:
        lo, hi = int(a._v.min()), int(a._v.max())
        if lo < -n or hi >= n:
            raise op_error(IndexError, op, f"index {hi if hi >= n else lo} is out of bounds "
                           f"for axis {axis} with size {n}", x)
        if lo >= 0:
            return a
    if a.dtype.kind == "u":
        return a
    if a.dtype.itemsize < 4:
        a = cast(a, np.int32)
    return fm.where(fm.less(a, 0), fm.add(a, n), a)


def _mask_indices(op: str, x, mask, axis: int) -> list:
    if isinstance(mask, Tracer):
        raise ConcretizationError(
            f"{op}: a traced boolean mask {mask.aval.str_short()} selects a data-dependent "
            "number of elements, which a transform cannot shape. Use fnp.where(mask, x, other) "
            "to keep the shape, or index with a concrete (non-traced) mask.")
    expected = x.shape[axis:axis + mask.ndim]
    if mask.shape != expected:
        raise op_error(IndexError, op, f"boolean index of shape {mask.shape} does not match "
                       f"the indexed axes {axis}.. of shape {expected}", x)
    return [wrap(i) for i in np.nonzero(mask._v)]


def parse_index(op: str, x, index) -> tuple[tuple, list]:
    """``(spec, index arrays)`` describing ``x[index]`` for the gather/scatter primitives."""
    items = [_classify(op, x, i) for i in (index if isinstance(index, tuple) else (index,))]
    consumed = sum(i.ndim if isinstance(i, Array) and i.dtype == np.bool_ else 1
                   for i in items if i is not None and i is not Ellipsis)
    if consumed > x.ndim:
        raise op_error(IndexError, op, f"too many indices: the array is {x.ndim}-dimensional "
                       f"but {consumed} were indexed", x)
    if sum(i is Ellipsis for i in items) > 1:
        raise op_error(IndexError, op, "an index can only have a single ellipsis ('...')", x)
    spec, arrays, axis = [], [], 0
    for item in items:
        if item is None or item is Ellipsis:
            spec.append(item)
            axis += (x.ndim - consumed) if item is Ellipsis else 0
        elif isinstance(item, slice):
            spec.append(_norm_slice(op, x, item, x.shape[axis]))
            axis += 1
        elif isinstance(item, int):
            spec.append(_norm_int(op, x, item, axis))
            axis += 1
        elif item.dtype == np.bool_:
            found = _mask_indices(op, x, item, axis)
            spec += [ARRAY] * len(found)
            arrays += found
            axis += item.ndim
        else:
            spec.append(ARRAY)
            arrays.append(normalize_index_array(op, x, item, axis))
            axis += 1
    return tuple(spec), arrays


# --- x[index] ----------------------------------------------------------------------------------
def _basic(x, spec):
    """``x[index]`` without index arrays: one static slice, a reversal, a reshape."""
    width = x.ndim - sum(1 for e in spec if e is not None and e is not Ellipsis)
    starts, limits, strides, flips, shape, axis = [], [], [], [], [], 0
    for e in spec + (Ellipsis,) * (Ellipsis not in spec):
        if e is None:
            shape.append(1)
            continue
        if e is Ellipsis:
            entries = [(0, n, 1) for n in x.shape[axis:axis + width]]
        else:
            entries = [(e, e + 1, 1) if isinstance(e, int) else e]
        for entry in entries:
            start, stop, step = entry
            r = range(start, -1 if stop is None else stop, step)
            lo = r[-1] if step < 0 and r else start
            starts.append(lo)
            limits.append(lo + (len(r) - 1) * abs(step) + 1 if r else lo)
            strides.append(abs(step))
            if step < 0 and len(r) > 1:
                flips.append(len(starts) - 1)
            if not isinstance(e, int):
                shape.append(len(r))
        axis += len(entries)
    out = x
    if any(starts) or tuple(limits) != x.shape or any(s != 1 for s in strides):
        out = bind(sp.slice_p, out, start_indices=tuple(starts), limit_indices=tuple(limits),
                   strides=tuple(strides))
    if flips:
        out = bind(sp.rev_p, out, dimensions=tuple(flips))
    if out.shape != tuple(shape):
        out = bind(sp.reshape_p, out, new_sizes=tuple(shape))
    return out


def getitem(x, index):
    """``x[index]`` with NumPy semantics (see the module docstring for bounds checking).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.arange(10)[[1, -1]]
        Array([1, 9], dtype=int32)
    """
    if not _trace.active and type(x) is Array and (
            type(index) in _BASIC_TYPES or
            (type(index) is tuple and all(type(i) in _BASIC_TYPES for i in index))):
        try:
            return wrap(x._v[index])
        except (IndexError, TypeError, ValueError):
            pass  # the general path raises the clear error
    x = as_operand(x)
    spec, arrays = parse_index("getitem", x, index)
    if arrays:
        return bind(gather_p, x, *arrays, spec=spec)
    return _basic(x, spec)


# --- x.at[index].set(v) and friends ------------------------------------------------------------
def _scatter(op: str, x, spec, arrays, values, mode: str):
    shape = indexed_shape(op, x.aval, spec, [a.aval for a in arrays])
    updates = cast(as_operand(values), x.dtype)
    ushape = updates.shape
    if ushape != shape:
        if len(ushape) > len(shape) or any(u not in (1, s) for u, s in
                                           zip(ushape[::-1], shape[::-1])):
            raise op_error(ValueError, op, f"updates of shape {ushape} cannot be broadcast to "
                           f"the indexed shape {shape}", x, updates)
        updates = bind(sp.broadcast_in_dim_p, updates, shape=shape, broadcast_dimensions=tuple(
            range(len(shape) - len(ushape), len(shape))))
    return bind(scatter_p, x, updates, *arrays, spec=spec, mode=mode)


class IndexUpdateHelper:
    """``x.at``: index it to get an ``IndexUpdateRef`` with the functional update methods."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> IndexUpdateRef:
        return IndexUpdateRef(self.array, index)


class IndexUpdateRef:
    """``x.at[index]``: each method returns an updated copy of ``x``; ``x`` is unchanged.

    Updates broadcast to the shape of ``x[index]`` and are cast to ``x.dtype``.
    Duplicate indices: ``add``, ``subtract``, ``multiply``, ``divide`` (floats), ``min``
    and ``max`` apply every update (``x.at[[0, 0]].add(1)`` adds 2); ``set`` and
    ``power`` keep the last update written, as NumPy's ``x[idx] = v`` does.
    Out-of-range indices raise ``IndexError`` as for ``x[index]``.

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.zeros(3).at[1:].set(5.0)
        Array([0., 5., 5.], dtype=float32)
    """

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = as_operand(array), index

    def _apply(self, method: str, values, mode: str):
        op = f"at[].{method}"
        spec, arrays = parse_index(op, self.array, self.index)
        return _scatter(op, self.array, spec, arrays, values, mode)

    def get(self):
        """``x[index]``."""
        return getitem(self.array, self.index)

    def set(self, values):
        """``x`` with ``x[index] = values`` (last write wins for duplicate indices)."""
        return self._apply("set", values, "set")

    def add(self, values):
        """``x`` with ``x[index] += values`` (duplicates accumulate)."""
        return self._apply("add", values, "add")

    def subtract(self, values):
        """``x`` with ``x[index] -= values`` (duplicates accumulate)."""
        return self._apply("subtract", fm.negative(cast(as_operand(values), self.array.dtype)),
                           "add")

    def multiply(self, values):
        """``x`` with ``x[index] *= values`` (duplicates accumulate)."""
        return self._apply("multiply", values, "mul")

    def divide(self, values):
        """``x`` with ``x[index] /= values``: a product with the reciprocal for float ``x``
        (duplicates accumulate); integer ``x`` gets the quotient cast back (last write wins)."""
        if dtypes.is_inexact(self.array.dtype):
            recip = fm.reciprocal(cast(as_operand(values), self.array.dtype))
            return self._apply("divide", recip, "mul")
        return self._apply("divide", fm.divide(self.get(), values), "set")

    def power(self, values):
        """``x`` with ``x[index] **= values`` (last write wins for duplicate indices)."""
        return self._apply("power", fm.power(self.get(), values), "set")

    def min(self, values):
        """``x`` with ``x[index] = minimum(x[index], values)`` (duplicates all take part)."""
        return self._apply("min", values, "min")

    def max(self, values):
        """``x`` with ``x[index] = maximum(x[index], values)`` (duplicates all take part)."""
        return self._apply("max", values, "max")


# --- take / take_along_axis / put_along_axis ----------------------------------------------------
def _ravel(a):
    return a if a.ndim == 1 else bind(sp.reshape_p, a, new_sizes=(a.size,))


def _full_slices(a, axis: int) -> tuple:
    return tuple((0, n, 1) for n in a.shape[:axis])


def _take(op: str, a, indices, axis, mode):
    a = as_operand(a)
    if axis is None:
        a, axis = _ravel(a), 0
    axis = normalize_axis(op, axis, a.ndim)
    idx = _index_array(op, a, indices)
    if idx.dtype == np.bool_:
        raise op_error(IndexError, op, "indices must be integers, got bool", a, idx)
    n = a.shape[axis]
    if mode in (None, "raise"):
        idx = normalize_index_array(op, a, idx, axis)
    elif mode == "clip":
        idx = fm.clip(idx, 0, max(n - 1, 0))
    elif mode == "wrap":
        idx = fm.mod(idx, n)
    else:
        raise op_error(ValueError, op, f"mode must be 'raise', 'clip' or 'wrap', got {mode!r}")
    return bind(gather_p, a, idx, spec=_full_slices(a, axis) + (ARRAY,))


def take(a, indices, axis=None, out=None, mode=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (flattened ``a`` when None).

    ``mode``: ``"raise"`` (default: IndexError for out-of-range concrete indices),
    ``"clip"`` (clamp into range) or ``"wrap"`` (modulo the axis size).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.take(fnp.asarray([[1, 2], [3, 4]]), [1, 0, 1], axis=1)
        Array([[2, 1, 2],
               [4, 3, 4]], dtype=int32)
    """
    if out is not None:
        raise TypeError("take: out= is not supported (fx arrays are immutable)")
    return _take("take", a, indices, axis, mode)


def _along_axis(op: str, arr, indices, axis):
    """``(arr, spec, index arrays)`` of NumPy's along-axis fancy index."""
    arr = as_operand(arr)
    if axis is None:
        arr, axis = _ravel(arr), 0
    idx = _index_array(op, arr, indices)
    if idx.ndim != arr.ndim or idx.dtype == np.bool_:
        raise op_error(ValueError, op, "indices must be integers with as many dimensions as "
                       "arr", arr, idx)
    axis = normalize_axis(op, axis, arr.ndim)
    arrays = []
    for d, n in enumerate(arr.shape):
        if d == axis:
            arrays.append(normalize_index_array(op, arr, idx, axis))
        else:
            shape = [1] * arr.ndim
            shape[d] = n
            arrays.append(_constant(arr, np.arange(n, dtype=np.int32).reshape(shape)))
    return arr, (ARRAY,) * arr.ndim, arrays


def take_along_axis(arr, indices, axis):
    """``arr`` sampled at ``indices`` along ``axis`` (the other axes broadcast), as NumPy.

    Example:
        >>> import fx.numpy as fnp
        >>> x = fnp.asarray([[10, 30, 20]])
        >>> fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1)
        Array([[10, 20, 30]], dtype=int32)
    """
    arr, spec, arrays = _along_axis("take_along_axis", arr, indices, axis)
    return bind(gather_p, arr, *arrays, spec=spec)


def put_along_axis(arr, indices, values, axis):
    """Copy of ``arr`` with ``values`` written at ``indices`` along ``axis`` (functional).

    Example:
        >>> import fx.numpy as fnp
        >>> fnp.put_along_axis(fnp.zeros((1, 3)), fnp.asarray([[2]]), 7.0, axis=1)
        Array([[0., 0., 7.]], dtype=float32)
    """
    op = "put_along_axis"
    arr, spec, arrays = _along_axis(op, arr, indices, axis)
    return _scatter(op, arr, spec, arrays, values, "set")


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
