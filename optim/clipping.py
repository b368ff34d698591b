"""Clipping blocks: ``clip``, ``clip_by_global_norm``, ``zero_nans``,
``keep_params_nonnegative``.

Example:
    >>> from optim.clipping import clip_by_global_norm
    >>> t = clip_by_global_norm(1.0)
    >>> g = {"a": fnp.asarray([3.0]), "b": fnp.asarray([4.0])}
    >>> t.update(g, t.init(g))[0]["b"]
    Array([0.8], dtype=float32)
"""
from __future__ import annotations

from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim.base import (
    GradientTransformation,
    check_range,
    check_same_structure,
    init_empty,
)
from optim.tree_math import global_norm


def clip(max_delta: float) -> GradientTransformation:
    """``u = clip(g, -max_delta, max_delta)`` element by element.

    Raises:
        ValueError: for a negative ``max_delta``.
    """
    check_range("max_delta", max_delta, 0.0)

    def update(grads, state, params=None):
        del params
        return tree.map(lambda g: fnp.clip(g, -max_delta, max_delta).astype(g.dtype),
                        grads), state
    return GradientTransformation(init_empty, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """``u = g * max_norm / max(|g|, max_norm)``, ``|g|`` the norm of all leaves together
    (gradients already inside the ball are unchanged).

    Raises:
        ValueError: for a negative ``max_norm``.
    """
    check_range("max_norm", max_norm, 0.0)

    def update(grads, state, params=None):
        del params
        norm = global_norm(grads)
        # max_norm / max(norm, max_norm) is 1 inside the ball and never divides by zero
        factor = max_norm / fnp.maximum(norm, max_norm) if max_norm > 0 else 0.0 * norm
        return tree.map(lambda g: (g * factor).astype(g.dtype), grads), state
    return GradientTransformation(init_empty, update)


class ZeroNansState(NamedTuple):
    """One bool per leaf: whether the last gradients had a NaN there."""
    found_nan: Any


def zero_nans() -> GradientTransformation:
    """``u = where(isnan(g), 0, g)``; the state records which leaves had NaNs."""
    def init(params):
        return ZeroNansState(tree.map(lambda p: fnp.asarray(False), params))

    def update(grads, state, params=None):
        del params
        check_same_structure(grads, state.found_nan, "grads", "optimizer state")
        found = tree.map(lambda g: fnp.any(fnp.isnan(g)), grads)
        updates = tree.map(lambda g: fnp.where(fnp.isnan(g), fnp.zeros_like(g), g), grads)
        return updates, ZeroNansState(found)
    return GradientTransformation(init, update)


def keep_params_nonnegative() -> GradientTransformation:
    """``u = where(p + g < 0, -p, g)``: the updated parameters stay >= 0. Needs ``params``.

    Raises:
        ValueError: when ``update`` gets no ``params``.
    """
    def update(grads, state, params=None):
        if params is None:
            raise ValueError("keep_params_nonnegative needs params: update(grads, state, params)")
        check_same_structure(grads, params, "grads", "params")
        return tree.map(lambda g, p: fnp.where(p + g < 0, -p, g).astype(g.dtype),
                        grads, params), state
    return GradientTransformation(init_empty, update)
