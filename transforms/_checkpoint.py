"""Rematerialisation: ``checkpoint(f)`` saves only ``f``'s inputs for the backward pass
and recomputes its forward there, trading compute for memory.

It is a ``custom_vjp`` whose residuals are the inputs and whose backward rule
re-linearizes ``f``; forward mode simply differentiates ``f``.

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import checkpoint, grad
    >>> grad(checkpoint(lambda x: fnp.sin(x) * x))(0.0)
    Array(0., dtype=float32)
"""
from __future__ import annotations

from transforms._vjp import vjp
from transforms.custom import custom_vjp


def checkpoint(fun):
    """``fun`` with the same values and derivatives, recomputed in the backward pass."""
    remat = custom_vjp(fun, warn_forward=False)

    def fwd(*args):
        return fun(*args), args

    def bwd(args, ct):
        return vjp(fun, *args)[1](ct)
    remat.defvjp(fwd, bwd)
    return remat
