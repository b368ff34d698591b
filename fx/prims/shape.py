"""Shape primitives: reshape, broadcast, transpose, squeeze, concatenate, pad, rev, slice, sort.

Static parameters follow JAX's ``lax`` (``new_sizes``, ``broadcast_dimensions``,
``permutation``, ``padding_config``, ...). ``fx.numpy`` builds every shape function
(``reshape``, ``stack``, ``tile``, ``pad``, ``roll``, ...) out of these.

Example:
    >>> import fx
    >>> from fx.prims.shape import broadcast_in_dim_p
    >>> broadcast_in_dim_p.bind(fx.asarray([1, 2]), shape=(3, 2), broadcast_dimensions=(1,))
    Array([[1, 2],
           [1, 2],
           [1, 2]], dtype=int32)
"""
from __future__ import annotations

import math

import numpy as np

from fx.core.ad import is_linear, linear_jvp, loaded, transpose_vjp, zero_jvp
from fx.core.aval import ShapedArray
from fx.core.batching import at_front, axis_param_batch, batch_size, move_to_front
from fx.core.primitive import Primitive
from fx.core.rule_kit import check_kinds, emitter, normalize_axis
from fx.errors import op_error

NUMERIC = "biufc"


def _same_dtype(op: str, *avals) -> None:
    if len({a.dtype for a in avals}) > 1:
        raise op_error(TypeError, op, "operands must share one dtype (promote first)", *avals)


def _check_axes(op: str, dims, ndim: int, x, what: str = "dimensions") -> None:
    """``dims`` are distinct axes in ``[0, ndim)``."""
    for d in dims:
        normalize_axis(op, d, ndim, x)
        if d < 0:
            raise op_error(ValueError, op, f"{what} must be non-negative, got {dims}", x)
    if len(set(dims)) != len(dims):
        raise op_error(ValueError, op, f"repeated axis in {what} {dims}", x)


# --- reshape ---------------------------------------------------------------------------------
def _reshape_abstract(x, *, new_sizes):
    if any(d < 0 for d in new_sizes) or math.prod(new_sizes) != x.size:
        raise op_error(ValueError, "reshape", f"cannot reshape an array of shape {x.shape} "
                       f"(size {x.size}) into shape {tuple(new_sizes)}", x)
    return x.update(shape=new_sizes)


reshape_p = Primitive("reshape", impl=lambda x, *, new_sizes: np.reshape(x, new_sizes),
                      abstract_eval=_reshape_abstract)


# --- broadcast_in_dim: operand dim i becomes output dim broadcast_dimensions[i] ---------------
def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _broadcast_in_dim_abstract(x, *, shape, broadcast_dimensions):
    op = "broadcast_in_dim"
    dims = tuple(broadcast_dimensions)
    if len(dims) != x.ndim:
        raise op_error(ValueError, op, f"broadcast_dimensions {dims} must name one output "
                       f"dimension per operand dimension ({x.ndim})", x)
    if any(n < 0 for n in shape):
        raise op_error(ValueError, op, f"negative dimensions in shape {tuple(shape)}", x)
    if any(b <= a for a, b in zip(dims, dims[1:])):
        raise op_error(ValueError, op, f"broadcast_dimensions {dims} must be increasing", x)
    for i, d in enumerate(dims):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise op_error(ValueError, op, f"cannot broadcast an array of shape {x.shape} to "
                           f"shape {tuple(shape)}", x)
    return x.update(shape=shape)


broadcast_in_dim_p = Primitive("broadcast_in_dim", impl=_broadcast_in_dim_impl,
                               abstract_eval=_broadcast_in_dim_abstract)


# --- transpose -------------------------------------------------------------------------------
def _transpose_abstract(x, *, permutation):
    perm = tuple(permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise op_error(ValueError, "transpose", f"axes {perm} are not a permutation of the "
                       f"{x.ndim} axes of shape {x.shape}", x)
    return x.update(shape=tuple(x.shape[p] for p in perm))


transpose_p = Primitive("transpose", impl=lambda x, *, permutation: np.transpose(x, permutation),
                        abstract_eval=_transpose_abstract)


# --- squeeze ---------------------------------------------------------------------------------
def _squeeze_abstract(x, *, dimensions):
    _check_axes("squeeze", dimensions, x.ndim, x)
    if any(x.shape[d] != 1 for d in dimensions):
        raise op_error(ValueError, "squeeze", f"cannot squeeze axes {tuple(dimensions)} of "
                       f"shape {x.shape}: their size is not one", x)
    return x.update(shape=tuple(n for i, n in enumerate(x.shape) if i not in dimensions))


squeeze_p = Primitive("squeeze", impl=lambda x, *, dimensions: np.squeeze(x, axis=dimensions),
                      abstract_eval=_squeeze_abstract)


# --- concatenate -----------------------------------------------------------------------------
def _concatenate_abstract(*xs, dimension):
    op = "concatenate"
    if not xs:
        raise op_error(ValueError, op, "need at least one array to concatenate")
    _same_dtype(op, *xs)
    shapes = ", ".join(str(x.shape) for x in xs)
    first = xs[0]
    if first.ndim == 0:
        raise op_error(ValueError, op, "zero-dimensional arrays cannot be concatenated", *xs)
    dimension = normalize_axis(op, dimension, first.ndim, *xs)
    for x in xs:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                       if i != dimension):
            raise op_error(ValueError, op, f"shapes {shapes} must match except along axis "
                           f"{dimension}", *xs)
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype, weak_type=all(x.weak_type for x in xs))


concatenate_p = Primitive("concatenate",
                          impl=lambda *xs, dimension: np.concatenate(xs, axis=dimension),
                          abstract_eval=_concatenate_abstract)


# --- pad: lax.pad semantics, ((lo, hi, interior), ...) per axis; negative lo/hi crop ----------
def _pad_sizes(n: int, lo: int, hi: int, interior: int) -> int:
    return lo + hi + (n + max(n - 1, 0) * interior)


def _pad_impl(x, padding_value, *, padding_config):
    grown = tuple(_pad_sizes(n, max(lo, 0), max(hi, 0), i)
                  for n, (lo, hi, i) in zip(x.shape, padding_config))
    out = np.full_like(x, padding_value, shape=grown)
    inner = tuple(slice(max(lo, 0), g - max(hi, 0), i + 1)
                  for g, (lo, hi, i) in zip(grown, padding_config))
    out[inner] = x
    crop = tuple(slice(-min(lo, 0), g + min(hi, 0))
                 for g, (lo, hi, _) in zip(grown, padding_config))
    if any(c.start > c.stop for c in crop):
        raise ValueError("pad crops to a negative size")  # the shape rule explains
    return out[crop]


def _pad_abstract(x, padding_value, *, padding_config):
    op = "pad"
    _same_dtype(op, x, padding_value)
    if padding_value.ndim != 0:
        raise op_error(ValueError, op, "the padding value must be a scalar", x, padding_value)
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise op_error(ValueError, op, f"padding_config {padding_config} must hold one "
                       f"(low, high, interior) triple per axis of shape {x.shape}", x)
    if any(i < 0 for _, _, i in padding_config):
        raise op_error(ValueError, op, f"interior padding must be non-negative, got "
                       f"{padding_config}", x)
    shape = tuple(_pad_sizes(n, *c) for n, c in zip(x.shape, padding_config))
    if any(n < 0 for n in shape):
        raise op_error(ValueError, op, f"padding_config {padding_config} crops shape {x.shape} "
                       f"to the negative size {shape}", x)
    return x.update(shape=shape)


pad_p = Primitive("pad", impl=_pad_impl, abstract_eval=_pad_abstract)


# --- rev -------------------------------------------------------------------------------------
def _rev_abstract(x, *, dimensions):
    _check_axes("rev", dimensions, x.ndim, x)
    return x


rev_p = Primitive("rev", impl=lambda x, *, dimensions: np.flip(x, axis=dimensions),
                  abstract_eval=_rev_abstract)


# --- slice: static strided window [start, limit) with positive strides -------------------------
def _slice_impl(x, *, start_indices, limit_indices, strides):
    window = tuple(slice(*t) for t in zip(start_indices, limit_indices, strides))
    if len(window) != x.ndim or any(not 0 <= w.start <= w.stop <= n or w.step < 1
                                    for w, n in zip(window, x.shape)):
        raise IndexError("slice bounds")  # NumPy would clamp; the shape rule explains
    return x[window]


def _slice_abstract(x, *, start_indices, limit_indices, strides):
    op = "slice"
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise op_error(ValueError, op, f"start_indices {start_indices}, limit_indices "
                       f"{limit_indices} and strides {strides} need one entry per axis of "
                       f"shape {x.shape}", x)
    for n, s, lim, st in zip(x.shape, start_indices, limit_indices, strides):
        if not 0 <= s <= lim <= n or st < 1:
            raise op_error(IndexError, op, f"slice start {start_indices}, limit "
                           f"{limit_indices}, strides {strides} is out of bounds for shape "
                           f"{x.shape}", x)
    return x.update(shape=tuple(-(-(lim - s) // st)
                                for s, lim, st in zip(start_indices, limit_indices, strides)))


slice_p = Primitive("slice", impl=_slice_impl, abstract_eval=_slice_abstract)


# --- sort / argsort: stable, along one dimension, NaNs last (as NumPy) ------------------------
def _sort_abstract(x, *, dimension):
    check_kinds("sort", NUMERIC, x)
    normalize_axis("sort", dimension, x.ndim, x)
    if x.ndim == 0:
        raise op_error(ValueError, "sort", "cannot sort a zero-dimensional array", x)
    return x


def _argsort_abstract(x, *, dimension, index_dtype):
    _sort_abstract(x, dimension=dimension)
    return ShapedArray(x.shape, index_dtype)


sort_p = Primitive("sort", impl=lambda x, *, dimension: np.sort(x, axis=dimension, kind="stable"),
                   abstract_eval=_sort_abstract)
argsort_p = Primitive(
    "argsort", abstract_eval=_argsort_abstract,
    impl=lambda x, *, dimension, index_dtype:
        np.argsort(x, axis=dimension, kind="stable").astype(index_dtype, copy=False))


# --- forward-mode rules ------------------------------------------------------------------------
for _p in (reshape_p, broadcast_in_dim_p, transpose_p, squeeze_p, concatenate_p, pad_p, rev_p,
           slice_p):
    _p.jvp = linear_jvp(_p)
argsort_p.jvp = zero_jvp(argsort_p)


def _sort_jvp(primals, tangents, *, dimension):
    """The tangent follows its element: gathered along the sorting permutation."""
    from fx.numpy import take_along_axis
    (x,), (t,) = primals, tangents
    perm = argsort_p.bind(x, dimension=dimension, index_dtype=np.dtype(np.int32))
    return sort_p.bind(x, dimension=dimension), take_along_axis(t, perm, axis=dimension)


sort_p.jvp = _sort_jvp


# --- reverse-mode rules: transposes of the linear primitives ------------------------------------
def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    """Sum over the added axes and over the size-1 axes that were stretched."""
    dims = set(broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions)
                      if x.aval.shape[i] == 1 and shape[d] != 1)
    axes = tuple(sorted(set(d for d in range(len(shape)) if d not in dims) | set(stretched)))
    summed = loaded("fx.prims.reductions").reduce_sum_p.bind(ct, axes=axes) if axes else ct
    return [reshape_p.bind(summed, new_sizes=x.aval.shape)]


def _concatenate_transpose(ct, *xs, dimension):
    starts = np.cumsum([0] + [x.aval.shape[dimension] for x in xs])
    return [_slice_axis(ct, dimension, int(lo), int(hi)) if is_linear(x) else None
            for x, lo, hi in zip(xs, starts[:-1], starts[1:])]


def _slice_axis(x, axis: int, lo: int, hi: int):
    start, limit = [0] * x.ndim, list(x.shape)
    start[axis], limit[axis] = lo, hi
    return slice_p.bind(x, start_indices=tuple(start), limit_indices=tuple(limit),
                        strides=(1,) * x.ndim)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    """The operand's cotangent is the un-padded interior (crops come back as zeros); the
    padding value's is the sum of the rest."""
    reduce_sum_p = loaded("fx.prims.reductions").reduce_sum_p
    uncrop = tuple((-lo, -hi, 0) for lo, hi, _ in padding_config)
    unpadded = pad_p.bind(ct, np.zeros((), ct.dtype), padding_config=uncrop)
    ct_x = slice_p.bind(unpadded, start_indices=(0,) * ct.ndim, limit_indices=unpadded.shape,
                        strides=tuple(i + 1 for _, _, i in padding_config))
    total = lambda v: reduce_sum_p.bind(v, axes=tuple(range(v.ndim)))  # noqa: E731
    ct_pad = total(ct) - total(ct_x) if is_linear(padding_value) else None
    return [ct_x if is_linear(x) else None, ct_pad]


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    """Zeros around (and between the strided elements of) the window."""
    ends = [s + (n - 1) * st + 1 if n else s
            for s, n, st in zip(start_indices, ct.shape, strides)]
    config = tuple((s, d - e, st - 1) for s, e, d, st in
                   zip(start_indices, ends, x.aval.shape, strides))
    return [pad_p.bind(ct, np.zeros((), ct.dtype), padding_config=config)]


reshape_p.transpose = lambda ct, x, *, new_sizes: [reshape_p.bind(ct, new_sizes=x.aval.shape)]
broadcast_in_dim_p.transpose = _broadcast_in_dim_transpose
transpose_p.transpose = lambda ct, x, *, permutation: [
    transpose_p.bind(ct, permutation=tuple(np.argsort(permutation).tolist()))]
squeeze_p.transpose = lambda ct, x, *, dimensions: [reshape_p.bind(ct, new_sizes=x.aval.shape)]
concatenate_p.transpose = _concatenate_transpose
pad_p.transpose = _pad_transpose
rev_p.transpose = lambda ct, x, *, dimensions: [rev_p.bind(ct, dimensions=dimensions)]
slice_p.transpose = _slice_transpose
for _p in (reshape_p, broadcast_in_dim_p, transpose_p, squeeze_p, concatenate_p, pad_p, rev_p,
           slice_p):
    _p.vjp = transpose_vjp(_p)


# --- batching rules ----------------------------------------------------------------------------
def _whole_axis(axis: int, bdim: int) -> int:
    """Axis ``axis`` of one example as an axis of the whole batch, batched at ``bdim``."""
    return axis + (axis >= bdim)


def _reshape_batch(vals, dims, *, new_sizes):
    x = move_to_front(vals[0], dims[0])
    return reshape_p.bind(x, new_sizes=(x.shape[0], *new_sizes)), 0


def _broadcast_in_dim_batch(vals, dims, *, shape, broadcast_dimensions):
    x = move_to_front(vals[0], dims[0])
    return broadcast_in_dim_p.bind(x, shape=(x.shape[0], *shape), broadcast_dimensions=(
        0, *(d + 1 for d in broadcast_dimensions))), 0


def _transpose_batch(vals, dims, *, permutation):
    """One transpose: the batch axis goes to the front, the others as permuted."""
    (x,), (bdim,) = vals, dims
    perm = (bdim, *(_whole_axis(p, bdim) for p in permutation))
    return transpose_p.bind(x, permutation=perm), 0


def _squeeze_batch(vals, dims, *, dimensions):
    """In place: the batch axis moves left by the squeezed axes before it."""
    (x,), (bdim,) = vals, dims
    out = squeeze_p.bind(x, dimensions=tuple(_whole_axis(d, bdim) for d in dimensions))
    return out, bdim - sum(d < bdim for d in dimensions)


def _concatenate_batch(vals, dims, *, dimension):
    size = batch_size(vals, dims)
    xs = [at_front(v, d, size) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*xs, dimension=dimension + 1 if dimension >= 0 else dimension), 0


def _pad_batch(vals, dims, *, padding_config):
    """A batched padding value: pad with zeros, then select the value where a padded mask of
    ones is False (a select, not ``mask * value``, so inf and NaN values stay exact)."""
    (x, value), (x_dim, value_dim) = vals, dims
    size = batch_size(vals, dims)
    x = at_front(x, x_dim, size)
    config = ((0, 0, 0), *padding_config)
    if value_dim is None:
        return pad_p.bind(x, value, padding_config=config), 0
    padded = pad_p.bind(x, np.zeros((), x.dtype), padding_config=config)
    mask = pad_p.bind(np.ones(x.shape, np.bool_), np.zeros((), np.bool_), padding_config=config)
    value = broadcast_in_dim_p.bind(move_to_front(value, value_dim), shape=padded.shape,
                                    broadcast_dimensions=(0,))
    return loaded("fx.prims.elementwise").select_p.bind(mask, padded, value), 0


def _rev_batch(vals, dims, *, dimensions):
    (x,), (bdim,) = vals, dims
    return rev_p.bind(x, dimensions=tuple(_whole_axis(d, bdim) for d in dimensions)), bdim


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides):
    """In place: the whole batch axis is kept, with stride one."""
    (x,), (bdim,) = vals, dims
    insert = lambda t, v: (*t[:bdim], v, *t[bdim:])  # noqa: E731
    return slice_p.bind(x, start_indices=insert(start_indices, 0),
                        limit_indices=insert(limit_indices, x.shape[bdim]),
                        strides=insert(strides, 1)), bdim


reshape_p.batch = _reshape_batch
broadcast_in_dim_p.batch = _broadcast_in_dim_batch
transpose_p.batch = _transpose_batch
squeeze_p.batch = _squeeze_batch
concatenate_p.batch = _concatenate_batch
pad_p.batch = _pad_batch
rev_p.batch = _rev_batch
slice_p.batch = _slice_batch
sort_p.batch = axis_param_batch(sort_p, "dimension")
argsort_p.batch = axis_param_batch(argsort_p, "dimension")


# --- jit emitters: shape changes are views, written as the backend's methods -----------------
@emitter()
def _reshape_emit(ctx, eqn, args, out=None):
    return f"{args[0]}.reshape({ctx.literal(eqn.outvars[0].aval.shape)})"


@emitter()
def _transpose_emit(ctx, eqn, args, out=None):
    perm = tuple(eqn.params["permutation"])
    return f"{args[0]}.T" if perm == (1, 0) else f"{args[0]}.transpose({ctx.literal(perm)})"


@emitter()
def _broadcast_in_dim_emit(ctx, eqn, args, out=None):
    x, shape = ctx.aval(eqn.inputs[0]), tuple(eqn.params["shape"])
    dims = tuple(eqn.params["broadcast_dimensions"])
    src = args[0]
    if dims != tuple(range(len(shape) - x.ndim, len(shape))):  # not NumPy's trailing rule
        expanded = [1] * len(shape)
        for i, d in enumerate(dims):
            expanded[d] = x.shape[i]
        src = f"{src}.reshape({ctx.literal(tuple(expanded))})"
    return f"{ctx.xp}.broadcast_to({src}, {ctx.literal(shape)})"


reshape_p.emit = squeeze_p.emit = _reshape_emit
transpose_p.emit = _transpose_emit
broadcast_in_dim_p.emit = _broadcast_in_dim_emit
