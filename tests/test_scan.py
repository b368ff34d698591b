"""lax.scan, fori_loop and map against unrolled Python loops: values (eager, jit),
derivatives in both modes and to second order, vmap, their compositions, and errors."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax, tree
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import grad, hessian, jacfwd, jacrev, jit, jvp, linearize, vjp, vmap

RNG = np.random.default_rng(0)
XS = f64(RNG.normal(size=(5, 3)))
W = f64(RNG.normal(size=(3,)))


def rnn_step(w):
    """A step with a pytree carry (dict), a pytree y (tuple) and a closed-over ``w``."""
    def step(carry, x):
        h = fnp.tanh(carry["h"] * w + x)
        return {"h": h, "s": carry["s"] + fnp.sum(h)}, (h * 2.0, fnp.sum(x * h))
    return step


def unrolled(step, init, xs, reverse=False):
    """The Python loop that ``scan`` stands for (same step function)."""
    n = tree.leaves(xs)[0].shape[0]
    carry, ys = init, [None] * n
    for i in (reversed(range(n)) if reverse else range(n)):
        carry, ys[i] = step(carry, tree.map(lambda x, i=i: x[i], xs))
    return carry, tree.map(lambda *y: fnp.stack(y), *ys)


def init_carry():
    return {"h": f64(np.zeros(3)), "s": f64(0.0)}


def assert_trees_close(got, want, **tol):
    assert tree.structure(got) == tree.structure(want)
    for g, w in zip(tree.leaves(got), tree.leaves(want)):
        close(g, w, **tol)


# --- values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [7, 300])  # eagerly: op by op, or compiled
def test_cumsum_matches_numpy(length, reverse):
    x = RNG.normal(size=(length, 2))
    want = np.cumsum(x[::-1], axis=0)[::-1] if reverse else np.cumsum(x, axis=0)

    def cumsum(xs):
        return lax.scan(lambda c, x: (c + x, c + x), fnp.zeros(2, "float64"), xs,
                        reverse=reverse)[1]
    close(cumsum(f64(x)), want)
    close(jit(cumsum)(f64(x)), want)


@pytest.mark.parametrize("reverse", [False, True])
def test_pytree_values_eager_jit_and_python(reverse):
    def run(w, xs):
        return lax.scan(rnn_step(w), init_carry(), xs, reverse=reverse)
    want = unrolled(rnn_step(W), init_carry(), XS, reverse)
    assert_trees_close(run(W, XS), want)
    assert_trees_close(jit(run)(W, XS), want)


def test_xs_none_with_length_and_y_none():
    carry, ys = lax.scan(lambda c, _: (c * 2.0, None), fx.asarray(1.0), None, length=4)
    assert ys is None
    close(carry, 16.0)
    carry, ys = jit(lambda c: lax.scan(lambda c, _: (c + 1, c), c, length=3))(fx.asarray(5))
    assert carry.dtype == np.int32 and ys.tolist() == [5, 6, 7]


def test_pytree_xs_and_empty_scan():
    xs = {"a": f64(np.arange(4.0)), "b": (f64(np.ones((4, 2))),)}
    carry, ys = lax.scan(lambda c, x: (c + x["a"] * x["b"][0], x["a"]), fnp.zeros(2, "float64"),
                         xs)
    close(carry, [6.0, 6.0])
    close(ys, np.arange(4.0))
    carry, ys = lax.scan(lambda c, x: (c + x, x * 2.0), f64(1.0), f64(np.zeros(0)))
    close(carry, 1.0)
    assert ys.shape == (0,) and ys.dtype == np.float64


def test_python_number_init_takes_the_body_dtype():
    xs = f64(np.arange(1.0, 4.0))
    carry, ys = lax.scan(lambda c, x: (c + x, c), 0.0, xs)
    assert carry.dtype == ys.dtype == np.float64
    close(ys, [0.0, 1.0, 3.0])
    count, _ = lax.scan(lambda c, x: (c + 1, None), 0, xs)
    assert count.dtype == np.int32 and int(count) == 3


def test_nested_scan_with_closure():
    def outer(w, xs):
        def row(c, x):
            inner, _ = lax.scan(lambda a, v: (a * w + v, None), c, x)
            return inner, inner
        return lax.scan(row, f64(0.5), xs)
    want_c = 0.5
    for x in np.asarray(XS):
        for v in x:
            want_c = want_c * 0.9 + v
    close(outer(f64(0.9), XS)[0], want_c)
    close(jit(outer)(f64(0.9), XS)[0], want_c)


# --- derivatives -----------------------------------------------------------------------------
def loss(w, xs, reverse=False):
    carry, (ys, dots) = lax.scan(rnn_step(w), init_carry(), xs, reverse=reverse)
    return carry["s"] + fnp.sum(ys ** 2) + fnp.sum(dots)


def unrolled_loss(w, xs, reverse=False):
    carry, (ys, dots) = unrolled(rnn_step(w), init_carry(), xs, reverse)
    return carry["s"] + fnp.sum(ys ** 2) + fnp.sum(dots)


@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_match_the_unrolled_loop(reverse):
    for argnums in (0, 1):
        close(grad(loss, argnums)(W, XS, reverse), grad(unrolled_loss, argnums)(W, XS, reverse))
    tangent = f64(RNG.normal(size=3))
    assert_trees_close(jvp(lambda w: loss(w, XS, reverse), (W,), (tangent,)),
                       jvp(lambda w: unrolled_loss(w, XS, reverse), (W,), (tangent,)))


def test_check_grads_both_modes():
    check_grads(loss, (W, XS), order=1, modes=("fwd", "rev"))
    small = lambda w, xs: lax.scan(lambda c, x: (fnp.sin(c * w) + x, c * x), f64(0.3), xs)  # noqa: E731
    check_grads(small, (f64(0.8), XS[:3, 0]), order=2, modes=("fwd", "rev"))


def test_grad_of_grad_and_hessian():
    f = lambda w: loss(w, XS[:3])  # noqa: E731
    g = lambda w: unrolled_loss(w, XS[:3])  # noqa: E731
    close(hessian(f)(W), hessian(g)(W), rtol=1e-10)
    close(jacrev(grad(f))(W), jacfwd(jacfwd(g))(W), rtol=1e-10)
    scalar = lambda a: loss(W * a, XS[:3])  # noqa: E731
    close(grad(grad(scalar))(f64(1.1)), grad(grad(lambda a: unrolled_loss(W * a, XS[:3])))(
        f64(1.1)), rtol=1e-10)


def test_tangents_reach_carries_through_the_fixpoint():
    """Only ``w`` has a tangent; ``a`` gets one after a step and ``b`` after two, and the
    int counter never does."""
    def f(w):
        def step(c, _):
            a, b, k = c
            return (a * w, b + a, k + 1), b
        return lax.scan(step, (f64(1.0), f64(0.0), 0), None, length=4)
    out, t = jvp(f, (f64(2.0),), (f64(1.0),))
    close(out[0][1], 1 + 2 + 4 + 8)
    close(t[0][1], 1 + 4 + 12)  # d/dw (w + w^2 + w^3)
    close(t[1], [0.0, 0.0, 1.0, 5.0])
    assert int(out[0][2]) == 4


def test_grad_of_jit_and_jit_of_grad():
    g = grad(unrolled_loss)(W, XS)
    close(jit(grad(loss))(W, XS), g)
    close(grad(jit(loss))(W, XS), g)
    ws = f64(RNG.normal(size=(2, 3)))
    want = np.stack([np.asarray(grad(unrolled_loss)(w, XS)) for w in ws])
    close(jit(vmap(grad(loss), (0, None)))(ws, XS), want)


def test_vjp_of_ys_only_and_carry_only():
    f = lambda w: lax.scan(lambda c, x: (c * w, c + x), f64(1.0), XS[:, 0])  # noqa: E731
    out, pull = vjp(f, f64(0.7))
    u = lambda w: unrolled(lambda c, x: (c * w, c + x), f64(1.0), XS[:, 0])  # noqa: E731
    _, pull_u = vjp(u, f64(0.7))
    for ct in [(f64(1.0), fnp.zeros(5, "float64")), (f64(0.0), fnp.ones(5, "float64"))]:
        close(pull(ct)[0], pull_u(ct)[0])


# --- vmap ------------------------------------------------------------------------------------
def run_scan(w, init, xs):
    return lax.scan(lambda c, x: (fnp.tanh(c * w + x), c * 2.0), init, xs)


@pytest.mark.parametrize("axes", [(None, None, 0), (None, 0, None), (None, 0, 1), (0, None, None),
                                  (0, 0, 2)])
def test_vmap_matches_a_loop(axes):
    size, w, init, xs = 3, W, f64(np.zeros(3)), XS
    args = []
    for a, ax in zip((w, init, xs), axes):
        stacked = fnp.stack([a + 0.1 * k for k in range(size)], axis=ax) if ax is not None else a
        args.append(stacked)
    got = vmap(run_scan, in_axes=axes)(*args)
    for k in range(size):
        pick = [a if ax is None else fnp.take(a, k, axis=ax) for a, ax in zip(args, axes)]
        assert_trees_close((got[0][k], got[1][k]), run_scan(*pick))
    assert_trees_close(jit(vmap(run_scan, in_axes=axes))(*args), got)


def test_vmap_of_grad_with_batched_closure_const():
    ws = f64(RNG.normal(size=(4, 3)))
    got = vmap(grad(loss), (0, None))(ws, XS)
    close(got, np.stack([np.asarray(grad(unrolled_loss)(w, XS)) for w in ws]))


def test_collectives_in_the_body_reduce_over_the_vmap_axis():
    xs = f64(np.arange(6.0).reshape(2, 3))
    f = lambda x: lax.scan(lambda c, v: (c + lax.psum(v, "b"), None), f64(0.0), x)[0]  # noqa: E731
    close(vmap(f, axis_name="b")(xs), [15.0, 15.0])
    g = lambda x: lax.scan(lambda c, _: (c + lax.psum(1.0, "b"), None), 0.0, length=3)[0]  # noqa: E731
    close(vmap(g, axis_name="b")(xs), [6.0, 6.0])  # no batched operand


def test_linearize():
    f = lambda w: lax.scan(lambda c, v: (c * w + v, None), f64(1.0), XS[:, 0])[0]  # noqa: E731
    y, f_jvp = linearize(f, f64(0.5))
    close(y, f(f64(0.5)))
    close(f_jvp(f64(1.0)), jvp(f, (f64(0.5),), (f64(1.0),))[1])


# --- fori_loop and map -----------------------------------------------------------------------
def test_fori_loop_static_bounds():
    body = lambda i, x: x * 0.5 + i  # noqa: E731
    want = 1.0
    for i in range(2, 7):
        want = want * 0.5 + i
    close(lax.fori_loop(2, 7, body, f64(1.0)), want)
    close(jit(lambda x: lax.fori_loop(2, 7, body, x))(f64(1.0)), want)
    assert lax.fori_loop(0, 3, body, fx.asarray(1.0)).dtype == np.float32  # i is weak
    close(lax.fori_loop(5, 2, body, f64(1.0)), 1.0)  # an empty range


def test_fori_loop_gradient_with_static_bounds():
    f = lambda x: lax.fori_loop(0, 4, lambda i, x: fnp.sin(x) * (i + 1.0), x)  # noqa: E731

    def python(x):
        for i in range(4):
            x = fnp.sin(x) * (i + 1.0)
        return x
    close(grad(f)(f64(0.3)), grad(python)(f64(0.3)))
    check_grads(f, (f64(0.3),), order=2)


def test_fori_loop_traced_bounds_is_a_while_loop():
    body = lambda i, x: x * 0.5 + i.astype(x.dtype)  # noqa: E731
    f = jit(lambda n, x: lax.fori_loop(1, n, body, x))
    close(f(6, f64(1.0)), lax.fori_loop(1, 6, body, f64(1.0)))
    close(jvp(lambda x: f(6, x), (f64(1.0),), (f64(1.0),))[1], 0.5 ** 5)
    ns = fx.asarray([2, 4])
    close(vmap(lambda n: lax.fori_loop(0, n, body, f64(1.0)))(ns),
          [lax.fori_loop(0, int(n), body, f64(1.0)) for n in np.asarray(ns)])


def test_map():
    xs = f64(RNG.normal(size=(4, 2)))
    f = lambda row: {"n": fnp.sum(row ** 2), "r": row[::-1]}  # noqa: E731
    want = {"n": np.sum(np.asarray(xs) ** 2, axis=1), "r": np.asarray(xs)[:, ::-1]}
    assert_trees_close(lax.map(f, xs), want)
    assert_trees_close(jit(lambda xs: lax.map(f, xs))(xs), want)
    close(grad(lambda xs: fnp.sum(lax.map(f, xs)["n"]))(xs), 2 * np.asarray(xs))


# --- generated code --------------------------------------------------------------------------
def test_generated_code_is_a_loop_over_the_body():
    f = jit(lambda w, xs: lax.scan(lambda c, x: (c * w + x, c), f64(0.0), xs, reverse=True))
    text = f.lower(f64(0.5), XS[:, 0]).as_text()
    assert "for i in reversed(range(5)):" in text and "def scan_body(" in text
    assert "ys[i] = y" in text and "np.empty((5,)" in text
    text = jit(lambda x: lax.fori_loop(0, 9, lambda i, x: x * 2.0, x)).lower(f64(1.0)).as_text()
    assert "carry, = scan_body(carry)" in text  # the unused index is not passed


# --- errors ----------------------------------------------------------------------------------
def test_carry_errors_name_the_leaf():
    xs = fnp.ones((3, 2))
    with pytest.raises(TypeError, match=r"structure"):
        lax.scan(lambda c, x: ((c, c), x), fnp.zeros(2), xs)
    with pytest.raises(TypeError, match=r"carry\['h'\].*f32\[2\].*f32\[1,2\]"):
        lax.scan(lambda c, x: ({"h": c["h"][None]}, x), {"h": fnp.zeros(2)}, xs)
    with pytest.raises(TypeError, match=r"carry\[1\].*f32\[2\].*f64\[2\]"):
        lax.scan(lambda c, x: ((c[0], c[1].astype("float64")), x), (1.0, fnp.zeros(2)), xs)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, fnp.zeros(2), xs)


def test_length_errors():
    with pytest.raises(ValueError, match=r"xs\['a'\]: 3, xs\['b'\]: 4"):
        lax.scan(lambda c, x: (c, None), 0.0, {"a": fnp.ones(3), "b": fnp.ones(4)})
    with pytest.raises(ValueError, match="length must be given"):
        lax.scan(lambda c, x: (c, None), 0.0, None)
    with pytest.raises(ValueError, match="length=2"):
        lax.scan(lambda c, x: (c, None), 0.0, fnp.ones(3), length=2)
    with pytest.raises(ValueError, match="scalar"):
        lax.scan(lambda c, x: (c, None), 0.0, fx.asarray(1.0))
    with pytest.raises(TypeError, match="lower must be an integer"):
        lax.fori_loop(0.5, 3, lambda i, x: x, 0.0)
