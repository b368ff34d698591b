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
    { lambda a:f32[2] .
        b:f32[2] = mul a 3.0
      in (b) }
    >>> eval_graph(g, [fx.asarray([1.0, 2.0])])
    [Array([3., 6.], dtype=float32)]
"""
from __future__ import annotations

from fx.core.primitive import bind
from fx.errors import describe


class Var:
    """A value of the graph, known only by its abstract value (compared by identity)."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Eqn:
    """``outvars = prim(*inputs, **params)``; inputs are ``Var`` or constants.

    ``source`` is the user's line that made the equation (``"file.py:12 (fn)"``), when a
    staging trace recorded it: error messages point there.
    """

    __slots__ = ("prim", "inputs", "params", "outvars", "source")

    def __init__(self, prim, inputs, params, outvars, source=None):
        self.prim, self.inputs, self.params, self.outvars = prim, inputs, params, outvars
        self.source = source

    def pull(self, ct) -> list:
        """Transpose of a linear equation: one cotangent per input (None for constants)."""
        if self.prim.transpose is None:
            raise NotImplementedError(f"reverse-mode differentiation of {self.prim.name} is "
                                      "not implemented (it has no transpose rule)")
        return self.prim.transpose(ct, *self.inputs, **self.params)


class Graph:
    """A function as a list of equations from ``invars`` to ``outvars``.

    An entry of ``outvars`` may be ``None``: that output is identically zero (a symbolic
    zero tangent or cotangent), which the transforms keep without allocating it. It may
    also be a constant (a number or an array) when the output does not depend on the
    inputs.
    """

    __slots__ = ("invars", "eqns", "outvars")

    def __init__(self, invars, eqns, outvars):
        self.invars, self.eqns, self.outvars = list(invars), list(eqns), list(outvars)

    def __repr__(self) -> str:
        return _Printer().graph(self, "")


class _Printer:
    """Names variables a, b, ..., z, ba, ... in order of appearance, across sub-graphs."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def name(self, v) -> str:
        if v is None:
            return "0"
        if not isinstance(v, Var):
            if isinstance(v, (int, float, complex, bool)):
                return repr(v)
            shape = getattr(v, "shape", None)
            return repr(v.item()) if shape == () else f"const<{describe(v)}>"
        if id(v) not in self.names:
            self.names[id(v)] = letters(len(self.names))
        return self.names[id(v)]

    def typed(self, v) -> str:
        return f"{self.name(v)}:{v.aval.str_short()}"

    def param(self, value, indent: str) -> str:
        if isinstance(value, Graph):
            return self.graph(value, indent + "    ")
        if isinstance(value, tuple) and value and all(isinstance(g, Graph) for g in value):
            return "(" + ", ".join(self.graph(g, indent + "    ") for g in value) + ")"
        if callable(value) and hasattr(value, "__name__"):
            return value.__name__
        return repr(value)

    def graph(self, g: Graph, indent: str) -> str:
        lines = [f"{{ lambda {' '.join(self.typed(v) for v in g.invars)} ."]
        for e in g.eqns:
            params = "".join(f"[{k}={self.param(p, indent)}]" for k, p in e.params.items()
                             if not type(p).__name__ == "PyTreeSpec")  # structure: noise here
            outs = " ".join(self.typed(o) for o in e.outvars) or "_"
            lines.append(f"{indent}    {outs} = {e.prim.name}{params} "
                         f"{' '.join(self.name(i) for i in e.inputs)}")
        lines.append(f"{indent}  in ({', '.join(self.name(v) for v in g.outvars)}) }}")
        return "\n".join(lines)


def letters(i: int) -> str:
    """The ``i``-th variable name: a, b, ..., z, ba, bb, ..."""
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
    read = lambda x: env[id(x)] if type(x) is Var else x  # noqa: E731
    for eqn in graph.eqns:
        out = bind(eqn.prim, *map(read, eqn.inputs), **eqn.params)
        outs = out if eqn.prim.multiple_results else (out,)
        env.update(zip(map(id, eqn.outvars), outs))
    return [None if v is None else read(v) for v in graph.outvars]
