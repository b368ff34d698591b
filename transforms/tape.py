"""Reverse mode's trace: a tape of pullbacks, filled while the function runs.

Under ``vjp`` / ``grad`` each primitive applied to a traced value runs at once on the
primal values and appends one ``TapeEntry``: its output variables, its input variables
and how to pull an output cotangent back to the inputs. A primitive with ``vjp_fwd`` /
``vjp_bwd`` rules runs its own forward, which saves residuals for its backward (``scan``
stacks the carries, so its backward needs no second forward loop); one with a ``vjp`` rule
uses it (elementwise derivative tables and linear primitives' transposes give one);
any other is linearized on the spot: its jvp rule runs with recorded tangents and the
small linear graph is transposed in the backward pass. ``custom_jvp`` functions are
linearized the same way; ``custom_vjp`` functions put their ``bwd`` on the tape.

The backward pass (``transforms.transpose``) walks the tape in reverse with fx
operations, so it can be differentiated again, batched or jitted; nested ``grad`` calls
are separate levels of the trace stack, which keeps their tapes apart.

Example:
    >>> import fx.numpy as fnp
    >>> outs, out_tree, tape = vjp_flat(lambda x: fnp.sin(x) * 2.0, [fx.asarray(0.0)])
    >>> len(tape.eqns)
    2
"""
from __future__ import annotations

import sys
from typing import NamedTuple

from fx import tree
from fx.core import primitive as _primitive
from fx.core.ad import Zero
from fx.core.aval import aval_of
from fx.core.graph import Var
from fx.core.primitive import bind
from fx.core.trace import PrimalTracer, Trace, new_main
from fx.creation import asarray
from transforms import custom
from transforms.linearize import linearize_rule
from transforms.transpose import backward_pass


class VJPTracer(PrimalTracer):
    """A value under reverse mode: its primal and its tape variable (None: a constant)."""

    __slots__ = ("var",)

    def __init__(self, trace, primal, var):
        self._trace, self.primal, self.var = trace, primal, var

    def full_lower(self):
        return self.primal if self.var is None else self


class TapeEntry:
    """``outvars`` were computed from ``inputs`` (tape vars, or None for constants);
    ``pull(ct)`` gives one cotangent per input (a list of cotangents for several outputs)."""

    __slots__ = ("inputs", "outvars", "pull")

    def __init__(self, inputs, outvars, pull):
        self.inputs, self.outvars, self.pull = inputs, outvars, pull


def as_list_pull(outvars, pull):
    """``pull`` taking a list of output cotangents, adapted to the backward pass's
    convention (a single cotangent for a single output)."""
    return pull if len(outvars) > 1 else lambda ct: pull([ct])


class Tape(NamedTuple):
    invars: list
    eqns: list
    outvars: list


class VJPTrace(Trace):
    name = "grad/vjp"

    def pure(self, val):
        return VJPTracer(self, val, None)

    def process_primitive(self, prim, tracers, params):
        primals = [t.primal for t in tracers]
        marks = [t.var for t in tracers]
        if prim.vjp_fwd is not None:
            return self._record_split(prim, primals, marks, params)
        if prim.vjp is not None and prim.multiple_results:
            return self._record_multiple(prim, primals, marks, params)
        if prim.vjp is not None:
            out = bind(prim, *primals, **params)
            if out.dtype.kind not in "fc":  # integer and bool values carry no derivative
                return VJPTracer(self, out, None)
            var = Var(out.aval)
            rule = prim.vjp
            self._append(marks, [var], lambda ct: rule(ct, out, primals, marks, **params),
                         prim.name)
            return VJPTracer(self, out, var)
        if prim.jvp is None:
            raise NotImplementedError(f"reverse-mode differentiation of {prim.name} is not "
                                      "implemented (it has neither a vjp nor a jvp rule)")
        jvp = prim.jvp
        out, graph = linearize_rule(lambda p, t: jvp(p, t, **params), primals, marks)
        outs = self._record(out if prim.multiple_results else [out], graph, prim.name)
        return outs if prim.multiple_results else outs[0]

    def _record_multiple(self, prim, primals, marks, params):
        """A primitive with several results and a direct rule ``vjp(cts, outs, primals,
        marks, **params)``; ``cts`` has one cotangent per result (``Zero`` where none)."""
        outs = bind(prim, *primals, **params)
        outvars = [Var(o.aval) if o.dtype.kind in "fc" else None for o in outs]
        avals = [o.aval for o in outs]
        rule = prim.vjp

        def pull(cts):
            cts = [Zero(a) if c is None else c for c, a in zip(cts, avals)]
            return rule(cts, outs, primals, marks, **params)
        self._append(marks, outvars, as_list_pull(outvars, pull), prim.name)
        return [VJPTracer(self, o, v) for o, v in zip(outs, outvars)]

    def _record_split(self, prim, primals, marks, params):
        """A primitive with ``vjp_fwd(primals, **params) -> (outs, residuals)`` run in place
        of ``bind`` and ``vjp_bwd(residuals, cts, outs, primals, marks, **params)`` (``cts``
        as ``vjp``'s: a list with ``Zero``s for several results, else one cotangent)."""
        multiple = prim.multiple_results
        if all(m is None for m in marks):  # nothing to differentiate: no residuals
            outs = bind(prim, *primals, **params)
            return ([VJPTracer(self, o, None) for o in outs] if multiple
                    else VJPTracer(self, outs, None))
        outs, res = prim.vjp_fwd(primals, **params)
        flat = outs if multiple else [outs]
        outvars = [Var(o.aval) if o.dtype.kind in "fc" else None for o in flat]
        avals, rule = [o.aval for o in flat], prim.vjp_bwd

        def pull(cts):
            cts = [Zero(a) if c is None else c for c, a in zip(cts, avals)]
            return rule(res, cts if multiple else cts[0], outs, primals, marks, **params)
        self._append(marks, outvars, as_list_pull(outvars, pull), prim.name)
        tracers = [VJPTracer(self, o, v) for o, v in zip(flat, outvars)]
        return tracers if multiple else tracers[0]

    def _record(self, outs, graph, name):
        """Append a linearized step; its pullback transposes ``graph``."""
        self._append(graph.invars, graph.outvars, as_list_pull(
            graph.outvars, lambda cts: backward_pass(graph, cts)), name)
        return [VJPTracer(self, o, v) for o, v in zip(outs, graph.outvars)]

    def _append(self, inputs, outvars, pull, name: str) -> None:
        """Put a step on the tape; under ``fx.config.debug_nans`` its pullback names the
        operation ``name`` and the user's line to the NaN checks (``fx.debug``)."""
        if _primitive.nan_check is not None:
            pull = sys.modules["fx.debug"].named_pullback(pull, name)
        self.main.global_data.append(TapeEntry(inputs, outvars, pull))

    def _unpack(self, args):
        """The primal and tape variable of every leaf of a custom function's arguments."""
        flat, in_tree = tree.flatten(args)
        tracers = [self.full_raise(x) for x in flat]
        return [t.primal for t in tracers], [t.var for t in tracers], in_tree

    def process_custom_jvp(self, fn, args):
        primals, marks, in_tree = self._unpack(args)
        if all(m is None for m in marks):  # nothing here is differentiated
            return fn(*tree.unflatten(in_tree, primals))
        out_trees = []

        def rule(ps, ts):
            out, out_t, out_tree = custom.apply_jvp_rule(fn, in_tree, ps, ts)
            out_trees.append(out_tree)
            return out, out_t
        out, graph = linearize_rule(rule, primals, marks, f"custom_jvp {fn.__name__}")
        return tree.unflatten(out_trees[0], self._record(out, graph, f"custom_jvp {fn.__name__}"))

    def process_custom_vjp(self, fn, args):
        primals, marks, in_tree = self._unpack(args)
        if all(m is None for m in marks):  # nothing here is differentiated
            return fn(*tree.unflatten(in_tree, primals))
        out, res = fn.fwd(*tree.unflatten(in_tree, primals))
        out_flat, out_tree = tree.flatten(out)
        outvars = [Var(aval_of(o)) if aval_of(o).dtype.kind in "fc" else None for o in out_flat]
        in_avals, out_avals = [aval_of(p) for p in primals], [aval_of(o) for o in out_flat]

        def pull(cts):
            cts = [Zero(a) if c is None else c for c, a in zip(cts, out_avals)]
            return custom.bwd_cotangents(fn, in_tree, in_avals, out_tree, res, cts)
        self._append(marks, outvars, as_list_pull(outvars, pull), f"custom_vjp {fn.__name__}")
        return tree.unflatten(out_tree, [VJPTracer(self, o, v) for o, v in zip(out_flat, outvars)])


def vjp_flat(f, primals):
    """Run ``f`` (flat arrays in, pytree out) recording a tape.

    Returns ``(flat primal outputs, out treedef, tape)``; ``backward_pass(tape, cts)``
    pulls output cotangents back to ``primals``.
    """
    with new_main(VJPTrace, global_data=[]) as main:
        invars = [Var(aval_of(p)) for p in primals]
        outs = f(*[VJPTracer(main.trace, p, v) for p, v in zip(primals, invars)])
        outs_flat, out_tree = tree.flatten(outs)
        pairs = [(o.primal, o.var) if isinstance(o, VJPTracer) and o._trace.main is main
                 else (asarray(o), None) for o in outs_flat]
    outs_flat = [p for p, _ in pairs]
    return outs_flat, out_tree, Tape(invars, main.global_data, [v for _, v in pairs])
