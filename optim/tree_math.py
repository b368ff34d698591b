"""Tree arithmetic shared by the blocks: moments, bias correction, norms.

Example:
    >>> from optim.tree_math import global_norm
    >>> global_norm({"a": fnp.asarray([3.0]), "b": fnp.asarray(4.0)})
    Array(5., dtype=float32)
"""
from __future__ import annotations

import fx.numpy as fnp
from fx import tree


def zero_count():
    """A fresh int32 step counter: the scalar 0."""
    return fnp.zeros((), fnp.int32)


def zeros_like(params, dtype=None):
    """A tree of zeros shaped like ``params`` (in ``dtype`` if given, else each leaf's)."""
    return tree.map(lambda p: fnp.zeros_like(p, dtype=dtype or p.dtype), params)


def update_moment(updates, moments, decay, order: int):
    """``decay * m + (1 - decay) * g**order`` leaf by leaf (an exponential moving average)."""
    return tree.map(lambda g, m: decay * m + (1 - decay) * (g ** order if order != 1 else g),
                    updates, moments)


def bias_correction(moment, decay, count):
    """``m / (1 - decay**count)``: undoes the zero initialisation of a moving average. The
    scalar correction is computed in float64, then cast to each moment's dtype
    (``1 - float32(0.999)`` is 1.3e-5 off ``1 - 0.999``)."""
    correction = 1 - fnp.asarray(decay, fnp.float64) ** count.astype(fnp.float64)
    return tree.map(lambda m: m / correction.astype(m.dtype), moment)


def global_norm(updates):
    """The L2 norm of all leaves together."""
    return fnp.sqrt(sum(fnp.sum(fnp.real(g * fnp.conj(g))) for g in tree.leaves(updates)))


def tree_vdot(a, b):
    """``sum(conj(a) * b)`` over all leaves, as a real scalar."""
    return sum(fnp.sum(fnp.real(fnp.conj(x) * y)) for x, y in zip(tree.leaves(a),
                                                                   tree.leaves(b)))


def scale_tree(updates, factor):
    """Every leaf times ``factor``."""
    return tree.map(lambda g: g * factor, updates)


def safe_increment(count):
    """``count + 1`` for an int32 step counter (saturating instead of overflowing)."""
    return fnp.where(count < fnp.iinfo(count.dtype).max, count + 1, count)
