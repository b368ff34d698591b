"""Reverse mode's split rules (``vjp_fwd`` / ``vjp_bwd``) and their use by ``scan``: a
primitive's own forward saves residuals; a scan's gradient is two loops (forward and
backward), and a const reaching the body only through a matmul with a per-step value gets
its cotangent from one contraction after the loop. Everything is checked against unrolled
loops, to second order and under jit and vmap."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax, tree
from fx.core.ad import instantiate
from fx.core.graph import Graph
from fx.core.primitive import Primitive
from fx.prims.linalg import dot_general_p
from fx.prims.scan import scan_p
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import grad, hessian, jacfwd, jacrev, jit, value_and_grad, vjp, vmap

RNG = np.random.default_rng(7)
XS = f64(RNG.normal(size=(6, 2, 3)))      # 6 steps of a (2, 3) batch
W = f64(RNG.normal(size=(3, 3)) * 0.5)
U = f64(RNG.normal(size=(3,)) * 0.5)


# --- the tape hook on a toy primitive --------------------------------------------------------
CALLS = {"impl": 0, "fwd": 0, "bwd": 0}


def _cube_impl(x):
    CALLS["impl"] += 1
    return x ** 3


def _cube_fwd(primals):
    CALLS["fwd"] += 1
    (x,) = primals
    sq = x * x
    return sq * x, [sq]


def _cube_bwd(res, ct, out, primals, marks):
    CALLS["bwd"] += 1
    return [3.0 * res[0] * ct]


cube_p = Primitive("test_scan_grad_cube", impl=_cube_impl, abstract_eval=lambda a: a)
cube_p.jvp = lambda primals, tangents: (cube_p.bind(primals[0]),
                                        3.0 * primals[0] ** 2 * instantiate(tangents[0]))
cube_p.batch = lambda vals, dims: (cube_p.bind(vals[0]), dims[0])
cube_p.vjp_fwd, cube_p.vjp_bwd = _cube_fwd, _cube_bwd


def test_the_tape_runs_vjp_fwd_instead_of_the_primitive():
    for k in CALLS:
        CALLS[k] = 0
    x = f64(1.5)
    value, g = value_and_grad(lambda x: cube_p.bind(x) * 2.0)(x)
    close(value, 2 * 1.5 ** 3)
    close(g, 6 * 1.5 ** 2)
    assert CALLS == {"impl": 0, "fwd": 1, "bwd": 1}


def test_split_rules_nest():
    xs = f64([0.5, -1.0, 2.0])
    f = lambda x: cube_p.bind(x)  # noqa: E731
    close(grad(grad(f))(f64(1.5)), 6 * 1.5)
    close(hessian(lambda x: fnp.sum(f(x)))(xs), np.diag(6 * np.asarray(xs)))
    close(jacrev(jacrev(lambda x: fnp.sum(f(x))))(xs), np.diag(6 * np.asarray(xs)))
    close(jit(grad(f))(f64(1.5)), 3 * 1.5 ** 2)
    close(vmap(grad(f))(xs), 3 * np.asarray(xs) ** 2)
    check_grads(lambda x: fnp.sum(f(x)), (xs,), order=2, modes=("rev",))


# --- scan: two loops, not three --------------------------------------------------------------
def small(w, xs):
    c, ys = lax.scan(lambda c, x: (fnp.sin(c * w) + x, c * x), f64(0.3), xs)
    return c + fnp.sum(ys)


def test_eager_gradient_runs_two_loops(monkeypatch):
    loops = []
    impl = scan_p.impl
    monkeypatch.setattr(scan_p, "impl", lambda *a, **p: loops.append(p["reverse"]) or impl(*a, **p))
    xs = XS[:, 0, 0]
    value, g = value_and_grad(small, (0, 1))(f64(0.8), xs)
    assert loops == [False, True]  # the forward (saving its carries), then the backward
    close(value, small(f64(0.8), xs))
    check_grads(small, (f64(0.8), xs), order=2, modes=("rev",))


def _loops(f, *args):
    return sum(line.lstrip().startswith("for ") for line in
               jit(f).lower(*args).as_text().splitlines())


def test_jitted_value_and_gradient_is_two_loops():
    assert _loops(value_and_grad(small, (0, 1)), f64(0.8), XS[:, 0, 0]) == 2
    assert _loops(value_and_grad(rnn_loss, (0, 1, 2)), W, U, XS) == 2


# --- scan: const cotangents contracted after the loop ----------------------------------------
def rnn_loss(w, u, xs, reverse=False):
    """``h @ w`` inside the body, ``w`` closed over; ``u`` enters elementwise."""
    def step(h, x):
        h = fnp.tanh(h @ w + x * u)
        return h, fnp.sum(h ** 2, axis=-1)
    h, ys = lax.scan(step, fnp.zeros((2, 3), "float64"), xs, reverse=reverse)
    return fnp.sum(h) + fnp.sum(ys)


def unrolled(step, init, xs, reverse=False):
    n = tree.leaves(xs)[0].shape[0]
    carry, ys = init, [None] * n
    for i in (reversed(range(n)) if reverse else range(n)):
        carry, ys[i] = step(carry, tree.map(lambda x, i=i: x[i], xs))
    return carry, tree.map(lambda *y: fnp.stack(y), *ys)


def _dots_per_scan(f, *args) -> list:
    """The number of ``dot_general`` equations in each top-level scan's body."""
    def count(g: Graph):
        return sum(e.prim is dot_general_p for e in g.eqns)
    graph = jit(f).lower(*args).graph
    return [count(e.params["body"]) for e in graph.eqns if e.prim is scan_p]


@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_gradients_match_the_unrolled_loop(reverse):
    def ref(w, u, xs):
        h, ys = unrolled(lambda h, x: (lambda h: (h, fnp.sum(h ** 2, axis=-1)))(
            fnp.tanh(h @ w + x * u)), fnp.zeros((2, 3), "float64"), xs, reverse)
        return fnp.sum(h) + fnp.sum(ys)
    want = grad(ref, (0, 1, 2))(W, U, XS)
    f = lambda w, u, xs: rnn_loss(w, u, xs, reverse)  # noqa: E731
    for g in (grad(f, (0, 1, 2)), jit(grad(f, (0, 1, 2)))):
        for a, b in zip(g(W, U, XS), want):
            close(a, b, rtol=1e-10)


def test_the_backward_body_has_no_matmul_for_the_weight():
    # forward: h @ w; backward: h @ w again (to linearize) and ct @ w.T, not ct.T @ h
    assert _dots_per_scan(grad(rnn_loss, (0, 1, 2)), W, U, XS) == [1, 2]
    check_grads(rnn_loss, (W, U, XS[:3]), order=2, modes=("rev",))


def test_second_order_hessian_and_vmap():
    f = lambda w: rnn_loss(w, U, XS[:3])  # noqa: E731
    close(hessian(f)(W), jacfwd(jacfwd(f))(W), rtol=1e-8)
    close(jacrev(grad(f))(W), jacfwd(jacfwd(f))(W), rtol=1e-8)
    ws = fnp.stack([W, W * 0.5, -W])
    close(vmap(grad(f))(ws), np.stack([np.asarray(grad(f)(w)) for w in ws]))
    close(jit(vmap(grad(f)))(ws), vmap(grad(f))(ws))


def body_variants():
    """Steps where ``w`` reaches the body through invariant equations, on either side of
    the product, together with another use, through a computed per-step operand, and
    where the per-step operand is not differentiated (then it is summed per step)."""
    return {
        "transposed": lambda h, x, w, v: fnp.tanh((w.T * 2.0 + v) @ h.T).T + x,
        "also_elementwise": lambda h, x, w, v: fnp.tanh(h @ w + x) * w[0],
        "computed_operand": lambda h, x, w, v: fnp.sin(fnp.tanh(h) @ w) + x @ v,
        "undifferentiated": lambda h, x, w, v: h * 0.5 + fnp.tanh(x @ w),
    }


@pytest.mark.parametrize("name", list(body_variants()))
def test_deferred_contraction_variants(name):
    step_of = body_variants()[name]
    v = f64(RNG.normal(size=(3, 3)) * 0.5)

    def make(loop):
        def f(w, v, xs):
            h, ys = loop(lambda h, x: (step_of(h, x, w, v), fnp.sum(h)),
                         fnp.zeros((2, 3), "float64"), xs)
            return fnp.sum(h ** 2) + fnp.sum(ys)
        return f
    f, ref = make(lambda s, i, xs: lax.scan(s, i, xs)), make(unrolled)
    argnums = (0, 1) if name == "undifferentiated" else (0, 1, 2)
    want = grad(ref, argnums)(W, v, XS)
    for got in (grad(f, argnums)(W, v, XS), jit(grad(f, argnums))(W, v, XS)):
        for a, b in zip(got, want):
            close(a, b, rtol=1e-10)
    close(grad(grad(lambda a: f(W * a, v, XS[:3])))(f64(1.2)),
          grad(grad(lambda a: ref(W * a, v, XS[:3])))(f64(1.2)), rtol=1e-9)


def test_vjp_with_ys_cotangent_only_and_an_empty_scan():
    f = lambda w: lax.scan(lambda h, x: (fnp.tanh(h @ w + x), h), fnp.zeros((2, 3), "float64"),  # noqa: E731
                           XS)
    out, pull = vjp(f, W)
    ref = lambda w: unrolled(lambda h, x: (fnp.tanh(h @ w + x), h),  # noqa: E731
                             fnp.zeros((2, 3), "float64"), XS)
    _, pull_ref = vjp(ref, W)
    ct = (fnp.zeros((2, 3), "float64"), f64(RNG.normal(size=(6, 2, 3))))
    close(pull(ct)[0], pull_ref(ct)[0], rtol=1e-10)
    empty = lambda w: fnp.sum(lax.scan(lambda h, x: (h @ w + x, h), fnp.ones((2, 3), "float64"),  # noqa: E731
                                       XS[:0])[0])
    close(grad(empty)(W), np.zeros((3, 3)))


def test_two_products_share_a_weight_and_the_direct_rule_recomputes_the_carries():
    f = lambda w: fnp.sum(lax.scan(step_w(w), fnp.zeros((2, 3), "float64"), XS)[1])  # noqa: E731
    ref = lambda w: fnp.sum(unrolled(step_w(w), fnp.zeros((2, 3), "float64"), XS)[1])  # noqa: E731
    close(grad(f)(W), grad(ref)(W), rtol=1e-10)
    assert _dots_per_scan(grad(f), W) == [2, 4]  # per step: two to linearize, two for ct_h
    # the direct rule (no residuals from a forward): the same cotangents
    from fx.core.staging import make_graph_flat
    body, consts, _ = make_graph_flat(lambda w, h, x: list(step_w(w)(h, x)),
                                      [fx.ShapedArray((3, 3), "float64"),
                                       fx.ShapedArray((2, 3), "float64"),
                                       fx.ShapedArray((2, 3), "float64")])
    assert not consts
    primals = [W, fnp.zeros((2, 3), "float64"), XS]
    params = dict(body=body, length=6, reverse=False, num_consts=1, num_carry=1)
    outs = scan_p.bind(*primals, **params)
    cts = scan_p.vjp([fnp.zeros((2, 3), "float64"), fnp.ones(6, "float64")], outs, primals,
                     [object(), None, None], **params)
    assert cts[1:] == [None, None]
    close(cts[0], grad(ref)(W), rtol=1e-10)


def step_w(w):
    return lambda h, x: (fnp.tanh(h @ w + fnp.sin(h) @ w.T + x), fnp.sum(h))


def test_float32_lstm_gradient_matches_float64():
    import nnlib.functional as F
    rng = np.random.default_rng(3)
    p = {k: rng.normal(size=s) * 0.3 for k, s in (("weight_ih_l0", (8, 3)),
                                                  ("weight_hh_l0", (8, 2)),
                                                  ("bias_hh_l0", (8,)))}
    x = rng.normal(size=(5, 4, 3))

    def loss(p, x):
        out, (h, c) = F.lstm(x, None, p)
        return fnp.sum(out ** 2) + fnp.sum(c)
    g32 = jit(grad(loss))(tree.map(lambda a: fx.asarray(a, "float32"), p), fx.asarray(x, "float32"))
    g64 = grad(loss)(tree.map(f64, p), f64(x))
    for k in p:
        assert g32[k].dtype == np.float32
        close(g32[k], g64[k], rtol=1e-4, atol=1e-5)
