"""Momentum and weight decay: ``trace`` and ``add_decayed_weights``.

Example:
    >>> from optim.decay import trace
    >>> t = trace(decay=0.9)
    >>> g = {"w": fnp.ones(2)}
    >>> s = t.init(g)
    >>> u, s = t.update(g, s)
    >>> t.update(g, s)[0]["w"]  # 1 + 0.9 * 1
    Array([1.9, 1.9], dtype=float32)
"""
from __future__ import annotations

from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim.base import GradientTransformation, check_range, check_same_structure, init_empty
from optim.combine import masked


class TraceState(NamedTuple):
    """The momentum buffer."""
    trace: Any


def trace(decay: float, nesterov: bool = False, accumulator_dtype=None) -> GradientTransformation:
    """Momentum: ``t = g + decay t``, ``u = t`` (``u = g + decay t`` when ``nesterov``).

    ``accumulator_dtype`` (default: each parameter's) is the dtype of the stored trace;
    the updates are computed before that rounding, in the gradients' precision.

    Raises:
        ValueError: for ``decay`` outside [0, 1).
    """
    check_range("decay", decay, 0.0, 1.0)

    def init(params):
        return TraceState(tree.map(
            lambda p: fnp.zeros_like(p, dtype=accumulator_dtype or p.dtype), params))

    def update(grads, state, params=None):
        del params
        check_same_structure(grads, state.trace, "grads", "optimizer state")
        f = lambda g, t: g + decay * t
        new_trace = tree.map(f, grads, state.trace)
        updates = tree.map(f, grads, new_trace) if nesterov else new_trace
        # As in Optax, only the stored trace is rounded to the accumulator dtype.
        new_trace = tree.map(lambda n, t: n.astype(t.dtype), new_trace, state.trace)
        return updates, TraceState(new_trace)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float = 0.0, mask=None) -> GradientTransformation:
    """Decoupled weight decay: ``u = g + weight_decay * p``. Needs ``params``.

    Args:
        weight_decay: the decay rate, >= 0.
        mask: ``None`` (every leaf), or a mask as ``optim.combine.masked`` takes it: a pytree
            of bools with the structure of (or a prefix of) the params (decay where True;
            a plain ``False`` decays nothing), or a function ``params -> such a mask``.

    Raises:
        ValueError: for a negative rate, a mask that does not fit the params, or when
            ``update`` gets no ``params``.
    """
    check_range("weight_decay", weight_decay, 0.0)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: update(grads, state, params)")
        check_same_structure(grads, params, "grads", "params")
        return tree.map(lambda g, p: (g + weight_decay * p).astype(g.dtype), grads, params), state
    t = GradientTransformation(init_empty, update)
    return t if mask is None else masked(t, mask)
