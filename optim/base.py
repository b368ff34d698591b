"""The optimizer protocol: a ``GradientTransformation`` is a pair of pure functions.

``state = t.init(params)`` builds the state (a pytree of arrays, so it goes through
``jit``, ``vmap`` and checkpoints); ``updates, state = t.update(grads, state, params)``
turns gradients into updates; ``apply_updates(params, updates)`` adds them. Blocks
(``scale_by_adam``, ``clip_by_global_norm``, ...) are transformations; optimizers are
chains of blocks.

Example:
    >>> import optim
    >>> t = optim.sgd(0.1)
    >>> params = {"w": fnp.ones(2)}
    >>> updates, state = t.update({"w": fnp.ones(2)}, t.init(params), params)
    >>> optim.apply_updates(params, updates)["w"]
    Array([0.9, 0.9], dtype=float32)
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from fx import tree


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates,
    state)``, both pure."""
    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def init_empty(params) -> EmptyState:
    """The ``init`` of every stateless transformation."""
    del params
    return EmptyState()


def identity() -> GradientTransformation:
    """The transformation that returns the gradients unchanged."""
    def update(grads, state, params=None):
        del params
        return grads, state
    return GradientTransformation(init_empty, update)


def stateless(fn: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A transformation from ``fn(updates, params) -> updates`` (no state)."""
    def update(grads, state, params=None):
        return fn(grads, params), state
    return GradientTransformation(init_empty, update)


def apply_updates(params, updates):
    """``params + updates``, leaf by leaf, each result in its parameter's dtype.

    Raises:
        ValueError: if the two trees differ in structure (both are shown).
    """
    check_same_structure(params, updates, "params", "updates")
    return tree.map(lambda p, u: p if u is None else (p + u).astype(p.dtype), params, updates)


def check_same_structure(a, b, a_name: str, b_name: str) -> None:
    """ValueError showing both structures unless ``a`` and ``b`` have the same one."""
    sa, sb = tree.structure(a), tree.structure(b)
    if sa != sb:
        raise ValueError(f"{a_name} and {b_name} have different tree structures:\n"
                         f"  {a_name}: {sa}\n  {b_name}: {sb}")


def _real(name: str, value) -> float:
    """``value`` as a float: a real number (not a bool) or a 0-d real array, not NaN."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok and getattr(value, "ndim", None) == 0:
        ok = getattr(getattr(value, "dtype", None), "kind", "") in "iuf"
    if not ok:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"{name} must be a real number, got nan")
    return x


def check_range(name: str, value, low=None, high=None, high_open: bool = True,
                low_open: bool = False) -> None:
    """ValueError at construction unless ``value`` is a real number (not a bool, not NaN) in
    ``[low, high)`` (``(low, ...`` if ``low_open``, ``..., high]`` unless ``high_open``;
    ``None`` means unbounded). Schedules, i.e. callables, pass (they are checked when
    called)."""
    if callable(value):
        return
    x = _real(name, value)
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
