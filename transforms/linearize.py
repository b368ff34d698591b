"""Linearization: forward mode whose tangents are recorded instead of computed.

``linearize_flat`` runs a function under the JVP trace with tangents that are
``LinearTracer``s of a recording trace pushed just below it. Every operation that a
jvp rule applies to a tangent is linear in it (rules compute nonlinear factors from
primals only), so the recording is a ``Graph`` of linear primitives from input
tangents to output tangents. Evaluated forward it is ``linearize``'s jvp function;
transposed (``transforms.transpose``) it is the pullback: reverse mode is
linearize + transpose, and only linear primitives need a transpose rule.
``linearize_rule`` does the same for one jvp rule: how reverse mode's tape handles a
primitive (or ``custom_jvp`` function) that has no direct ``vjp`` rule.

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import linearize
    >>> y, f_jvp = linearize(fnp.sin, 0.0)
    >>> f_jvp(2.0)
    Array(2., dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx import tree
from fx.array import Array
from fx.core.ad import Zero
from fx.core.aval import aval_of
from fx.core.graph import Eqn, Graph, Var, eval_graph
from fx.core.trace import Trace, Tracer, new_main
from transforms import api_util
from transforms._jvp import jvp_flat


class LinearTracer(Tracer):
    """A tangent under linearization: a graph ``Var``, or a constant lifted into the trace."""

    __slots__ = ("var", "const")

    def __init__(self, trace, var, const=None):
        self._trace, self.var, self.const = trace, var, const

    @property
    def aval(self):
        return self.var.aval if self.var is not None else aval_of(self.const)


class LinearTrace(Trace):
    name = "linearize"

    def pure(self, val):
        return LinearTracer(self, None, val)

    def process_primitive(self, prim, tracers, params):
        inputs = [t.const if t.var is None else t.var for t in tracers]
        out = prim.abstract_eval(*[t.aval for t in tracers], **params)
        outvars = [Var(a) for a in out] if prim.multiple_results else [Var(out)]
        self.main.global_data.append(Eqn(prim, inputs, params, outvars))
        outs = [LinearTracer(self, v) for v in outvars]
        return outs if prim.multiple_results else outs[0]


def linearize_flat(f, primals):
    """Run ``f`` (flat lists in, pytree out) at ``primals``.

    Returns ``(primal outputs, linear graph, output treedef)``; the graph maps input
    tangents to output tangents (``None`` outvars are identically zero).
    """
    with new_main(LinearTrace, global_data=[]) as main:
        trace = main.trace
        invars = [Var(aval_of(p)) for p in primals]
        tangents = [LinearTracer(trace, v) for v in invars]
        outs, out_tangents, out_tree = jvp_flat(f, primals, tangents)
    return outs, Graph(invars, main.global_data, _outvars(out_tangents, main)), out_tree


def linearize_rule(rule, primals, marks, user_rule: str | None = None):
    """Apply a jvp rule ``rule(primals, tangents) -> (out, out_tangent)`` with recorded
    tangents: input ``i``'s tangent is the variable ``marks[i]`` (None: a zero tangent).

    Returns ``(out, graph)``, the graph mapping the marked inputs to the output tangents
    (a list of them when ``out`` is a list). For a user's rule (``user_rule`` names it), a
    concrete non-zero tangent that does not come from the input tangents is an error: it
    cannot be linear in them.
    """
    with new_main(LinearTrace, global_data=[]) as main:
        tangents = [Zero(aval_of(p)) if m is None else LinearTracer(main.trace, m)
                    for p, m in zip(primals, marks)]
        out, out_t = rule(primals, tangents)
    out_ts = out_t if isinstance(out, list) else [out_t]
    invars = [m for m in marks if m is not None]
    if user_rule is not None:
        _check_linear(out_ts, main, user_rule)
    return out, Graph(invars, main.global_data, _outvars(out_ts, main))


def _check_linear(tangents, main, name: str) -> None:
    for i, t in enumerate(tangents):
        recorded = isinstance(t, LinearTracer) and t._trace.main is main
        if not recorded and type(t) is Array and bool(np.any(np.asarray(t) != 0)):
            raise TypeError(f"{name}: output tangent {i} does not depend on the input "
                            "tangents, so the rule is not linear in them (a jvp rule must "
                            "return a linear function of the tangents, such as t * f'(x))")


def _outvars(tangents, main):
    """Graph outputs: the recorded variable of each tangent; None for zeros (symbolic
    ``Zero`` or a constant, which a linear map of the inputs can only be if it is 0)."""
    return [t.var if isinstance(t, LinearTracer) and t._trace.main is main else None
            for t in tangents]


def linearize(fun, *primals):
    """``fun``'s value at ``primals`` and its linear approximation there.

    Returns ``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` equals
    ``jvp(fun, primals, tangents)[1]`` without re-running ``fun``.
    """
    p_flat, in_tree = api_util.flatten_args(primals, "linearize")
    outs, graph, out_tree = linearize_flat(api_util.flat_fun(fun, in_tree), p_flat)
    in_avals = [aval_of(p) for p in p_flat]

    def f_jvp(*tangents):
        t_flat = api_util.check_like(tangents, in_tree, in_avals, "linearize: tangent")
        out = eval_graph(graph, t_flat)
        return tree.unflatten(out_tree, api_util.zeros_where_none(out, outs))
    return tree.unflatten(out_tree, outs), f_jvp
