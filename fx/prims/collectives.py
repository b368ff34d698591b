"""Collective primitives over a named batch axis: ``psum``, ``pmax``, ``pmin``,
``all_gather``, ``axis_index``.

Under ``vmap(f, axis_name="i")`` each example sees the whole batch through these: a sum
over the examples, the largest, all of them stacked, its own position. They are only
meaningful under a level that names the axis: the batch level whose axis it is applies
them (its ``batch`` rule receives the axis size); a level of another name passes them
through, and with no such level they raise ``NameError``. ``fx.lax`` routes each call
to the level that names the axis.

Example:
    >>> from fx import lax
    >>> from transforms import vmap
    >>> vmap(lambda x: x / lax.psum(x, "i"), axis_name="i")(fnp.asarray([1.0, 3.0]))
    Array([0.25, 0.75], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import Zero, is_linear, linear_jvp, loaded, transpose_vjp
from fx.core.aval import ShapedArray
from fx.core.primitive import Primitive


def _unbound(*args, axis_name, **params):
    raise NameError(f"unbound axis name {axis_name!r}: collectives need an enclosing "
                    f"vmap(..., axis_name={axis_name!r})")


def _collective(name: str, abstract_eval=lambda x, **params: x) -> Primitive:
    return Primitive(name, impl=_unbound, abstract_eval=abstract_eval)


psum_p = _collective("psum")
pmax_p = _collective("pmax")
pmin_p = _collective("pmin")
all_gather_p = _collective(
    "all_gather", lambda x, *, axis_name, axis_size: x.update(shape=(axis_size, *x.shape)))
axis_index_p = _collective("axis_index",
                           lambda *, axis_name: ShapedArray((), np.dtype(np.int32)))


# --- batching: the named level reduces over its batch axis ------------------------------------
# A collective's batch rule takes the level's ``axis`` (size and name) as well: the level
# that names the axis applies it; any other passes it through, keeping its own batch axis.
def _reducing(prim, reduce_name: str):
    def batch(vals, dims, *, axis_name, axis):
        (x,), (d,) = vals, dims
        if axis.name != axis_name:
            return prim.bind(x, axis_name=axis_name), d
        if d is None:  # the same value in every example
            return (x * axis.size if prim is psum_p else x), None
        return getattr(loaded("fx.prims.reductions"), reduce_name).bind(x, axes=(d,)), None
    return batch


def _all_gather_batch(vals, dims, *, axis_name, axis_size, axis):
    (x,), (d,) = vals, dims
    if axis.name != axis_name:
        out = all_gather_p.bind(x, axis_name=axis_name, axis_size=axis_size)
        return out, None if d is None else d + 1
    from fx.core.batching import at_front
    return at_front(x, d, axis.size), None  # every example sees the whole stack


def _axis_index_batch(vals, dims, *, axis_name, axis):
    if axis.name != axis_name:
        return axis_index_p.bind(axis_name=axis_name), None
    from fx.numpy import arange
    return arange(axis.size, dtype=np.int32), 0


psum_p.batch = _reducing(psum_p, "reduce_sum_p")
pmax_p.batch = _reducing(pmax_p, "reduce_max_p")
pmin_p.batch = _reducing(pmin_p, "reduce_min_p")
all_gather_p.batch, axis_index_p.batch = _all_gather_batch, _axis_index_batch
for _p in (psum_p, pmax_p, pmin_p, all_gather_p, axis_index_p):
    _p.batch.needs_axis = True


# --- differentiation ---------------------------------------------------------------------------
def _extremum_jvp(prim):
    """The tangent of the examples that attain the extremum, shared evenly on ties."""
    def jvp(primals, tangents, *, axis_name):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis_name=axis_name)
        hit = (x == out).astype(x.dtype)
        share = psum_p.bind(hit, axis_name=axis_name)
        return out, psum_p.bind(t * hit, axis_name=axis_name) / share
    return jvp


def _all_gather_transpose(ct, x, *, axis_name, axis_size):
    """Example i's value went to row i of every example's stack: its cotangent is row i
    of the cotangents summed over the examples."""
    total = psum_p.bind(ct, axis_name=axis_name)
    index = axis_index_p.bind(axis_name=axis_name)
    from fx.prims.indexing import dynamic_slice_p
    zero = np.zeros((), np.int32)
    row = dynamic_slice_p.bind(total, index, *([zero] * (total.ndim - 1)),
                               slice_sizes=(1, *total.shape[1:]))
    return [loaded("fx.prims.shape").reshape_p.bind(row, new_sizes=x.aval.shape)]


psum_p.jvp, all_gather_p.jvp = linear_jvp(psum_p), linear_jvp(all_gather_p)
pmax_p.jvp, pmin_p.jvp = _extremum_jvp(pmax_p), _extremum_jvp(pmin_p)
axis_index_p.jvp = lambda primals, tangents, **params: (
    axis_index_p.bind(**params), Zero(ShapedArray((), np.dtype(np.int32))))
psum_p.transpose = lambda ct, x, *, axis_name: [psum_p.bind(ct, axis_name=axis_name)
                                                if is_linear(x) else None]
all_gather_p.transpose = _all_gather_transpose
psum_p.vjp, all_gather_p.vjp = transpose_vjp(psum_p), transpose_vjp(all_gather_p)
