"""Every differentiation transform composes with every other: higher derivatives against
analytic values, forward-over-reverse and reverse-over-forward products, the four ways
to build a Hessian, checkpoint and custom rules under nesting, perturbation confusion,
and a small MLP's gradient against hand-written NumPy backprop."""
import warnings

import numpy as np
import pytest

import fx.numpy as fnp
from fx import tree
from fx.testing import check_grads
from tests import helpers
from tests.helpers import f64, scaled_sin
from transforms import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    value_and_grad,
    vjp,
)


def close(got, want, rtol=1e-10, atol=1e-12):
    helpers.close(got, want, rtol, atol)


X = 0.7
RNG = np.random.default_rng(42)
A = RNG.standard_normal((3, 3))
X3 = RNG.standard_normal(3)
V3 = RNG.standard_normal(3)


def scalar_fn(x):
    """A non-quadratic scalar function of a vector, with a dense Hessian."""
    return fnp.sum(fnp.sin(x) * (f64(A) @ x)) + fnp.prod(fnp.exp(x / 3.0))


def scalar_fn_hessian(x):
    """Analytic Hessian of ``scalar_fn``."""
    s, c = np.sin(x), np.cos(x)
    ax = A @ x
    h = np.diag(-s * ax) + c[:, None] * A + (c[:, None] * A).T
    p = np.prod(np.exp(x / 3.0))
    return h + p / 9.0 * np.ones((3, 3))


def test_scalar_fn_hessian_reference_is_right():
    close(hessian(scalar_fn)(f64(X3)), scalar_fn_hessian(X3))


# --- chains of one transform ---------------------------------------------------------------
def test_grad_of_grad_of_a_cubic():
    close(grad(grad(lambda x: x ** 3 + 2.0 * x))(f64(1.5)), 9.0)


def test_third_derivative_of_sin_is_minus_cos():
    close(grad(grad(grad(fnp.sin)))(f64(X)), -np.cos(X))
    close(grad(grad(grad(grad(fnp.sin))))(f64(X)), np.sin(X))


def test_jvp_of_jvp_is_the_second_derivative():
    inner = lambda x: jvp(fnp.sin, (x,), (f64(1.0),))[1]
    out, t = jvp(inner, (f64(X),), (f64(1.0),))
    close(out, np.cos(X))
    close(t, -np.sin(X))


def test_vjp_of_vjp_is_the_second_derivative():
    inner = lambda x: vjp(fnp.sin, x)[1](f64(1.0))[0]
    close(vjp(inner, f64(X))[1](f64(1.0))[0], -np.sin(X))


def test_linearize_of_linearize_is_the_second_derivative():
    inner = lambda x: linearize(fnp.sin, x)[1](f64(1.0))
    close(linearize(inner, f64(X))[1](f64(1.0)), -np.sin(X))


# --- mixed pairs ---------------------------------------------------------------------------
def test_jvp_of_grad_is_the_hessian_vector_product():
    hvp = jvp(grad(scalar_fn), (f64(X3),), (f64(V3),))[1]
    close(hvp, scalar_fn_hessian(X3) @ V3)
    close(hvp, np.asarray(hessian(scalar_fn)(f64(X3))) @ V3)


def test_grad_of_jvp_is_the_hessian_vector_product():
    directional = lambda x: jvp(scalar_fn, (x,), (f64(V3),))[1]
    close(grad(directional)(f64(X3)), scalar_fn_hessian(X3) @ V3)


def test_vjp_of_grad_is_the_hessian_vector_product():
    close(vjp(grad(scalar_fn), f64(X3))[1](f64(V3))[0], scalar_fn_hessian(X3) @ V3)


def test_vjp_of_jvp_of_an_elementwise_function():
    u = RNG.standard_normal(3)
    inner = lambda x: jvp(fnp.sin, (x,), (f64(V3),))[1]  # cos(x) * v
    close(vjp(inner, f64(X3))[1](f64(u))[0], -np.sin(X3) * V3 * u)


def test_jvp_of_vjp_of_an_elementwise_function():
    u = RNG.standard_normal(3)
    inner = lambda x: vjp(fnp.exp, x)[1](f64(u))[0]  # exp(x) * u
    close(jvp(inner, (f64(X3),), (f64(V3),))[1], np.exp(X3) * u * V3)


def test_linearize_of_grad_is_the_hessian_vector_product():
    g, hvp = linearize(grad(scalar_fn), f64(X3))
    close(g, grad(scalar_fn)(f64(X3)))
    close(hvp(f64(V3)), scalar_fn_hessian(X3) @ V3)


def test_grad_of_linearize():
    close(grad(lambda x: linearize(fnp.sin, x)[1](f64(2.0)))(f64(X)), -2.0 * np.sin(X))


def test_value_and_grad_of_grad():
    value, second = value_and_grad(grad(lambda x: x ** 4))(f64(2.0))
    close(value, 32.0)
    close(second, 48.0)


@pytest.mark.parametrize("build", [
    lambda f: jacfwd(jacrev(f)),
    lambda f: jacrev(jacrev(f)),
    lambda f: jacrev(jacfwd(f)),
    lambda f: jacfwd(jacfwd(f)),
    lambda f: jacrev(grad(f)),
    lambda f: jacfwd(grad(f)),
    hessian,
], ids=["fwd_rev", "rev_rev", "rev_fwd", "fwd_fwd", "rev_grad", "fwd_grad", "hessian"])
def test_every_way_to_build_a_hessian_agrees(build):
    close(build(scalar_fn)(f64(X3)), scalar_fn_hessian(X3))


def test_hessians_of_a_pytree_function_agree():
    p = {"w": f64(RNG.standard_normal((2, 3))), "b": f64(RNG.standard_normal(2))}
    f = lambda p: fnp.sum(fnp.tanh(p["w"] @ f64(X3) + p["b"]) ** 2)
    want = hessian(f)(p)
    for build in (jacrev(jacrev(f)), jacrev(jacfwd(f)), jacfwd(jacfwd(f))):
        got = build(p)
        assert tree.structure(got) == tree.structure(want)
        for g, w in zip(tree.leaves(got), tree.leaves(want)):
            assert g.shape == w.shape
            close(g, w)
    assert want["w"]["b"].shape == (2, 3, 2)


def test_third_order_jacobian_of_a_vector_function():
    f = lambda x: fnp.sum(x ** 4)
    t = jacfwd(jacrev(grad(f)))(f64([1.0, 2.0]))
    want = np.zeros((2, 2, 2))
    want[0, 0, 0], want[1, 1, 1] = 24.0, 48.0
    close(t, want)


# --- checkpoint and custom rules under nesting ------------------------------------------------
def test_grad_of_checkpoint_of_grad():
    f = lambda x: fnp.sin(x) * x ** 2
    close(grad(checkpoint(grad(f)))(f64(X)), grad(grad(f))(f64(X)))
    close(jvp(checkpoint(grad(f)), (f64(X),), (f64(1.0),))[1], grad(grad(f))(f64(X)))


def test_checkpoint_inside_nested_grads_matches_without():
    f = lambda x: fnp.cos(checkpoint(lambda y: fnp.exp(y) * fnp.sin(y))(x) * x)
    g = lambda x: fnp.cos(fnp.exp(x) * fnp.sin(x) * x)
    close(grad(grad(f))(f64(X)), grad(grad(g))(f64(X)))
    close(jvp(grad(f), (f64(X),), (f64(1.0),))[1], grad(grad(g))(f64(X)))


sin_double_slope = scaled_sin(2.0)


@custom_vjp
def sin_triple_slope(x):
    return fnp.sin(x)


sin_triple_slope.defvjp(lambda x: (fnp.sin(x), x), lambda x, ct: (3.0 * fnp.cos(x) * ct,))


@pytest.mark.parametrize("second", [
    lambda f: grad(grad(f)),
    lambda f: (lambda x: jvp(grad(f), (x,), (f64(1.0),))[1]),
    lambda f: grad(lambda x: jvp(f, (x,), (f64(1.0),))[1]),
    lambda f: (lambda x: jvp(lambda y: jvp(f, (y,), (f64(1.0),))[1], (x,), (f64(1.0),))[1]),
    lambda f: (lambda x: vjp(lambda y: jvp(f, (y,), (f64(1.0),))[1], x)[1](f64(1.0))[0]),
    lambda f: grad(checkpoint(grad(f))),
    hessian,
], ids=["grad_grad", "jvp_grad", "grad_jvp", "jvp_jvp", "vjp_jvp", "grad_ckpt_grad", "hessian"])
def test_custom_jvp_rule_is_used_under_every_nesting(second):
    close(second(sin_double_slope)(f64(X)), -2.0 * np.sin(X))


@pytest.mark.parametrize("second", [
    lambda f: grad(grad(f)),
    lambda f: jacrev(jacrev(f)),
    lambda f: (lambda x: vjp(grad(f), x)[1](f64(1.0))[0]),
    lambda f: grad(checkpoint(grad(f))),
], ids=["grad_grad", "jacrev_jacrev", "vjp_grad", "grad_ckpt_grad"])
def test_custom_vjp_bwd_is_used_under_reverse_over_reverse(second):
    close(second(sin_triple_slope)(f64(X)), -3.0 * np.sin(X))


def test_custom_vjp_bwd_is_used_by_the_inner_grad_of_forward_over_reverse():
    # jvp(grad(f)): grad's backward pass is the custom bwd, which jvp then differentiates
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g, hvp = jvp(grad(sin_triple_slope), (f64(X),), (f64(1.0),))
    close(g, 3.0 * np.cos(X))
    close(hvp, -3.0 * np.sin(X))


# --- perturbation confusion -------------------------------------------------------------------
@pytest.mark.parametrize("x", [-1.5, 0.0, 0.7, 3.0])
def test_no_perturbation_confusion_grad_inside_grad(x):
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1 (not 2, as a confused implementation gives)
    f = lambda x: x * grad(lambda y: x + y)(f64(1.0))
    close(grad(f)(f64(x)), 1.0)


@pytest.mark.parametrize("x", [-1.5, 0.0, 0.7, 3.0])
def test_no_perturbation_confusion_jvp_inside_grad(x):
    f = lambda x: x * jvp(lambda y: x + y, (f64(1.0),), (f64(1.0),))[1]
    close(grad(f)(f64(x)), 1.0)


@pytest.mark.parametrize("x", [-1.5, 0.0, 0.7, 3.0])
def test_no_perturbation_confusion_grad_and_jvp_inside_jvp(x):
    inner_grad = lambda x: x * grad(lambda y: x + y)(f64(1.0))
    inner_jvp = lambda x: x * jvp(lambda y: x + y, (f64(1.0),), (f64(1.0),))[1]
    for f in (inner_grad, inner_jvp):
        close(jvp(f, (f64(x),), (f64(1.0),))[1], 1.0)


def test_no_perturbation_confusion_with_a_closed_over_outer_variable():
    # d/dx [ d/dy (x * y**2) at y = x ] = d/dx [2 x**2] = 4x
    f = lambda x: grad(lambda y: x * y ** 2)(x)
    close(grad(f)(f64(1.5)), 6.0)
    close(jvp(f, (f64(1.5),), (f64(1.0),))[1], 6.0)


# --- a small MLP against hand-written backprop ---------------------------------------------
def _mlp_loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    out = h @ params["w2"] + params["b2"]
    return fnp.mean((out - y) ** 2)


def _numpy_backprop(params, x, y):
    w1, b1, w2, b2 = (params[k] for k in ("w1", "b1", "w2", "b2"))
    z = x @ w1 + b1
    h = np.tanh(z)
    out = h @ w2 + b2
    loss = np.mean((out - y) ** 2)
    d_out = 2.0 * (out - y) / out.size
    d_h = d_out @ w2.T
    d_z = d_h * (1.0 - h ** 2)
    grads = {"w1": x.T @ d_z, "b1": d_z.sum(0), "w2": h.T @ d_out, "b2": d_out.sum(0)}
    return loss, grads


def test_mlp_gradient_matches_numpy_backprop():
    rng = np.random.default_rng(0)
    params = {"w1": rng.standard_normal((3, 5)), "b1": rng.standard_normal(5),
              "w2": rng.standard_normal((5, 2)), "b2": rng.standard_normal(2)}
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    want_loss, want = _numpy_backprop(params, x, y)
    loss, got = value_and_grad(_mlp_loss)(tree.map(f64, params), f64(x), f64(y))
    close(loss, want_loss)
    assert tree.structure(got) == tree.structure(want)
    for k in want:
        assert got[k].shape == want[k].shape and got[k].dtype == np.float64
        close(got[k], want[k])
    remat = checkpoint(_mlp_loss)
    for k, g in grad(remat)(tree.map(f64, params), f64(x), f64(y)).items():
        close(g, want[k])


# --- many compositions through check_grads -----------------------------------------------------
_V = f64(V3)
COMPOSED = {
    "grad": grad(scalar_fn),
    "jvp": lambda x: jvp(scalar_fn, (x,), (_V,))[1],
    "vjp": lambda x: vjp(lambda y: fnp.sin(y) * y, x)[1](_V)[0],
    "linearize": lambda x: linearize(lambda y: fnp.exp(y) * fnp.cos(y), x)[1](_V),
    "jacrev": lambda x: jacrev(lambda y: fnp.tanh(y) * y[::-1])(x),
    "jacfwd": lambda x: jacfwd(lambda y: fnp.tanh(y) * y[::-1])(x),
    "hessian_vector": lambda x: hessian(scalar_fn)(x) @ _V,
    "checkpoint": checkpoint(lambda x: fnp.sin(x) * fnp.exp(-x)),
    "grad_of_checkpoint": grad(lambda x: fnp.sum(checkpoint(fnp.tanh)(x) ** 3)),
    "custom_jvp_softplus": grad(lambda x: fnp.sum(_softplus(x) * x)),
    "custom_vjp_true_bwd": grad(lambda x: fnp.sum(_sin_vjp(x) * x ** 2)),
    "perturbation": lambda x: x * grad(lambda y: fnp.sum(x * y))(x),
}


@custom_jvp
def _softplus(x):
    return fnp.log1p(fnp.exp(x))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), t / (1.0 + fnp.exp(-x))


@custom_vjp
def _sin_vjp(x):
    return fnp.sin(x)


_sin_vjp.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda cos_x, ct: (cos_x * ct,))


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_composed_transforms_pass_check_grads(name):
    with warnings.catch_warnings():
        # check_grads uses jvp, which falls back (with a warning) through custom_vjp
        warnings.simplefilter("ignore", UserWarning)
        check_grads(COMPOSED[name], (f64(X3),), order=2)


def test_check_grads_rejects_a_wrong_derivative_of_a_composition():
    # jvp through the custom_vjp differentiates sin (true derivative), vjp uses bwd = 3 cos:
    # the transpose identity <v, J u> = <J^T v, u> then fails
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(AssertionError, match="rev"):
            check_grads(lambda x: sin_triple_slope(x) * x, (f64(X3),), order=1)
