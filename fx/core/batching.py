"""Batching rules: the vocabulary and the factories shared by the primitive families.

A batching rule ``batch(vals, dims, **params) -> (out, out_dim)`` receives each
operand with its batch dimension (``None``: the operand is the same for every example)
and returns the batched result with the batch dimension of each output (a list of
them for multiple results). Rules move the batch axis instead of looping: elementwise
operations align it at the front, reductions and axis parameters shift by one,
decompositions batch over leading axes natively.

Example:
    >>> from fx.core.batching import move_to_front
    >>> move_to_front(fnp.ones((2, 3)), 1).shape
    (3, 2)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import loaded


def move_to_front(x, dim):
    """``x`` with its batch dimension ``dim`` moved to axis 0 (unchanged for None or 0)."""
    if dim is None or dim == 0:
        return x
    perm = (dim,) + tuple(i for i in range(x.ndim) if i != dim)
    return loaded("fx.prims.shape").transpose_p.bind(x, permutation=perm)


def move_to(x, src, dst: int):
    """``x`` with its batch dimension moved from ``src`` to ``dst``."""
    if src == dst:
        return x
    order = [i for i in range(x.ndim) if i != src]
    order.insert(dst, src)
    return loaded("fx.prims.shape").transpose_p.bind(x, permutation=tuple(order))


def batch_size(vals, dims) -> int:
    """The size of the batch dimension (the first batched operand's)."""
    return next(v.shape[d] for v, d in zip(vals, dims) if d is not None)


def at_front(x, dim, size: int):
    """``x`` with a batch dimension of ``size`` at axis 0: moved there, or broadcast there
    for an unbatched operand."""
    if dim is not None:
        return move_to_front(x, dim)
    if isinstance(x, (int, float, complex)):  # a Python number takes the default dtypes
        x = loaded("fx.creation").asarray(x)
    shape = np.shape(x)
    return loaded("fx.prims.shape").broadcast_in_dim_p.bind(
        x, shape=(size, *shape), broadcast_dimensions=tuple(range(1, len(shape) + 1)))


def vectorized_batch(prim):
    """Rule of a one-operand primitive that acts on each element alone (sin, casts)."""
    def batch(vals, dims, **params):
        return prim.bind(vals[0], **params), dims[0]
    return batch


def broadcasting_batch(prim):
    """Rule of an elementwise primitive with NumPy broadcasting (add, select, ...): batch
    axes go to the front; every operand gets the same rank, so the per-example shapes
    broadcast as they did unbatched."""
    def batch(vals, dims, **params):
        ranks = [np.ndim(v) - (d is not None) for v, d in zip(vals, dims)]
        if len({d for d in dims}) == 1 and len(set(ranks)) == 1:
            return prim.bind(*vals, **params), dims[0]  # all batched alike: nothing to align
        rank = max(ranks)
        aligned = []
        for v, d, r in zip(vals, dims, ranks):
            if d is None:
                aligned.append(v)  # broadcasting lines its axes up with the trailing ones
                continue
            v = move_to_front(v, d)
            if r < rank:  # room for the per-example axes it lacks, after the batch axis
                shape = (v.shape[0],) + (1,) * (rank - r) + tuple(v.shape[1:])
                v = loaded("fx.prims.shape").reshape_p.bind(v, new_sizes=shape)
            aligned.append(v)
        return prim.bind(*aligned, **params), 0
    return batch


def reduction_batch(prim):
    """Rule of a reduction over ``axes``: batch axis in front, the reduced axes shifted."""
    def batch(vals, dims, *, axes, **params):
        x = move_to_front(vals[0], dims[0])
        return prim.bind(x, axes=tuple(a + 1 for a in axes), **params), 0
    return batch


def axis_param_batch(prim, name: str):
    """Rule of a one-operand primitive with a static axis parameter ``name`` (argmax's
    ``axis``, sort's ``dimension``): batch axis in front, the parameter shifted."""
    def batch(vals, dims, **params):
        x = move_to_front(vals[0], dims[0])
        axis = params[name]
        params[name] = axis + 1 if axis >= 0 else axis  # a negative axis counts from the end
        out = prim.bind(x, **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)
    return batch


def leading_batch(prim):
    """Rule of a primitive already batched over leading axes (decompositions of the last
    two axes): batch axis in front, every output batched at 0."""
    def batch(vals, dims, **params):
        size = batch_size(vals, dims)
        out = prim.bind(*[at_front(v, d, size) for v, d in zip(vals, dims)], **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)
    return batch
