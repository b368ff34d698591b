"""nnlib activations: values against NumPy/scipy formulas (torch's definitions), torch's
derivatives at the kinks, float64 gradient checks away from them, vmap/jit consistency,
overflow-free extremes, lean jitted gradients, the layers and their errors."""
import warnings

import numpy as np
import pytest
from scipy import special

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from transforms import grad, jit, value_and_grad, vmap

ALPHA, SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _elu(x, a):
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, a * np.expm1(x))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x, beta=1.0, threshold=20.0):
    with np.errstate(over="ignore"):
        return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _glu(x, axis):
    a, b = np.split(x, 2, axis=axis)
    return a * special.expit(b)


# name: (our function, reference, points away from the kinks for check_grads)
CASES = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.3": (lambda x: F.leaky_relu(x, 0.3), lambda x: np.where(x > 0, x, 0.3 * x)),
    "leaky_relu_2": (lambda x: F.leaky_relu(x, 2.0), lambda x: np.where(x > 0, x, 2 * x)),
    "leaky_relu_neg": (lambda x: F.leaky_relu(x, -0.5), lambda x: np.where(x > 0, x, -0.5 * x)),
    "leaky_relu_0": (lambda x: F.leaky_relu(x, 0.0), lambda x: np.maximum(x, 0)),
    "elu": (F.elu, lambda x: _elu(x, 1.0)),
    "elu_2": (lambda x: F.elu(x, 2.0), lambda x: _elu(x, 2.0)),
    "selu": (F.selu, lambda x: SCALE * _elu(x, ALPHA)),
    "celu": (lambda x: F.celu(x, 0.5),
             lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * np.expm1(np.minimum(x, 0) / 0.5))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + special.erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), _gelu_tanh),
    "silu": (F.silu, lambda x: x * special.expit(x)),
    "mish": (F.mish, lambda x: x * np.tanh(np.logaddexp(0, x))),
    "sigmoid": (F.sigmoid, special.expit),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1, 1)),
    "hardtanh_0_3": (lambda x: F.hardtanh(x, 0.0, 3.0), lambda x: np.clip(x, 0, 3)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "tanh": (F.tanh, np.tanh),
    "softplus": (F.softplus, _softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                      lambda x: _softplus(x, 2.0, 5.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "logsigmoid": (F.logsigmoid, special.log_expit),
    "softmax": (lambda x: F.softmax(x, dim=-1), lambda x: special.softmax(x, axis=-1)),
    "softmax_0": (lambda x: F.softmax(x, dim=0), lambda x: special.softmax(x, axis=0)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), lambda x: special.log_softmax(x, axis=1)),
    "glu": (lambda x: F.glu(x, dim=-1), lambda x: _glu(x, -1)),
    "glu_0": (lambda x: F.glu(x, dim=0), lambda x: _glu(x, 0)),
}
KINKS = [-3.0, -1.0, 0.0, 1.0, 3.0, 5.0 / 2, 6.0]


def _grid():
    """(2, 4) float64 points spread over [-8, 8], none within 0.1 of a kink."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-8, 8, (2, 4))
    for k in KINKS:
        near = np.abs(x - k) < 0.1
        x[near] += 0.25
    return x


def _wide():
    return np.concatenate([np.linspace(-40, 40, 161), [-700.0, -1e4, 1e4, 0.0]]).reshape(15, 11)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_match_the_formulas(name, dtype):
    fn, ref = CASES[name]
    x = _wide().astype(dtype)[:14, :8] if name.startswith("glu") else _wide().astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings, even at -1e4
        got = np.asarray(fn(fnp.asarray(x)))
    assert got.dtype == dtype
    want = ref(x.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 3e-6
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_order_two(name):
    fn, _ = CASES[name]
    check_grads(fn, (fnp.asarray(_grid()),), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_and_jit_agree_with_eager(name):
    fn, _ = CASES[name]
    x = fnp.asarray(np.random.default_rng(1).normal(size=(3, 2, 4)) * 3)  # even sizes
    eager = np.stack([np.asarray(fn(x[i])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(vmap(fn)(x)), eager, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(jit(vmap(fn))(x)), eager, rtol=1e-13, atol=1e-15)
    g = lambda x: fnp.sum(fnp.sin(fn(x)))  # noqa: E731
    np.testing.assert_allclose(np.asarray(jit(grad(g))(x[0])), np.asarray(grad(g)(x[0])),
                               rtol=1e-13, atol=1e-15)
    per_example = np.stack([np.asarray(grad(g)(x[i])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(vmap(grad(g))(x)), per_example, rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("fn, x, slope", [
    (F.relu, 0.0, 0.0), (F.relu, -0.0, 0.0), (F.relu6, 0.0, 0.0), (F.relu6, 6.0, 0.0),
    (lambda x: F.leaky_relu(x, 0.2), 0.0, 0.2), (lambda x: F.leaky_relu(x, -0.5), 0.0, -0.5),
    (F.hardtanh, -1.0, 0.0), (F.hardtanh, 1.0, 0.0), (F.hardsigmoid, 3.0, 0.0),
    (F.hardsigmoid, -3.0, 0.0), (F.hardsigmoid, 1.0, 1 / 6), (F.hardswish, 3.0, 1.5),
    (F.hardswish, -3.0, -0.5), (F.hardswish, 4.0, 1.0), (F.hardswish, -4.0, 0.0),
    (F.elu, 0.0, 1.0), (lambda x: F.elu(x, 2.0), 0.0, 2.0), (F.selu, 0.0, SCALE * ALPHA),
    (F.celu, 0.0, 1.0), (F.softplus, 30.0, 1.0), (F.softplus, 0.0, 0.5),
])
def test_derivatives_at_the_kinks_are_torchs(fn, x, slope):
    x = fnp.asarray(np.float64(x))
    assert float(grad(fn)(x)) == pytest.approx(slope, rel=1e-12)
    assert float(jit(grad(fn))(x)) == pytest.approx(slope, rel=1e-12)


def test_tails_keep_relative_accuracy_in_float32():
    x = np.asarray([-80.0, -30.0, -17.0, 17.0, 30.0, 80.0], np.float32)
    xs = fnp.asarray(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(np.asarray(F.sigmoid(xs)), special.expit(x64), rtol=2e-6)
    np.testing.assert_allclose(np.asarray(F.logsigmoid(xs)), special.log_expit(x64), rtol=2e-6)
    np.testing.assert_allclose(np.asarray(F.softplus(xs[:3])), np.exp(x64[:3]), rtol=2e-6)
    np.testing.assert_allclose(np.asarray(F.silu(xs)), x64 * special.expit(x64), rtol=2e-6)
    # the derivatives too: sigmoid' = s (1 - s), logsigmoid' = sigmoid(-x)
    np.testing.assert_allclose(np.asarray(vmap(grad(F.sigmoid))(xs)),
                               special.expit(x64) * special.expit(-x64), rtol=5e-6)
    np.testing.assert_allclose(np.asarray(vmap(grad(F.logsigmoid))(xs)), special.expit(-x64),
                               rtol=5e-6)
    big = fnp.asarray(np.float32([-1e18, 1e18]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (fn, _) in CASES.items():
            if not name.startswith(("glu", "softmax", "log_softmax")):
                x = big * 1e-6 if name == "gelu_tanh" else big
                assert np.all(np.isfinite(np.asarray(vmap(grad(fn))(x)))), name


def test_softmax_is_shift_stable_and_handles_scalars():
    x = fnp.asarray([[1000.0, 1000.0, -1000.0]])
    np.testing.assert_allclose(np.asarray(F.softmax(x)), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(np.asarray(F.log_softmax(x))[0, :2], [-np.log(2)] * 2, rtol=1e-6)
    assert float(F.softmax(fnp.asarray(3.0))) == 1.0
    assert float(F.log_softmax(fnp.asarray(3.0))) == 0.0
    assert F.softmax(fnp.asarray([1, 2]), dtype=np.float64).dtype == np.float64


def test_jitted_gradients_stay_lean():
    """No tie-splitting (equal) or selects in the gradients of the hot functions, and the
    forward of relu is a single NumPy call."""
    x = fnp.ones((3, 4))
    assert jit(F.relu).lower(x).as_text().count("np.") == 1
    for fn in (F.relu, F.sigmoid, F.silu, F.softplus, F.logsigmoid, F.gelu, F.elu, F.mish,
               F.leaky_relu, F.hardtanh, F.hardswish, F.softmax):
        text = jit(value_and_grad(lambda x, fn=fn: fnp.sum(fn(x)))).lower(x).as_text()
        assert "np.equal" not in text and "np.where" not in text, text


@pytest.mark.parametrize("call, match", [
    (lambda: F.gelu(fnp.ones(2), approximate="erf"), "approximate must be"),
    (lambda: F.softmax(fnp.ones((2, 3)), dim=2), r"dim 2 is out of range.*\(2, 3\)"),
    (lambda: F.log_softmax(fnp.ones((2, 3)), dim=-3), "dim -3 is out of range"),
    (lambda: F.glu(fnp.ones((2, 3))), r"even size, got shape \(2, 3\)"),
    (lambda: F.glu(fnp.asarray(1.0)), "at least one dimension"),
    (lambda: F.hardtanh(fnp.ones(2), 1.0, 1.0), "min_val"),
    (lambda: F.celu(fnp.ones(2), 0.0), "alpha"),
    (lambda: F.softplus(fnp.ones(2), beta=0), "beta"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- layers ---------------------------------------------------------------------------------
LAYERS = [
    (nnlib.ReLU(), F.relu), (nnlib.ReLU6(), F.relu6),
    (nnlib.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nnlib.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (nnlib.SELU(), F.selu), (nnlib.CELU(2.0), lambda x: F.celu(x, 2.0)),
    (nnlib.GELU(), F.gelu), (nnlib.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    (nnlib.SiLU(), F.silu), (nnlib.Mish(), F.mish), (nnlib.Sigmoid(), F.sigmoid),
    (nnlib.Tanh(), fnp.tanh), (nnlib.Softplus(2.0, 3.0), lambda x: F.softplus(x, 2.0, 3.0)),
    (nnlib.Softsign(), F.softsign), (nnlib.Softmax(0), lambda x: F.softmax(x, 0)),
    (nnlib.LogSoftmax(), F.log_softmax), (nnlib.GLU(0), lambda x: F.glu(x, 0)),
    (nnlib.Hardsigmoid(), F.hardsigmoid), (nnlib.Hardtanh(-2.0, 0.5),
                                          lambda x: F.hardtanh(x, -2.0, 0.5)),
    (nnlib.Hardswish(), F.hardswish), (nnlib.LogSigmoid(), F.logsigmoid),
]


@pytest.mark.parametrize("layer, fn", LAYERS, ids=lambda v: getattr(v, "name", ""))
def test_layers_apply_their_function(layer, fn):
    x = fnp.asarray(np.random.default_rng(2).normal(size=(4, 3)) * 3)
    params, state = layer.init(fx.random.key(0), x)
    assert params == {} and state == {}
    out, new_state = layer.apply(params, state, x, train=True)
    assert new_state == {}
    np.testing.assert_array_equal(np.asarray(out), np.asarray(fn(x)))
    np.testing.assert_array_equal(np.asarray(jit(lambda x: layer.apply({}, {}, x)[0])(x)),
                                  np.asarray(out))


def test_layers_in_a_sequential_model():
    model = nnlib.Sequential(nnlib.Flatten(), nnlib.LeakyReLU(0.5), nnlib.Softmax())
    x = fnp.asarray(np.arange(12.0).reshape(2, 3, 2) - 6)
    params, state = model.init(fx.random.key(0), x)
    out, _ = model.apply(params, state, x)
    flat = np.arange(12.0).reshape(2, 6) - 6
    np.testing.assert_allclose(np.asarray(out),
                               special.softmax(np.where(flat > 0, flat, 0.5 * flat), axis=1))


@pytest.mark.parametrize("start, end, shape", [
    (1, -1, (2, 12)), (0, -1, (24,)), (0, 1, (6, 4)), (1, 1, (2, 3, 4)), (-2, -1, (2, 12)),
])
def test_flatten_shapes(start, end, shape):
    x = fnp.asarray(np.arange(24.0).reshape(2, 3, 4))
    out, _ = nnlib.Flatten(start, end).apply({}, {}, x)
    np.testing.assert_array_equal(np.asarray(out), np.arange(24.0).reshape(shape))


def test_flatten_bad_range_names_the_shape():
    with pytest.raises(ValueError, match=r"Flatten: start_dim 2 and end_dim 1.*\(2, 3, 4\)"):
        nnlib.Flatten(2, 1).apply({}, {}, fnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"start_dim 3"):
        nnlib.Flatten(3).apply({}, {}, fnp.ones((2, 3, 4)))


@pytest.mark.parametrize("make, match", [
    (lambda: nnlib.LeakyReLU("0.1"), "LeakyReLU: negative_slope"),
    (lambda: nnlib.ELU(None), "ELU: alpha"), (lambda: nnlib.CELU(0.0), "CELU: alpha"),
    (lambda: nnlib.GELU("erf"), "GELU: approximate"), (lambda: nnlib.Softplus(0.0), "beta"),
    (lambda: nnlib.Hardtanh(1.0, -1.0), "Hardtanh: min_val"),
    (lambda: nnlib.Softmax(1.5), "Softmax: dim"), (lambda: nnlib.GLU(True), "GLU: dim"),
    (lambda: nnlib.Flatten("1"), "Flatten: start_dim"),
])
def test_bad_hyperparameters_fail_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()
