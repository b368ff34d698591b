"""User-defined derivative rules: ``custom_jvp`` (used by jvp, grad and higher orders),
``custom_vjp`` (bwd used by reverse mode; forward mode falls back to the original
function with a UserWarning) and ``checkpoint`` (same derivatives, forward recomputed in
the backward pass), plus the errors for missing or malformed rules."""
import warnings

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import tree
from fx.testing import check_grads
from tests.helpers import close, f64, scaled_sin
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

X = 0.7


# --- custom_jvp --------------------------------------------------------------------------------
sin_double_slope = scaled_sin(2.0)  # sin, with a rule claiming the derivative 2 cos


@custom_jvp
def softplus(x):
    return fnp.log1p(fnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1.0 + fnp.exp(-x))


def test_custom_jvp_runs_the_function_outside_transforms():
    close(sin_double_slope(f64(X)), np.sin(X))


def test_custom_jvp_wrong_rule_is_really_used_by_jvp():
    out, t = jvp(sin_double_slope, (f64(X),), (f64(1.5),))
    close(out, np.sin(X))
    close(t, 2.0 * np.cos(X) * 1.5)  # the rule's, not the true 1.5 cos(x)


def test_custom_jvp_wrong_rule_is_really_used_by_grad_and_jacobians():
    close(grad(sin_double_slope)(f64(X)), 2.0 * np.cos(X))
    x = np.array([0.7, -0.2])
    for jac in (jacfwd, jacrev):
        close(jac(sin_double_slope)(f64(x)), np.diag(2.0 * np.cos(x)))


def test_custom_jvp_second_order_differentiates_the_rule():
    close(grad(grad(sin_double_slope))(f64(X)), -2.0 * np.sin(X))
    close(grad(grad(grad(sin_double_slope)))(f64(X)), -2.0 * np.cos(X))
    close(hessian(sin_double_slope)(f64(X)), -2.0 * np.sin(X))
    _, t = jvp(grad(sin_double_slope), (f64(X),), (f64(1.0),))
    close(t, -2.0 * np.sin(X))


def test_check_grads_detects_the_wrong_custom_jvp_rule():
    with pytest.raises(AssertionError, match="fwd"):
        check_grads(sin_double_slope, (f64([0.3, 0.7]),), order=1, modes=("fwd",))


def test_custom_jvp_with_a_correct_rule_passes_check_grads():
    x = np.array([-3.0, 0.1, 2.0])
    close(grad(lambda x: fnp.sum(softplus(x)))(f64(x)), 1.0 / (1.0 + np.exp(-x)))
    check_grads(softplus, (f64(x),), order=2)


@custom_jvp
def dict_fn(p):
    return {"prod": p["a"] * p["b"], "diff": p["a"] - p["b"]}


@dict_fn.defjvp
def _dict_fn_jvp(primals, tangents):
    (p,), (tp,) = primals, tangents
    # "prod" deliberately scaled by 10 so the test sees the rule
    return dict_fn(p), {"prod": 10.0 * (tp["a"] * p["b"] + p["a"] * tp["b"]),
                        "diff": tp["a"] - tp["b"]}


def test_custom_jvp_with_pytree_arguments_and_outputs():
    p = {"a": f64(2.0), "b": f64(3.0)}
    out, t = jvp(dict_fn, (p,), ({"a": f64(1.0), "b": f64(0.5)},))
    close(out["prod"], 6.0)
    close(t["prod"], 10.0 * (3.0 + 2.0 * 0.5))
    close(t["diff"], 0.5)
    g = grad(lambda p: dict_fn(p)["prod"] + dict_fn(p)["diff"])(p)
    assert tree.structure(g) == tree.structure(p)
    close(g["a"], 10.0 * 3.0 + 1.0)
    close(g["b"], 10.0 * 2.0 - 1.0)


@custom_jvp
def scaled_product(x, y):
    return x * y


@scaled_product.defjvp
def _scaled_product_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return scaled_product(x, y), 3.0 * tx * y + x * ty


def test_custom_jvp_with_several_arguments_and_constants():
    gx, gy = grad(scaled_product, argnums=(0, 1))(f64(2.0), f64(5.0))
    close(gx, 15.0)
    close(gy, 2.0)
    close(grad(scaled_product, argnums=1)(f64(2.0), f64(5.0)), 2.0)
    close(grad(lambda x: scaled_product(x, 5.0))(f64(2.0)), 15.0)
    close(grad(lambda y: scaled_product(f64(2.0), y))(f64(5.0)), 2.0)


def test_custom_jvp_without_a_rule_raises_type_error():
    @custom_jvp
    def no_rule(x):
        return x * 2.0

    with pytest.raises(TypeError, match="defjvp"):
        no_rule(f64(1.0))
    with pytest.raises(TypeError, match="defjvp"):
        grad(no_rule)(f64(1.0))


def test_custom_jvp_rule_with_mismatched_tangent_structure_raises_type_error():
    @custom_jvp
    def f(x):
        return x * 2.0

    f.defjvp(lambda primals, tangents: (f(primals[0]), (tangents[0], tangents[0])))
    with pytest.raises(TypeError, match="structure"):
        jvp(f, (f64(1.0),), (f64(1.0),))
    with pytest.raises(TypeError, match="structure"):
        grad(f)(f64(1.0))


@pytest.mark.parametrize("tangent", [f64([1.0, 2.0]), fx.asarray(1.0, dtype="float32")],
                         ids=["shape", "dtype"])
def test_custom_jvp_rule_with_mismatched_tangent_shape_or_dtype_raises_type_error(tangent):
    @custom_jvp
    def f(x):
        return x * 2.0

    f.defjvp(lambda primals, tangents: (f(primals[0]), tangent))
    with pytest.raises(TypeError, match="shape and dtype"):
        jvp(f, (f64(1.0),), (f64(1.0),))
    with pytest.raises(TypeError, match="shape and dtype"):
        grad(f)(f64(1.0))


@pytest.mark.parametrize("rule", [lambda p, t: p[0] * 2.0,
                                  lambda p, t: (p[0] * 2.0, t[0] * 2.0, t[0])],
                         ids=["single_value", "triple"])
def test_custom_jvp_rule_not_returning_a_pair_raises_type_error(rule):
    @custom_jvp
    def f(x):
        return x * 2.0

    f.defjvp(rule)
    with pytest.raises(TypeError, match="pair"):
        jvp(f, (f64(1.0),), (f64(1.0),))


# --- custom_vjp --------------------------------------------------------------------------------
@custom_vjp
def clip_gradient(x):
    """The identity, whose cotangent is clipped to [-1, 1] in the backward pass."""
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda _, ct: (fnp.clip(ct, -1.0, 1.0),))


def test_custom_vjp_runs_the_function_outside_transforms():
    close(clip_gradient(f64([3.0, -4.0])), [3.0, -4.0])


def test_custom_vjp_bwd_is_used_by_grad():
    g = grad(lambda x: fnp.sum(clip_gradient(x) * f64([10.0, 0.5])))(f64([1.0, 2.0]))
    close(g, [1.0, 0.5])


def test_custom_vjp_bwd_is_used_by_vjp_and_jacrev():
    out, vjp_fn = vjp(clip_gradient, f64([1.0, 2.0, 3.0]))
    close(out, [1.0, 2.0, 3.0])
    close(vjp_fn(f64([5.0, -0.5, -7.0]))[0], [1.0, -0.5, -1.0])
    close(jacrev(lambda x: clip_gradient(x) * 10.0)(f64([1.0, 2.0])), np.eye(2))


@custom_vjp
def product(x, y):
    return x * y


def _product_fwd(x, y):
    return x * y, {"x": x, "y": y}


def _product_bwd(res, ct):
    return ct * res["y"] * 100.0, ct * res["x"]


product.defvjp(_product_fwd, _product_bwd)


def test_custom_vjp_with_dict_residuals():
    gx, gy = grad(product, argnums=(0, 1))(f64(2.0), f64(3.0))
    close(gx, 300.0)
    close(gy, 2.0)
    value, gx = value_and_grad(lambda x: product(x, 3.0) + x)(f64(2.0))
    close(value, 8.0)
    close(gx, 301.0)


def test_custom_vjp_bwd_returning_none_gives_zero_cotangent():
    @custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, y), lambda y, ct: (ct * y, None))
    gx, gy = grad(f, argnums=(0, 1))(f64(2.0), f64(7.0))
    close(gx, 7.0)
    close(gy, 0.0)
    _, vjp_fn = vjp(f, f64([1.0, 2.0]), f64([3.0, 4.0]))
    cx, cy = vjp_fn(f64([1.0, 1.0]))
    close(cx, [3.0, 4.0])
    assert cy.shape == (2,) and cy.dtype == np.float64
    close(cy, [0.0, 0.0])


def test_custom_vjp_with_pytree_argument():
    @custom_vjp
    def f(p):
        return p["a"] * p["b"]

    f.defvjp(lambda p: (f(p), p), lambda p, ct: ({"a": ct * p["b"], "b": -ct},))
    g = grad(f)({"a": f64(2.0), "b": f64(3.0)})
    close(g["a"], 3.0)
    close(g["b"], -1.0)


@custom_vjp
def sin_triple_slope(x):
    """sin(x) whose bwd, written in fx ops, deliberately claims 3 cos(x)."""
    return fnp.sin(x)


sin_triple_slope.defvjp(lambda x: (fnp.sin(x), x), lambda x, ct: (3.0 * fnp.cos(x) * ct,))


@custom_vjp
def sin_vjp(x):
    return fnp.sin(x)


sin_vjp.defvjp(lambda x: (fnp.sin(x), fnp.cos(x)), lambda cos_x, ct: (cos_x * ct,))


def test_custom_vjp_grad_of_grad_differentiates_bwd():
    close(grad(sin_triple_slope)(f64(X)), 3.0 * np.cos(X))
    close(grad(grad(sin_triple_slope))(f64(X)), -3.0 * np.sin(X))
    close(jacrev(jacrev(sin_triple_slope))(f64(X)), -3.0 * np.sin(X))
    close(grad(grad(sin_vjp))(f64(X)), -np.sin(X))
    close(grad(grad(grad(sin_vjp)))(f64(X)), -np.cos(X))


def test_hessian_of_custom_vjp_is_forward_over_its_bwd():
    # hessian = jacfwd(jacrev(f)): the inner gradient is the custom (clipped) one
    f = lambda x: fnp.sum(clip_gradient(x) ** 3)
    x = f64([0.1, 2.0])  # 3 x**2 = [0.03, 12]: clipped for the second entry only
    close(grad(f)(x), [0.03, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # whether hessian should warn here is not checked
        h = hessian(f)(x)
    close(h, np.diag([0.6, 0.0]))
    close(h, jacrev(jacrev(f))(x))


@pytest.mark.parametrize("transform", ["jvp", "jacfwd", "linearize"])
def test_forward_mode_of_custom_vjp_warns_and_differentiates_the_function(transform):
    f = lambda x: clip_gradient(x) * 10.0  # true derivative 10, custom bwd would clip it
    x, t = f64([1.0, 2.0]), f64([5.0, -0.5])
    with pytest.warns(UserWarning, match="custom_vjp.*clip_gradient"):
        if transform == "jvp":
            out, got = jvp(f, (x,), (t,))
            close(out, [10.0, 20.0])
        elif transform == "jacfwd":
            got = jacfwd(f)(x) @ t
        else:
            got = linearize(f, x)[1](t)
    close(got, [50.0, -5.0])


def test_forward_mode_of_custom_vjp_gives_true_second_derivative_with_a_warning():
    with pytest.warns(UserWarning, match="custom_vjp"):
        _, t = jvp(lambda x: jvp(sin_triple_slope, (x,), (f64(1.0),))[1], (f64(X),), (f64(1.0),))
    close(t, -np.sin(X))


def test_custom_vjp_without_defvjp_raises_type_error():
    @custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="defvjp"):
        f(f64(1.0))
    with pytest.raises(TypeError, match="defvjp"):
        grad(f)(f64(1.0))


def test_custom_vjp_bwd_with_wrong_number_of_cotangents_raises_type_error():
    @custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, ct: (ct * res[1],))
    with pytest.raises(TypeError, match="one cotangent per argument"):
        grad(f)(f64(1.0), f64(2.0))


def test_custom_vjp_bwd_returning_a_bare_array_raises_type_error():
    @custom_vjp
    def f(x):
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, None), lambda _, ct: ct * 2.0)
    with pytest.raises(TypeError, match="tuple"):
        grad(f)(f64(1.0))


def test_custom_vjp_bwd_with_wrong_cotangent_structure_raises_type_error():
    @custom_vjp
    def f(p):
        return p["a"] * p["b"]

    f.defvjp(lambda p: (f(p), p), lambda p, ct: ({"a": ct * p["b"]},))
    with pytest.raises(TypeError, match="structure"):
        grad(f)({"a": f64(2.0), "b": f64(3.0)})


def test_custom_vjp_bwd_with_wrong_cotangent_shape_raises_type_error():
    @custom_vjp
    def f(x):
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, None), lambda _, ct: (f64([1.0, 2.0, 3.0]),))
    with pytest.raises(TypeError, match="shape"):
        grad(f)(f64(1.0))


# --- checkpoint --------------------------------------------------------------------------------
def _body(x):
    return fnp.sin(x) * fnp.exp(-x) * x


def test_checkpoint_gives_the_same_values_and_gradients():
    x = f64(np.random.default_rng(0).standard_normal(4))
    remat = checkpoint(_body)
    close(remat(x), _body(x))
    loss = lambda f: (lambda x: fnp.sum(f(x) ** 2))
    value, g = value_and_grad(loss(remat))(x)
    value_ref, g_ref = value_and_grad(loss(_body))(x)
    close(value, value_ref)
    close(g, g_ref)
    close(grad(grad(lambda x: fnp.sum(remat(x))))(f64(X)), grad(grad(_body))(f64(X)))


def test_checkpoint_with_several_and_pytree_arguments():
    f = lambda p, y: p["a"] * fnp.sin(p["b"] * y)
    p, y = {"a": f64(2.0), "b": f64(0.5)}, f64(3.0)
    g = grad(checkpoint(f), argnums=(0, 1))(p, y)
    g_ref = grad(f, argnums=(0, 1))(p, y)
    for a, b in zip(tree.leaves(g), tree.leaves(g_ref)):
        close(a, b)


def test_checkpoint_of_a_nested_function():
    inner = checkpoint(lambda y: checkpoint(fnp.sin)(y) * y)
    outer = lambda x: fnp.cos(inner(x))
    reference = lambda x: fnp.cos(fnp.sin(x) * x)
    close(grad(outer)(f64(X)), grad(reference)(f64(X)))
    close(grad(grad(outer))(f64(X)), grad(grad(reference))(f64(X)))


def test_checkpoint_recomputes_the_forward_in_the_backward_pass():
    calls = []

    def body(x):
        calls.append("run")
        return fnp.sin(x) * x

    remat = checkpoint(body)
    _, vjp_fn = vjp(remat, f64(X))
    assert len(calls) == 1
    ct = vjp_fn(f64(1.0))[0]
    assert len(calls) == 2  # the backward pass ran the body again
    close(ct, np.cos(X) * X + np.sin(X))

    calls.clear()
    _, vjp_fn = vjp(body, f64(X))
    vjp_fn(f64(1.0))
    assert len(calls) == 1  # without checkpoint, nothing is recomputed


def test_forward_mode_of_checkpoint_gives_no_warning():
    remat = checkpoint(_body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, t = jvp(remat, (f64(X),), (f64(1.0),))
        j = jacfwd(remat)(f64([X, 0.2]))
        h = hessian(remat)(f64(X))
        _, f_jvp = linearize(remat, f64(X))
        t_lin = f_jvp(f64(1.0))
    d1 = grad(_body)(f64(X))
    close(t, d1)
    close(t_lin, d1)
    close(j, np.diag([float(d1), float(grad(_body)(f64(0.2)))]))
    close(h, grad(grad(_body))(f64(X)))


def test_checkpoint_keeps_python_numbers_weak_and_passes_static_arguments():
    assert float(grad(checkpoint(lambda x, n: x ** n))(fx.asarray(2.0), 3)) == 12.0
    twice = checkpoint(lambda x, mode: x * 2.0 if mode == "double" else x, static_argnums=1)
    assert float(grad(twice)(f64(2.0), "double")) == 2.0
    picked = grad(checkpoint(lambda x, k: fnp.sum(x[k])))(f64([1.0, 2.0, 3.0]), fx.asarray([0, 0]))
    close(picked, [2.0, 0.0, 0.0])


def test_non_array_arguments_to_custom_rules_under_a_transform_raise():
    with pytest.raises(TypeError, match="argument leaf 1 is a str.*static_argnums"):
        grad(checkpoint(lambda x, mode: x * 2.0))(f64(2.0), "double")


def test_custom_jvp_rule_not_linear_in_the_tangents_raises_under_grad():
    @custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda primals, tangents: (f(primals[0]), fnp.cos(primals[0])))  # forgot the t
    with pytest.raises(TypeError, match="not linear in them"):
        grad(f)(f64(0.5))
