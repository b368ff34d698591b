"""Symbolic zero tangents, shared by the differentiation rules and the JVP trace.

A ``Zero`` stands for an all-zero tangent of a known aval without allocating it, so
rules can skip work for inputs that do not depend on what is being differentiated.
Rules receive tangents that may be ``Zero`` (never all of them: the trace handles that
case) and either skip those terms or ``instantiate`` them.

Example:
    >>> from fx.core.ad import Zero, instantiate
    >>> from fx.core.aval import ShapedArray
    >>> instantiate(Zero(ShapedArray((2,), "float32")))
    Array([0., 0.], dtype=float32)
"""
from __future__ import annotations


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
        from fx.numpy import zeros
        return zeros(t.aval.shape, t.aval.dtype)
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
