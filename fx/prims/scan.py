"""The ``scan`` primitive: a loop over the leading axis of its inputs, with a carry.

``scan_p.bind(*consts, *init, *xs, body=, length=, reverse=, num_consts=, num_carry=)``:
``body`` is a Graph ``(*consts, *carry, *x_slices) -> (*carry, *y)``; the result is
``(*final_carry, *ys)``, each ``y`` stacked along a new leading axis of size ``length``
(in step order, also with ``reverse=True``, which walks the steps from the last). The
values the body closes over are ``consts`` operands, so outer transforms see them.

Rules: impl and emit (jit) are a ``for`` loop calling the body's generated function,
ys written into preallocated arrays; jvp and batch scan a transformed body (which carries
get non-zero tangents, or are batched, is a fixpoint); reverse mode (``fx.prims.scan_rules``)
stacks each step's carry in the forward scan and runs the body's vjp in a reverse scan.

Example:
    >>> import fx, fx.numpy as fnp
    >>> from fx.core.staging import make_graph_flat
    >>> body, _, _ = make_graph_flat(lambda c, x: [c + x, c * x],
    ...                              [fx.ShapedArray((), "float32")] * 2)
    >>> scan_p.bind(fx.asarray(0.0), fnp.arange(1.0, 4.0), body=body, length=3,
    ...             reverse=False, num_consts=0, num_carry=1)
    [Array(6., dtype=float32), Array([0., 2., 9.], dtype=float32)]
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from fx import backend
from fx.array import Array, wrap
from fx.config import config
from fx.core.ad import Zero, instantiate, loaded
from fx.core.aval import ShapedArray, aval_of
from fx.core.batching import at_front, move_to, move_to_front
from fx.core.graph import Eqn, Graph, Var, eval_graph
from fx.core.primitive import Primitive
from fx.core.rule_kit import emitter
from fx.core.staging import make_graph_flat
from fx.core.trace import find_top_trace, new_main
from fx.errors import op_error


# --- helpers ---------------------------------------------------------------------------------
def _split(seq, nc: int, nk: int):
    """``(consts, carry, xs)`` parts of an operand (or body input) list."""
    seq = list(seq)
    return seq[:nc], seq[nc:nc + nk], seq[nc + nk:]


def _pick(values, flags) -> list:
    return [v for v, f in zip(values, flags) if f]


def _inexact(aval) -> bool:  # the dtypes that carry derivatives
    return aval.dtype.kind in "fc"


def _strong(aval) -> ShapedArray:
    """The aval of a tangent or cotangent of ``aval`` (never weakly typed)."""
    return ShapedArray.of(aval.shape, aval.dtype)


def _out_aval(v) -> ShapedArray:
    return v.aval if type(v) is Var else aval_of(v)


def _as(x, aval):
    """``x`` as an array of ``aval``'s dtype (numbers and other dtypes are converted)."""
    if isinstance(x, Array) and x.dtype == aval.dtype:
        return x
    return loaded("fx.creation").asarray(x, aval.dtype)


def _zeros(aval):
    return loaded("fx.numpy").zeros(aval.shape, aval.dtype)


def _outs(body: Graph, args) -> list:
    """``body``'s outputs on ``args``, constant outputs as arrays."""
    return [_as(o, _out_aval(v)) for o, v in zip(eval_graph(body, args), body.outvars)]


def _bind(graph_consts, consts, carry, xs, body, length, reverse):
    """``scan_p`` with a freshly staged ``body``, whose own constants come first."""
    return scan_p.bind(*graph_consts, *consts, *carry, *xs, body=body, length=length,
                       reverse=reverse, num_consts=len(graph_consts) + len(consts),
                       num_carry=len(carry))


def _level(values) -> int:
    top = find_top_trace(values)
    return -1 if top is None else top.main.level


def _fixpoint(make, flags, nc: int, nk: int):
    """Rerun ``make(flags) -> (graph, consts, carry flags out, y flags)`` until each carry's
    flag (non-zero tangent, batched) covers its output's: at most ``nk + 1`` rounds."""
    while True:
        graph, consts, carry_out, y_out = make(flags)
        grown = [a or b for a, b in zip(flags[nc:nc + nk], carry_out)]
        if grown == flags[nc:nc + nk]:
            return graph, consts, flags, y_out
        flags = flags[:nc] + grown + flags[nc + nk:]


def _taker(args):
    it = iter(args)
    return lambda n: [next(it) for _ in range(n)]


# --- impl: the loop as generated code, or the body op by op for a short loop ----------------
_COMPILED: OrderedDict = OrderedDict()  # (id(body), backend, nan checks, params) -> (body, fn)
_COMPILED_LOCK = threading.Lock()
_COMPILE_WORK = 64  # steps x equations from which compiling the body pays off


def _loop_function(body: Graph, xp: str, params: dict):
    """The whole loop as generated code (what ``jit`` writes for one scan), compiled once
    and cached while the body is alive in the cache; None when the loop is so short that
    evaluating the body op by op costs less than compiling it."""
    key = (id(body), xp, config.debug_nans, *params.values())
    with _COMPILED_LOCK:
        hit = _COMPILED.get(key)
        if hit is not None and hit[0] is body:
            _COMPILED.move_to_end(key)
            return hit[1]
    if params["length"] * len(body.eqns) < _COMPILE_WORK:
        return None
    from transforms.compiler.executable import compile_graph
    n = params["num_consts"] + params["num_carry"]
    invars = [Var(v.aval if k < n else v.aval.update(shape=(params["length"], *v.aval.shape)))
              for k, v in enumerate(body.invars)]
    outvars = [Var(a) for a in _scan_abstract(*[v.aval for v in invars], body=body, **params)]
    graph = Graph(invars, [Eqn(scan_p, invars, dict(body=body, **params), outvars)], outvars)
    check = loaded("fx.debug").check_nans if config.debug_nans else None
    fn = compile_graph(graph, "scan", xp=xp, check_nans=check).fn
    with _COMPILED_LOCK:
        _COMPILED[key] = (body, fn)
        while len(_COMPILED) > 128:
            _COMPILED.popitem(last=False)
    return fn


def _scan_impl(*bufs, body, **params):
    device = next((backend.device_of(b) for b in bufs if backend.is_buffer(b)), backend.CPU)
    xp = backend.array_module(device)
    bufs = [b if backend.is_buffer(b) else xp.asarray(b, v.aval.dtype)
            for b, v in zip(bufs, body.invars)]
    fn = _loop_function(body, "numpy" if xp is np else "cupy", params)
    if fn is not None:
        return list(fn(*bufs))
    length, nk = params["length"], params["num_carry"]  # a short loop: the body op by op
    consts, carry, xs = _split(bufs, params["num_consts"], nk)
    consts, carry = [wrap(c) for c in consts], [wrap(c) for c in carry]
    ys = [xp.empty((length, *a.shape), a.dtype) for a in map(_out_aval, body.outvars[nk:])]
    for i in range(length - 1, -1, -1) if params["reverse"] else range(length):
        out = _outs(body, consts + carry + [wrap(x[i]) for x in xs])
        carry = out[:nk]
        for y, o in zip(ys, out[nk:]):
            y[i] = o._buffer()
    return [c._buffer() for c in carry] + ys


def _scan_abstract(*avals, body, length, reverse, num_consts, num_carry):
    if len(avals) != len(body.invars):
        raise op_error(TypeError, "scan", f"{len(avals)} operands for a body of "
                       f"{len(body.invars)} inputs", *avals)
    for k, (a, v) in enumerate(zip(avals, body.invars)):
        shape = v.aval.shape if k < num_consts + num_carry else (length, *v.aval.shape)
        if a.shape != shape or a.dtype != v.aval.dtype:
            want = ShapedArray.of(shape, v.aval.dtype).str_short()
            raise op_error(TypeError, "scan", f"operand {k} is {a.str_short()} but the body "
                           f"expects {want}", *avals)
    outs = [_out_aval(v) for v in body.outvars]
    carry = [v.aval for v in body.invars[num_consts:num_consts + num_carry]]
    for j, (c, o) in enumerate(zip(carry, outs)):
        if c.shape != o.shape or c.dtype != o.dtype:
            raise op_error(TypeError, "scan", f"carry {j} enters the body as {c.str_short()} "
                           f"but leaves it as {o.str_short()}", *avals)
    return carry + [ShapedArray.of((length, *o.shape), o.dtype, o.weak_type)
                    for o in outs[num_carry:]]


scan_p = Primitive("scan", impl=_scan_impl, abstract_eval=_scan_abstract,
                   multiple_results=True)


# --- jvp: primal and tangent carries in one scan ---------------------------------------------
def _jvp_eval(graph: Graph, primals, tangents):
    """Forward mode through ``graph``: primal outputs and tangents (``Zero`` where none)."""
    jvp = loaded("transforms._jvp")
    with new_main(jvp.JVPTrace) as main:
        outs = eval_graph(graph, [jvp.JVPTracer(main.trace, p, t)
                                  for p, t in zip(primals, tangents)])
        pairs = [(o.primal, o.tangent) if isinstance(o, jvp.JVPTracer) and o._trace.main is main
                 else (o, Zero(aval_of(o))) for o in outs]
    return [p for p, _ in pairs], [t for _, t in pairs]


def _jvp_body(body, nc, nk, nz):
    """The body of the tangent scan for input tangents non-zero where ``nz``; also which
    carry and y tangents come out non-zero."""
    avals = [v.aval for v in body.invars]
    blocks = _split(zip(avals, nz), nc, nk)
    in_avals = []
    for block in blocks:
        in_avals += [a for a, _ in block] + [_strong(a) for a, f in block if f]
    k_av, k_nz = avals[nc:nc + nk], nz[nc:nc + nk]
    found = []

    def fun(*args):
        take, primals, tangents = _taker(args), [], []
        for block in blocks:
            primals += take(len(block))
            tangents += [take(1)[0] if f else Zero(a) for a, f in block]
        outs, out_t = _jvp_eval(body, primals, tangents)
        outs = [_as(o, _out_aval(v)) for o, v in zip(outs, body.outvars)]
        live = [type(t) is not Zero and _inexact(_out_aval(v)) for t, v in zip(out_t, body.outvars)]
        found[:] = [live[:nk], live[nk:]]
        carry_t = [_as(instantiate(t), a) for t, a, f in zip(out_t[:nk], k_av, k_nz) if f]
        return outs[:nk] + carry_t + outs[nk:] + _pick(out_t[nk:], live[nk:])
    graph, consts, _ = make_graph_flat(fun, in_avals)
    return graph, consts, found[0], found[1]


def _scan_jvp(primals, tangents, *, body, length, reverse, num_consts, num_carry):
    nc, nk = num_consts, num_carry
    nz = [type(t) is not Zero and _inexact(v.aval) for t, v in zip(tangents, body.invars)]
    graph, consts_g, nz, y_nz = _fixpoint(lambda flags: _jvp_body(body, nc, nk, flags), nz, nc, nk)
    c_nz, k_nz, x_nz = _split(nz, nc, nk)
    consts, init, xs = _split(primals, nc, nk)
    c_t, k_t, x_t = _split(tangents, nc, nk)
    init_t = [_as(instantiate(t), _strong(v.aval))
              for t, v, f in zip(k_t, body.invars[nc:], k_nz) if f]
    outs = _bind(consts_g, consts + _pick(c_t, c_nz), init + init_t, xs + _pick(x_t, x_nz),
                 graph, length, reverse)
    nkt, ny = len(init_t), len(body.outvars) - nk
    carry, ys = outs[:nk], outs[nk + nkt:nk + nkt + ny]
    if _level(carry + ys) > _level(primals):  # recorded with the tangents (linearize): the
        carry, ys = _split(scan_p.bind(*primals, body=body, length=length, reverse=reverse,
                                       num_consts=nc, num_carry=nk), 0, nk)[1:]  # primals alone
    carry_t, ys_t = iter(outs[nk:nk + nkt]), iter(outs[nk + nkt + ny:])
    return carry + ys, ([next(carry_t) if f else Zero(aval_of(c)) for c, f in zip(carry, k_nz)]
                        + [next(ys_t) if f else Zero(aval_of(y)) for y, f in zip(ys, y_nz)])


# --- batch: the body batched, carries at axis 0, xs and ys at axis 1 -------------------------
def _names_axis(graph: Graph, name) -> bool:
    """Whether a collective over the axis ``name`` is in ``graph`` (or its sub-graphs)."""
    return name is not None and any(
        e.params.get("axis_name", None) == name or any(
            isinstance(g, Graph) and _names_axis(g, name)
            for p in e.params.values() for g in (p if isinstance(p, tuple) else (p,)))
        for e in graph.eqns)


def _batch_body(body, nc, nk, axis, batched):
    """The batched body for inputs batched where ``batched`` (carries at axis 0 forced
    where ``batched`` says); also which carries and ys come out batched. The body runs
    under a batch level of the caller's ``axis``, so its collectives reduce over it."""
    vmap = loaded("transforms._vmap")
    size = axis.size
    avals = [v.aval for v in body.invars]
    in_avals = [a.update(shape=(size, *a.shape)) if b else a for a, b in zip(avals, batched)]
    k_b, found = batched[nc:nc + nk], []

    def fun(*args):
        with new_main(vmap.BatchTrace, axis) as main:
            outs = eval_graph(body, [vmap.BatchTracer(main.trace, a, 0) if b else a
                                     for a, b in zip(args, batched)])
            pairs = [(o.val, o.bdim) if isinstance(o, vmap.BatchTracer) and o._trace.main is main
                     else (o, None) for o in outs]
        found[:] = [[d is not None for _, d in pairs[:nk]], [d is not None for _, d in pairs[nk:]]]
        res = []
        for j, ((o, d), v) in enumerate(zip(pairs, body.outvars)):
            o = _as(o, _out_aval(v)) if d is None else move_to_front(o, d)
            res.append(at_front(o, None, size) if d is None and j < nk and k_b[j] else o)
        return res
    graph, consts, _ = make_graph_flat(fun, in_avals)
    return graph, consts, found[0], found[1]


def _scan_batch(vals, dims, *, body, length, reverse, num_consts, num_carry, axis):
    nc, nk = num_consts, num_carry
    params = dict(body=body, length=length, reverse=reverse, num_consts=nc, num_carry=nk)
    batched = [d is not None for d in dims]
    if not any(batched) and not _names_axis(body, axis.name):
        return scan_p.bind(*vals, **params), [None] * len(body.outvars)
    size = axis.size
    graph, consts_g, batched, y_b = _fixpoint(lambda flags: _batch_body(body, nc, nk, axis, flags),
                                              batched, nc, nk)
    consts, init, xs = _split(vals, nc, nk)
    c_d, k_d, x_d = _split(dims, nc, nk)
    consts = [move_to_front(v, d) for v, d in zip(consts, c_d)]
    init = [at_front(v, d, size) if b else v
            for v, d, b in zip(init, k_d, batched[nc:nc + nk])]
    xs = [v if d is None else move_to(v, d, 1) for v, d in zip(xs, x_d)]
    outs = _bind(consts_g, consts, init, xs, graph, length, reverse)
    return outs, ([0 if b else None for b in batched[nc:nc + nk]]
                  + [1 if b else None for b in y_b])


# --- emit (jit): a for loop over the body's generated function ------------------------------
def _prepared(body: Graph, known=None):
    """The optimised body, with the operands ``known`` (position -> constant) written into
    it, without the inputs it does not read; and the positions of those it reads."""
    from transforms.compiler.passes import optimize
    if known:
        env = {id(body.invars[k]): x for k, x in known.items()}
        sub = lambda x: env.get(id(x), x) if type(x) is Var else x  # noqa: E731
        body = Graph(body.invars, [Eqn(e.prim, [sub(x) for x in e.inputs], e.params, e.outvars,
                                       e.source) for e in body.eqns], map(sub, body.outvars))
    body = optimize(body)
    used = {id(x) for e in body.eqns for x in e.inputs if type(x) is Var}
    used.update(id(v) for v in body.outvars if type(v) is Var)
    keep = [k for k, v in enumerate(body.invars) if id(v) in used]
    return Graph([body.invars[k] for k in keep], body.eqns, body.outvars), keep


@emitter()
def _scan_emit(ctx, eqn, args, out=None):
    p = eqn.params
    nc, nk, n = p["num_consts"], p["num_carry"], p["length"]
    body, keep = _prepared(p["body"], {k: x for k, x in enumerate(eqn.inputs[:nc])
                                       if type(x) is not Var})  # the compiler folds them
    fn = ctx.function(body, "scan_body")
    consts, init, xs = _split(args, nc, nk)
    carry = [ctx.fresh("carry") for _ in init]
    y_avals = [_out_aval(v) for v in body.outvars[nk:]]
    ys, y = [ctx.fresh("ys") for _ in y_avals], [ctx.fresh("y") for _ in y_avals]
    i = ctx.fresh("i")
    if carry:
        ctx.line(f"{', '.join(carry)} = {', '.join(init)}")
    for name, a in zip(ys, y_avals):
        ctx.line(f"{name} = {ctx.xp}.empty({ctx.literal((n, *a.shape))}, "
                 f"dtype={ctx.literal(a.dtype)})")
    inputs = consts + carry + [f"{x}[{i}]" for x in xs]
    call = f"{fn}({', '.join(inputs[k] for k in keep)})"
    targets = carry + y
    with ctx.block(f"for {i} in {f'reversed(range({n}))' if p['reverse'] else f'range({n})'}:"):
        ctx.line(f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {call}"
                 if targets else call)
        for name, t in zip(ys, y):
            ctx.line(f"{name}[{i}] = {t}")
    results = carry + ys
    return f"{', '.join(results)}{',' if len(results) == 1 else ''}" if results else "None"


scan_p.jvp, scan_p.batch, scan_p.emit = _scan_jvp, _scan_batch, _scan_emit
_scan_batch.needs_axis = True  # the body's collectives reduce over the caller's axis

from fx.prims import scan_rules  # noqa: E402, F401  (reverse mode: vjp_fwd, vjp_bwd, vjp)
