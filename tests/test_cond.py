"""lax.cond / lax.switch: values eagerly and under jit against plain Python ``if``,
derivatives (check_grads, both modes, order 2), vmap against a loop over examples with
batched and unbatched predicates, the errors, and the generated code."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import custom_jvp, grad, hessian, jacfwd, jacrev, jit, jvp, linearize, vjp, vmap

RNG = np.random.default_rng(0)
X = f64(RNG.standard_normal(3))


def branchy(x):
    """A cond whose branches close over ``x`` (consts that are differentiated too)."""
    return lax.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v) * x, lambda v: v ** 3 + x, x)


def branchy_py(x):
    x = np.asarray(x)
    return np.sin(x) * x if x.sum() > 0 else x ** 3 + x


def pytree_cond(p, tree_in):
    return lax.cond(p, lambda t: {"a": t["a"] * 2.0, "b": (t["b"][0] + 1, t["b"][1])},
                    lambda t: {"a": -t["a"], "b": (t["b"][0], t["b"][1] * 3)}, tree_in)


FNS = [lambda v: v + 1.0, lambda v: fnp.cos(v) * 2.0, lambda v: v * v]


def three_way(i, x):
    return lax.switch(i, FNS, x)


def three_way_py(i, x):
    return np.asarray(FNS[min(max(int(i), 0), 2)](fx.asarray(x)))


# --- values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_matches_python_if_eagerly_and_under_jit(sign):
    x = f64(sign * np.abs(np.asarray(X)))
    close(branchy(x), branchy_py(x))
    close(jit(branchy)(x), branchy_py(x))


def test_cond_with_pytrees_python_bool_and_number_predicates():
    t = {"a": f64([1.0, 2.0]), "b": (fx.asarray(3), f64(4.0))}
    for p, taken in [(True, True), (False, False), (2.5, True), (0, False),
                     (fx.asarray(1), True), (fx.asarray(0.0), False)]:
        got = pytree_cond(p, t)
        want = ({"a": [2.0, 4.0], "b": (4, 4.0)} if taken else {"a": [-1.0, -2.0], "b": (3, 12.0)})
        close(got["a"], want["a"])
        assert int(got["b"][0]) == want["b"][0] and got["b"][0].dtype == np.int32
        close(got["b"][1], want["b"][1])
        assert jit(pytree_cond)(p, t)["b"][1].dtype == np.float64


@pytest.mark.parametrize("i", [-2, 0, 1, 2, 9])
def test_switch_clamps_the_index_like_jax(i):
    x = f64([0.3, -1.2])
    close(three_way(i, x), three_way_py(i, x))
    close(jit(three_way)(fx.asarray(i), x), three_way_py(i, x))
    close(jit(three_way)(i, x), three_way_py(i, x))


def test_python_number_output_adopts_the_other_branch_dtype():
    x = f64([1.0, 2.0])
    out = lax.cond(False, lambda v: v * 2.0, lambda v: fnp.zeros(2, "float64") + 1, x)
    assert out.dtype == np.float64
    out = lax.cond(False, lambda v: v.sum(), lambda v: 0.0, x)
    assert out.dtype == np.float64 and float(out) == 0.0
    assert jit(lambda v: lax.cond(v[0] > 5, lambda u: u.sum(), lambda u: 0.0, v))(x).dtype == \
        np.float64


def test_single_branch_switch_just_calls_it():
    assert float(lax.switch(7, [lambda v: v * 3.0], f64(2.0))) == 6.0


# --- derivatives ----------------------------------------------------------------------------
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_derivatives_to_second_order_both_modes(sign):
    x = f64(sign * np.abs(np.asarray(X)))
    check_grads(branchy, (x,), order=2, modes=("fwd", "rev"))
    loss = lambda v: fnp.sum(branchy(v))
    n = np.asarray(x)
    want = np.cos(n) * n + np.sin(n) if sign > 0 else 3 * n ** 2 + 1
    close(grad(loss)(x), want)
    close(jit(grad(loss))(x), want)
    close(grad(jit(loss))(x), want)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_switch_derivatives_to_second_order(i):
    check_grads(lambda v: three_way(i, v), (f64([0.4, -0.7]),), order=2)
    check_grads(lambda v: jit(three_way)(i, v), (f64([0.4, -0.7]),), order=1)


def test_jacobians_hessian_linearize_and_jvp_of_cond():
    x, n = f64([0.5, 1.5, 0.2]), np.array([0.5, 1.5, 0.2])
    want = np.diag(np.cos(n) * n + np.sin(n))
    close(jacfwd(branchy)(x), want)
    close(jacrev(branchy)(x), want)
    close(hessian(lambda v: fnp.sum(branchy(v)))(x), np.diag(2 * np.cos(n) - n * np.sin(n)))
    y, f_jvp = linearize(branchy, x)
    close(y, branchy_py(x))
    close(f_jvp(f64([1.0, 0.0, 0.0])), want[:, 0])
    close(jvp(branchy, (x,), (f64([0.0, 1.0, 0.0]),))[1], want[:, 1])


def test_gradient_through_closed_over_values_and_an_untaken_integer_output():
    w = f64(2.0)

    def f(w, x):  # the branches close over w; the int output gets no cotangent
        out, count = lax.cond(x > 0, lambda v: (v * w ** 2, 1), lambda v: (v + w, 0), x)
        return out * count
    close(grad(f)(w, f64(3.0)), 12.0)
    close(grad(f, argnums=1)(w, f64(3.0)), 4.0)
    close(grad(f)(w, f64(-3.0)), 0.0)
    _, pull = vjp(lambda x: lax.cond(True, lambda v: (v, v * 2), lambda v: (v, v), x), f64(1.0))
    close(pull((f64(1.0), f64(1.0)))[0], 3.0)


# --- vmap -----------------------------------------------------------------------------------
def test_vmap_batched_predicate_matches_a_loop():
    xs = f64(RNG.standard_normal((5, 3)))
    want = np.stack([branchy_py(x) for x in np.asarray(xs)])
    close(vmap(branchy)(xs), want)
    close(jit(vmap(branchy))(xs), want)
    loss = lambda v: fnp.sum(branchy(v))
    grads = np.stack([np.asarray(grad(loss)(x)) for x in xs])
    close(vmap(grad(loss))(xs), grads)
    close(jit(vmap(grad(loss)))(xs), grads)


def test_vmap_unbatched_predicate_batched_operands_and_mixed_outputs():
    xs = f64(RNG.standard_normal((4, 2)))

    def f(p, x, y):  # y shared by every example; one output depends on it only
        return lax.cond(p, lambda a, b: (a * b, b + 1), lambda a, b: (a - b, b * 2), x, y)
    y = f64([1.0, -1.0])
    for p in (True, False):
        got = vmap(f, in_axes=(None, 0, None))(p, xs, y)
        for k, x in enumerate(xs):
            want = f(p, x, y)
            close(got[0][k], want[0])
            close(got[1][k], want[1])
    preds = fx.asarray([True, False, False, True])
    got = vmap(f, in_axes=(0, 0, None))(preds, xs, y)
    for k in range(4):
        want = f(bool(preds[k]), xs[k], y)
        close(got[0][k], want[0])
        close(got[1][k], want[1])


def test_vmap_switch_with_batched_index_and_batch_axis_not_first():
    idx = fx.asarray([-1, 0, 1, 2, 3])
    xs = f64(RNG.standard_normal((2, 5)))
    got = vmap(three_way, in_axes=(0, 1))(idx, xs)
    want = np.stack([three_way_py(i, xs[:, k]) for k, i in enumerate(np.asarray(idx))])
    close(got, want)
    close(jit(vmap(three_way, in_axes=(0, 1)))(idx, xs), want)
    close(vmap(three_way, in_axes=(None, 1))(1, xs), np.asarray(xs).T * 0 +
          np.cos(np.asarray(xs).T) * 2)


def test_nested_vmap_and_cond_inside_cond():
    def f(x):
        return lax.cond(x > 0, lambda v: lax.cond(v > 1, lambda u: u * 10, lambda u: u, v),
                        lambda v: -v, x)
    xs = f64([[-2.0, 0.5], [1.5, 3.0]])
    close(vmap(vmap(f))(xs), [[2.0, 0.5], [15.0, 30.0]])
    close(vmap(grad(f))(xs[1]), [10.0, 10.0])


def test_collectives_in_branches_reduce_over_the_callers_axis():
    xs = f64([1.0, 2.0, 3.0])
    f = lambda x: lax.cond(x > 1.5, lambda v: v / lax.psum(v, "i"), lambda v: v * 0, x)
    close(vmap(f, axis_name="i")(xs), [0.0, 2 / 6, 3 / 6])
    g = lambda x: lax.cond(True, lambda v: v + lax.axis_index("i").astype(v.dtype),
                           lambda v: v, x)
    close(vmap(g, axis_name="i")(xs), [1.0, 3.0, 5.0])


def test_a_custom_jvp_rule_with_a_cond_on_the_tangent_is_transposed():
    @custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):  # deliberately not sin's derivative for x <= 0
        (x,), (t,) = primals, tangents
        return f(x), lax.cond(x > 0, lambda u: u * fnp.cos(x), lambda u: u * 2.0, t)
    close(grad(f)(f64(0.5)), np.cos(0.5))
    close(grad(f)(f64(-0.5)), 2.0)
    close(jit(grad(f))(f64(-0.5)), 2.0)


# --- errors ---------------------------------------------------------------------------------
def test_mismatched_branches_name_both_output_types():
    x = f64([1.0, 2.0])
    with pytest.raises(TypeError, match=r"true_fun returned f64\[\] and false_fun returned "
                                        r"f64\[2\]"):
        jit(lambda v: lax.cond(True, lambda u: u.sum(), lambda u: u, v))(x)
    with pytest.raises(TypeError, match=r"true_fun returned \(f64\[2\], f64\[2\]\) and false_fun"):
        grad(lambda v: lax.cond(True, lambda u: (u, u), lambda u: u, v)[0].sum())(x)
    with pytest.raises(TypeError, match=r"true_fun returned f64\[\] and false_fun returned i32"):
        vmap(lambda v: lax.cond(True, lambda u: u, lambda u: u.astype("int32"), v))(x)
    with pytest.raises(TypeError, match="branch 0 returned .* branch 2 returned"):
        jit(lambda v: lax.switch(1, [lambda u: u, lambda u: u, lambda u: u[0]], v))(x)


def test_eagerly_only_the_chosen_branch_is_called():
    calls = []
    branch = lambda name: lambda v: calls.append(name) or v * 2.0
    assert float(lax.cond(True, branch("true"), branch("false"), f64(1.0))) == 2.0
    assert calls == ["true"]
    calls.clear()
    jit(lambda v: lax.cond(v > 0, branch("true"), branch("false"), v))(f64(1.0))
    assert sorted(calls) == ["false", "true"]  # traced once each


def test_bad_predicates_and_indices():
    x = f64([1.0, 2.0])
    with pytest.raises(TypeError, match=r"pred must be a scalar.*bool\[2\].*fnp.where"):
        lax.cond(x > 0, lambda v: v, lambda v: v, x)
    with pytest.raises(TypeError, match="pred must be a scalar"):
        lax.cond(fx.asarray(1j), lambda v: v, lambda v: v, x)
    with pytest.raises(TypeError, match=r"index must be an integer scalar, got f32\[\]"):
        lax.switch(fx.asarray(1.0), [lambda v: v, lambda v: v], x)
    with pytest.raises(ValueError, match="non-empty"):
        lax.switch(0, [], x)
    with pytest.raises(TypeError, match="true_fun must be callable"):
        lax.cond(True, 3, lambda v: v, x)


# --- generated code -------------------------------------------------------------------------
def test_generated_code_is_a_conditional_over_branch_functions():
    text = jit(branchy).lower(X).as_text()
    assert "def cond_true(" in text and "def cond_false(" in text
    assert " = cond_true(a, a) if " in text and " else cond_false(a, a)" in text
    text = jit(three_way).lower(fx.asarray(1), X).as_text()
    assert "branch0(b) if d == 0 else branch1(b) if d == 1 else branch2(b)" in text
