"""Indexing primitives: gather / scatter with a static index description, dynamic slices.

``gather`` and ``scatter`` take the operand plus the integer index arrays as operands and
a static, hashable ``spec`` that describes the rest of a NumPy index, one entry per
position of the index tuple:

* ``"array"``               the next index-array operand (advanced indexing),
* an ``int`` ``i >= 0``     a static integer index,
* ``(start, stop, step)``   a normalised slice (``stop`` is None for a negative step that
                            runs to the beginning),
* ``None``                  a new axis of length 1,
* ``Ellipsis``              the axes the other entries leave (at most one).

Axes after the last entry are taken whole. Placement of the advanced-index axes follows
NumPy: integers count as advanced indices when an index array is present; if those
entries sit next to each other the broadcast index shape replaces them in place,
otherwise (separated by a slice, ``None`` or ``...``) it goes first. The index arrays must
already be in range and non-negative (``fx.numpy.indexing`` checks and normalises them).

``dynamic_slice`` / ``dynamic_update_slice`` take their start indices as scalar operands
and clamp them so the window fits, as in JAX and XLA.

Example:
    >>> import fx
    >>> from fx.prims.indexing import gather_p
    >>> x = fx.asarray([[1, 2, 3], [4, 5, 6]])
    >>> gather_p.bind(x, fx.asarray([2, 0]), spec=((0, 2, 1), "array"))
    Array([[3, 1],
           [6, 4]], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import Zero, add_tangents, instantiate, is_linear, linear_jvp, loaded, transpose_vjp
from fx.core.aval import ShapedArray
from fx.core.batching import batch_size, move_to, move_to_front
from fx.core.primitive import Primitive
from fx.core.rule_kit import broadcast_shapes, check_kinds
from fx.errors import op_error

ARRAY = "array"
INTEGER = "iu"


def index_tuple(spec, indices) -> tuple:
    """The NumPy index that ``spec`` describes, with ``indices`` in the array slots."""
    arrays = iter(indices)
    out = []
    for e in spec:
        if e is None or e is Ellipsis or isinstance(e, int):
            out.append(e)
        elif e == ARRAY:
            out.append(next(arrays))
        else:
            out.append(slice(*e))
    return tuple(out)


def _slice_length(op, e, n, x) -> int:
    if not (isinstance(e, tuple) and len(e) == 3 and isinstance(e[2], int) and e[2] != 0):
        raise op_error(TypeError, op, f"bad index entry {e!r} (expects 'array', an int, "
                       "None, Ellipsis or a (start, stop, step) tuple)", x)
    start, stop, step = e
    if stop is None and step < 0:
        stop = -1
    if not (0 <= start <= n and -1 <= stop <= n):
        raise op_error(IndexError, op, f"slice {e} is out of bounds for an axis of size {n}", x)
    return len(range(start, stop, step))


def indexed_shape(op: str, x, spec, index_avals) -> tuple[int, ...]:
    """Shape of ``x[index]`` for the index ``spec`` describes; our errors for bad input."""
    if not isinstance(spec, tuple):
        raise op_error(TypeError, op, f"spec must be a tuple, got {type(spec).__name__}", x)
    n_arrays = sum(1 for e in spec if isinstance(e, str) and e == ARRAY)
    if n_arrays != len(index_avals):
        raise op_error(ValueError, op, f"spec has {n_arrays} array slots but "
                       f"{len(index_avals)} index arrays were given", x, *index_avals)
    check_kinds(op, INTEGER, *index_avals)
    if sum(e is Ellipsis for e in spec) > 1:
        raise op_error(IndexError, op, "an index can only have a single ellipsis ('...')", x)
    consumed = sum(1 for e in spec if e is not None and e is not Ellipsis)
    if consumed > x.ndim:
        raise op_error(IndexError, op, f"too many indices: the array is {x.ndim}-dimensional "
                       f"but {consumed} were indexed", x)
    advanced = n_arrays > 0
    out, adv_entries, adv_at, axis = [], [], None, 0
    for k, e in enumerate(spec):
        if e is None:
            out.append(1)
        elif e is Ellipsis:
            width = x.ndim - consumed
            out.extend(x.shape[axis:axis + width])
            axis += width
        elif (isinstance(e, str) and e == ARRAY) or (isinstance(e, int) and
                                                      not isinstance(e, bool)):
            if isinstance(e, int) and not 0 <= e < x.shape[axis]:
                raise op_error(IndexError, op, f"index {e} is out of bounds for axis {axis} "
                               f"with size {x.shape[axis]}", x)
            if advanced:
                adv_entries.append(k)
                adv_at = len(out) if adv_at is None else adv_at
            axis += 1
        else:
            out.append(_slice_length(op, e, x.shape[axis], x))
            axis += 1
    out.extend(x.shape[axis:])
    if advanced:
        shape = tuple(broadcast_shapes(op, *index_avals))
        contiguous = adv_entries[-1] - adv_entries[0] + 1 == len(adv_entries)
        at = adv_at if contiguous else 0
        out[at:at] = shape
    return tuple(out)


# --- gather: x[index] -------------------------------------------------------------------------
def _gather_abstract(x, *indices, spec):
    return ShapedArray(indexed_shape("gather", x, spec, indices), x.dtype, x.weak_type)


gather_p = Primitive("gather", impl=lambda x, *idx, spec: x[index_tuple(spec, idx)],
                     abstract_eval=_gather_abstract)


# --- scatter: copy of x with x[index] combined with updates -----------------------------------
# Duplicate indices: "add", "mul", "min" and "max" accumulate every update (ufunc.at);
# for "set" the last update written wins, as in NumPy assignment.
SCATTER_UFUNCS = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_impl(x, updates, *idx, spec, mode):
    out = np.copy(x)
    index = index_tuple(spec, idx)
    if mode == "set":
        out[index] = updates
    else:
        SCATTER_UFUNCS[mode].at(out, index, updates)
    return out


def _scatter_abstract(x, updates, *indices, spec, mode):
    op = f"scatter-{mode}"
    if mode != "set" and mode not in SCATTER_UFUNCS:
        raise op_error(ValueError, "scatter", f"mode must be one of 'set', "
                       f"{', '.join(map(repr, SCATTER_UFUNCS))}; got {mode!r}", x)
    shape = indexed_shape(op, x, spec, indices)
    if updates.shape != shape or updates.dtype != x.dtype:
        raise op_error(ValueError, op, f"updates must have the indexed shape {shape} and "
                       f"dtype {x.dtype} (broadcast and cast first)", x, updates)
    return x.update(weak_type=False)


scatter_p = Primitive("scatter", impl=_scatter_impl, abstract_eval=_scatter_abstract)


# --- dynamic_slice / dynamic_update_slice: traced starts, clamped into range --------------------
def _clamped_window(shape, starts, sizes) -> tuple:
    """The slices of the window, each start clamped into ``[0, n - size]``.

    Raises for input the shape rule rejects (the eager path then reports the rule's error).
    """
    if not len(starts) == len(sizes) == len(shape) or any(
            not 0 <= k <= n for k, n in zip(sizes, shape)) or any(
            not isinstance(s, int) and s.dtype.kind not in INTEGER for s in starts):
        raise ValueError("invalid dynamic window")
    return tuple(slice(s, s + k) for s, k in
                 ((min(max(int(s), 0), n - k), k) for n, s, k in zip(shape, starts, sizes)))


def _check_starts(op: str, x, starts, *others) -> None:
    if len(starts) != x.ndim:
        raise op_error(ValueError, op, f"needs one start index per axis of shape {x.shape}, "
                       f"got {len(starts)}", x, *others, *starts)
    if any(s.ndim != 0 for s in starts):
        raise op_error(TypeError, op, "start indices must be scalars", x, *others, *starts)
    check_kinds(op, INTEGER, *starts)


def _check_window(op: str, x, sizes, *others) -> None:
    if len(sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(sizes, x.shape)):
        raise op_error(ValueError, op, f"slice sizes {tuple(sizes)} must be non-negative, one "
                       f"per axis and fit the operand shape {x.shape}", x, *others)


def _dynamic_slice_abstract(x, *starts, slice_sizes):
    _check_window("dynamic_slice", x, slice_sizes)
    _check_starts("dynamic_slice", x, starts)
    return x.update(shape=slice_sizes)


dynamic_slice_p = Primitive(
    "dynamic_slice", abstract_eval=_dynamic_slice_abstract,
    impl=lambda x, *starts, slice_sizes: x[_clamped_window(x.shape, starts, slice_sizes)])


def _dynamic_update_slice_impl(x, update, *starts):
    if update.dtype != x.dtype:
        raise TypeError("dtype mismatch")
    out = np.copy(x)
    out[_clamped_window(x.shape, starts, update.shape)] = update
    return out


def _dynamic_update_slice_abstract(x, update, *starts):
    op = "dynamic_update_slice"
    if update.ndim != x.ndim:
        raise op_error(ValueError, op, "update must have the operand's rank", x, update)
    _check_window(op, x, update.shape, update)
    _check_starts(op, x, starts, update)
    if update.dtype != x.dtype:
        raise op_error(TypeError, op, "update must have the operand's dtype", x, update)
    return x.update(weak_type=False)


dynamic_update_slice_p = Primitive("dynamic_update_slice", impl=_dynamic_update_slice_impl,
                                   abstract_eval=_dynamic_update_slice_abstract)


# --- forward-mode rules ------------------------------------------------------------------------
gather_p.jvp = linear_jvp(gather_p, 1)
dynamic_slice_p.jvp = linear_jvp(dynamic_slice_p, 1)
dynamic_update_slice_p.jvp = linear_jvp(dynamic_update_slice_p, 2)


def _scatter_mul_tangent(x, u, idx, t_x, t_u, spec):
    """``out[p] = x[p] * prod(u at p)``: ``dx[p] * prod(u at p)`` plus, scattered, each
    ``du * x[p] * prod(the other u at p)``. The products of the others come from the
    product of the non-zero updates and a count of zeros, dividing only by non-zero
    updates (exactly ``x[p]`` for an update alone at its position)."""
    from fx.numpy import ones_like, where, zeros_like
    scatter = lambda base, v, mode: scatter_p.bind(base, v, *idx, spec=spec, mode=mode)  # noqa: E731
    gather = lambda v: gather_p.bind(v, *idx, spec=spec)  # noqa: E731
    terms = [t_x if type(t_x) is Zero else t_x * scatter(ones_like(x), u, "mul")]
    if type(t_u) is not Zero:
        zero = u == 0
        nonzero_prod = gather(scatter(ones_like(x), where(zero, 1, u), "mul"))
        zeros_at = gather(scatter(zeros_like(x), zero.astype(x.dtype), "add"))
        others = where(zero, where(zeros_at == 1, nonzero_prod, 0),
                       where(zeros_at == 0, nonzero_prod / where(zero, 1, u), 0))
        terms.append(scatter(zeros_like(x), t_u * (gather(x) * others), "add"))
    return add_tangents(*terms)


def _scatter_extremum_tangent(x, u, idx, t_x, t_u, out, spec):
    """Tangent of scatter-min/max: the mean of the tangents of the values (``x`` and
    the updates at each position) that attain the extremum; ties split evenly, as in JAX."""
    from fx.numpy import zeros_like
    at_x = (x == out).astype(x.dtype)
    at_u = (u == gather_p.bind(out, *idx, spec=spec)).astype(x.dtype)
    scatter_add = lambda v: scatter_p.bind(zeros_like(x), v, *idx, spec=spec, mode="add")  # noqa: E731
    count = at_x + scatter_add(at_u)
    return add_tangents(t_x if type(t_x) is Zero else t_x * at_x,
                        t_u if type(t_u) is Zero else scatter_add(t_u * at_u)) / count


def _scatter_jvp(primals, tangents, *, spec, mode):
    if mode in ("set", "add"):
        return linear_jvp(scatter_p, 2)(primals, tangents, spec=spec, mode=mode)
    (x, u, *idx), (t_x, t_u, *_) = primals, tangents
    out = scatter_p.bind(x, u, *idx, spec=spec, mode=mode)
    if mode == "mul":
        return out, _scatter_mul_tangent(x, u, idx, t_x, t_u, spec)
    return out, _scatter_extremum_tangent(x, u, idx, t_x, t_u, out, spec)


scatter_p.jvp = _scatter_jvp


# --- reverse-mode rules: transposes of the linear primitives ------------------------------------
def _gather_transpose(ct, x, *indices, spec):
    return [scatter_p.bind(instantiate(Zero(x.aval)), ct, *indices, spec=spec, mode="add")]


def _scatter_transpose(ct, x, updates, *indices, spec, mode):
    if mode not in ("set", "add"):
        raise NotImplementedError(f"reverse-mode differentiation of .at[...] updates with mode "
                                  f"{mode!r} is not implemented (set and add are)")
    ct_x = ct
    if mode == "set" and is_linear(x):  # overwritten entries do not reach the output
        ct_x = scatter_p.bind(ct, instantiate(Zero(updates.aval)), *indices, spec=spec,
                              mode="set")
    ct_updates = gather_p.bind(ct, *indices, spec=spec) if is_linear(updates) else None
    return [ct_x if is_linear(x) else None, ct_updates]


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    return [dynamic_update_slice_p.bind(instantiate(Zero(x.aval)), ct, *starts)]


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    ct_x = dynamic_update_slice_p.bind(ct, instantiate(Zero(update.aval)), *starts)
    ct_update = dynamic_slice_p.bind(ct, *starts, slice_sizes=update.aval.shape)
    return [ct_x if is_linear(x) else None, ct_update if is_linear(update) else None]


gather_p.transpose, scatter_p.transpose = _gather_transpose, _scatter_transpose
dynamic_slice_p.transpose = _dynamic_slice_transpose
dynamic_update_slice_p.transpose = _dynamic_update_slice_transpose
# scatter has none: only its set and add modes are linear, the tape linearizes the others
for _p in (gather_p, dynamic_slice_p, dynamic_update_slice_p):
    _p.vjp = transpose_vjp(_p)


# --- batching rules ----------------------------------------------------------------------------
# The batch axis becomes one more entry of the index: a full slice when only the operand is
# batched, else an index array that joins the advanced-index block (the batched index arrays
# with their batch axis in front, plus an iota over the batch for a batched operand). NumPy's
# placement of the advanced block then decides where the batch axis lands in the output.
def _advanced_layout(spec, ndim: int) -> tuple[int, int, int | None]:
    """``(k, axis, at)`` for a spec with index arrays over a rank-``ndim`` operand: the spec
    position of the first advanced entry, the operand axis it indexes, and the output axis
    where the broadcast index shape lands (None when the advanced entries are separated:
    NumPy puts it first)."""
    consumed = sum(1 for e in spec if e is not None and e is not Ellipsis)
    adv = [k for k, e in enumerate(spec) if isinstance(e, (int, str))]
    axis = out = 0
    for k, e in enumerate(spec):
        if k == adv[0]:
            first = (k, axis, out)
        if e is None:
            out += 1
        elif e is Ellipsis:
            axis, out = axis + ndim - consumed, out + ndim - consumed
        else:  # an advanced entry adds no axis of its own to the output, a slice does one
            axis, out = axis + 1, out + (not isinstance(e, (int, str)))
    k, axis, at = first
    return k, axis, at if adv[-1] - adv[0] + 1 == len(adv) else None


def _constant(like, host):
    """``host`` (a NumPy array) on ``like``'s device (the default one for traced values)."""
    from fx.array import Array
    from fx.creation import asarray
    return asarray(host, device=like.device if type(like) is Array else None)


def _iota(like, size: int, rank: int):
    """``arange(size)`` shaped ``(size, 1, ..., 1)`` with ``rank`` ones: the batch as an index."""
    return _constant(like, np.arange(size, dtype=np.int32).reshape((size,) + (1,) * rank))


def _batched_at(v, dim, size: int, pos: int):
    """``v`` with its batch axis at ``pos``: moved there, or broadcast there if unbatched."""
    if dim is not None:
        return move_to(v, dim, pos)
    shape = tuple(np.shape(v))
    return loaded("fx.prims.shape").broadcast_in_dim_p.bind(
        v, shape=shape[:pos] + (size,) + shape[pos:],
        broadcast_dimensions=tuple(i + (i >= pos) for i in range(len(shape))))


def _leading(a, dim, rank: int):
    """A batched index array with its batch axis in front, then ones, then its own axes, so
    the rest broadcast against ``rank`` per-example axes as each example's did (an
    unbatched one broadcasts as it is)."""
    if dim is None:
        return a
    a = move_to_front(a, dim)
    shape = tuple(np.shape(a))
    if len(shape) - 1 == rank:
        return a
    return loaded("fx.prims.shape").reshape_p.bind(
        a, new_sizes=shape[:1] + (1,) * (rank + 1 - len(shape)) + shape[1:])


def _batched_index(x, xd, idx, idims, spec, size: int):
    """The index of a gather/scatter with some index arrays batched: those with the batch
    axis in front and, for a batched operand, an iota over the batch put just before the
    first advanced entry, which keeps the advanced block where it was.

    Returns ``(x, arrays, spec, x_axis, at)``: ``x`` with its batch axis moved to ``x_axis``
    (if batched) and the output axis ``at`` of the batch (the front of the advanced block).
    """
    k, x_axis, at = _advanced_layout(spec, np.ndim(x) - (xd is not None))
    rank = max(np.ndim(a) - (d is not None) for a, d in zip(idx, idims))
    arrays = [_leading(a, d, rank) for a, d in zip(idx, idims)]
    if xd is not None:
        x = move_to(x, xd, x_axis)
        arrays.insert(sum(1 for e in spec[:k] if e == ARRAY), _iota(x, size, rank))
        spec = spec[:k] + (ARRAY,) + spec[k:]
    return x, arrays, spec, x_axis, at or 0


def _sliced_batch_dim(spec, idx, ndim: int) -> int:
    """Output axis of a batch axis taken by a full slice in front of ``spec``: the front,
    or just after the index shape when separated advanced indices go first."""
    if not idx or _advanced_layout(spec, ndim)[2] is not None:
        return 0
    return len(np.broadcast_shapes(*(tuple(np.shape(a)) for a in idx)))


def _gather_batch(vals, dims, *, spec):
    """Only the operand batched: a full slice over its batch axis (moved to the front) ahead
    of the spec. Batched index arrays: they carry the batch axis into the advanced block,
    joined by a batch iota when the operand is batched too; the block's place is the
    batch axis's."""
    (x, *idx), (xd, *idims) = vals, dims
    if all(d is None for d in idims):
        x = move_to_front(x, xd)
        out = gather_p.bind(x, *idx, spec=((0, np.shape(x)[0], 1),) + spec)
        return out, _sliced_batch_dim(spec, idx, np.ndim(x) - 1)
    x, arrays, spec, _, at = _batched_index(x, xd, idx, idims, spec, batch_size(vals, dims))
    return gather_p.bind(x, *arrays, spec=spec), at


def _scatter_batch(vals, dims, *, spec, mode):
    """The gather rule's index over the operand (broadcast along the batch if unbatched),
    with the updates' batch axis where that index puts it. Each example writes only its
    own slab of the batch axis, in its own order: duplicates combine as they did."""
    (x, u, *idx), (xd, ud, *idims) = vals, dims
    size = batch_size(vals, dims)
    ndim = np.ndim(x) - (xd is not None)
    if all(d is None for d in idims):
        x, u = _batched_at(x, xd, size, 0), _batched_at(u, ud, size,
                                                        _sliced_batch_dim(spec, idx, ndim))
        return scatter_p.bind(x, u, *idx, spec=((0, size, 1),) + spec, mode=mode), 0
    x_axis = _advanced_layout(spec, ndim)[1]
    x, arrays, spec, _, at = _batched_index(_batched_at(x, xd, size, x_axis), x_axis, idx,
                                            idims, spec, size)
    return scatter_p.bind(x, _batched_at(u, ud, size, at), *arrays, spec=spec, mode=mode), x_axis


def _window_index(like, starts, sdims, shape, sizes, size: int) -> list:
    """Index arrays of each example's window, ``clamp(start, 0, n - k) + arange(k)`` on
    every axis, shaped to broadcast together to ``(batch, *sizes)`` (outer-product style;
    only batched starts have the batch axis)."""
    from fx.core.elementwise import cast
    from fx.numpy import add, maximum, minimum
    out = []
    for i, (s, d, n, k) in enumerate(zip(starts, sdims, shape, sizes)):
        steps = np.arange(k, dtype=np.int64).reshape((k,) + (1,) * (len(sizes) - 1 - i))
        if isinstance(s, int):
            out.append(_constant(like, min(max(s, 0), n - k) + steps))
            continue
        s = minimum(maximum(cast(s, np.int64), 0), n - k)
        if d is not None:
            s = loaded("fx.prims.shape").reshape_p.bind(
                s, new_sizes=(size,) + (1,) * len(sizes))
        out.append(add(s, _constant(like, steps)))
    return out


def _dynamic_slice_batch(vals, dims, *, slice_sizes):
    """Unbatched starts: one more window axis, the whole batch axis (start 0). Batched
    starts: a different window per example, a gather with the window index arrays (and a
    batch iota for a batched operand) in every slot."""
    (x, *starts), (xd, *sdims) = vals, dims
    if all(d is None for d in sdims):
        return dynamic_slice_p.bind(x, *starts[:xd], 0, *starts[xd:], slice_sizes=(
            slice_sizes[:xd] + (np.shape(x)[xd],) + slice_sizes[xd:])), xd
    size = batch_size(vals, dims)
    x = move_to_front(x, xd)
    shape = tuple(np.shape(x))[xd is not None:]
    arrays = _window_index(x, starts, sdims, shape, slice_sizes, size)
    if xd is not None:
        arrays.insert(0, _iota(x, size, len(shape)))
    return gather_p.bind(x, *arrays, spec=(ARRAY,) * len(arrays)), 0


def _dynamic_update_slice_batch(vals, dims):
    """Unbatched starts: one more window axis, the whole batch axis (start 0) of both
    operands. Batched starts: a scatter-set of the updates at each example's window index
    arrays, over the operand broadcast along the batch if unbatched."""
    (x, u, *starts), (xd, ud, *sdims) = vals, dims
    size = batch_size(vals, dims)
    if all(d is None for d in sdims):
        at = ud if xd is None else xd
        x, u = _batched_at(x, xd, size, at), _batched_at(u, ud, size, at)
        return dynamic_update_slice_p.bind(x, u, *starts[:at], 0, *starts[at:]), at
    x, u = _batched_at(x, xd, size, 0), _batched_at(u, ud, size, 0)
    shape, sizes = tuple(np.shape(x))[1:], tuple(np.shape(u))[1:]
    arrays = [_iota(x, size, len(shape)), *_window_index(x, starts, sdims, shape, sizes, size)]
    return scatter_p.bind(x, u, *arrays, spec=(ARRAY,) * len(arrays), mode="set"), 0


gather_p.batch, scatter_p.batch = _gather_batch, _scatter_batch
dynamic_slice_p.batch = _dynamic_slice_batch
dynamic_update_slice_p.batch = _dynamic_update_slice_batch
