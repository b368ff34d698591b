"""The vocabulary of differentiation rules: symbolic zeros and the rule factories.

A ``Zero`` stands for an all-zero tangent of a known aval without allocating it, so
rules can skip work for inputs that do not depend on what is being differentiated.
Rules receive tangents that may be ``Zero`` (never all of them: the trace handles that
case) and either skip those terms or ``instantiate`` them. The factories build the
standard forward rules (zero, linear), reverse-mode helpers (``unbroadcast``) and the
direct ``vjp`` rules of linear and bilinear primitives from their transposes.

Example:
    >>> from fx.core.ad import Zero, instantiate
    >>> from fx.core.aval import ShapedArray
    >>> instantiate(Zero(ShapedArray((2,), "float32")))
    Array([0., 0.], dtype=float32)
"""
from __future__ import annotations

import sys

from fx.core.graph import Var


def loaded(module: str):
    """A module of the layers above this one (``fx.numpy``, ``fx.prims.*``): they import
    this file, so it cannot import them at the top, and every rule runs after they are
    loaded. Rules on the hot path use this instead of a function-level import (which
    costs about a microsecond per call)."""
    return sys.modules[module]


class Zero:
    """An all-zero tangent with abstract value ``aval``."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def add_tangents(*terms):
    """Sum of the non-``Zero`` terms (at least one term must be non-zero)."""
    terms = [t for t in terms if type(t) is not Zero]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def instantiate(t):
    """A real array for a tangent (zeros for a symbolic ``Zero``)."""
    if type(t) is Zero:
        return loaded("fx.numpy").zeros(t.aval.shape, t.aval.dtype)
    return t


def zero_jvp(prim):
    """Rule for a primitive whose output does not vary smoothly with its inputs."""
    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        return out, Zero(out.aval)
    return jvp


def linear_jvp(prim, n_linear: int | None = None):
    """Rule for a primitive linear in its first ``n_linear`` operands (default: all): apply
    it to their tangents; the remaining operands (indices, starts) pass through as primals."""
    def jvp(primals, tangents, **params):
        n = len(primals) if n_linear is None else n_linear
        return (prim.bind(*primals, **params),
                prim.bind(*map(instantiate, tangents[:n]), *primals[n:], **params))
    return jvp


# --- reverse mode: transpose rules of linear primitives ------------------------------------
# A transpose rule ``rule(ct, *inputs, **params)`` receives the output cotangent and the
# equation's inputs: the linear ones are graph ``Var``s (abstract, with an ``aval``), the
# others are the constants they were multiplied with, sliced by, ... It returns one
# cotangent per input (``None`` for constants and for inputs that get nothing).
def is_linear(x) -> bool:
    """Whether a transpose rule's input is one of the linear operands."""
    return type(x) is Var


def unbroadcast(ct, aval):
    """Sum ``ct`` over the axes that broadcasting added to an operand of ``aval``'s shape."""
    if ct.shape == aval.shape:
        return ct
    reduce_sum_p = loaded("fx.prims.reductions").reduce_sum_p
    reshape_p = loaded("fx.prims.shape").reshape_p
    lead = ct.ndim - aval.ndim
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(aval.shape)
                                      if n == 1 and ct.shape[lead + i] != 1)
    summed = reduce_sum_p.bind(ct, axes=axes) if axes else ct
    return summed if summed.shape == aval.shape else reshape_p.bind(summed, new_sizes=aval.shape)


# --- reverse mode: direct vjp rules ``vjp(ct, out, primals, marks, **params)`` ----------------
# Reverse mode's tape calls a primitive's ``vjp`` with the output cotangent, the primal
# output and inputs, and ``marks``: the tape variable of each traced input (None for
# constants). It returns one cotangent per input (None where none is needed). A primitive
# without one is linearized through its jvp rule instead (always correct, slower).
def transpose_vjp(prim):
    """vjp of a primitive linear in every operand that can be traced (float operands):
    its transpose, with the traced operands marked linear."""
    def vjp(ct, out, primals, marks, **params):
        return prim.transpose(ct, *[p if m is None else m for p, m in zip(primals, marks)],
                              **params)
    return vjp


def bilinear_vjp(prim):
    """vjp of a primitive linear in each operand separately (a product): the transpose
    for each traced operand, the others held at their primal values."""
    def vjp(ct, out, primals, marks, **params):
        cts = [None] * len(primals)
        for i, m in enumerate(marks):
            if m is not None:
                inputs = list(primals)
                inputs[i] = m
                cts[i] = prim.transpose(ct, *inputs, **params)[i]
        return cts
    return vjp
