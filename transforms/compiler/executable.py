"""From a staged graph to a callable: inline constants, optimise, generate, compile.

Example:
    >>> import numpy as np
    >>> import fx, fx.numpy as fnp
    >>> from fx.core.staging import make_graph_flat
    >>> graph, consts, _ = make_graph_flat(lambda x: fnp.cos(x) + 1.0,
    ...                                    [fx.ShapedArray((2,), "float64")])
    >>> exe = compile_graph(prepare(graph, consts), "f")
    >>> exe.fn(np.zeros(2))
    (array([2., 2.]),)
"""
from __future__ import annotations

from fx.core.graph import Eqn, Graph, Var
from transforms.compiler import codegen
from transforms.compiler.passes import optimize


class Executable:
    """A compiled graph: ``fn(*buffers) -> tuple of buffers``; ``graph`` is the optimised
    graph (evaluated op by op under outer transforms), ``source`` the generated code."""

    __slots__ = ("graph", "fn", "source", "name")

    def __init__(self, graph, fn, source, name):
        self.graph, self.fn, self.source, self.name = graph, fn, source, name


def inline_constants(graph: Graph, consts) -> Graph:
    """``graph`` with its leading constant inputs replaced by their values."""
    n = len(consts)
    if not n:
        return graph
    env = {id(v): c for v, c in zip(graph.invars[:n], consts)}
    sub = lambda x: env.get(id(x), x) if type(x) is Var else x  # noqa: E731
    eqns = [Eqn(e.prim, [sub(x) for x in e.inputs], e.params, e.outvars, e.source)
            for e in graph.eqns]
    return Graph(graph.invars[n:], eqns, [sub(v) for v in graph.outvars])


def prepare(graph: Graph, consts) -> Graph:
    """The optimised graph of a staged one whose first inputs are the concrete ``consts``."""
    return optimize(inline_constants(graph, consts))


def compile_graph(graph: Graph, name: str, donated=(), xp: str = "numpy",
                  check_nans=None) -> Executable:
    """Generate and compile code for a prepared graph.

    ``donated`` are input positions whose buffers the generated code may overwrite;
    ``xp`` is the backend module (``"numpy"`` or ``"cupy"``); ``check_nans(value,
    primitive, source)`` runs after every float result when given (``fx.config.debug_nans``).
    """
    module = codegen.Module(xp, check_nans)
    fn_name = module.add(graph, _identifier(name), donated=[graph.invars[i] for i in donated])
    return Executable(graph, module.compile(fn_name, name), module.source, name)


def _identifier(name: str) -> str:
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "fn"
    return ident if not ident[0].isdigit() else "_" + ident
