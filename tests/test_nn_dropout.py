"""nnlib dropout: F.dropout / alpha_dropout (inverted scaling, statistics, determinism per
key, eval identity, rate validation, gradients, vmap and jit) and the Dropout and
AlphaDropout modules (train without a key raises)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from transforms import grad, jit, vmap

KEY = fx.random.key(0)


def test_dropout_values_and_statistics():
    x = fx.asarray(np.linspace(1.0, 2.0, 40000))
    y = np.asarray(F.dropout(KEY, x, 0.3))
    xn = np.asarray(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], xn[kept] / 0.7, rtol=1e-12)
    assert abs(kept.mean() - 0.7) < 0.01
    assert abs(y.mean() - xn.mean()) < 0.01 * xn.mean()
    assert y.dtype == np.float64
    y32 = F.dropout(KEY, fnp.ones(1000), 0.5)
    assert y32.dtype == np.float32 and set(np.unique(np.asarray(y32))) == {0.0, 2.0}


def test_dropout_keys_and_identity():
    x = fnp.ones((50, 20))
    a, b = F.dropout(KEY, x, 0.5), F.dropout(KEY, x, 0.5)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = F.dropout(fx.random.key(1), x, 0.5)
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert F.dropout(KEY, x, 0.5, train=False) is x
    assert F.dropout(None, x, 0.0) is x
    assert F.dropout(None, x, 0.7, train=False) is x
    for bad in (-0.1, 1.0, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="rate must be a number in"):
            F.dropout(KEY, x, bad)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        F.dropout(None, x, 0.5)


def test_dropout_grads_vmap_jit():
    x = fx.asarray(np.random.default_rng(0).standard_normal((4, 5)))
    check_grads(lambda x: F.dropout(KEY, x, 0.4), (x,), order=2)
    mask = np.asarray(F.dropout(KEY, fnp.ones((4, 5), np.float64), 0.4)) != 0
    np.testing.assert_allclose(np.asarray(grad(lambda x: F.dropout(KEY, x, 0.4).sum())(x)),
                               mask / 0.6)
    np.testing.assert_array_equal(np.asarray(jit(lambda k, x: F.dropout(k, x, 0.4))(KEY, x)),
                                  np.asarray(F.dropout(KEY, x, 0.4)))
    keys = fx.random.split(KEY, 3)
    got = vmap(lambda k: F.dropout(k, x, 0.4))(keys)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(got[i]), np.asarray(F.dropout(keys[i], x, 0.4)))


def test_alpha_dropout():
    x = fx.random.normal(fx.random.key(3), (200000,), np.float64)
    y = np.asarray(F.alpha_dropout(KEY, x, 0.25))
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    alpha = 1.7580993408473766
    a = 1 / np.sqrt((alpha ** 2 * 0.25 + 1) * 0.75)
    xn = np.asarray(x)
    dropped_value = -alpha * a + alpha * a * 0.25
    dropped = np.isclose(y, dropped_value, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - 0.25) < 0.01
    np.testing.assert_allclose(y[~dropped], a * xn[~dropped] + alpha * a * 0.25, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(F.alpha_dropout(KEY, x, 0.25)), y)
    assert F.alpha_dropout(KEY, x, 0.25, train=False) is x
    with pytest.raises(ValueError, match="alpha_dropout: rate"):
        F.alpha_dropout(KEY, x, 1.0)
    with pytest.raises(ValueError, match="alpha_dropout: .*needs a PRNG key"):
        F.alpha_dropout(None, x, 0.25)
    check_grads(lambda x: F.alpha_dropout(KEY, x, 0.3), (x[:6],), order=1)


@pytest.mark.parametrize("cls", [nnlib.Dropout, nnlib.AlphaDropout])
def test_dropout_modules(cls):
    layer = cls(0.5)
    x = fx.random.normal(fx.random.key(2), (8, 6))
    params, state = layer.init(KEY, x)
    assert params == {} and state == {}
    out, new_state = layer.apply(params, state, x)
    assert out is x and new_state == {}
    a, _ = layer.apply(params, state, x, key=KEY, train=True)
    b, _ = layer.apply(params, state, x, key=KEY, train=True)
    c, _ = layer.apply(params, state, x, key=fx.random.key(1), train=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert not np.array_equal(np.asarray(a), np.asarray(x))
    with pytest.raises(ValueError, match=f"{cls.__name__}: apply with train=True needs a PRNG"):
        layer.apply(params, state, x, train=True)
    assert cls(0.0).apply({}, {}, x, train=True)[0] is x
    for bad in (-0.5, 1.0, "x"):
        with pytest.raises(ValueError, match=f"{cls.__name__}: rate"):
            cls(bad)


def test_dropout_in_sequential_gets_split_keys():
    model = nnlib.Sequential(nnlib.Linear(10), nnlib.Dropout(0.5), nnlib.Dropout(0.5))
    x = fnp.ones((4, 3))
    params, state = model.init(KEY, x)
    out, _ = model.apply(params, state, x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(
        nnlib.Linear(10).apply(params["0"], {}, x)[0]))
    step = jit(lambda p, x, k: model.apply(p, state, x, key=k, train=True)[0])
    np.testing.assert_array_equal(np.asarray(step(params, x, KEY)),
                                  np.asarray(model.apply(params, state, x, key=KEY,
                                                         train=True)[0]))
