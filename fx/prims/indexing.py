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

from fx.core.ad import Zero, add_tangents, instantiate, is_linear, linear_jvp, transpose_vjp
from fx.core.aval import ShapedArray
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
