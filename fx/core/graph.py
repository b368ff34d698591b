"""The graph IR: typed variables, equations, and a graph of them.

A ``Graph`` is what a staging transform records instead of computing: each ``Eqn``
applies one primitive to inputs that are either ``Var`` (values the graph computes or
takes as input) or constants (arrays, Python numbers, or values traced by an outer
transform). Evaluating a graph calls ``bind`` for every equation, so a graph stays
transformable: evaluating it under ``jvp`` differentiates it, under ``grad`` records it.

Example:
    >>> from fx.core.graph import Graph, Var, Eqn, eval_graph
    >>> from fx.core.aval import ShapedArray
    >>> from fx.prims.elementwise import mul_p
    >>> x, y = Var(ShapedArray((2,), "float32")), Var(ShapedArray((2,), "float32"))
    >>> g = Graph([x], [Eqn(mul_p, [x, 3.0], {}, [y])], [y])
    >>> g
    { lambda a:f32[2] . let b:f32[2] = mul a 3.0 in (b) }
    >>> eval_graph(g, [fx.asarray([1.0, 2.0])])
    [Array([3., 6.], dtype=float32)]
"""
from __future__ import annotations

from fx.core.primitive import bind


class Var:
    """A value of the graph, known only by its abstract value (compared by identity)."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Eqn:
    """``outvars = prim(*inputs, **params)``; inputs are ``Var`` or constants."""

    __slots__ = ("prim", "inputs", "params", "outvars")

    def __init__(self, prim, inputs, params, outvars):
        self.prim, self.inputs, self.params, self.outvars = prim, inputs, params, outvars

    def pull(self, ct) -> list:
        """Transpose of a linear equation: one cotangent per input (None for constants)."""
        if self.prim.transpose is None:
            raise NotImplementedError(f"reverse-mode differentiation of {self.prim.name} is "
                                      "not implemented (it has no transpose rule)")
        return self.prim.transpose(ct, *self.inputs, **self.params)


class Graph:
    """A function as a list of equations from ``invars`` to ``outvars``.

    An entry of ``outvars`` may be ``None``: that output is identically zero (a symbolic
    zero tangent or cotangent), which the transforms keep without allocating it.
    """

    __slots__ = ("invars", "eqns", "outvars")

    def __init__(self, invars, eqns, outvars):
        self.invars, self.eqns, self.outvars = list(invars), list(eqns), list(outvars)

    def __repr__(self) -> str:
        names: dict[int, str] = {}

        def name(v) -> str:
            if not isinstance(v, Var):
                return repr(v) if isinstance(v, (int, float, complex)) else f"const<{v!r}>"
            if id(v) not in names:
                names[id(v)] = _letters(len(names))
            return names[id(v)]

        typed = lambda v: f"{name(v)}:{v.aval.str_short()}"  # noqa: E731
        ins = " ".join(typed(v) for v in self.invars)
        lines = [f"{' '.join(typed(o) for o in e.outvars)} = {e.prim.name}"
                 f"{''.join(f'[{k}={p!r}]' for k, p in e.params.items())} "
                 f"{' '.join(name(i) for i in e.inputs)}" for e in self.eqns]
        outs = ", ".join("0" if v is None else name(v) for v in self.outvars)
        return f"{{ lambda {ins} . let {'; '.join(lines)} in ({outs}) }}"


def _letters(i: int) -> str:
    s = ""
    while True:
        s = chr(ord("a") + i % 26) + s
        i = i // 26 - 1
        if i < 0:
            return s


def eval_graph(graph: Graph, args) -> list:
    """Evaluate ``graph`` on ``args`` through ``bind`` (so outer transforms see every op).

    Outputs that are symbolic zeros come back as ``None``.
    """
    env = dict(zip(map(id, graph.invars), args))
    read = lambda x: env[id(x)] if isinstance(x, Var) else x  # noqa: E731
    for eqn in graph.eqns:
        out = bind(eqn.prim, *map(read, eqn.inputs), **eqn.params)
        outs = out if eqn.prim.multiple_results else (out,)
        env.update(zip(map(id, eqn.outvars), outs))
    return [None if v is None else read(v) for v in graph.outvars]
