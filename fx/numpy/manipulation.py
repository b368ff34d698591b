"""Shape manipulation with NumPy names: reshape, transpose, joining, splitting, tiling, padding.

Every function is a composition of the primitives in ``fx.prims.shape`` (reshape,
broadcast_in_dim, transpose, squeeze, concatenate, pad, rev, slice), so it works on
tracers and needs no rules of its own. Sizes, repeats, shifts and pad widths are
static Python values, as in JAX. Sorting lives in ``fx.numpy.sorting``.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.stack([fnp.arange(3), fnp.arange(3)], axis=1).shape
    (3, 2)
"""
from __future__ import annotations

import math
import operator

import numpy as np

from fx import dtypes
from fx.core.elementwise import as_operand, cast
from fx.core.primitive import bind
from fx.core.rule_kit import broadcast_shapes as _broadcast_avals
from fx.core.rule_kit import normalize_axes, normalize_axis
from fx.errors import op_error
from fx.prims import shape as sp

__all__ = [
    "reshape", "ravel", "flatten", "transpose", "permute_dims", "moveaxis", "swapaxes",
    "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays", "broadcast_shapes",
    "concatenate", "concat", "stack", "hstack", "vstack", "dstack", "column_stack", "split",
    "array_split", "tile", "repeat", "flip", "fliplr", "flipud", "roll", "rot90",
    "atleast_1d", "atleast_2d", "atleast_3d", "meshgrid",
]


# --- shared helpers (also used by fx.numpy.reductions and fx.numpy.sorting) ------------------
def as_array(x):
    """``x`` as an fx array (Python scalars too, with the default dtypes)."""
    x = as_operand(x)
    if dtypes.is_weak_scalar(x):
        from fx.creation import asarray
        return asarray(x)
    return x


def static_ints(op: str, value, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple (a TypeError naming ``op`` otherwise)."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    try:
        if isinstance(value, (tuple, list)):
            return tuple(operator.index(v) for v in value)
        return (operator.index(value),)
    except TypeError:
        raise op_error(TypeError, op, f"{what} must be an int or a sequence of ints, "
                       f"got {value!r}") from None


def slice_axis(x, axis: int, start: int, stop: int, step: int = 1):
    """``x[..., start:stop:step, ...]`` along ``axis`` (non-negative, in-range bounds)."""
    if (start, stop, step) == (0, x.shape[axis], 1):
        return x
    starts, limits, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, stop, step
    return bind(sp.slice_p, x, start_indices=tuple(starts), limit_indices=tuple(limits),
                strides=tuple(strides))


def _reshape(x, shape: tuple[int, ...]):
    return x if tuple(x.shape) == shape else bind(sp.reshape_p, x, new_sizes=shape)


def _rev(x, axes: tuple[int, ...]):
    return bind(sp.rev_p, x, dimensions=axes) if axes else x


# --- reshaping ---------------------------------------------------------------------------------
def _resolve_shape(a, shape) -> tuple[int, ...]:
    dims = static_ints("reshape", shape, "shape")
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in dims):
        raise op_error(ValueError, "reshape", f"invalid shape {dims}: only one -1 and no other "
                       "negative sizes are allowed", a)
    if unknown:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or a.size % known:
            raise op_error(ValueError, "reshape", f"cannot reshape an array of shape {a.shape} "
                           f"(size {a.size}) into shape {dims}", a)
        dims = tuple(a.size // known if d == -1 else d for d in dims)
    return dims


def reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    """Same data in a new shape; one dimension may be -1 (inferred).

    ``order='F'`` reads and writes elements in column-major order.

    Example:
        >>> fnp.reshape(fnp.arange(6), (-1, 2)).shape
        (3, 2)
    """
    del copy
    a = as_array(a)
    shape = newshape if shape is None else shape
    if shape is None:
        raise TypeError("reshape: missing the shape argument")
    if order not in ("C", "F", "A"):
        raise ValueError(f"reshape: order must be 'C', 'F' or 'A', got {order!r}")
    dims = _resolve_shape(a, shape)
    if order == "F":  # column-major: the C-order reshape of the reversed axes, reversed back
        return transpose(_reshape(transpose(a), dims[::-1]))
    return _reshape(a, dims)


def ravel(a, order="C"):
    """The elements as a 1-D array.

    Example:
        >>> fnp.ravel(fnp.ones((2, 3))).shape
        (6,)
    """
    return reshape(a, (-1,), order=order)


flatten = ravel


def expand_dims(a, axis):
    """Insert size-1 axes at the positions ``axis`` (int or tuple) of the result.

    Example:
        >>> fnp.expand_dims(fnp.ones(3), (0, 2)).shape
        (1, 3, 1)
    """
    a = as_array(a)
    ndim = a.ndim + len(static_ints("expand_dims", axis, "axis"))
    axes = normalize_axes("expand_dims", axis, ndim, a)
    sizes = iter(a.shape)
    return _reshape(a, tuple(1 if i in axes else next(sizes) for i in range(ndim)))


def squeeze(a, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``, which must have size 1).

    Example:
        >>> fnp.squeeze(fnp.ones((1, 3, 1))).shape
        (3,)
    """
    a = as_array(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    else:
        axes = normalize_axes("squeeze", axis, a.ndim, a)
    return bind(sp.squeeze_p, a, dimensions=axes) if axes else a


# --- axis order --------------------------------------------------------------------------------
def transpose(a, axes=None):
    """Permute the axes (reverse them when ``axes`` is None).

    Example:
        >>> fnp.transpose(fnp.ones((2, 3, 4)), (1, 0, 2)).shape
        (3, 2, 4)
    """
    a = as_array(a)
    if axes is None:
        perm = tuple(range(a.ndim))[::-1]
    else:
        perm = tuple(normalize_axis("transpose", ax, a.ndim, a)
                     for ax in static_ints("transpose", axes, "axes"))
    if perm == tuple(range(a.ndim)):
        return a
    return bind(sp.transpose_p, a, permutation=perm)


permute_dims = transpose


def moveaxis(a, source, destination):
    """Move axes ``source`` to positions ``destination``, keeping the others in order.

    Example:
        >>> fnp.moveaxis(fnp.ones((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    a = as_array(a)
    src = [normalize_axis("moveaxis", s, a.ndim, a)
           for s in static_ints("moveaxis", source, "source")]
    dst = [normalize_axis("moveaxis", d, a.ndim, a)
           for d in static_ints("moveaxis", destination, "destination")]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise op_error(ValueError, "moveaxis", f"source {source} and destination "
                       f"{destination} must be distinct axes, as many of each", a)
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    """Exchange two axes.

    Example:
        >>> fnp.swapaxes(fnp.ones((2, 3)), 0, 1).shape
        (3, 2)
    """
    a = as_array(a)
    perm = list(range(a.ndim))
    i, j = (normalize_axis("swapaxes", ax, a.ndim, a) for ax in (axis1, axis2))
    perm[i], perm[j] = j, i
    return transpose(a, tuple(perm))


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (from the first towards the
    second).

    Example:
        >>> fnp.rot90(fnp.asarray([[1, 2], [3, 4]])).tolist()
        [[2, 4], [1, 3]]
    """
    m = as_array(m)
    if len(axes) != 2 or m.ndim < 2:
        raise op_error(ValueError, "rot90", f"needs two axes of an array of at least 2 "
                       f"dimensions, got axes {axes}", m)
    a0, a1 = (normalize_axis("rot90", ax, m.ndim, m) for ax in axes)
    if a0 == a1:
        raise op_error(ValueError, "rot90", f"axes {axes} must be different", m)
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (a0, a1))
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = a1, a0
    if k == 1:
        return transpose(flip(m, a1), tuple(perm))
    return flip(transpose(m, tuple(perm)), a1)


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes when None).

    Example:
        >>> fnp.flip(fnp.arange(3)).tolist()
        [2, 1, 0]
    """
    m = as_array(m)
    return _rev(m, normalize_axes("flip", axis, m.ndim, m))


def fliplr(m):
    """Reverse the second axis (columns)."""
    m = as_array(m)
    if m.ndim < 2:
        raise op_error(ValueError, "fliplr", "needs an array of at least 2 dimensions", m)
    return flip(m, 1)


def flipud(m):
    """Reverse the first axis (rows)."""
    m = as_array(m)
    if m.ndim < 1:
        raise op_error(ValueError, "flipud", "needs an array of at least 1 dimension", m)
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Shift elements cyclically by ``shift`` along ``axis`` (of the flat array when None).

    Example:
        >>> fnp.roll(fnp.arange(4), 1).tolist()
        [3, 0, 1, 2]
    """
    a = as_array(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts, axes = static_ints("roll", shift, "shift"), static_ints("roll", axis, "axis")
    try:
        pairs = np.broadcast(np.asarray(shifts), np.asarray(axes))
    except ValueError:
        raise op_error(ValueError, "roll", f"shift {shift} and axis {axis} do not match",
                       a) from None
    total = [0] * a.ndim
    for s, ax in pairs:
        total[normalize_axis("roll", int(ax), a.ndim, a)] += int(s)
    for ax, s in enumerate(total):
        n = a.shape[ax]
        if n and s % n:
            cut = n - s % n
            a = bind(sp.concatenate_p, slice_axis(a, ax, cut, n), slice_axis(a, ax, 0, cut),
                     dimension=ax)
    return a


# --- broadcasting ---------------------------------------------------------------------------
def broadcast_to(array, shape):
    """``array`` broadcast to ``shape`` (NumPy rules).

    Example:
        >>> fnp.broadcast_to(fnp.arange(3), (2, 3)).shape
        (2, 3)
    """
    array = as_array(array)
    shape = static_ints("broadcast_to", shape, "shape")
    if shape == tuple(array.shape):
        return array
    dims = tuple(range(len(shape) - array.ndim, len(shape)))
    return bind(sp.broadcast_in_dim_p, array, shape=shape, broadcast_dimensions=dims)


def broadcast_arrays(*args):
    """The arguments broadcast against each other (a tuple of arrays).

    Example:
        >>> [x.shape for x in fnp.broadcast_arrays(fnp.ones(3), fnp.ones((2, 1)))]
        [(2, 3), (2, 3)]
    """
    arrays = [as_array(a) for a in args]
    shape = _broadcast_avals("broadcast_arrays", *arrays)
    return tuple(broadcast_to(a, shape) for a in arrays)


def broadcast_shapes(*shapes):
    """The shape that arrays of ``shapes`` broadcast to."""
    return np.broadcast_shapes(*shapes)


def atleast_1d(*arys):
    """Arrays with at least one dimension (one argument: an array; several: a tuple)."""
    return _atleast(arys, lambda s: s or (1,))


def atleast_2d(*arys):
    """Arrays with at least two dimensions: ``(N,)`` becomes ``(1, N)``."""
    return _atleast(arys, lambda s: ((1,) * (2 - len(s)) + s) if len(s) < 2 else s)


def atleast_3d(*arys):
    """Arrays with at least three dimensions: ``(N,)`` becomes ``(1, N, 1)``, ``(M, N)``
    becomes ``(M, N, 1)``."""
    return _atleast(arys, lambda s: {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s))


def _atleast(arys, new_shape):
    out = tuple(_reshape(a, new_shape(tuple(a.shape))) for a in map(as_array, arys))
    return out[0] if len(out) == 1 else out


# --- joining --------------------------------------------------------------------------------
def concatenate(arrays, /, axis=0, dtype=None):
    """Join arrays along an existing axis (of the flattened arrays when ``axis`` is None).

    Example:
        >>> fnp.concatenate([fnp.ones((2, 3)), fnp.zeros((1, 3))]).shape
        (3, 3)
    """
    arrays = [as_array(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    if not arrays:
        raise op_error(ValueError, "concatenate", "need at least one array to concatenate")
    if arrays[0].ndim == 0:
        raise op_error(ValueError, "concatenate", "zero-dimensional arrays cannot be "
                       "concatenated", *arrays)
    axis = normalize_axis("concatenate", axis, arrays[0].ndim, *arrays)
    dt = dtypes.result_type(*arrays) if dtype is None else dtypes.canonicalize(dtype)
    arrays = [cast(a, dt) for a in arrays]
    return bind(sp.concatenate_p, *arrays, dimension=axis)


concat = concatenate


def stack(arrays, axis=0, dtype=None):
    """Join same-shaped arrays along a new axis.

    Example:
        >>> fnp.stack([fnp.ones(3), fnp.ones(3)]).shape
        (2, 3)
    """
    arrays = [as_array(a) for a in arrays]
    if not arrays:
        raise op_error(ValueError, "stack", "need at least one array to stack")
    if len({tuple(a.shape) for a in arrays}) > 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise op_error(ValueError, "stack", f"all input arrays must have the same shape, got "
                       f"{shapes}", *arrays)
    axis = normalize_axis("stack", axis, arrays[0].ndim + 1, *arrays)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis, dtype=dtype)


def hstack(tup, dtype=None):
    """Join along the second axis (the first for 1-D arrays)."""
    arrays = [atleast_1d(a) for a in tup]
    axis = 0 if arrays and arrays[0].ndim == 1 else 1
    return concatenate(arrays, axis=axis, dtype=dtype)


def vstack(tup, dtype=None):
    """Join along the first axis, 1-D arrays becoming rows."""
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


def dstack(tup):
    """Join along the third axis (depth)."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """Join 1-D arrays as columns (and 2-D arrays side by side)."""
    arrays = [as_array(a) for a in tup]
    return concatenate([_reshape(a, (a.size, 1)) if a.ndim < 2 else a for a in arrays], axis=1)


# --- splitting ---------------------------------------------------------------------------------
def array_split(ary, indices_or_sections, axis=0):
    """Split into sections of nearly equal size (an int) or at the given indices (a list).

    Example:
        >>> [p.shape for p in fnp.array_split(fnp.arange(5), 2)]
        [(3,), (2,)]
    """
    ary = as_array(ary)
    axis = normalize_axis("array_split", axis, ary.ndim, ary)
    n = ary.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise op_error(ValueError, "array_split", "the number of sections must be "
                           f"positive, got {sections}", ary)
        each, extra = divmod(n, sections)
        bounds = np.cumsum([0] + [each + 1] * extra + [each] * (sections - extra)).tolist()
    else:
        bounds = [0, *static_ints("array_split", indices_or_sections, "indices"), n]
    pieces = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        start, stop, _ = slice(start, stop).indices(n)
        pieces.append(slice_axis(ary, axis, start, max(start, stop)))
    return pieces


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections (an int that must divide the axis) or at indices (a list).

    Example:
        >>> [p.tolist() for p in fnp.split(fnp.arange(4), [1])]
        [[0], [1, 2, 3]]
    """
    ary = as_array(ary)
    if isinstance(indices_or_sections, (int, np.integer)):
        n = ary.shape[normalize_axis("split", axis, ary.ndim, ary)]
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise op_error(ValueError, "split", f"array split does not result in an equal "
                           f"division: {n} into {indices_or_sections} sections", ary)
    return array_split(ary, indices_or_sections, axis)


# --- repetition ----------------------------------------------------------------------------
def tile(A, reps):
    """Repeat the whole array ``reps`` times (per axis when ``reps`` is a tuple).

    Example:
        >>> fnp.tile(fnp.asarray([1, 2]), 2).tolist()
        [1, 2, 1, 2]
    """
    A = as_array(A)
    reps = static_ints("tile", reps, "reps")
    if any(r < 0 for r in reps):
        raise op_error(ValueError, "tile", f"reps {reps} must be non-negative", A)
    d = max(len(reps), A.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - A.ndim) + tuple(A.shape)
    A = _reshape(A, shape)
    if all(r == 1 for r in reps):
        return A
    interleaved = tuple(n for pair in zip(reps, shape) for n in pair)
    big = bind(sp.broadcast_in_dim_p, A, shape=interleaved,
               broadcast_dimensions=tuple(range(1, 2 * d, 2)))
    return _reshape(big, tuple(r * n for r, n in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (of the flat array when None).

    ``repeats`` is an int, or one static count per element (a sequence or concrete array).

    Example:
        >>> fnp.repeat(fnp.asarray([1, 2]), 2).tolist()
        [1, 1, 2, 2]
        >>> fnp.repeat(fnp.asarray([1, 2]), [1, 3]).tolist()
        [1, 2, 2, 2]
    """
    a = as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis("repeat", axis, a.ndim, a)
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iub" or counts.ndim > 1:
        raise op_error(TypeError, "repeat", f"repeats must be an int or a 1-D sequence of "
                       f"ints, got {repeats!r}", a)
    n = a.shape[axis]
    if counts.ndim == 1 and counts.size != 1:
        if counts.size != n or (counts < 0).any():
            raise op_error(ValueError, "repeat", f"repeats {counts.tolist()} must be {n} "
                           "non-negative counts, one per element", a)
        from fx.numpy.indexing import take
        return take(a, np.repeat(np.arange(n, dtype=np.int32), counts), axis=axis)
    r = int(counts.reshape(()))
    if r < 0:
        raise op_error(ValueError, "repeat", f"repeats must be non-negative, got {r}", a)
    shape = tuple(a.shape)
    wide = shape[:axis + 1] + (r,) + shape[axis + 1:]
    dims = tuple(i if i <= axis else i + 1 for i in range(a.ndim))
    big = bind(sp.broadcast_in_dim_p, a, shape=wide, broadcast_dimensions=dims)
    return _reshape(big, shape[:axis] + (n * r,) + shape[axis + 1:])


# --- grids ---------------------------------------------------------------------------------
def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors (``indexing`` 'xy' or 'ij').

    Example:
        >>> [g.shape for g in fnp.meshgrid(fnp.arange(3), fnp.arange(2))]
        [(2, 3), (2, 3)]
    """
    del copy
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(x) for x in xi]
    dims = list(range(len(xs)))
    if indexing == "xy" and len(xs) > 1:
        dims[0], dims[1] = 1, 0
    shape = [0] * len(xs)
    for x, d in zip(xs, dims):
        shape[d] = x.size
    out = []
    for x, d in zip(xs, dims):
        if sparse:
            out.append(_reshape(x, tuple(x.size if i == d else 1 for i in range(len(xs)))))
        else:
            out.append(bind(sp.broadcast_in_dim_p, x, shape=tuple(shape),
                            broadcast_dimensions=(d,)))
    return tuple(out)
