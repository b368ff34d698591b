"""nnlib linear maps and lookups: F.linear / bilinear / embedding / one_hot against NumPy,
gradients (check_grads, float64), vmap and jit consistency; the Linear, Bilinear,
Embedding and Identity modules (init shapes and bounds, apply, keys, bad input)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)


def f64(*shape):
    return fx.asarray(RNG.standard_normal(shape))


def close(got, want, tol=1e-12):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def check_vmap_jit(f, batched, *unbatched):
    """vmap of ``f`` over the leading axis of ``batched`` equals a loop; jit equals eager."""
    want = np.stack([np.asarray(f(b, *unbatched)) for b in batched])
    close(vmap(lambda b: f(b, *unbatched))(batched), want)
    close(jit(f)(batched[0], *unbatched), f(batched[0], *unbatched))


# --- functional -------------------------------------------------------------------------

def test_linear_values():
    x, w, b = f64(2, 5, 3), f64(4, 3), f64(4)
    close(F.linear(x, w, b), np.asarray(x) @ np.asarray(w).T + np.asarray(b))
    close(F.linear(x, w), np.asarray(x) @ np.asarray(w).T)
    v = f64(3)
    close(F.linear(x, v), np.asarray(x) @ np.asarray(v))
    with pytest.raises(ValueError, match="linear.*does not match"):
        F.linear(f64(2, 4), w)


def test_linear_grads_vmap_jit():
    x, w, b = f64(2, 3), f64(4, 3), f64(4)
    check_grads(F.linear, (x, w, b), order=2)
    check_vmap_jit(F.linear, f64(5, 2, 3), w, b)


def test_linear_per_example_weights():
    x, ws, bs = f64(2, 3), f64(5, 4, 3), f64(5, 4)
    got = vmap(F.linear, in_axes=(None, 0, 0))(x, ws, bs)
    close(got, np.stack([np.asarray(F.linear(x, ws[i], bs[i])) for i in range(5)]))


def test_bilinear_values_grads_vmap_jit():
    x1, x2, w, b = f64(3, 2), f64(3, 4), f64(5, 2, 4), f64(5)
    want = np.einsum("ni,oij,nj->no", np.asarray(x1), np.asarray(w), np.asarray(x2))
    close(F.bilinear(x1, x2, w, b), want + np.asarray(b))
    close(F.bilinear(x1, x2, w), want)
    close(F.bilinear(x1[0], x2[0], w), want[0])
    check_grads(F.bilinear, (x1, x2, w, b), order=2)
    check_vmap_jit(lambda a, c, ww: F.bilinear(a, c, ww), f64(6, 3, 2), x2, w)
    with pytest.raises(ValueError, match="bilinear"):
        F.bilinear(x1, f64(2, 4), w)


def test_embedding_values_and_grads():
    w = f64(6, 3)
    idx = fnp.array([[0, 5, 2], [2, 2, 1]])
    close(F.embedding(idx, w), np.asarray(w)[np.asarray(idx)])
    check_grads(lambda w: F.embedding(idx, w), (w,), order=2)
    g = grad(lambda w: F.embedding(idx, w).sum())(w)
    counts = np.bincount(np.asarray(idx).ravel(), minlength=6)
    close(g, np.repeat(counts[:, None], 3, axis=1).astype(float))
    with pytest.raises(TypeError, match="integers"):
        F.embedding(fnp.array([0.0]), w)


def test_embedding_padding_idx_gets_no_gradient():
    w = f64(6, 3)
    idx = fnp.array([0, 5, 2, 5])
    for pad in (5, -1):
        close(F.embedding(idx, w, padding_idx=pad), np.asarray(w)[np.asarray(idx)])
        loss = lambda w, pad=pad: (F.embedding(idx, w, padding_idx=pad) ** 2).sum()  # noqa: E731
        g = np.asarray(grad(loss)(w))
        want = np.zeros((6, 3))
        for i in (0, 2):
            want[i] = 2 * np.asarray(w)[i]
        close(g, want)
    with pytest.raises(ValueError, match="padding_idx"):
        F.embedding(idx, w, padding_idx=6)


def test_embedding_max_norm_and_grad_by_freq():
    w = fx.asarray(np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]]))
    idx = fnp.array([0, 1, 2, 2])
    out = np.asarray(F.embedding(idx, w, max_norm=1.0))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 0.5, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-6)
    g = grad(lambda w: F.embedding(idx, w, max_norm=1.0).sum())(w)
    close(g, [[1, 1], [1, 1], [2, 2]])  # torch: the renormalised weight is the leaf
    out = np.asarray(F.embedding(idx, w, max_norm=1.0, norm_type=1.0))
    np.testing.assert_allclose(np.abs(out).sum(axis=1), [1.0, 0.7, 1.0, 1.0], rtol=1e-6)
    close(F.embedding(idx, w, scale_grad_by_freq=True), np.asarray(w)[np.asarray(idx)])
    g = grad(lambda w: F.embedding(idx, w, scale_grad_by_freq=True).sum())(w)
    close(g, np.ones((3, 2)))


def test_embedding_vmap_jit():
    w = f64(7, 4)
    idx = fx.asarray(RNG.integers(0, 7, (5, 3)))
    check_vmap_jit(lambda i, w: F.embedding(i, w, padding_idx=1), idx, w)
    ws = f64(3, 7, 4)
    got = vmap(lambda w: F.embedding(idx, w, padding_idx=1))(ws)
    close(got, np.stack([np.asarray(ws[i])[np.asarray(idx)] for i in range(3)]))
    g = jit(grad(lambda w: F.embedding(idx, w, padding_idx=1).sum()))(w)
    close(g[1], np.zeros(4))


def test_one_hot():
    x = fnp.array([[0, 3], [1, 1]])
    want = np.eye(4, dtype=np.int32)[np.asarray(x)]
    np.testing.assert_array_equal(np.asarray(F.one_hot(x)), want)
    assert F.one_hot(x).dtype == fx.config.default_int
    np.testing.assert_array_equal(np.asarray(F.one_hot(x, 6)), np.eye(6)[np.asarray(x)])
    assert F.one_hot(x, 4, dtype=np.float64).dtype == np.float64
    assert F.one_hot(fnp.zeros((0,), np.int32), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(x, 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(fnp.array([-1, 0]))
    with pytest.raises(TypeError, match="integers"):
        F.one_hot(fnp.array([1.0]))
    np.testing.assert_array_equal(np.asarray(jit(lambda t: F.one_hot(t, 5))(x)),
                                  np.eye(5)[np.asarray(x)])
    with pytest.raises(ValueError, match="num_classes=-1"):
        jit(F.one_hot)(x)
    np.testing.assert_array_equal(np.asarray(vmap(lambda t: F.one_hot(t, 4))(x)), want)


# --- modules ----------------------------------------------------------------------------

KEY = fx.random.key(0)


def test_linear_module():
    layer = nnlib.Linear(4)
    x = fnp.ones((2, 7, 3))
    params, state = layer.init(KEY, x)
    assert params["weight"].shape == (4, 3) and params["bias"].shape == (4,) and state == {}
    assert params["weight"].dtype == np.float32
    bound = 1 / np.sqrt(3)
    assert all(np.abs(np.asarray(p)).max() <= bound for p in params.values())
    out, _ = layer.apply(params, state, x)
    assert out.shape == (2, 7, 4)
    close(out, np.asarray(x) @ np.asarray(params["weight"]).T + np.asarray(params["bias"]),
          1e-6)
    again, _ = layer.init(KEY, x)
    other, _ = layer.init(fx.random.key(1), x)
    close(again["weight"], params["weight"], 0)
    assert not np.allclose(np.asarray(other["weight"]), np.asarray(params["weight"]))
    p64, _ = layer.init(KEY, fx.asarray(np.ones((2, 3))))
    assert p64["weight"].dtype == np.float64
    assert sorted(nnlib.Linear(2, bias=False).init(KEY, x)[0]) == ["weight"]


def test_linear_module_default_init_statistics():
    params, _ = nnlib.Linear(400).init(KEY, fx.asarray(np.ones((1, 300))))
    w = np.asarray(params["weight"])
    assert abs(w.std() - 1 / np.sqrt(300) / np.sqrt(3)) < 0.01 / np.sqrt(300)


def test_linear_module_errors():
    layer = nnlib.Linear(4)
    params, state = layer.init(KEY, fnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Linear: expected 3 channels.*\(2, 5\)"):
        layer.apply(params, state, fnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Linear: expected a input of rank >= 1"):
        layer.apply(params, state, fnp.ones(()))
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="out_features"):
            nnlib.Linear(bad)


def test_linear_module_grad_vmap_jit():
    layer = nnlib.Linear(3)
    x = f64(4, 2)
    params, state = layer.init(KEY, x)
    f = lambda p, x: layer.apply(p, state, x)[0]  # noqa: E731
    check_grads(f, (params, x), order=1)
    close(jit(f)(params, x), f(params, x))
    close(vmap(f, in_axes=(None, 0))(params, x), f(params, x))


def test_bilinear_module():
    layer = nnlib.Bilinear(5)
    x1, x2 = fnp.ones((3, 2)), fnp.ones((3, 4))
    params, state = layer.init(KEY, x1, x2)
    assert params["weight"].shape == (5, 2, 4) and params["bias"].shape == (5,)
    assert np.abs(np.asarray(params["weight"])).max() <= 1 / np.sqrt(2)
    out, _ = layer.apply(params, state, x1, x2)
    assert out.shape == (3, 5)
    with pytest.raises(ValueError, match="Bilinear: expected 4 channels"):
        layer.apply(params, state, x1, fnp.ones((3, 3)))
    with pytest.raises(ValueError, match="Bilinear: the inputs' leading dimensions"):
        layer.apply(params, state, x1, fnp.ones((2, 4)))
    with pytest.raises(ValueError, match="out_features"):
        nnlib.Bilinear(0)


def test_embedding_module():
    layer = nnlib.Embedding(50, 40, padding_idx=-1)
    idx = fnp.array([[0, 49], [3, 49]])
    params, state = layer.init(KEY, idx)
    w = np.asarray(params["weight"])
    assert w.shape == (50, 40) and state == {}
    np.testing.assert_array_equal(w[49], 0.0)
    assert abs(w[:49].std() - 1) < 0.05 and abs(w[:49].mean()) < 0.05
    out, _ = layer.apply(params, state, idx)
    close(out, w[np.asarray(idx)], 0)
    g = grad(lambda p: layer.apply(p, state, idx)[0].sum())(params)["weight"]
    np.testing.assert_array_equal(np.asarray(g)[49], 0.0)
    np.testing.assert_array_equal(np.asarray(g)[0], 1.0)
    with pytest.raises(TypeError, match="Embedding: indices must be integers"):
        layer.apply(params, state, fnp.ones(2))
    with pytest.raises(ValueError, match="padding_idx"):
        nnlib.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_dim"):
        nnlib.Embedding(5, 0)
    with pytest.raises(ValueError, match="max_norm"):
        nnlib.Embedding(5, 2, max_norm=-1.0)


def test_identity_and_sequential():
    model = nnlib.Sequential(nnlib.Linear(8), nnlib.Identity(), nnlib.Linear(2))
    x = fnp.ones((5, 3))
    params, state = model.init(KEY, x)
    assert params["1"] == {} and params["2"]["weight"].shape == (2, 8)
    out, _ = model.apply(params, state, x)
    assert out.shape == (5, 2)
    assert nnlib.Identity().apply({}, {}, x)[0] is x
