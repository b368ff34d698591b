"""Controlling differentiation: ``stop_gradient``.

Example:
    >>> from fx import lax
    >>> from transforms import grad
    >>> grad(lambda x: x * lax.stop_gradient(x))(3.0)
    Array(3., dtype=float32)
"""
from __future__ import annotations

from fx import tree
from fx.core.elementwise import as_operand
from fx.core.primitive import bind
from fx.prims.elementwise import stop_gradient_p

__all__ = ["stop_gradient"]


def stop_gradient(x):
    """``x`` unchanged, but treated as a constant by every differentiation transform.

    Accepts a pytree; integer and bool leaves pass through (they have no derivative).
    """
    def stop(leaf):
        leaf = as_operand(leaf)
        return leaf if isinstance(leaf, (int, float, complex)) else bind(stop_gradient_p, leaf)
    return tree.map(stop, x)
