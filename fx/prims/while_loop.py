"""While loops: ``while_p`` repeats a body sub-graph while a cond sub-graph holds.

``while_p.bind(*cond_consts, *body_consts, *init, cond_graph=, body_graph=,
cond_nconsts=, body_nconsts=, max_steps=)``: ``cond_graph`` takes ``(*cond_consts,
*carry)`` and returns a bool scalar, ``body_graph`` takes ``(*body_consts, *carry)`` and
returns the next carry (same types). ``max_steps`` (None or an int N) bounds the loop:
it stops after N steps even if the condition still holds.

Rules:

* jvp: a while over ``(carry, tangents)``; which carry tangents are non-zero is a
  fixpoint (a tangent that starts at zero may become non-zero in the body);
* vjp: only with ``max_steps``. The loop runs again saving the carry before each step
  (N slots), then a second bounded loop walks the steps actually taken backwards,
  pulling the cotangent through the body's vjp and summing the body constants'
  cotangents. Both loops are ``while_p`` themselves, so the result can be differentiated
  again, batched and jitted;
* batch: which carry leaves are batched is a fixpoint; a batched predicate runs the
  loop until every example is done, finished examples frozen with a select;
* emit (jit): a Python ``while`` (``for ... in range(N)`` with a ``break`` when bounded)
  over generated cond and body functions.

Example:
    >>> from fx.core.staging import make_graph_flat
    >>> from fx.prims.while_loop import while_p
    >>> i32 = [fx.ShapedArray((), "int32")]
    >>> below = make_graph_flat(lambda c: c < 10, i32)[0]
    >>> step = make_graph_flat(lambda c: c + 3, i32)[0]
    >>> while_p.bind(fx.asarray(0), cond_graph=below, body_graph=step, cond_nconsts=0,
    ...              body_nconsts=0, max_steps=None, save=False)
    [Array(12, dtype=int32)]
"""
from __future__ import annotations

import numpy as np

from fx import backend
from fx.array import wrap
from fx.core.ad import Zero, instantiate, is_linear, loaded
from fx.core.aval import aval_of
from fx.core.batching import move_to_front
from fx.core.primitive import Primitive
from fx.core.rule_kit import emitter
from fx.errors import op_error
from fx.prims.cond import (
    batch_eval,
    batch_front,
    batch_graph,
    compiled,
    in_avals,
    jvp_eval,
    names_axis,
    operands,
    optimized,
    run_graph,
    stage,
    stage_masked,
    to_buffers,
    top_level,
    typed_args,
    vjp_eval,
)

__all__ = ["while_p", "NEEDS_A_BOUND"]

NEEDS_A_BOUND = (
    "reverse-mode differentiation (grad, vjp, jacrev) of while_loop needs a bound on the "
    "number of steps: pass max_steps=N (the loop then stops after at most N steps, and its "
    "backward pass stores the carry of each step), or use fori_loop / scan with static "
    "bounds. Forward mode (jvp, jacfwd) works without a bound.")


def _split(args, nc: int, nb: int):
    return list(args[:nc]), list(args[nc:nc + nb]), list(args[nc + nb:])


def _inexact(aval) -> bool:
    return aval.dtype.kind in "fc"


def _while_abstract(*args, cond_graph, body_graph, cond_nconsts, body_nconsts, max_steps,
                    save):
    carry = in_avals(body_graph)[body_nconsts:]
    if len(args) != cond_nconsts + body_nconsts + len(carry):
        raise op_error(TypeError, "while", f"expects {cond_nconsts + body_nconsts + len(carry)} "
                       f"operands, got {len(args)}", *args)
    if save and max_steps is None:
        raise op_error(ValueError, "while", "save=True needs max_steps", *args)
    return carry + (_stack_avals(carry, max_steps) if save else [])


def _stack_avals(avals, steps: int) -> list:
    return [a.update(shape=(steps,) + a.shape, weak_type=False) for a in avals]


def _while_impl(*args, cond_graph, body_graph, cond_nconsts, body_nconsts, max_steps, save):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    avals = in_avals(body_graph)[body_nconsts:]
    cc, bc = operands(cc, in_avals(cond_graph)), operands(bc, in_avals(body_graph))
    carry = operands(carry, avals)
    stacks = []
    if save:  # fresh buffers, written in place: the carry before each step
        stacks = [backend.array_module(backend.device_of(c._buffer())).zeros(a.shape, a.dtype)
                  for c, a in zip(carry, _stack_avals(avals, max_steps))]
    test = lambda c: bool(run_graph(cond_graph, cc + c)[0])  # noqa: E731
    step = lambda c: operands(run_graph(body_graph, bc + c), avals)  # noqa: E731
    switch = _COMPILE_WORK // max(1, len(cond_graph.eqns) + len(body_graph.eqns))
    steps = 0
    while (max_steps is None or steps < max_steps) and test(carry):
        for stack, c in zip(stacks, carry):
            stack[steps] = c._buffer()
        carry = step(carry)
        steps += 1
        if steps == switch and carry:  # a long loop: the rest runs as generated code
            test, step = _compiled_steps(cond_graph, body_graph, cc, bc, carry[0]._buffer())
    return to_buffers(carry, avals) + stacks


_COMPILE_WORK = 256  # steps x equations run op by op before the loop switches to compiled code


def _compiled_steps(cond_graph, body_graph, cc, bc, like):
    """The loop's test and step as compiled functions of Arrays."""
    test, step = compiled(cond_graph, like), compiled(body_graph, like)
    cc, bc = [x._buffer() for x in cc], [x._buffer() for x in bc]
    return (lambda c: bool(test(*cc, *[x._buffer() for x in c])[0]),
            lambda c: [wrap(b) for b in step(*bc, *[x._buffer() for x in c])])


while_p = Primitive("while", impl=_while_impl, abstract_eval=_while_abstract,
                    multiple_results=True)


def _bind(cond_graph, cond_consts, body_graph, body_consts, init, max_steps, save=False):
    return while_p.bind(*cond_consts, *body_consts, *init, cond_graph=cond_graph,
                        body_graph=body_graph, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts), max_steps=max_steps, save=save)


# --- forward mode --------------------------------------------------------------------------
def _while_jvp(primals, tangents, *, cond_graph, body_graph, cond_nconsts, body_nconsts,
               max_steps, save):
    nc, nb = cond_nconsts, body_nconsts
    cc, bc, init = _split(primals, nc, nb)
    _, bc_t, init_t = _split(tangents, nc, nb)
    carry_av = in_avals(body_graph)[nb:]
    bc_nz = [type(t) is not Zero for t in bc_t]
    nz = [type(t) is not Zero and _inexact(a) for t, a in zip(init_t, carry_av)]
    bc_tans = [t for t, z in zip(bc_t, bc_nz) if z]
    bc_av = [aval_of(x) for x in bc + bc_tans]
    n = len(init)

    def body(nz_in):
        def fun(*xs):
            consts, ts, carry = xs[:nb], iter(xs[nb:len(bc_av)]), xs[len(bc_av):]
            t_carry = iter(carry[n:])
            outs, out_t = jvp_eval(body_graph, list(consts) + list(carry[:n]), [
                next(ts) if z else Zero(a) for z, a in zip(bc_nz, bc_av)] + [
                next(t_carry) if z else Zero(a) for z, a in zip(nz_in, carry_av)])
            return outs + [t if _inexact(a) else Zero(a) for t, a in zip(out_t, carry_av)]
        avals = bc_av + carry_av + [a for a, z in zip(carry_av, nz_in) if z]
        return stage_masked(fun, avals, [True] * n + nz_in)
    for _ in range(n + 1):  # a fixpoint: tangents that become non-zero join the carry
        body_g, body_c, mask = body(nz)
        grown = [a or b for a, b in zip(nz, mask[n:])]
        if grown == nz:
            break
        nz = grown
    tans = [instantiate(t) for t, z in zip(init_t, nz) if z]
    cond_g, cond_c = stage(lambda *xs: run_graph(cond_graph, list(xs[:nc + n])),
                           [aval_of(x) for x in cc] + carry_av + [a for a, z in zip(carry_av, nz)
                                                                   if z])
    outs = _bind(cond_g, cond_c + cc, body_g, body_c + bc + bc_tans, init + tans, max_steps,
                 save)
    k = n + len(tans)  # the loop's carry: primals, then the non-zero tangents
    carry_out, stack_out = outs[:k], outs[k:]
    if top_level(bc_tans + tans) > top_level(primals):  # see cond's jvp rule
        primal_out = while_p.bind(*primals, cond_graph=cond_graph, body_graph=body_graph,
                                  cond_nconsts=nc, body_nconsts=nb, max_steps=max_steps,
                                  save=save)
    else:
        primal_out = carry_out[:n] + stack_out[:n]
    it, it_stack = iter(carry_out[n:]), iter(stack_out[n:])
    out_t = [next(it) if z else Zero(a) for z, a in zip(nz, carry_av)]
    if save:
        out_t += [next(it_stack) if z else Zero(a)
                  for z, a in zip(nz, _stack_avals(carry_av, max_steps))]
    return primal_out, out_t


# --- reverse mode (bounded loops) ----------------------------------------------------------
def _forward_saving(cc, bc, init, cond_graph, body_graph, nb, steps):
    """Run the loop again, saving the carry before each step (``save=True``) next to a
    step counter; returns the number of steps taken and one stack per carry leaf."""
    counter = loaded("fx.numpy").zeros((), np.int32)
    n, nc = len(init), len(cc)
    avals = [aval_of(x) for x in [counter] + init]
    cond_g, cond_c = stage(lambda *xs: run_graph(cond_graph, list(xs[:nc]) + list(xs[nc + 1:])),
                           [aval_of(x) for x in cc] + avals)

    def body(*xs):
        consts, i, carry = list(xs[:nb]), xs[nb], list(xs[nb + 1:])
        return [i + 1] + run_graph(body_graph, consts + carry)
    body_g, body_c = stage(body, [aval_of(x) for x in bc] + avals)
    outs = _bind(cond_g, cond_c + cc, body_g, body_c + bc, [counter] + init, steps, save=True)
    return outs[0], outs[n + 2:]


def _at(stack, k):
    """``stack[k]`` for a traced step ``k`` (in range)."""
    shape = aval_of(stack).shape
    piece = loaded("fx.prims.indexing").dynamic_slice_p.bind(
        stack, k, *[0] * (len(shape) - 1), slice_sizes=(1,) + shape[1:])
    return loaded("fx.prims.shape").reshape_p.bind(piece, new_sizes=shape[1:])


def _backward(bc, stacks, taken, ct_carry, ct_stacks, body_graph, nb, bc_diff, steps):
    """Pull ``ct_carry`` (and the cotangents ``ct_stacks`` of the saved carries, ``Zero``
    where none) back through the ``taken`` steps saved in ``stacks``; returns the
    cotangents of the initial carry (float leaves) and of the ``bc_diff`` body constants."""
    fnp = loaded("fx.numpy")
    carry_av = in_avals(body_graph)[nb:]
    floats = [_inexact(a) for a in carry_av]
    float_av = [a for a, f in zip(carry_av, floats) if f]
    acc = [fnp.zeros(aval_of(x).shape, aval_of(x).dtype) for x, d in zip(bc, bc_diff) if d]
    added = [c for c in ct_stacks if type(c) is not Zero]
    n_ct, lead = len(ct_carry), len(bc) + len(stacks) + len(added)

    def body(*xs):
        consts, saved = list(xs[:len(bc)]), xs[len(bc):len(bc) + len(stacks)]
        extra = iter(xs[len(bc) + len(stacks):lead])
        k, cts, sums = xs[lead], xs[lead + 1:lead + 1 + n_ct], xs[lead + 1 + n_ct:]
        it = iter(cts)
        got = vjp_eval(body_graph, consts + [_at(s, k) for s in saved], bc_diff + floats,
                       [next(it) if f else Zero(a) for f, a in zip(floats, carry_av)])
        got_bc, got_carry = got[:len(acc)], got[len(acc):]
        new = [_typed(instantiate(c), a) for c, a in zip(got_carry, float_av)]
        new = [c if type(s) is Zero else c + _at(next(extra), k)
               for c, s in zip(new, ct_stacks)]
        return [k - 1] + new + [s + instantiate(c) for s, c in zip(sums, got_bc)]
    carry = [taken - 1] + list(ct_carry) + acc
    body_g, body_c = stage(body, [aval_of(x) for x in bc + list(stacks) + added + carry])
    cond_g, cond_c = stage(lambda k, *rest: [k >= 0], [aval_of(x) for x in carry])
    outs = _bind(cond_g, cond_c, body_g, body_c + bc + list(stacks) + added, carry, steps)
    return outs[1:1 + n_ct], outs[1 + n_ct:]


def _typed(x, aval):
    return x if x.dtype == aval.dtype else x.astype(aval.dtype)


def _while_vjp(cts, outs, primals, marks, *, cond_graph, body_graph, cond_nconsts, body_nconsts,
               max_steps, save):
    nc, nb = cond_nconsts, body_nconsts
    cc, bc, init = _split(primals, nc, nb)
    _, bc_marks, init_marks = _split(marks, nc, nb)
    none = [None] * len(primals)
    if all(m is None for m in bc_marks + init_marks) or all(type(c) is Zero for c in cts):
        return none
    if max_steps is None:
        raise ValueError(NEEDS_A_BOUND)
    n = len(init)
    floats = [_inexact(a) for a in in_avals(body_graph)[nb:]]
    bc_diff = [m is not None and _inexact(aval_of(x)) for x, m in zip(bc, bc_marks)]
    ct_out = [instantiate(c) for c, f in zip(cts[:n], floats) if f]
    stack_av = _stack_avals([a for a, f in zip(in_avals(body_graph)[nb:], floats) if f],
                            max_steps)
    ct_stacks = ([c for c, f in zip(cts[n:], floats) if f] if save else
                 [Zero(a) for a in stack_av])
    if max_steps == 0:
        ct_init, ct_bc = ct_out, [None] * sum(bc_diff)
    else:
        taken, stacks = _forward_saving(cc, bc, init, cond_graph, body_graph, nb, max_steps)
        ct_init, ct_bc = _backward(bc, stacks, taken, ct_out, ct_stacks, body_graph, nb,
                                   bc_diff, max_steps)
    it_init, it_bc = iter(ct_init), iter(ct_bc)
    init_cts = [next(it_init) if f else None for f in floats]
    bc_cts = [next(it_bc) if d else None for d in bc_diff]
    return ([None] * nc + bc_cts +
            [c if m is not None else None for c, m in zip(init_cts, init_marks)])


# --- batching --------------------------------------------------------------------------------
def _while_batch(vals, dims, *, cond_graph, body_graph, cond_nconsts, body_nconsts, max_steps,
                 save, axis):
    fnp = loaded("fx.numpy")
    nc, nb = cond_nconsts, body_nconsts
    if all(d is None for d in dims) and not names_axis([cond_graph, body_graph], axis.name):
        outs = _bind(cond_graph, vals[:nc], body_graph, vals[nc:nc + nb], vals[nc + nb:],
                     max_steps, save)
        return outs, [None] * len(outs)
    size = axis.size
    vals = [v if d is None else move_to_front(v, d) for v, d in zip(vals, dims)]
    cc, bc, init = _split(vals, nc, nb)
    cc_d, bc_d, init_d = _split([None if d is None else 0 for d in dims], nc, nb)
    carry_av = in_avals(body_graph)[nb:]
    n = len(init)

    def batched_avals(avals, ds):
        return [a if d is None else a.update(shape=(size,) + a.shape) for a, d in zip(avals, ds)]

    def out_dims(batched):  # a saved stack is (steps, batch, ...)
        return [0 if b else None for b in batched] + ([1 if b else None for b in batched]
                                                      if save else [])
    carry_b = [d is not None for d in init_d]
    for _ in range(n + 1):  # a fixpoint: leaves the body makes batched join the batch
        carry_d = [0 if b else None for b in carry_b]
        avals = [aval_of(x) for x in bc] + batched_avals(carry_av, carry_d)
        body_g, body_c, out_b = batch_graph(body_graph, avals, bc_d + carry_d, axis, carry_b)
        grown = [a or b for a, b in zip(carry_b, out_b)]
        if grown == carry_b:
            break
        carry_b = grown
    cond_av = [aval_of(x) for x in cc] + batched_avals(carry_av, carry_d)
    cond_g, cond_c, (pred_b,) = batch_graph(cond_graph, cond_av, cc_d + carry_d, axis)
    if not pred_b:
        init = [batch_front(x, d, size, a) if b else x
                for x, d, a, b in zip(init, init_d, carry_av, carry_b)]
        outs = _bind(cond_g, cond_c + cc, body_g, body_c + bc, init, max_steps, save)
        return outs, out_dims(carry_b)
    # a batched predicate: loop while any example goes on, freezing those that are done
    init = [batch_front(x, d, size, a) for x, d, a in zip(init, init_d, carry_av)]
    carry_d = [0] * n
    cond_av = [aval_of(x) for x in cc] + [aval_of(x) for x in init]

    def any_going(*xs):
        ((p, _),) = batch_eval(cond_graph, xs, cc_d + carry_d, axis)
        return [fnp.any(p)]

    def step(*xs):
        consts, carry = list(xs[:nc + nb]), list(xs[nc + nb:])
        ((going, d),) = batch_eval(cond_graph, consts[:nc] + carry, cc_d + carry_d, axis)
        going = batch_front(going, d, size, aval_of(going))
        new = batch_eval(body_graph, consts[nc:] + carry, bc_d + carry_d, axis)
        return [fnp.where(fnp.reshape(going, (size,) + (1,) * len(a.shape)),
                          batch_front(o, d, size, a), old)
                for (o, d), old, a in zip(new, carry, carry_av)]
    any_g, any_c = stage(any_going, cond_av)
    step_g, step_c = stage(step, [aval_of(x) for x in cc + bc] + [aval_of(x) for x in init])
    outs = _bind(any_g, any_c + cc, step_g, step_c + cc + bc, init, max_steps, save)
    return outs, out_dims([True] * n)


# --- jit ------------------------------------------------------------------------------------
@emitter()
def _while_emit(ctx, eqn, args, out=None):
    p = eqn.params
    nc, nb = p["cond_nconsts"], p["body_nconsts"]
    carry_av = in_avals(p["body_graph"])[nb:]
    avals = in_avals(p["cond_graph"])[:nc] + in_avals(p["body_graph"])
    cc, bc, init = _split(typed_args(ctx, eqn.inputs, args, avals), nc, nb)
    cond_fn = ctx.function(optimized(p["cond_graph"]), "while_cond")
    body_fn = ctx.function(optimized(p["body_graph"]), "while_body")
    carry = [ctx.fresh("carry") for _ in init]
    lhs = ", ".join(carry) + ("," if len(carry) == 1 else "")
    test = f"{cond_fn}({', '.join(cc + carry)})[0]"
    step = f"{body_fn}({', '.join(bc + carry)})"
    if carry:
        ctx.line(f"{lhs} = {', '.join(init)}{',' if len(init) == 1 else ''}")
    saved = [ctx.fresh("saved") for _ in init] if p["save"] else []
    for name, a in zip(saved, _stack_avals(carry_av, p["max_steps"] or 0)):
        ctx.line(f"{name} = {ctx.xp}.zeros({a.shape!r}, dtype={ctx.literal(a.dtype)})")
    if p["max_steps"] is None:
        with ctx.block(f"while {test}:"):
            ctx.line(f"{lhs} = {step}" if carry else step)
    else:
        counter = ctx.fresh("step")
        with ctx.block(f"for {counter} in range({p['max_steps']}):"):
            with ctx.block(f"if not {test}:"):
                ctx.line("break")
            for name, c in zip(saved, carry):
                ctx.line(f"{name}[{counter}] = {c}")
            ctx.line(f"{lhs} = {step}" if carry else step)
    results = carry + saved
    return ", ".join(results) + ("," if len(results) == 1 else "") if results else "()"


def _while_transpose(cts, *inputs, **params):
    """A bounded loop linear in its ``Var`` inputs (recorded by linearize, e.g. in a
    custom_jvp rule): its transpose is its vjp at any point, zeros for the linear inputs."""
    point = [instantiate(Zero(x.aval)) if is_linear(x) else x for x in inputs]
    n_out = len(params["body_graph"].outvars) * (2 if params["save"] else 1)
    cts = cts if n_out > 1 else [cts]  # the backward pass's convention
    return _while_vjp(cts, None, point, [x if is_linear(x) else None for x in inputs], **params)


_while_batch.needs_axis = True  # collectives in the loop reduce over the caller's axis
while_p.jvp, while_p.vjp, while_p.batch, while_p.emit = (_while_jvp, _while_vjp, _while_batch,
                                                         _while_emit)
while_p.transpose = _while_transpose
