"""Reverse mode of ``scan`` (``fx.prims.scan``): a forward that saves the carries, then a
reverse scan of the body's vjp.

``vjp_fwd`` is one scan of the body that also stacks the carry each step starts from (the
residuals); ``vjp_bwd`` scans backwards a step that re-runs the body on its saved carry
under the tape and pulls the step's cotangents back. A const's cotangent is a sum over the
steps: summed in the backward scan's carry, except where the const reaches the step only
through products ``dot_general(per-step value, f(consts))``: there the step emits the
product's output cotangent, and after the loop one contraction over the stacked steps
gives the const's cotangent (``W_hh``'s in an RNN: one matmul instead of one per step).
Everything is scans and fx operations, so the backward can be differentiated again,
batched and jitted. ``vjp`` (the direct rule) recomputes the residuals first.

Example:
    >>> import fx, fx.numpy as fnp
    >>> from transforms import grad
    >>> grad(lambda x: fx.lax.scan(lambda c, x: (c * x, c), 1.0, x)[0])(fnp.arange(1.0, 4.0))
    Array([6., 3., 2.], dtype=float32)
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from fx.config import config
from fx.core.ad import Zero, loaded
from fx.core.batching import move_to
from fx.core.graph import Var
from fx.core.primitive import bind
from fx.core.staging import make_graph_flat
from fx.prims.linalg import dot_general_p
from fx.prims.scan import (
    _as,
    _bind,
    _inexact,
    _out_aval,
    _outs,
    _pick,
    _split,
    _strong,
    _taker,
    _zeros,
    scan_p,
)


def _ct(ct, aval):
    """A cotangent as an array of ``aval``'s type (zeros for none)."""
    return _zeros(aval) if ct is None or type(ct) is Zero else _as(ct, aval)


# --- loop invariants and the products whose const cotangent waits for the end ---------------
def _invariants(body, nc: int):
    """The body's values computed from its consts alone: ``{id(var): const positions it
    depends on}``, and the indices of the equations computing them."""
    dep = {id(v): frozenset((j,)) for j, v in enumerate(body.invars[:nc])}
    eqns = set()
    for k, e in enumerate(body.eqns):
        ins = [x for x in e.inputs if type(x) is Var]
        if not e.prim.effect and all(id(x) in dep for x in ins):
            deps = frozenset().union(*(dep[id(x)] for x in ins))
            dep.update((id(o), deps) for o in e.outvars)
            eqns.add(k)
    return dep, eqns


def _deferrable(body, dep, inv, c_w) -> dict:
    """``{eqn index: operand position}`` of the products ``dot_general`` of a per-step value
    and an invariant depending on a differentiated const."""
    out = {}
    for k, e in enumerate(body.eqns):
        if e.prim is not dot_general_p or k in inv:
            continue
        fixed = [p for p, x in enumerate(e.inputs) if type(x) is not Var or id(x) in dep]
        w = e.inputs[fixed[0]] if len(fixed) == 1 else None
        if type(w) is Var and _inexact(w.aval) and any(c_w[j] for j in dep[id(w)]):
            out[k] = fixed[0]
    return out


def _per_step(body, dep, inv, defer) -> set:
    """The consts that reach the step other than through the deferred products."""
    direct = set()
    for k, e in enumerate(body.eqns):
        if k not in inv:
            for p, x in enumerate(e.inputs):
                if type(x) is Var and id(x) in dep and defer.get(k) != p:
                    direct |= dep[id(x)]
    for v in body.outvars:
        if type(v) is Var and id(v) in dep:
            direct |= dep[id(v)]
    return direct


def _eval_invariants(body, inv, targets, env: dict) -> dict:
    """``env`` (``{id(var): value}`` holding the consts) with the invariant equations that
    ``targets`` need evaluated."""
    want, ks = {id(v) for v in targets}, []
    for k in reversed(range(len(body.eqns))):
        e = body.eqns[k]
        if k in inv and any(id(o) in want for o in e.outvars):
            ks.append(k)
            want.update(id(x) for x in e.inputs if type(x) is Var)
    for k in reversed(ks):
        e = body.eqns[k]
        out = bind(e.prim, *[env[id(x)] if type(x) is Var else x for x in e.inputs], **e.params)
        env.update(zip(map(id, e.outvars), out if e.prim.multiple_results else (out,)))
    return env


class _Undeferred(Exception):
    """Staging found deferred products whose per-step operand is not differentiated."""

    def __init__(self, eqns):
        super().__init__(eqns)
        self.eqns = eqns


def _capture(pull, box: list):
    def captured(ct):
        box.append(ct)
        return pull(ct)
    return captured


# --- the backward step -----------------------------------------------------------------------
def _bwd_step(body, nc, nk, k_f, c_acc, x_w, y_nz, inv, defer, emit_a, same):
    """One backward step: ``(consts; carry cts, const-ct sums; xs, carries, y cts) ->
    (carry cts, const-ct sums; x cts; deferred products' output cts, but those that are an
    x ct (``same`` gets ``{eqn index: its position among the x cts}``); their per-step
    operands where ``emit_a``)``."""
    avals = [v.aval for v in body.invars]
    nx = len(avals) - nc - nk
    diff = [i for i, w in enumerate(c_acc + k_f + x_w) if w]
    tape, transpose = loaded("transforms.tape"), loaded("transforms.transpose")

    def step(*args):
        take = _taker(args)
        consts, ct_k, acc = take(nc), take(sum(k_f)), take(sum(c_acc))
        xs, carry, ct_y = take(nx), take(nk), take(sum(y_nz))
        full = consts + carry + xs
        fixed = _eval_invariants(body, inv, [body.eqns[k].inputs[p] for k, p in defer.items()],
                                 dict(zip(map(id, body.invars[:nc]), consts)))
        zs, per_step, undeferred = {}, {}, []

        def f(*d):
            main = d[0]._trace.main if d else None
            env = dict(zip(map(id, body.invars), full))
            env.update(zip((id(body.invars[i]) for i in diff), d))
            read = lambda x: env[id(x)] if type(x) is Var else x  # noqa: E731
            for k, e in enumerate(body.eqns):
                ins = [read(x) for x in e.inputs]
                if k in defer:  # the invariant operand untraced: its cotangent waits
                    ins[defer[k]] = fixed[id(e.inputs[defer[k]])]
                out = bind(e.prim, *ins, **e.params)
                if k in defer:
                    a = ins[1 - defer[k]]
                    if not (isinstance(out, tape.VJPTracer) and out._trace.main is main):
                        undeferred.append(k)
                    else:
                        zs[k], per_step[k] = out.var, a.primal
                env.update(zip(map(id, e.outvars), out if e.prim.multiple_results else (out,)))
            return [_as(read(v), _out_aval(v)) for v in body.outvars]
        _, _, recorded = tape.vjp_flat(f, [full[i] for i in diff])
        if undeferred:
            raise _Undeferred(undeferred)
        boxes = {id(v): [] for v in zs.values()}
        for entry in recorded.eqns:
            if len(entry.outvars) == 1 and id(entry.outvars[0]) in boxes:
                entry.pull = _capture(entry.pull, boxes[id(entry.outvars[0])])
        k_it, y_it = iter(ct_k), iter(ct_y)
        out_cts = ([next(k_it) if f else None for f in k_f]
                   + [next(y_it) if f else None for f in y_nz])
        in_cts = dict(zip(diff, transpose.backward_pass(recorded, out_cts)))
        new_k = [_ct(in_cts.get(nc + j), _strong(avals[nc + j])) for j in range(nk) if k_f[j]]
        sums = iter(acc)
        new_acc = [s if in_cts.get(j) is None else s + _ct(in_cts[j], _strong(avals[j]))
                   for j, s in ((j, next(sums)) for j in range(nc) if c_acc[j])]
        ct_x = [_ct(in_cts.get(nc + nk + j), _strong(avals[nc + nk + j]))
                for j in range(nx) if x_w[j]]
        ct_z = {k: _ct((boxes[id(zs[k])] or [None])[0], _strong(body.eqns[k].outvars[0].aval))
                for k in defer}
        same.update((k, j) for k, z in ct_z.items() for j, c in enumerate(ct_x) if c is z)
        return (new_k + new_acc + ct_x + [z for k, z in ct_z.items() if k not in same]
                + [per_step[k] for k in defer if emit_a[k]])
    return step


def _contract(body, consts, defer, c_w, a_stacks, ct_stacks) -> dict:
    """The deferred part of the consts' cotangents, ``{position: ct}``: each product's
    transpose with the steps stacked (a contraction over them), pulled back to the consts
    through the invariant equations."""
    tape, transpose = loaded("transforms.tape"), loaded("transforms.transpose")
    nc = len(consts)
    dep, inv = _invariants(body, nc)
    cw = sorted({j for k, p in defer.items() for j in dep[id(body.eqns[k].inputs[p])] if c_w[j]})

    def stacked(*vals):
        env = dict(zip(map(id, body.invars[:nc]), consts))
        env.update(zip((id(body.invars[j]) for j in cw), vals))
        env = _eval_invariants(body, inv, [body.eqns[k].inputs[p] for k, p in defer.items()],
                               env)
        outs = []
        for (k, p), a in zip(defer.items(), a_stacks):
            e = body.eqns[k]
            ops, dims = [a, a], [0, 0]
            ops[p], dims[p] = env[id(e.inputs[p])], None
            out, d = dot_general_p.batch(ops, dims, **e.params)
            outs.append(move_to(out, d, 0))
        return outs
    _, _, recorded = tape.vjp_flat(stacked, [consts[j] for j in cw])
    return dict(zip(cw, transpose.backward_pass(recorded, list(ct_stacks))))


# --- the staged graphs, cached while their body is ------------------------------------------
_STAGED: OrderedDict = OrderedDict()  # (kind, id(body), flags) -> (body, staged)
_STAGED_LOCK = threading.Lock()


def _cached(key, body, make):
    """``make()``, or what it gave for this ``key`` while ``body`` is alive in the cache (so
    eager calls reuse the graphs, and the loops compiled for them)."""
    key = (*key, id(body), config.debug_nans)
    with _STAGED_LOCK:
        hit = _STAGED.get(key)
        if hit is not None and hit[0] is body:
            _STAGED.move_to_end(key)
            return hit[1]
    staged = make()
    with _STAGED_LOCK:
        _STAGED[key] = (body, staged)
        while len(_STAGED) > 128:
            _STAGED.popitem(last=False)
    return staged


def _forward(body, nc, nk):
    """The body, also returning the carry it starts from."""
    return make_graph_flat(lambda *a: _outs(body, a) + list(a[nc:nc + nk]),
                           [v.aval for v in body.invars])[:2]


def _backward(body, nc, nk, c_w, x_w, y_nz):
    """The staged backward step and its layout: ``(graph, consts, per-step const flags,
    deferred products, which emit their per-step operand, which output ct is an x ct)``."""
    avals = [v.aval for v in body.invars]
    c_av, k_av, x_av = _split(avals, nc, nk)
    k_f = [_inexact(a) for a in k_av]
    y_av = [_strong(_out_aval(v)) for v in _pick(body.outvars[nk:], y_nz)]
    dep, inv = _invariants(body, nc)
    defer = _deferrable(body, dep, inv, c_w)
    stacked = {id(v) for v in body.invars[nc:]}
    while True:  # stage the step; drop the products whose per-step operand is not traced
        c_acc = [w and j in _per_step(body, dep, inv, defer) for j, w in enumerate(c_w)]
        emit_a = {k: id(body.eqns[k].inputs[1 - p]) not in stacked for k, p in defer.items()}
        b_avals = (c_av + [_strong(a) for a in _pick(k_av, k_f)] + [_strong(a) for a in
                   _pick(c_av, c_acc)] + x_av + k_av + y_av)
        same = {}
        try:
            graph, consts, _ = make_graph_flat(
                _bwd_step(body, nc, nk, k_f, c_acc, x_w, y_nz, inv, defer, emit_a, same),
                b_avals)
            return graph, consts, c_acc, defer, emit_a, same
        except _Undeferred as e:
            defer = {k: p for k, p in defer.items() if k not in e.eqns}


# --- the rules -------------------------------------------------------------------------------
def _scan_vjp_fwd(primals, *, body, length, reverse, num_consts, num_carry):
    """The scan, also stacking the carry each step starts from: ``(outs, carries)``."""
    nc, nk = num_consts, num_carry
    fwd, fwd_consts = _cached(("fwd", nc, nk), body, lambda: _forward(body, nc, nk))
    consts, init, xs = _split(primals, nc, nk)
    outs = _bind(fwd_consts, consts, init, xs, fwd, length, reverse)
    return outs[:len(body.outvars)], outs[len(body.outvars):]


def _scan_vjp_bwd(carries, cts, outs, primals, marks, *, body, length, reverse, num_consts,
                  num_carry):
    nc, nk = num_consts, num_carry
    avals = [v.aval for v in body.invars]
    want = [m is not None and _inexact(a) for m, a in zip(marks, avals)]
    if not any(want) or all(type(c) is Zero for c in cts):
        return [None] * len(primals)
    c_av, k_av, _ = _split(avals, nc, nk)
    c_w, _, x_w = _split(want, nc, nk)
    k_f = [_inexact(a) for a in k_av]
    y_nz = [type(c) is not Zero for c in cts[nk:]]
    bwd, bwd_consts, c_acc, defer, emit_a, same = _cached(
        ("bwd", nc, nk, tuple(c_w), tuple(x_w), tuple(y_nz)), body,
        lambda: _backward(body, nc, nk, c_w, x_w, y_nz))
    consts, _, xs = _split(primals, nc, nk)
    ct_k = [_ct(c, _strong(a)) for c, a, f in zip(cts, k_av, k_f) if f]
    acc = [_zeros(a) for a in _pick(c_av, c_acc)]
    res = _bind(bwd_consts, consts, ct_k + acc, xs + list(carries) + _pick(cts[nk:], y_nz),
                bwd, length, not reverse)
    take = _taker(res)
    ct_init, ct_acc = iter(take(len(ct_k))), iter(take(len(acc)))
    ct_xs, ct_z = take(sum(x_w)), iter(take(len(defer) - len(same)))
    a_out, late = iter(take(sum(emit_a.values()))), {}
    if defer:
        stacks = dict(zip(map(id, body.invars[nc:]), list(carries) + xs))
        ct_z = [ct_xs[same[k]] if k in same else next(ct_z) for k in defer]
        a_stacks = [next(a_out) if emit_a[k] else stacks[id(body.eqns[k].inputs[1 - p])]
                    for k, p in defer.items()]
        late = _contract(body, consts, defer, c_w, a_stacks, ct_z)
    ct_consts = []
    for j, w in enumerate(c_w):
        parts = [next(ct_acc)] if c_acc[j] else []
        parts += [late[j]] if late.get(j) is not None else []
        ct = None if not parts else parts[0] if len(parts) == 1 else parts[0] + parts[1]
        ct_consts.append(_ct(ct, _strong(c_av[j])) if w else None)
    ct_init, ct_xs = [next(ct_init) if f else None for f in k_f], iter(ct_xs)
    return (ct_consts + [c if w else None for c, w in zip(ct_init, want[nc:nc + nk])]
            + [next(ct_xs) if w else None for w in x_w])


def _scan_vjp(cts, outs, primals, marks, **params):
    """The direct rule, for callers without the forward's residuals: recompute them."""
    if all(type(c) is Zero for c in cts):
        return [None] * len(primals)
    return _scan_vjp_bwd(_scan_vjp_fwd(primals, **params)[1], cts, outs, primals, marks, **params)


scan_p.vjp_fwd, scan_p.vjp_bwd, scan_p.vjp = _scan_vjp_fwd, _scan_vjp_bwd, _scan_vjp
