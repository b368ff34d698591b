"""The pytree shell of reverse mode (grad, value_and_grad, vjp, jacrev, hessian) and its
forward-mode neighbours (jvp, linearize, jacfwd): argnums, has_aux, keyword arguments,
pytrees of parameters, Jacobian layouts, stop_gradient, complex inputs, and the errors
raised for bad input."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax, tree
from tests.helpers import f64
from transforms import (
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


def c128(x):
    return fx.asarray(np.asarray(x, dtype=np.complex128))


def assert_trees_close(got, want, atol=1e-12, rtol=1e-10):
    assert tree.structure(got) == tree.structure(want)
    for g, w in zip(tree.leaves(got), tree.leaves(want)):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=atol, rtol=rtol)


# --- argnums ---------------------------------------------------------------------------------
def test_grad_of_sum_of_squares_is_two_x():
    x = np.random.default_rng(0).standard_normal(5)
    g = grad(lambda x: fnp.sum(x ** 2))(f64(x))
    assert g.dtype == np.float64 and g.shape == (5,)
    np.testing.assert_allclose(np.asarray(g), 2 * x, rtol=1e-12)


def test_grad_keeps_the_input_dtype():
    g = grad(lambda x: fnp.sum(x ** 2))(fx.asarray([1.0, 2.0], dtype="float32"))
    assert g.dtype == np.float32
    np.testing.assert_allclose(np.asarray(g), [2.0, 4.0])


def test_grad_argnums_int_differentiates_that_argument_only():
    f = lambda x, y: x * y ** 2
    assert float(grad(f, argnums=1)(f64(2.0), f64(3.0))) == pytest.approx(12.0)
    assert float(grad(f)(f64(2.0), f64(3.0))) == pytest.approx(9.0)


def test_grad_argnums_tuple_returns_a_tuple_of_gradients():
    f = lambda x, y, z: x * y ** 2 + z
    g = grad(f, argnums=(0, 1))(f64(2.0), f64(3.0), f64(5.0))
    assert isinstance(g, tuple) and len(g) == 2
    np.testing.assert_allclose([float(g[0]), float(g[1])], [9.0, 12.0])
    (only_z,) = grad(f, argnums=(2,))(f64(2.0), f64(3.0), f64(5.0))
    assert float(only_z) == pytest.approx(1.0)


def test_grad_negative_argnums_count_from_the_end():
    f = lambda x, y: x * y ** 2
    args = (f64(2.0), f64(3.0))
    assert float(grad(f, argnums=-1)(*args)) == pytest.approx(12.0)
    g = grad(f, argnums=(-2, -1))(*args)
    np.testing.assert_allclose([float(g[0]), float(g[1])], [9.0, 12.0])


def test_grad_of_an_unused_argument_is_zeros_of_its_shape_and_dtype():
    _, gy = grad(lambda x, y: x * 2.0, argnums=(0, 1))(f64(1.0), f64([1.0, 2.0, 3.0]))
    assert gy.shape == (3,) and gy.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(gy), np.zeros(3))


def test_value_and_grad_returns_the_value_and_the_gradient():
    x = np.array([0.5, -1.0, 2.0])
    value, g = value_and_grad(lambda x: fnp.sum(fnp.sin(x)))(f64(x))
    assert float(value) == pytest.approx(np.sum(np.sin(x)))
    np.testing.assert_allclose(np.asarray(g), np.cos(x), rtol=1e-12)


def test_value_and_grad_with_tuple_argnums():
    value, (gx, gy) = value_and_grad(lambda x, y: x * y, argnums=(0, 1))(f64(2.0), f64(5.0))
    assert (float(value), float(gx), float(gy)) == pytest.approx((10.0, 5.0, 2.0))


# --- has_aux and keyword arguments -------------------------------------------------------------
def test_grad_has_aux_returns_the_aux_undifferentiated():
    def loss(x):
        return fnp.sum(x ** 2), {"double": x * 2.0, "count": 3}

    g, aux = grad(loss, has_aux=True)(f64([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(g), [2.0, 4.0])
    assert aux["count"] == 3
    np.testing.assert_allclose(np.asarray(aux["double"]), [2.0, 4.0])
    np.testing.assert_allclose(np.asarray(aux["double"] + 1.0), [3.0, 5.0])  # not a leaked tracer


def test_value_and_grad_has_aux_returns_value_aux_pair_and_gradient():
    (value, aux), g = value_and_grad(lambda x: (x ** 3, fnp.sin(x)), has_aux=True)(f64(2.0))
    assert float(value) == pytest.approx(8.0)
    assert float(aux) == pytest.approx(np.sin(2.0))
    assert float(g) == pytest.approx(12.0)


def test_keyword_arguments_are_passed_through_undifferentiated():
    def f(x, y, *, scale, offset=0.0):
        return fnp.sum(scale * x * y) + offset

    x, y, scale = f64([1.0, 2.0]), f64([3.0, 4.0]), f64([10.0, 100.0])
    gx = grad(f)(x, y, scale=scale, offset=f64(7.0))
    np.testing.assert_allclose(np.asarray(gx), [30.0, 400.0])
    gx, gy = grad(f, argnums=(0, 1))(x, y, scale=scale)
    np.testing.assert_allclose(np.asarray(gy), [10.0, 200.0])
    value, _ = value_and_grad(f)(x, y, scale=scale, offset=f64(7.0))
    assert float(value) == pytest.approx(30.0 + 800.0 + 7.0)


# --- pytrees of parameters ----------------------------------------------------------------------
def test_grad_of_dict_params_has_the_dict_structure():
    rng = np.random.default_rng(1)
    w, b, x = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3)
    params = {"w": f64(w), "b": f64(b)}
    g = grad(lambda p, x: fnp.sum(p["w"] @ x + p["b"]))(params, f64(x))
    assert_trees_close(g, {"w": np.outer(np.ones(2), x), "b": np.ones(2)})


def test_grad_of_list_and_tuple_params():
    g = grad(lambda p: p[0] * p[1] ** 2)([f64(3.0), f64(2.0)])
    assert isinstance(g, list)
    assert_trees_close(g, [np.float64(4.0), np.float64(12.0)])
    g = grad(lambda p: p[0] * p[1] ** 2)((f64(3.0), f64(2.0)))
    assert isinstance(g, tuple)
    assert_trees_close(g, (np.float64(4.0), np.float64(12.0)))


def test_grad_of_nested_pytree_params():
    params = {"layer": [f64([1.0, 2.0]), (f64(3.0), {"c": f64(4.0)})], "scale": f64(0.5)}

    def f(p):
        v, (s, d) = p["layer"]
        return p["scale"] * fnp.sum(v * s * d["c"])

    g = grad(f)(params)
    want = {"layer": [np.array([6.0, 6.0]), (np.float64(6.0), {"c": np.float64(4.5)})],
            "scale": np.float64(36.0)}
    assert_trees_close(g, want)


def test_grad_with_none_leaves_in_params_keeps_them():
    g = grad(lambda p: p["a"] * 2.0)({"a": f64(1.0), "b": None})
    assert g["b"] is None
    assert float(g["a"]) == pytest.approx(2.0)


# --- vjp ---------------------------------------------------------------------------------------
def test_vjp_with_pytree_output_returns_input_structured_cotangents():
    def f(p):
        a, b = p
        return {"sum": a + b, "pair": (a * b, fnp.sin(a))}

    primals = [f64(1.0), f64(2.0)]
    out, vjp_fn = vjp(f, primals)
    assert_trees_close(out, {"sum": 3.0, "pair": (2.0, np.sin(1.0))})
    (ct_p,) = vjp_fn({"sum": f64(1.0), "pair": (f64(10.0), f64(100.0))})
    assert isinstance(ct_p, list)
    assert_trees_close(ct_p, [1.0 + 10.0 * 2.0 + 100.0 * np.cos(1.0), 1.0 + 10.0 * 1.0])


def test_vjp_fn_can_be_called_repeatedly_giving_jacobian_rows():
    x = np.array([1.0, 2.0, 3.0])
    _, vjp_fn = vjp(lambda x: x[:2] * x[1:], f64(x))
    rows = [np.asarray(vjp_fn(f64(e))[0]) for e in np.eye(2)]
    np.testing.assert_allclose(rows, [[2.0, 1.0, 0.0], [0.0, 3.0, 2.0]])


def test_vjp_with_several_primals_returns_one_cotangent_each():
    _, vjp_fn = vjp(lambda x, y: x * y, f64([1.0, 2.0]), f64([3.0, 4.0]))
    cx, cy = vjp_fn(f64([1.0, 10.0]))
    np.testing.assert_allclose(np.asarray(cx), [3.0, 40.0])
    np.testing.assert_allclose(np.asarray(cy), [1.0, 20.0])


def test_vjp_has_aux_returns_the_aux_third():
    out, vjp_fn, aux = vjp(lambda x: (x ** 2, {"x": x}), f64(3.0), has_aux=True)
    assert float(out) == pytest.approx(9.0)
    assert float(aux["x"]) == pytest.approx(3.0)
    assert float(vjp_fn(f64(1.0))[0]) == pytest.approx(6.0)


# --- linearize, jacfwd, jacrev, hessian -----------------------------------------------------
def test_linearize_equals_jvp_on_pytrees():
    rng = np.random.default_rng(2)

    def f(p, x):
        return {"y": fnp.tanh(p["w"] @ x + p["b"]), "n": fnp.sum(x ** 2)}

    p = {"w": f64(rng.standard_normal((2, 3))), "b": f64(rng.standard_normal(2))}
    x = f64(rng.standard_normal(3))
    tp = {"w": f64(rng.standard_normal((2, 3))), "b": f64(rng.standard_normal(2))}
    tx = f64(rng.standard_normal(3))
    out, f_jvp = linearize(f, p, x)
    out_jvp, t_jvp = jvp(f, (p, x), (tp, tx))
    assert_trees_close(out, out_jvp)
    assert_trees_close(f_jvp(tp, tx), t_jvp)
    double = f_jvp(tree.map(lambda a: 2.0 * a, tp), 2.0 * tx)  # reusable, and linear
    assert_trees_close(double, tree.map(lambda a: 2.0 * a, t_jvp))


def test_jacobian_of_a_linear_map_is_its_matrix():
    a = np.random.default_rng(3).standard_normal((2, 3))
    x = f64(np.ones(3))
    for jac in (jacfwd, jacrev):
        j = jac(lambda x: f64(a) @ x)(x)
        assert j.shape == (2, 3)
        np.testing.assert_allclose(np.asarray(j), a, rtol=1e-12)


def test_jacobian_shapes_are_out_shape_plus_in_shape():
    x = f64(np.random.default_rng(4).standard_normal((2, 3)))
    f = lambda x: fnp.sin(x)[None] * fnp.ones((4, 1, 1), dtype="float64")
    for jac in (jacfwd, jacrev):
        assert jac(f)(x).shape == (4, 2, 3, 2, 3)
        assert jac(fnp.sum)(x).shape == (2, 3)
        assert jac(lambda x: x * 2.0)(f64(1.5)).shape == ()


def test_jacfwd_and_jacrev_agree_on_pytrees_with_nested_layout():
    rng = np.random.default_rng(5)

    def f(p, x):
        return {"y": fnp.tanh(p["w"] @ x + p["b"]), "s": fnp.sum(p["w"] ** 2)}

    p = {"w": f64(rng.standard_normal((2, 3))), "b": f64(rng.standard_normal(2))}
    x = f64(rng.standard_normal(3))
    jf, jr = jacfwd(f)(p, x), jacrev(f)(p, x)
    shapes = tree.map(lambda a: a.shape, jf)
    assert shapes == {"y": {"w": (2, 2, 3), "b": (2, 2)}, "s": {"w": (2, 3), "b": (2,)}}
    assert_trees_close(jr, jf)
    np.testing.assert_allclose(np.asarray(jr["s"]["w"]), 2 * np.asarray(p["w"]))


def test_jacfwd_and_jacrev_with_tuple_argnums_agree():
    rng = np.random.default_rng(6)
    f = lambda x, y, z: fnp.sin(x)[:, None] * y[None, :] + z
    x, y, z = (f64(rng.standard_normal(n)) for n in (3, 2, 2))
    jf = jacfwd(f, argnums=(0, 1))(x, y, z)
    jr = jacrev(f, argnums=(1, 0))(x, y, z)
    assert isinstance(jf, tuple) and len(jf) == 2
    assert jf[0].shape == (3, 2, 3) and jf[1].shape == (3, 2, 2)
    assert_trees_close(jr, (jf[1], jf[0]))
    # d f[i, j] / d y[k] = sin(x[i]) * delta(j, k)
    want = np.sin(np.asarray(x))[:, None, None] * np.eye(2)[None]
    np.testing.assert_allclose(np.asarray(jf[1]), want, rtol=1e-12)


def test_jacrev_and_jacfwd_has_aux():
    x = f64([1.0, 2.0])
    for jac in (jacfwd, jacrev):
        j, aux = jac(lambda x: (x ** 2, {"sum": fnp.sum(x)}), has_aux=True)(x)
        np.testing.assert_allclose(np.asarray(j), np.diag([2.0, 4.0]))
        assert float(aux["sum"]) == pytest.approx(3.0)


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 4))
    h = hessian(lambda x: x @ f64(a) @ x)(f64(rng.standard_normal(4)))
    assert h.shape == (4, 4)
    np.testing.assert_allclose(np.asarray(h), a + a.T, rtol=1e-12, atol=1e-12)


def test_hessian_with_argnums_and_pytrees():
    x, y = np.array([1.0, 2.0]), np.array([0.5, -1.5])
    h = hessian(lambda x, y: fnp.sum(x * y ** 3), argnums=1)(f64(x), f64(y))
    np.testing.assert_allclose(np.asarray(h), np.diag(6 * x * y), rtol=1e-12)
    hp = hessian(lambda p: fnp.sum(p["a"] ** 2) * p["b"])({"a": f64(x), "b": f64(3.0)})
    assert tree.map(lambda a: a.shape, hp) == {"a": {"a": (2, 2), "b": (2,)},
                                               "b": {"a": (2,), "b": ()}}
    np.testing.assert_allclose(np.asarray(hp["a"]["a"]), 6.0 * np.eye(2))
    np.testing.assert_allclose(np.asarray(hp["a"]["b"]), 2 * x)
    np.testing.assert_allclose(np.asarray(hp["b"]["a"]), 2 * x)
    assert float(hp["b"]["b"]) == 0.0


# --- Python control flow, stop_gradient, complex ---------------------------------------------
def test_python_control_flow_on_values_works_under_grad():
    def piecewise(x):
        if x > 0:
            return x ** 3
        return -2.0 * x

    assert float(grad(piecewise)(f64(2.0))) == pytest.approx(12.0)
    assert float(grad(piecewise)(f64(-2.0))) == pytest.approx(-2.0)

    def power_until_large(x):
        y = x
        while y < 10.0:
            y = y * x
        return y

    assert float(grad(power_until_large)(f64(2.0))) == pytest.approx(32.0)  # x**4 at x=2
    assert float(grad(grad(piecewise))(f64(2.0))) == pytest.approx(12.0)


def test_stop_gradient_treats_its_argument_as_a_constant():
    assert float(grad(lambda x: x * lax.stop_gradient(x))(f64(3.0))) == pytest.approx(3.0)
    _, t = jvp(lambda x: x * lax.stop_gradient(x ** 2), (f64(3.0),), (f64(1.0),))
    assert float(t) == pytest.approx(9.0)
    second = grad(grad(lambda x: lax.stop_gradient(x) * x ** 2))(f64(3.0))
    assert float(second) == pytest.approx(6.0)


def test_stop_gradient_on_a_pytree():
    def f(p):
        frozen = lax.stop_gradient(p)
        return fnp.sum(frozen["a"] * p["a"]) + frozen["b"][0] * p["b"][0] ** 2

    g = grad(f)({"a": f64([1.0, 2.0]), "b": [f64(3.0)]})
    assert_trees_close(g, {"a": np.array([1.0, 2.0]), "b": [np.float64(18.0)]})


def test_grad_of_a_real_function_of_a_complex_input_follows_jax():
    g = grad(lambda z: fnp.abs(z) ** 2)(c128(3 + 4j))
    assert g.dtype == np.complex128
    assert complex(g) == pytest.approx(6 - 8j)
    assert complex(grad(lambda z: fnp.abs(z) ** 2)(3 + 4j)) == pytest.approx(6 - 8j)
    # f = Re(z**2) = x**2 - y**2: JAX gives df/dx - i df/dy
    assert complex(grad(lambda z: fnp.real(z * z))(c128(1 + 2j))) == pytest.approx(2 + 4j)


def test_grad_of_mixed_real_and_complex_pytree():
    z = np.array([1 + 2j, 3 - 1j])
    g = grad(lambda p: fnp.sum(fnp.abs(p["z"]) ** 2) + p["r"] ** 2)({"z": c128(z), "r": f64(2.0)})
    np.testing.assert_allclose(np.asarray(g["z"]), 2 * np.conj(z))
    assert g["r"].dtype == np.float64 and float(g["r"]) == pytest.approx(4.0)


def test_vjp_and_jvp_of_a_holomorphic_function():
    z, t = np.array([1 + 2j, 3 - 1j]), np.array([1j, 2.0 + 0j])
    out, tangent = jvp(lambda z: z ** 3, (c128(z),), (c128(t),))
    np.testing.assert_allclose(np.asarray(out), z ** 3)
    np.testing.assert_allclose(np.asarray(tangent), 3 * z ** 2 * t)
    _, vjp_fn = vjp(lambda z: z ** 3, c128(z))
    np.testing.assert_allclose(np.asarray(vjp_fn(c128(t))[0]), 3 * z ** 2 * t)  # no conj


def test_grad_of_a_constant_python_float_output_is_zero():
    g = grad(lambda x: 1.0)(f64([1.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(g), np.zeros(2))


# --- bad input ---------------------------------------------------------------------------------
def test_grad_of_a_non_scalar_output_raises_type_error():
    with pytest.raises(TypeError, match="scalar output"):
        grad(lambda x: x * 2.0)(f64([1.0, 2.0]))
    with pytest.raises(TypeError, match="scalar output"):
        grad(lambda x: x[:1])(f64([1.0, 2.0]))
    with pytest.raises(TypeError, match="scalar output"):
        value_and_grad(lambda x: (x, x))(f64(1.0))


@pytest.mark.parametrize("value, dtype", [(3, "int32"), (True, "bool"),
                                          (np.array([1, 2], dtype=np.int64), "int64")])
def test_grad_wrt_integer_or_bool_argument_names_the_argument_and_dtype(value, dtype):
    with pytest.raises(TypeError, match=rf"argument 1\b.*{dtype}"):
        grad(lambda x, y: x * fnp.sum(y), argnums=1)(f64(2.0), value)


def test_grad_wrt_integer_leaf_of_a_pytree_names_its_path():
    with pytest.raises(TypeError, match=r"argument 0\b.*'b'.*int32"):
        grad(lambda p: p["a"] * p["b"])({"a": f64(1.0), "b": 2})
    with pytest.raises(TypeError, match=r"argument 2\b.*int32"):
        grad(lambda x, y, z: x * z, argnums=(0, 2))(f64(1.0), f64(2.0), 3)


def test_jacobians_wrt_integer_argument_raise_type_error():
    for jac in (jacfwd, jacrev):
        with pytest.raises(TypeError, match="argument 0.*int32"):
            jac(lambda x: x * 2)(fx.asarray([1, 2], dtype="int32"))


def test_grad_of_a_complex_output_raises_type_error():
    with pytest.raises(TypeError, match="real"):
        grad(lambda z: z * z)(c128(1 + 2j))
    with pytest.raises(TypeError, match="complex128"):
        grad(lambda x: x * (1 + 1j))(f64(1.0))


@pytest.mark.parametrize("argnums", [2, -3, (0, 2)])
def test_argnums_out_of_range_raises(argnums):
    with pytest.raises(TypeError, match=r"argnums.*2 positional argument"):
        grad(lambda x, y: x * y, argnums=argnums)(f64(1.0), f64(2.0))


@pytest.mark.parametrize("argnums", [0.0, "0", (0, 1.0), ()])
def test_argnums_that_are_not_ints_raise(argnums):
    with pytest.raises(TypeError, match="argnums must be an int"):
        grad(lambda x, y: x * y, argnums=argnums)(f64(1.0), f64(2.0))


@pytest.mark.parametrize("argnums", [(0, 0), (1, -1)])
def test_repeated_argnums_raise(argnums):
    with pytest.raises(ValueError, match="repeats an argument"):
        grad(lambda x, y: x * y, argnums=argnums)(f64(1.0), f64(2.0))


def test_bad_argnums_raise_for_jacobians_too():
    for jac in (jacfwd, jacrev):
        with pytest.raises(TypeError, match="argnums"):
            jac(lambda x: x, argnums=1)(f64(1.0))


@pytest.mark.parametrize("returned", [lambda x: x * x, lambda x: (x * x, x, x),
                                      lambda x: [x * x]])
def test_has_aux_without_a_pair_raises(returned):
    with pytest.raises(TypeError, match="pair"):
        grad(returned, has_aux=True)(f64(1.0))
    with pytest.raises(TypeError, match="pair"):
        vjp(returned, f64(1.0), has_aux=True)


def test_vjp_fn_with_wrong_cotangent_shape_or_dtype_raises():
    _, vjp_fn = vjp(lambda x: x * 2.0, f64([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"shape"):
        vjp_fn(f64([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match=r"dtype"):
        vjp_fn(fx.asarray([1.0, 2.0], dtype="float32"))


def test_vjp_fn_with_wrongly_structured_cotangent_raises():
    _, vjp_fn = vjp(lambda x: {"a": x, "b": (x, x)}, f64(1.0))
    with pytest.raises(TypeError, match="structure"):
        vjp_fn({"a": f64(1.0), "b": [f64(1.0), f64(1.0)]})
    with pytest.raises(TypeError, match="structure"):
        vjp_fn({"a": f64(1.0)})
    with pytest.raises(TypeError, match="structure"):
        vjp_fn(f64(1.0))


def test_linearized_jvp_with_wrong_tangent_raises():
    _, f_jvp = linearize(lambda x: x * 2.0, f64(1.0))
    with pytest.raises(TypeError, match="shape"):
        f_jvp(f64([1.0, 2.0]))


def test_tracer_leaked_out_of_grad_raises_naming_the_transform():
    leaked = []

    def f(x):
        leaked.append(x * 2.0)
        return x ** 2

    assert float(grad(f)(f64(3.0))) == pytest.approx(6.0)
    with pytest.raises(fx.TracerLeakError, match="grad"):
        leaked[0] + 1.0
    with pytest.raises(fx.TracerLeakError, match="grad"):
        fnp.sin(leaked[0])
    with pytest.raises(fx.TracerLeakError, match="grad"):
        grad(lambda y: y * leaked[0])(f64(1.0))


def test_tracer_leaked_out_of_jvp_raises_naming_jvp():
    leaked = []

    def f(x):
        leaked.append(x)
        return fnp.sin(x)

    jvp(f, (f64(1.0),), (f64(1.0),))
    with pytest.raises(fx.TracerLeakError, match="jvp"):
        leaked[0] * 2.0


def test_integer_intermediates_carry_no_derivative():
    x = f64([0.5, 1.5, 2.5])
    np.testing.assert_array_equal(np.asarray(grad(lambda x: fnp.sum(x * x.astype("int32")))(x)),
                                  [0.0, 1.0, 2.0])
    picked = grad(lambda x: fnp.sum(x[(x * 0).astype("int32")]))(x)  # indices computed from x
    np.testing.assert_array_equal(np.asarray(picked), [3.0, 0.0, 0.0])


def test_custom_vjp_with_an_integer_output():
    @custom_vjp
    def f(x):
        return x * 2.0, fnp.argmax(x)

    f.defvjp(lambda x: (f(x), None), lambda _, ct: (ct[0] * 3.0,))
    np.testing.assert_array_equal(np.asarray(grad(lambda x: fnp.sum(f(x)[0]))(f64([1.0, 2.0]))),
                                  [3.0, 3.0])


# --- found in review ---------------------------------------------------------------------------
def test_power_derivatives_at_the_edges_follow_jax():
    z = fx.asarray(-1 + 1j, dtype="complex128")
    _, t = jvp(lambda y: z ** y, (c128(2.0),), (c128(1.0),))
    np.testing.assert_allclose(complex(t), np.log(-1 + 1j) * (-1 + 1j) ** 2)  # complex base
    assert float(grad(lambda x: x ** 0)(f64(0.0))) == 0.0  # x^0 is constant, even at 0
    assert float(grad(lambda x: x ** fnp.zeros((), "float64"))(f64(0.0))) == 0.0


def test_complex_jacobians_need_holomorphic_functions():
    with pytest.raises(TypeError, match="jacrev requires real outputs"):
        jacrev(lambda x: x * (1 + 2j))(f64([1.0]))
    with pytest.raises(TypeError, match="jacfwd requires real inputs"):
        jacfwd(fnp.abs)(c128([3 + 4j]))


def test_grad_of_a_tuple_output_is_rejected():
    with pytest.raises(TypeError, match="scalar output.*pytree"):
        grad(lambda x: (x * 2,))(f64(1.0))


def test_jvp_rejects_integer_primals_and_casts_python_tangents():
    with pytest.raises(TypeError, match="primal 0 has dtype int32"):
        jvp(lambda n: n * 2, (fx.asarray(3),), (fx.asarray(1),))
    _, t = jvp(fnp.sin, (f64(0.0),), (1.0,))
    assert t.dtype == np.float64 and float(t) == 1.0


def test_hessian_with_aux():
    h, aux = hessian(lambda x: (fnp.sum(x ** 3), x * 2), has_aux=True)(f64([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(h), np.diag([6.0, 12.0]))
    np.testing.assert_allclose(np.asarray(aux), [2.0, 4.0])
