"""Tests of ``fx.testing``: ``check_grads`` and the hypothesis ``strategies``."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx import lax, tree
from fx.testing import check_grads
from fx.testing import strategies as fxst
from tests.helpers import f64, scaled_sin
from transforms import custom_jvp, custom_vjp

FAST = settings(max_examples=15, derandomize=True, deadline=None, database=None)



def f32(x):
    return fx.asarray(np.asarray(x, dtype=np.float32))


RNG = np.random.default_rng(0)
X = f64([0.3, -1.2, 2.0])
Z = fx.asarray(np.array([0.5 + 0.3j, -1.0 + 2.0j, 0.2 - 0.7j]))
A, B = f64(RNG.standard_normal((3, 4))), f64(RNG.standard_normal((4, 2)))
PARAMS = {"w": f64(RNG.standard_normal((3, 4))), "b": f64(RNG.standard_normal(4))}


def mlp(params, x):
    return fnp.sum(fnp.tanh(x @ params["w"] + params["b"]) ** 2)


# --- check_grads passes on correct functions ---------------------------------------------
@pytest.mark.parametrize("f, args", [
    (fnp.sin, (X,)),
    (lambda x: fnp.sum(fnp.tanh(x)), (X,)),
    (lambda a, b: a @ b, (A, B)),
    (mlp, (PARAMS, f64(RNG.standard_normal((2, 3))))),
    (lambda z: z * z, (Z,)),
    (fnp.exp, (Z,)),
    (lambda z: fnp.abs(z) ** 2, (Z,)),  # real output of a non-holomorphic function
    (lambda x: (fnp.sin(x), {"c": fnp.cos(x)}), (X,)),  # pytree output
    (lambda x, y: x * fnp.sin(y), (f64(1.5), f64(0.25))),  # 0-d arguments
], ids=["sin", "tanh_sum", "matmul", "params_dict", "z*z", "exp_z", "abs2_z", "tree_out",
        "scalars"])
def test_check_grads_passes(f, args):
    check_grads(f, args, order=2)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_check_grads_orders_and_modes(order, modes):
    check_grads(lambda x: fnp.sum(fnp.sin(x) * x), (X,), order=order, modes=modes)


def test_check_grads_single_mode_string():
    check_grads(fnp.tanh, (X,), modes="rev")


@pytest.mark.parametrize("f", [fnp.sin, fnp.exp, lambda x: fnp.sum(fnp.tanh(x) ** 2),
                               lambda x: fnp.log(x * x + 1.0)])
def test_check_grads_float32_default_step(f):
    x = f32(RNG.uniform(-2.0, 2.0, 6))
    check_grads(f, (x,), order=3)


def test_float32_needs_its_own_step():
    # A float64-sized step drowns float32 finite differences in rounding error: the
    # default step is chosen by dtype, not fixed.
    x = f32([0.3, -1.2, 2.0])
    with pytest.raises(AssertionError):
        check_grads(fnp.sin, (x,), order=1, eps=1e-6)


@pytest.mark.parametrize("f, x", [
    (lambda x: 1e6 * fnp.sin(x), X),
    (fnp.exp, f64([13.8, 14.0, 14.1])),  # outputs ~1e6
    (lambda x: x ** 2, f64([1e3, -2e3, 1.5e3])),  # large inputs and outputs
    (lambda x: fnp.sum(x ** 2) + 1e8, X),  # large constant offset
    (lambda x: 1e6 * fnp.tanh(x), f32([0.3, -1.2, 2.0])),
    (lambda x: x + 1e4, f32([0.3, -1.2, 2.0])),
], ids=["1e6_sin", "exp_14", "square_1e3", "offset_1e8", "1e6_tanh_f32", "offset_f32"])
def test_tolerances_scale_with_values(f, x):
    check_grads(f, (x,), order=2)


def test_leaves_of_different_scales_and_dtypes():
    w, x = f64(1e3), f64(RNG.standard_normal(5))
    check_grads(lambda w, x: w * fnp.sin(x), (w, x), order=2)
    check_grads(lambda w, x: w * fnp.sin(x), (f32(1e3), f32(np.asarray(x))), order=2)
    check_grads(lambda a, b: fnp.sin(a) * b, (f32([1.0, 2.0]), f64([0.5, -1.0])), order=2)


def test_elements_of_different_scales_float32():
    # One step for the whole leaf would be 4x too large for the small element.
    check_grads(fnp.log, (f32([4.0, 0.109375]),), order=3)


# --- check_grads catches wrong derivatives -----------------------------------------------


@pytest.mark.parametrize("modes, check", [(("fwd",), "fwd"), (("rev",), "rev"),
                                          (("fwd", "rev"), "fwd")])
def test_wrong_custom_jvp_fails(modes, check):
    with pytest.raises(AssertionError) as info:
        check_grads(scaled_sin(1.1), (X,), order=1, modes=modes)
    msg = str(info.value)
    assert check in msg and "order 1" in msg and "max abs error" in msg


def test_slightly_wrong_custom_jvp_fails_in_float64():
    with pytest.raises(AssertionError):
        check_grads(scaled_sin(1.001), (X,), order=1)


def test_right_custom_jvp_passes():
    check_grads(scaled_sin(1.0), (X,), order=2)


def _wrong_bwd():
    f = custom_vjp(lambda x: fnp.sin(x), warn_forward=False)
    f.defvjp(lambda x: (fnp.sin(x), x), lambda x, g: (2.0 * fnp.cos(x) * g,))
    return f


@pytest.mark.parametrize("modes", [("rev",), ("fwd", "rev")])
def test_wrong_custom_vjp_fails(modes):
    with pytest.raises(AssertionError) as info:
        check_grads(_wrong_bwd(), (X,), order=1, modes=modes)
    msg = str(info.value)
    assert "rev" in msg and "order 1" in msg and "max abs error" in msg


def test_wrong_custom_vjp_caught_in_many_float32_elements():
    # The <v, J u> check is judged against the typical size of the pairing, so a 20% error
    # is not drowned by the number of elements, even with float32 tolerances.
    f = custom_vjp(lambda x: fnp.sin(x), warn_forward=False)
    f.defvjp(lambda x: (fnp.sin(x), x), lambda x, g: (1.2 * fnp.cos(x) * g,))
    for seed in range(3):
        x = f32(np.random.default_rng(seed).standard_normal(10_000))
        with pytest.raises(AssertionError, match="rev"):
            check_grads(f, (x,), order=1)


def test_wrong_custom_vjp_is_invisible_to_forward_mode():
    # Forward mode differentiates the original function of a custom_vjp (transforms/custom.py).
    check_grads(_wrong_bwd(), (X,), order=1, modes=("fwd",))


def _right_first_wrong_second():
    # d/dx sin = cos is right, but stop_gradient makes the rule constant in x, so its
    # derivative (the second derivative of f) is 0 instead of -sin(x).
    @custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), t * fnp.cos(lax.stop_gradient(x))
    return f


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_wrong_second_derivative_caught_at_order_2(modes):
    f = _right_first_wrong_second()
    check_grads(f, (X,), order=1, modes=modes)
    with pytest.raises(AssertionError, match="order 2") as info:
        check_grads(f, (X,), order=2, modes=modes)
    assert "max abs error" in str(info.value)


# --- check_grads rejects bad input ---------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"modes": ("bwd",)}, "modes"), ({"modes": ()}, "modes"), ({"modes": ("fwd", "x")}, "modes"),
    ({"order": 0}, "order"), ({"order": -1}, "order"), ({"order": 1.5}, "order"),
    ({"order": True}, "order"),
])
def test_check_grads_bad_options(kwargs, match):
    with pytest.raises(TypeError, match=match):
        check_grads(fnp.sin, (X,), **kwargs)


def test_check_grads_integer_argument():
    with pytest.raises(TypeError, match="int"):
        check_grads(lambda x, n: x * n, (X, fx.asarray([1, 2, 3], dtype="int32")))


# --- strategies: what they draw ------------------------------------------------------------
def _no_subnormals(a):
    a = np.abs(np.asarray(a))
    tiny = np.finfo(a.dtype).tiny
    return bool(np.all((a == 0) | (a >= tiny)))


@FAST
@given(fxst.arrays(dtype="float32", shape=(2, 3), min_value=-1.0, max_value=1.0))
def test_arrays_shape_dtype_range(x):
    assert isinstance(x, fx.Array)
    assert x.shape == (2, 3) and x.dtype == np.float32
    a = np.asarray(x)
    assert np.all(np.isfinite(a)) and np.all((a >= -1) & (a <= 1)) and _no_subnormals(a)


@FAST
@given(fxst.arrays())
def test_arrays_defaults(x):
    a = np.asarray(x)
    assert x.dtype == np.float64 and x.ndim <= 3 and all(1 <= n <= 4 for n in x.shape)
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 10) and _no_subnormals(a)


@FAST
@given(fxst.arrays(dtype="float32", shape=5, min_value=0.1, max_value=0.3, exclude_max=True))
def test_arrays_bounds_not_representable_in_float32(x):
    a = np.asarray(x)
    assert np.all(a >= np.float32(0.1)) and np.all(a >= 0.1) and np.all(a < 0.3)


@FAST
@given(fxst.arrays(dtype=fxst.float_dtypes(), shape=fxst.array_shapes(min_dims=2, max_dims=2)))
def test_arrays_dtype_and_shape_strategies(x):
    assert x.dtype in (np.float32, np.float64) and x.ndim == 2


@FAST
@given(fxst.arrays(dtype=fxst.complex_dtypes(), shape=(3,), min_value=-2.0, max_value=1.0))
def test_arrays_complex(z):
    a = np.asarray(z)
    assert z.dtype in (np.complex64, np.complex128)
    assert np.all((a.real >= -2) & (a.real <= 1) & (a.imag >= -2) & (a.imag <= 1))


@FAST
@given(fxst.arrays(shape=(6,), elements=st.sampled_from([1.0, 2.0])),
       fxst.arrays(shape=(4,), unique=True))
def test_arrays_elements_and_unique(x, y):
    assert set(np.asarray(x).tolist()) <= {1.0, 2.0}
    assert len(set(np.asarray(y).tolist())) == 4


def test_arrays_bad_arguments():
    with pytest.raises(TypeError, match="elements"):
        fxst.arrays(elements=st.just(1.0), min_value=0.0)
    with pytest.raises(ValueError, match="min_value"):
        fxst.arrays(min_value=2.0, max_value=1.0)
    with pytest.raises(TypeError, match="int32"):
        fxst.arrays(dtype="int32")


@FAST
@given(fxst.scalars(dtype="float32", min_value=0.5, max_value=2.0))
def test_scalars(s):
    assert isinstance(s, fx.Array) and s.shape == () and s.dtype == np.float32
    assert 0.5 <= float(np.asarray(s)) <= 2.0


@FAST
@given(fxst.broadcastable_arrays(3, max_dims=2, min_value=-1.0, max_value=1.0))
def test_broadcastable_arrays(xs):
    assert len(xs) == 3 and all(isinstance(x, fx.Array) and x.ndim <= 2 for x in xs)
    np.broadcast_shapes(*(x.shape for x in xs))
    assert (xs[0] + xs[1] * xs[2]).shape == np.broadcast_shapes(*(x.shape for x in xs))


@FAST
@given(fxst.pytrees({"w": fxst.arrays(shape=(3, 2)), "b": fxst.arrays(shape=(2,)),
                     "layers": [fxst.scalars(), fxst.scalars(dtype="float32")]}))
def test_pytrees_template(params):
    assert set(params) == {"b", "layers", "w"} and isinstance(params["layers"], list)
    assert params["w"].shape == (3, 2) and params["b"].shape == (2,)
    assert [x.dtype for x in params["layers"]] == [np.float64, np.float32]


def _containers(t):
    if isinstance(t, (dict, list, tuple)):
        kids = t.values() if isinstance(t, dict) else t
        return {type(t)}.union(*(_containers(k) for k in kids))
    return set()


@FAST
@given(fxst.pytrees(max_leaves=5))
def test_pytrees_random(t):
    leaves = tree.leaves(t)
    assert leaves and all(isinstance(x, fx.Array) for x in leaves)
    assert _containers(t) <= {dict, list, tuple}


@FAST
@given(fxst.pytrees(fxst.scalars(), containers=("dict",)))
def test_pytrees_only_requested_containers(t):
    assert _containers(t) <= {dict} and tree.leaves(t)


def test_pytrees_bad_container():
    with pytest.raises(TypeError, match="containers"):
        fxst.pytrees(containers=("set",))


# --- property-based gradient tests, as users write them ------------------------------------
@FAST
@given(fxst.arrays(shape=fxst.array_shapes(max_dims=2), min_value=-3.0, max_value=3.0))
def test_property_tanh(x):
    check_grads(lambda x: fnp.sum(fnp.tanh(x) ** 2), (x,), order=2)


@FAST
@given(fxst.arrays(dtype="float32", min_value=0.1, max_value=5.0))
def test_property_log_float32(x):
    check_grads(fnp.log, (x,), order=2)


@FAST
@given(fxst.pytrees({"w": fxst.arrays(shape=(3, 2), min_value=-1.0, max_value=1.0),
                     "b": fxst.arrays(shape=(2,), min_value=-1.0, max_value=1.0)}),
       fxst.arrays(shape=(4, 3), min_value=-2.0, max_value=2.0))
def test_property_params_dict(params, x):
    check_grads(mlp, (params, x), order=2)


@FAST
@given(fxst.broadcastable_arrays(2, dtype="complex128", min_value=-1.0, max_value=1.0))
def test_property_complex_product(zs):
    check_grads(lambda a, b: fnp.exp(a) * b, zs, order=1)


def test_property_test_finds_a_wrong_rule():
    bad = scaled_sin(1.1)

    @settings(max_examples=5, derandomize=True, deadline=None, database=None,
              phases=[Phase.generate])  # no shrinking: the first failure is enough here
    @given(fxst.arrays(shape=(3,), min_value=-3.0, max_value=3.0))
    def prop(x):
        check_grads(bad, (x,), order=1)

    with pytest.raises(AssertionError, match="fwd"):
        prop()


# --- packaging: hypothesis stays a test-only dependency -------------------------------------
def test_fx_imports_without_hypothesis():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import fx, fx.testing\n"
        "fx.testing.check_grads(lambda x: x * x, (fx.asarray(2.0, dtype='float64'),))\n"
        "try:\n"
        "    fx.testing.strategies\n"
        "except ImportError as e:\n"
        "    assert 'hypothesis' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('strategies imported without hypothesis')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
