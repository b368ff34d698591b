"""Collectives over a named ``vmap`` axis (JAX's ``lax.psum`` family).

Inside ``vmap(f, axis_name="batch")`` each example can see the whole batch: its sum,
mean, extremes, all its values, or its own position in it. Axis names nest:
``vmap(vmap(f, axis_name="j"), axis_name="i")`` gives both. ``axis_name`` may also be a
tuple of names for ``psum``, ``pmean``, ``pmax`` and ``pmin``: the reduction runs over
all of them.

Example:
    >>> from fx import lax
    >>> from transforms import vmap
    >>> vmap(lambda x: x - lax.pmean(x, "b"), axis_name="b")(fnp.asarray([1.0, 2.0, 6.0]))
    Array([-2., -1.,  3.], dtype=float32)
"""
from __future__ import annotations

from fx import tree
from fx.core.elementwise import as_operand
from fx.core.primitive import bind
from fx.prims import collectives as cp

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "axis_index"]


def _over(prim, x, axis_name):
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)

    def reduce(leaf):
        leaf = as_operand(leaf)
        for name in names:
            leaf = bind(prim, leaf, axis_name=name)
        return leaf
    return tree.map(reduce, x)


def psum(x, axis_name):
    """The sum of ``x`` over the examples of the named axis (pytrees allowed)."""
    return _over(cp.psum_p, x, axis_name)


def pmean(x, axis_name):
    """The mean of ``x`` over the examples of the named axis."""
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)
    count = 1
    for name in names:
        count = count * bind(cp.psum_p, 1, axis_name=name)
    return tree.map(lambda s: s / count, psum(x, axis_name))


def pmax(x, axis_name):
    """The largest ``x`` over the examples of the named axis."""
    return _over(cp.pmax_p, x, axis_name)


def pmin(x, axis_name):
    """The smallest ``x`` over the examples of the named axis."""
    return _over(cp.pmin_p, x, axis_name)


def all_gather(x, axis_name, *, axis_size=None):
    """Every example's ``x`` stacked along a new leading axis (the same for all examples).

    ``axis_size`` is the number of examples (found from the enclosing vmap when omitted).
    """
    def gather(leaf):
        size = axis_size if axis_size is not None else int(bind(cp.psum_p, 1,
                                                                axis_name=axis_name))
        return bind(cp.all_gather_p, as_operand(leaf), axis_name=axis_name, axis_size=size)
    return tree.map(gather, x)


def axis_index(axis_name):
    """This example's position along the named axis (int32)."""
    return bind(cp.axis_index_p, axis_name=axis_name)
