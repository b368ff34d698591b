"""Conditionals: ``cond_p`` evaluates one of several sub-graphs, chosen by an index.

``cond_p.bind(index, *operands, branches=(g0, g1, ...))`` evaluates ``branches[index]``
on ``operands``. ``index`` is a scalar: a bool for two branches (False picks ``g0``), or
an integer already in range (``lax.switch`` clamps it). The branches are closed graphs
with the same input and output types; whatever a branch closed over is a leading
operand (``lax.cond`` joins the constants of all branches), so outer transforms see it.

Rules:

* jvp: one cond over the branches' jvp graphs (primal and tangent outputs together);
* vjp: a cond over the branches' vjp graphs; each recomputes its branch's forward pass
  from the operands (the branch is checkpointed);
* batch: a batched index runs every branch and selects per example; an unbatched index
  gives a cond of batched branches (an output is batched if it is in any branch);
* emit (jit): ``cond_true(a) if p else cond_false(a)`` over generated branch functions.

The helpers (staging with symbolic zeros, joining constants, evaluating a graph under
jvp, vjp or vmap) are shared with ``fx.prims.while_loop``.

Example:
    >>> from fx.core.staging import make_graph_flat
    >>> from fx.prims.cond import cond_p
    >>> avals = [fx.ShapedArray((), "float32")]
    >>> double = make_graph_flat(lambda x: x * 2.0, avals)[0]
    >>> negate = make_graph_flat(lambda x: -x, avals)[0]
    >>> cond_p.bind(True, fx.asarray(3.0), branches=(negate, double))
    [Array(6., dtype=float32)]
"""
from __future__ import annotations

import importlib
import threading
from collections import OrderedDict

import numpy as np

from fx.array import Array, wrap
from fx.backend import is_buffer
from fx.config import config
from fx.core.ad import Zero, instantiate, is_linear, loaded
from fx.core.aval import ShapedArray, aval_of
from fx.core.batching import at_front, move_to_front
from fx.core.graph import Graph, Var, eval_graph
from fx.core.primitive import Primitive
from fx.core.rule_kit import emitter
from fx.core.staging import make_graph_flat
from fx.core.trace import Tracer, new_main
from fx.creation import asarray
from fx.dtypes import is_weak_scalar
from fx.errors import op_error

__all__ = ["cond_p"]


# --- sub-graph toolkit (shared with while_loop) ------------------------------------------------
def in_avals(graph: Graph) -> list:
    return [v.aval for v in graph.invars]


def out_avals(graph: Graph) -> list:
    return [v.aval if type(v) is Var else aval_of(v) for v in graph.outvars]


def operands(args, avals) -> list:
    """Values to evaluate a graph on: buffers wrapped, Python numbers made arrays of the
    dtype of the input they feed (so no equation runs on two Python numbers)."""
    return [asarray(x, a.dtype) if is_weak_scalar(x) else wrap(x) if is_buffer(x) else x
            for x, a in zip(args, avals)]


def run_graph(graph: Graph, args) -> list:
    return eval_graph(graph, operands(args, in_avals(graph)))


def to_buffers(outs, avals) -> list:
    """Concrete graph results as backend buffers of the declared dtypes."""
    return [o._buffer() if type(o) is Array and o.dtype == a.dtype else
            asarray(o, a.dtype)._buffer() for o, a in zip(outs, avals)]


def stage(fun, avals):
    """``(graph, consts)`` of ``fun`` (flat inputs of types ``avals``, a list out)."""
    graph, consts, _ = make_graph_flat(fun, avals)
    return graph, consts


def stage_masked(fun, avals, force=None):
    """Stage ``fun``, whose list output may hold symbolic ``Zero``s: the graph returns
    the entries that are not zero, or that ``force`` says to make (as zeros). Returns
    ``(graph, consts, mask)``, ``mask[j]`` telling whether entry ``j`` was not a zero."""
    mask: list = []

    def flat(*xs):
        outs = fun(*xs)
        mask[:] = [type(o) is not Zero for o in outs]
        return [instantiate(o) for j, o in enumerate(outs) if mask[j] or (force and force[j])]
    graph, consts = stage(flat, avals)
    return graph, consts, mask


def join(staged) -> tuple:
    """Graphs ``(graph, consts)`` with the same inputs after their constants, as graphs
    taking the constants of all of them (each once) first. Returns ``(graphs, consts)``."""
    consts, slot = [], {}
    for _, cs in staged:
        for c in cs:
            if id(c) not in slot:
                slot[id(c)] = len(consts)
                consts.append(c)
    graphs = []
    for g, cs in staged:
        mine = {slot[id(c)]: v for v, c in zip(g.invars, cs)}
        lead = [mine.get(k) or Var(aval_of(c)) for k, c in enumerate(consts)]
        graphs.append(Graph(lead + g.invars[len(cs):], g.eqns, g.outvars))
    return tuple(graphs), consts


def unify(make, n: int):
    """Stage ``n`` graphs ``make(i, force) -> (graph, consts, mask)`` so that they agree on
    which outputs exist (their union: a graph lacking one is staged again, forced to make
    it). Returns ``(graphs, consts, union)`` with the constants joined."""
    staged = [make(i, None) for i in range(n)]
    union = [any(col) for col in zip(*(s[2] for s in staged))]
    staged = [s if s[2] == union else make(i, union) for i, s in enumerate(staged)]
    graphs, consts = join([(g, c) for g, c, _ in staged])
    return graphs, consts, union


def top_level(xs) -> int:
    """The highest trace level among ``xs`` (-1 when none is traced)."""
    return max((x._trace.main.level for x in xs if isinstance(x, Tracer)), default=-1)


def jvp_eval(graph: Graph, primals, tangents):
    """``graph`` under forward mode: ``(outputs, output tangents)``; a tangent may be a
    symbolic ``Zero`` on either side."""
    jv = loaded("transforms._jvp")
    with new_main(jv.JVPTrace) as main:
        outs = eval_graph(graph, [jv.JVPTracer(main.trace, p, t)
                                  for p, t in zip(operands(primals, in_avals(graph)), tangents)])
        pairs = [(o.primal, o.tangent) if isinstance(o, jv.JVPTracer) and o._trace.main is main
                 else (o, Zero(aval_of(o))) for o in outs]
    return [p for p, _ in pairs], [t for _, t in pairs]


def vjp_eval(graph: Graph, args, diff, cts) -> list:
    """Cotangents of the inputs ``diff`` marks (a ``Zero`` where none flows) of ``graph``
    at ``args``, given one output cotangent per output (``Zero`` allowed)."""
    tape, transpose = loaded("transforms.tape"), importlib.import_module("transforms.transpose")
    args = operands(args, in_avals(graph))
    wanted = [i for i, d in enumerate(diff) if d]

    def of_wanted(*xs):
        full = list(args)
        for i, x in zip(wanted, xs):
            full[i] = x
        return eval_graph(graph, full)
    _, _, recorded = tape.vjp_flat(of_wanted, [args[i] for i in wanted])
    got = transpose.backward_pass(recorded, [None if type(c) is Zero else c for c in cts])
    return [Zero(aval_of(args[i])) if c is None else c for i, c in zip(wanted, got)]


def names_axis(graphs, name) -> bool:
    """Whether a collective over the vmap axis ``name`` is in ``graphs`` (or sub-graphs)."""
    return name is not None and any(
        e.params.get("axis_name") == name or names_axis(
            [g for p in e.params.values() for g in (p if isinstance(p, tuple) else (p,))
             if isinstance(g, Graph)], name)
        for graph in graphs for e in graph.eqns)


def batch_eval(graph: Graph, vals, dims, axis) -> list:
    """``graph`` on ``vals`` batched along ``dims`` (None: shared) under a batch level of
    the caller's ``axis`` (so collectives in it reduce over that axis): ``(value, dim)``
    pairs."""
    vm = loaded("transforms._vmap")
    with new_main(vm.BatchTrace, axis) as main:
        args = [v if d is None else vm.BatchTracer(main.trace, v, d)
                for v, d in zip(operands(vals, in_avals(graph)), dims)]
        outs = eval_graph(graph, args)
        return [(o.val, o.bdim) if isinstance(o, vm.BatchTracer) and o._trace.main is main
                else (o, None) for o in outs]


def batch_front(x, dim, size: int, aval):
    """``x`` batched at axis 0: moved there, or broadcast for a shared value."""
    if dim is not None:
        return move_to_front(x, dim)
    return at_front(asarray(x, aval.dtype) if is_weak_scalar(x) else x, None, size)


def batch_graph(graph: Graph, avals, dims, axis, force=None):
    """``graph`` batched: inputs of types ``avals`` batched at 0 where ``dims`` says so;
    outputs batched at 0 where they depend on the batch or ``force`` says so. Returns
    ``(graph, consts, out_batched)``."""
    batched: list = []

    def fun(*xs):
        outs = []
        batched[:] = []
        for j, ((o, d), a) in enumerate(zip(batch_eval(graph, xs, dims, axis),
                                            out_avals(graph))):
            batched.append(d is not None or bool(force and force[j]))
            outs.append(batch_front(o, d, axis.size, a) if batched[-1] else o)
        return outs
    new, consts = stage(fun, avals)
    return new, consts, batched


def select_cases(index, cases):
    """Per example, the case ``index`` picks (a bool picks ``cases[1]`` where True);
    ``index`` and every case are batched at 0."""
    fnp = loaded("fx.numpy")
    idx = fnp.reshape(index, index.shape[:1] + (1,) * (cases[0].ndim - 1))
    if index.dtype == bool:
        return fnp.where(idx, cases[1], cases[0])
    out = cases[-1]
    for k in range(len(cases) - 2, -1, -1):
        out = fnp.where(idx == k, cases[k], out)
    return out


# --- cond_p ------------------------------------------------------------------------------------
def _cond_abstract(index, *args, branches):
    if index.shape != () or index.dtype.kind not in "biu":
        raise op_error(TypeError, "cond", "the index must be a bool or integer scalar, got "
                       f"{index.str_short()}", index)
    if index.dtype.kind == "b" and len(branches) != 2:
        raise op_error(TypeError, "cond", f"a bool index needs 2 branches, got {len(branches)}",
                       index)
    if len(args) != len(branches[0].invars):
        raise op_error(TypeError, "cond", f"the branches take {len(branches[0].invars)} "
                       f"operands, got {len(args)}", *args)
    outs = [out_avals(g) for g in branches]
    return [ShapedArray(a.shape, a.dtype, all(o[j].weak_type for o in outs))
            for j, a in enumerate(outs[0])]


def _cond_impl(index, *args, branches):
    graph = branches[int(index)]
    return to_buffers(run_graph(graph, args), out_avals(graph))


cond_p = Primitive("cond", impl=_cond_impl, abstract_eval=_cond_abstract, multiple_results=True)


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], list(primals[1:])
    nonzero = [type(t) is not Zero for t in tangents[1:]]
    tans = [t for t in tangents[1:] if type(t) is not Zero]
    avals = [aval_of(x) for x in ops + tans]
    n_out, out_av = len(branches[0].outvars), _cond_abstract(*map(aval_of, primals),
                                                              branches=branches)
    # Tangents traced above the primals (linearize records them): the primal outputs come
    # from a cond of their own, so that recording the tangent cond leaves them concrete.
    split = top_level(tans) > top_level(primals)

    def make(i, force):
        def fun(*xs):
            ts = iter(xs[len(ops):])
            outs, out_t = jvp_eval(branches[i], xs[:len(ops)], [
                next(ts) if nz else Zero(a) for nz, a in zip(nonzero, avals)])
            return out_t if split else outs + out_t
        return stage_masked(fun, avals, force)
    graphs, consts, union = unify(make, len(branches))
    tangent_mask = union if split else union[n_out:]
    outs = []
    if not split or any(tangent_mask):
        outs = cond_p.bind(index, *consts, *ops, *tans, branches=graphs)
    if split:
        primal_out = cond_p.bind(index, *ops, branches=branches)
    else:
        primal_out, outs = outs[:n_out], outs[n_out:]
    it = iter(outs)
    return primal_out, [next(it) if m else Zero(a) for m, a in zip(tangent_mask, out_av)]


def _cond_vjp(cts, outs, primals, marks, *, branches):
    index, ops = primals[0], list(primals[1:])
    diff = [m is not None and aval_of(x).dtype.kind in "fc" for x, m in zip(ops, marks[1:])]
    nonzero = [type(c) is not Zero for c in cts]
    none = [None] * len(primals)
    if not any(diff) or not any(nonzero):
        return none
    given = [c for c in cts if type(c) is not Zero]
    avals = [aval_of(x) for x in ops + given]
    out_av = [o.aval for o in outs]

    def make(i, force):
        def fun(*xs):
            cs = iter(xs[len(ops):])
            return vjp_eval(branches[i], xs[:len(ops)], diff,
                            [next(cs) if nz else Zero(a) for nz, a in zip(nonzero, out_av)])
        return stage_masked(fun, avals, force)
    graphs, consts, union = unify(make, len(branches))
    if not any(union):
        return none
    res = iter(cond_p.bind(index, *consts, *ops, *given, branches=graphs))
    got = iter([next(res) if u else None for u in union])
    return [None] + [next(got) if d else None for d in diff]


def _cond_batch(vals, dims, *, branches, axis):
    if all(d is None for d in dims) and not names_axis(branches, axis.name):
        return cond_p.bind(*vals, branches=branches), [None] * len(branches[0].outvars)
    size = axis.size
    ops = [x if d is None else move_to_front(x, d) for x, d in zip(vals[1:], dims[1:])]
    op_dims = [None if d is None else 0 for d in dims[1:]]
    if dims[0] is None:  # every example takes the same branch: a cond of batched branches
        avals = [aval_of(x) for x in ops]
        graphs, consts, union = unify(
            lambda i, force: batch_graph(branches[i], avals, op_dims, axis, force),
            len(branches))
        outs = cond_p.bind(vals[0], *consts, *ops, branches=graphs)
        return outs, [0 if u else None for u in union]
    # a batched index: run every branch on the whole batch, pick per example
    index = move_to_front(vals[0], dims[0])
    results = [batch_eval(g, ops, op_dims, axis) for g in branches]
    outs = [select_cases(index, [batch_front(*r[j], size, a) for r in results])
            for j, a in enumerate(out_avals(branches[0]))]
    return outs, [0] * len(outs)


def typed_args(ctx, inputs, args, avals) -> list:
    """Operand sources for a call of a generated sub-graph function: a Python number
    becomes a backend scalar of the dtype of the input it feeds (``np.int32(0)``), as
    eagerly (``operands``), so the generated code computes in the same dtypes."""
    return [ctx.literal(np.dtype(a.dtype).type(x)) if is_weak_scalar(x) else s
            for x, s, a in zip(inputs, args, avals)]


def optimized(graph: Graph) -> Graph:
    """A sub-graph through jit's optimisation passes, before it is compiled."""
    return importlib.import_module("transforms.compiler.passes").optimize(graph)


_COMPILED: OrderedDict = OrderedDict()  # (id(graph), backend, debug_nans) -> (graph, fn)
_COMPILED_LOCK = threading.Lock()


def compiled(graph: Graph, like):
    """``graph`` as generated code (jit's compiler): a function of buffers on the device
    of the buffer ``like``, returning a tuple of buffers; cached while the graph is."""
    xp = "numpy" if isinstance(like, (np.ndarray, np.generic)) else "cupy"
    key = (id(graph), xp, config.debug_nans)
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit[0] is graph:
            _COMPILED.move_to_end(key)
            return hit[1]
    executable = importlib.import_module("transforms.compiler.executable")
    check = importlib.import_module("fx.debug").check_nans if config.debug_nans else None
    fn = executable.compile_graph(optimized(graph), "step", xp=xp, check_nans=check).fn
    with _COMPILED_LOCK:
        _COMPILED[key] = (graph, fn)
        while len(_COMPILED) > 64:
            _COMPILED.popitem(last=False)
    return fn


@emitter()
def _cond_emit(ctx, eqn, args, out=None):
    branches = eqn.params["branches"]
    index = args[0]
    ops = ", ".join(typed_args(ctx, eqn.inputs[1:], args[1:], in_avals(branches[0])))
    names = (("cond_false", "cond_true") if ctx.aval(eqn.inputs[0]).dtype.kind == "b"
             else [f"branch{i}" for i in range(len(branches))])
    calls = [f"{ctx.function(optimized(g), name)}({ops})" for g, name in zip(branches, names)]
    if len(calls) == 2:
        return f"{calls[1]} if {index} else {calls[0]}"
    expr = calls[-1]
    for k in range(len(calls) - 2, -1, -1):
        expr = f"{calls[k]} if {index} == {k} else {expr}"
    return expr


def _cond_transpose(cts, index, *inputs, branches):
    """A cond linear in its ``Var`` inputs (one recorded by linearize, e.g. in a custom_jvp
    rule): its transpose is its vjp at any point, zeros for the linear inputs."""
    point = [instantiate(Zero(x.aval)) if is_linear(x) else x for x in inputs]
    marks = [None] + [x if is_linear(x) else None for x in inputs]
    cts = cts if len(branches[0].outvars) > 1 else [cts]  # the backward pass's convention
    return _cond_vjp(cts, [Zero(a) for a in out_avals(branches[0])], [index] + point, marks,
                     branches=branches)


_cond_batch.needs_axis = True  # collectives in the branches reduce over the caller's axis
cond_p.jvp, cond_p.vjp, cond_p.batch, cond_p.emit = _cond_jvp, _cond_vjp, _cond_batch, _cond_emit
cond_p.transpose = _cond_transpose
