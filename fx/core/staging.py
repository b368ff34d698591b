"""The staging trace: run a function on abstract values and record a ``Graph``.

``make_graph_flat(fun, avals)`` pushes a *dynamic* level (every operation in the block
is recorded, even one on constants only), calls ``fun`` on ``GraphTracer``s that stand
for its inputs, and returns the equations it applied. Values the function closes over
(arrays, or tracers of outer transforms) become leading inputs of the graph, returned
as ``consts`` (closure conversion), so control-flow primitives can pass them as
operands and outer transforms see them. Numbers stay literals.

``jit`` compiles such graphs; ``lax.cond`` / ``scan`` / ``while_loop`` carry them;
``make_graph`` prints them and ``eval_shape`` reads their output types.

Example:
    >>> import fx, fx.numpy as fnp
    >>> fx.make_graph(lambda x: fnp.sin(x) * 2.0)(fx.asarray([1.0, 2.0]))
    { lambda a:f32[2] .
        b:f32[2] = sin a
        c:f32[2] = mul b 2.0
      in (c) }
"""
from __future__ import annotations

import os
import sys

import numpy as np

from fx import tree
from fx.array import Array
from fx.backend import is_buffer
from fx.core.aval import ShapedArray, aval_of
from fx.core.graph import Eqn, Graph, Var
from fx.core.trace import Trace, Tracer, check_alive, new_main
from fx.dtypes import is_weak_scalar


class GraphTracer(Tracer):
    """A value being staged: a graph ``Var`` (or a literal number) and its abstract value."""

    __slots__ = ("var", "_aval")

    def __init__(self, trace, var, aval):
        self._trace, self.var, self._aval = trace, var, aval

    @property
    def aval(self):
        return self._aval

    def describe(self) -> str:
        """``f32[] computed by gt at model.py:4 (f)``, or ``... input 0`` for an input."""
        builder = self._trace.main.global_data if self._trace.main.alive else None
        for eqn in reversed(builder.eqns if builder else []):
            if any(o is self.var for o in eqn.outvars):
                where = f" at {eqn.source}" if eqn.source else ""
                return f"{self.aval.str_short()} computed by {eqn.prim.name}{where}"
        return f"{self.aval.str_short()} (an argument of the staged function)"

    def concrete(self):
        check_alive(self)  # a leaked tracer says so, not that it needs a concrete value
        return super().concrete()


class GraphBuilder:
    """What a staging level has recorded: equations, and the constants it closed over."""

    __slots__ = ("eqns", "constvars", "consts", "_const_ids")

    def __init__(self) -> None:
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self._const_ids: dict[int, Var] = {}

    def const(self, value) -> Var:
        var = self._const_ids.get(id(value))
        if var is None:
            var = self._const_ids[id(value)] = Var(aval_of(value))
            self.constvars.append(var)
            self.consts.append(value)
        return var


def is_literal(value) -> bool:
    """Numbers (Python or NumPy scalars) are written into graphs as they are."""
    return is_weak_scalar(value) or isinstance(value, np.generic)


class StagingTrace(Trace):
    name = "jit"

    def pure(self, val):
        if is_literal(val):
            return GraphTracer(self, val, aval_of(val))
        if not (isinstance(val, Array) or is_buffer(val)):
            raise TypeError(f"expected an array or a number, got {type(val).__name__}")
        return GraphTracer(self, self.main.global_data.const(val), aval_of(val))

    def process_primitive(self, prim, tracers, params):
        out = prim.abstract_eval(*[t.aval for t in tracers], **params)
        avals = out if prim.multiple_results else [out]
        outvars = [Var(a) for a in avals]
        self.main.global_data.eqns.append(
            Eqn(prim, [t.var for t in tracers], params, outvars, user_source()))
        outs = [GraphTracer(self, v, a) for v, a in zip(outvars, avals)]
        return outs if prim.multiple_results else outs[0]

    def process_custom_jvp(self, fn, args):
        """Record the call with its rule (``transforms.custom``, loaded: it made ``fn``)."""
        return sys.modules["transforms.custom"].stage_custom(self, fn, args)

    process_custom_vjp = process_custom_jvp


def make_graph_flat(fun, in_avals):
    """Stage ``fun`` (flat inputs, pytree output) on inputs of types ``in_avals``.

    Returns ``(graph, consts, out_tree)``: ``graph.invars`` are one variable per constant
    followed by one per input; ``graph.outvars`` may hold literals for constant outputs.
    """
    builder = GraphBuilder()
    with new_main(StagingTrace, global_data=builder, dynamic=True) as main:
        trace = main.trace
        argvars = [Var(a) for a in in_avals]
        outs = fun(*[GraphTracer(trace, v, a) for v, a in zip(argvars, in_avals)])
        out_flat, out_tree = tree.flatten(outs)
        for i, o in enumerate(out_flat):
            if not (isinstance(o, Array) or is_weak_scalar(o) or is_buffer(o)):
                raise TypeError(f"output leaf {i} of {_name(fun)} is a {type(o).__name__}; "
                                "a staged function must return arrays or numbers (pytrees "
                                "of them)")
        outvars = [trace.full_raise(o).var for o in out_flat]
    graph = Graph(builder.constvars + argvars, builder.eqns, outvars)
    return graph, builder.consts, out_tree


def _name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


# --- pointing at the user's line -------------------------------------------------------
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIBRARY = tuple(os.path.join(_ROOT, pkg) + os.sep
                 for pkg in ("fx", "transforms", "nnlib", "optim"))


def user_source(depth: int = 2) -> str | None:
    """``"file.py:12 (fn)"`` of the innermost frame outside the library, or None."""
    frame = sys._getframe(depth)
    while frame is not None:
        file = frame.f_code.co_filename
        if not file.startswith(_LIBRARY) and not file.startswith("<"):
            return f"{os.path.basename(file)}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return None


# --- user API --------------------------------------------------------------------------
def _flat_avals(args, name: str):
    flat, in_tree = tree.flatten(args)
    for i, x in enumerate(flat):
        if not (isinstance(x, (Array, ShapedArray)) or is_weak_scalar(x) or is_buffer(x)
                or hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(f"{name}: argument leaf {i} is a {type(x).__name__}; expected arrays, "
                            "numbers or objects with .shape and .dtype")
    return [x if isinstance(x, ShapedArray) else aval_of(x) for x in flat], in_tree


def _staged(fun, args, kwargs, name: str):
    avals, in_tree = _flat_avals((args, kwargs), name)

    def flat(*xs):
        a, k = tree.unflatten(in_tree, list(xs))
        return fun(*a, **k)
    flat.__name__ = _name(fun)
    return make_graph_flat(flat, avals)


def make_graph(fun):
    """``make_graph(f)(*args)``: the graph ``f`` stages for arguments like ``args`` (arrays,
    numbers, or ``ShapedArray`` / ``.shape``-``.dtype`` objects: nothing is computed).

    Example:
        >>> import fx, fx.numpy as fnp
        >>> print(fx.make_graph(fnp.sum)(fx.ShapedArray((3,), "float32")))
        { lambda a:f32[3] .
            b:f32[] = reduce_sum[axes=(0,)] a
          in (b) }
    """
    def staged(*args, **kwargs):
        graph, consts, _ = _staged(fun, args, kwargs, "make_graph")
        return graph
    return staged


def eval_shape(fun, *args, **kwargs):
    """The output types of ``fun(*args, **kwargs)`` as a pytree of ``ShapedArray``,
    found by staging (no computation).

    Example:
        >>> import fx, fx.numpy as fnp
        >>> fx.eval_shape(lambda x: fnp.outer(x, x), fx.ShapedArray((3,), "float64"))
        f64[3,3]
    """
    graph, _, out_tree = _staged(fun, args, kwargs, "eval_shape")
    return tree.unflatten(out_tree, [aval_of(v) if not isinstance(v, Var) else v.aval
                                     for v in graph.outvars])
