"""nnlib.init: shapes, dtypes, determinism per key, statistics of large draws, fans,
gains and orthogonality."""
import math

import numpy as np
import pytest

import fx
from nnlib import init

KEY = fx.random.key(0)

RANDOM = [init.normal, init.uniform, init.truncated_normal, init.xavier_uniform,
          init.xavier_normal, init.kaiming_uniform, init.kaiming_normal, init.lecun_uniform,
          init.lecun_normal, init.variance_scaling, init.orthogonal]


@pytest.mark.parametrize("fn", RANDOM, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [None, np.float64, np.float16])
def test_shape_dtype_determinism(fn, dtype):
    shape = (6, 4, 3)
    a = fn(KEY, shape, dtype)
    assert a.shape == shape
    assert a.dtype == (np.float32 if dtype is None else dtype)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(fn(KEY, shape, dtype)))
    assert not np.array_equal(np.asarray(a), np.asarray(fn(fx.random.key(1), shape, dtype)))


@pytest.mark.parametrize("fn", [init.zeros, init.ones, init.constant])
def test_constants(fn):
    want = {"zeros": 0.0, "ones": 1.0, "constant": 0.0}[fn.__name__]
    x = fn(None, (2, 3))
    assert x.shape == (2, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x), want)
    assert fn(KEY, 4, np.int32).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(init.constant(KEY, (3,), np.float64, val=2.5)), 2.5)


def test_random_initialisers_reject_integer_dtypes():
    with pytest.raises(TypeError, match="float dtype"):
        init.normal(KEY, (3,), np.int32)


def test_fans_and_gain():
    assert init.fans((10, 4)) == (4, 10)
    assert init.fans((8, 3, 5, 5)) == (75, 200)
    assert init.fans((2, 3, 4, 5, 6)) == (360, 240)
    with pytest.raises(ValueError, match="at least 2"):
        init.fans((5,))
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal(KEY, (3, 4), mode="fan_sideways")
    assert init.default_bound(16) == 0.25 and init.default_bound(0) == 0.0


def _draw(fn, shape, **kw):
    return np.asarray(fn(KEY, shape, np.float64, **kw)).ravel()


def _check_std(x, std, mean=0.0):
    n = x.size
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(x.std() - std) < 0.02 * std


def test_normal_uniform_statistics():
    _check_std(_draw(init.normal, (200, 200), mean=1.5, std=0.3), 0.3, 1.5)
    u = _draw(init.uniform, (200, 200), a=-2.0, b=4.0)
    assert u.min() >= -2.0 and u.max() < 4.0
    _check_std(u, 6 / math.sqrt(12), 1.0)


def test_truncated_normal_statistics():
    x = _draw(init.truncated_normal, (200, 200), mean=1.0, std=2.0, a=0.0, b=3.0)
    assert x.min() >= 0.0 and x.max() <= 3.0
    # Moments of N(1, 2) truncated to [0, 3], i.e. to [-0.5, 1] in std units.
    from math import erf, exp, pi, sqrt
    alpha, beta = -0.5, 1.0
    phi = lambda z: exp(-z * z / 2) / sqrt(2 * pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + erf(z / sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    mean = 1.0 + 2.0 * (phi(alpha) - phi(beta)) / z
    shift = (phi(alpha) - phi(beta)) / z
    var = 4.0 * (1 + (alpha * phi(alpha) - beta * phi(beta)) / z - shift ** 2)
    _check_std(x, math.sqrt(var), mean)
    with pytest.raises(ValueError, match="a < b"):
        init.truncated_normal(KEY, (3,), a=1.0, b=0.0)


def test_xavier_statistics():
    shape = (300, 100, 2)  # fan_in 200, fan_out 600
    _check_std(_draw(init.xavier_normal, shape, gain=2.0), 2.0 * math.sqrt(2 / 800))
    x = _draw(init.glorot_uniform, shape, gain=0.5)
    bound = 0.5 * math.sqrt(6 / 800)
    assert np.abs(x).max() <= bound
    _check_std(x, bound / math.sqrt(3))


def test_kaiming_statistics():
    shape = (300, 50, 3)  # fan_in 150, fan_out 900
    _check_std(_draw(init.kaiming_normal, shape), math.sqrt(2 / (1 + 1e-4)) / math.sqrt(150))
    x = _draw(init.he_normal, shape, mode="fan_out", nonlinearity="relu")
    _check_std(x, math.sqrt(2 / 900))
    x = _draw(init.kaiming_uniform, shape, a=math.sqrt(5))  # PyTorch's Linear default
    bound = 1 / math.sqrt(150)
    assert np.abs(x).max() <= bound and np.abs(x).max() > 0.99 * bound
    _check_std(x, bound / math.sqrt(3))
    x = _draw(init.he_uniform, shape, nonlinearity="tanh", mode="fan_out")
    _check_std(x, 5 / 3 / math.sqrt(900))


def test_lecun_and_variance_scaling_statistics():
    shape = (400, 100)  # fan_in 100
    x = _draw(init.lecun_normal, shape)
    assert np.abs(x).max() <= 2 * 0.1 / 0.87962566103423978 + 1e-12
    _check_std(x, 0.1)
    x = _draw(init.lecun_uniform, shape)
    assert np.abs(x).max() <= math.sqrt(3) * 0.1
    _check_std(x, 0.1)
    x = _draw(init.variance_scaling, shape, scale=2.0, mode="fan_avg", distribution="normal")
    _check_std(x, math.sqrt(2 / 250))
    with pytest.raises(ValueError, match="distribution"):
        init.variance_scaling(KEY, shape, distribution="cauchy")


def test_default_uniform():
    x = np.asarray(init.default_uniform(KEY, (20000,), np.float64, fan_in=25))
    assert np.abs(x).max() <= 0.2 and np.abs(x).max() > 0.199
    _check_std(x, 0.2 / math.sqrt(3))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3), (6, 2, 2)])
def test_orthogonal(shape):
    q = np.asarray(init.orthogonal(KEY, shape, np.float64, gain=2.0))
    assert q.shape == shape
    m = q.reshape(shape[0], -1) / 2.0
    if m.shape[0] <= m.shape[1]:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-12)
    else:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-12)


def test_orthogonal_is_not_biased_in_sign():
    # With R's diagonal signs folded in, Q's first column has no preferred sign.
    firsts = [float(np.asarray(init.orthogonal(fx.random.key(i), (4, 4), np.float64))[0, 0])
              for i in range(40)]
    assert 5 < sum(f > 0 for f in firsts) < 35
    with pytest.raises(ValueError, match="2 dimensions"):
        init.orthogonal(KEY, (4,))
