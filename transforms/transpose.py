"""The backward pass: pulling cotangents back through a linear graph or a tape.

Cotangents flow from the outputs to the inputs, equation by equation in reverse
order, each through its ``pull``: a linear primitive's ``transpose`` rule (declared
with the primitive in ``fx/prims``) for a graph, the recorded pullback for reverse
mode's tape. Both are written with fx operations, so the backward pass is itself
traceable: it can be differentiated again, batched or jitted.

Example:
    >>> from fx.core.graph import Graph, Var, Eqn
    >>> from fx.core.aval import ShapedArray
    >>> from fx.prims.elementwise import mul_p
    >>> x, y = Var(ShapedArray((), "float32")), Var(ShapedArray((), "float32"))
    >>> backward_pass(Graph([x], [Eqn(mul_p, [x, 3.0], {}, [y])], [y]), [fx.asarray(2.0)])
    [Array(6., dtype=float32)]
"""
from __future__ import annotations

from fx.core.ad import Zero, is_linear


def backward_pass(graph, cts) -> list:
    """Cotangents of ``graph.invars`` given those of ``graph.outvars`` (``None`` = zero).

    ``graph`` has ``invars``, ``outvars`` and ``eqns``; each equation has ``inputs``,
    ``outvars`` and ``pull(ct) -> one cotangent per input`` (``ct`` is a list, with
    symbolic ``Zero``s, when the equation has several outputs).
    """
    env: dict = {}

    def accumulate(var, ct):
        prev = env.get(var)
        env[var] = ct if prev is None else prev + ct

    for var, ct in zip(graph.outvars, cts):
        if var is not None and ct is not None and type(ct) is not Zero:
            accumulate(var, ct)
    for eqn in reversed(graph.eqns):
        outvars = eqn.outvars
        if len(outvars) == 1:
            ct = env.pop(outvars[0], None)
            if ct is None:
                continue
        else:
            ct = [None if v is None else env.pop(v, None) for v in outvars]
            if all(c is None for c in ct):
                continue
            ct = [Zero(v.aval) if c is None and v is not None else c for v, c in zip(outvars, ct)]
        for x, c in zip(eqn.inputs, eqn.pull(ct)):
            if c is not None and is_linear(x):
                accumulate(x, c)
    return [env.get(v) for v in graph.invars]
