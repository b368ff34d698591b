"""NumPy indexing: ``x[index]``, functional updates ``x.at[index].set(v)``, ``take``.

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

__all__ = ["getitem", "take", "take_along_axis", "put_along_axis"]

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
    if not _trace.dynamic_active and type(x) is Array and (
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
