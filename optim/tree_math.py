"""Tree arithmetic shared by the blocks: moments, bias correction, norms.

Example:
    >>> from optim.tree_math import global_norm
    >>> global_norm({"a": fnp.asarray([3.0]), "b": fnp.asarray(4.0)})
    Array(5., dtype=float32)
"""
from __future__ import annotations

import fx.numpy as fnp
from fx import tree


def zeros_like(params):
    """A tree of zeros shaped like ``params``."""
    return tree.map(fnp.zeros_like, params)


def update_moment(updates, moments, decay, order: int):
    """``decay * m + (1 - decay) * g**order`` leaf by leaf (an exponential moving average)."""
    return tree.map(lambda g, m: decay * m + (1 - decay) * (g ** order if order != 1 else g),
                    updates, moments)


def bias_correction(moment, decay, count):
    """``m / (1 - decay**count)``: undoes the zero initialisation of a moving average."""
    correction = 1 - decay ** count
    return tree.map(lambda m: m / correction.astype(m.dtype), moment)


def global_norm(updates):
    """The L2 norm of all leaves together."""
    return fnp.sqrt(sum(fnp.sum(fnp.real(g * fnp.conj(g))) for g in tree.leaves(updates)))


def scale_tree(updates, factor):
    """Every leaf times ``factor``."""
    return tree.map(lambda g: g * factor, updates)


def safe_increment(count):
    """``count + 1`` for an int32 step counter (saturating instead of overflowing)."""
    return fnp.where(count < fnp.iinfo(count.dtype).max, count + 1, count)
