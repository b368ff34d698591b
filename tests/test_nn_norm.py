"""nnlib normalisation: F.batch_norm / instance_norm / layer_norm / group_norm / rms_norm /
normalize against NumPy formulas, running statistics over several steps with torch's
momentum convention, gradients (check_grads, float64), vmap and jit consistency; the
BatchNorm, InstanceNorm, LayerNorm, GroupNorm and RMSNorm modules."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)
EPS = 1e-5


def f64(*shape, scale=1.0, shift=0.0):
    return fx.asarray(RNG.standard_normal(shape) * scale + shift)


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def check_vmap_jit(f, batched, *rest):
    want = np.stack([np.asarray(f(b, *rest)) for b in batched])
    close(vmap(lambda b: f(b, *rest))(batched), want)
    close(jit(f)(batched[0], *rest), f(batched[0], *rest))


def np_norm(x, axes, eps=EPS):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def chan(v, ndim):
    return np.asarray(v).reshape((-1,) + (1,) * (ndim - 2))


# --- batch_norm -------------------------------------------------------------------------

def test_batch_norm_eval_and_train_values():
    x, w, b = f64(4, 3, 5, scale=2.0, shift=1.0), f64(3), f64(3)
    rm, rv = f64(3), fx.asarray(RNG.uniform(0.5, 2.0, 3))
    xn = np.asarray(x)
    want = (xn - chan(rm, 3)) / np.sqrt(chan(rv, 3) + EPS) * chan(w, 3) + chan(b, 3)
    close(F.batch_norm(x, rm, rv, w, b), want)
    out, new_m, new_v = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    close(out, np_norm(xn, (0, 2)) * chan(w, 3) + chan(b, 3))
    close(new_m, 0.7 * np.asarray(rm) + 0.3 * xn.mean(axis=(0, 2)))
    close(new_v, 0.7 * np.asarray(rv) + 0.3 * xn.var(axis=(0, 2), ddof=1))
    out2d, _, _ = F.batch_norm(x[:, :, 0], rm, rv, training=True)
    close(out2d, np_norm(xn[:, :, 0], (0,)))
    out, m, v = F.batch_norm(x, None, None, training=True)
    assert m is None and v is None
    close(out, np_norm(xn, (0, 2)))


def test_batch_norm_errors():
    x = f64(4, 3, 5)
    with pytest.raises(ValueError, match="running_mean of shape"):
        F.batch_norm(x, fnp.zeros(2), fnp.ones(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(f64(1, 3), fnp.zeros(3), fnp.ones(3), training=True)
    with pytest.raises(ValueError, match="needs running_mean"):
        F.batch_norm(x, None, None)


def test_batch_norm_grads_vmap_jit():
    x, w, b, rm, rv = f64(3, 2, 2), f64(2), f64(2), f64(2), fx.asarray(np.array([0.5, 2.0]))
    check_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, True)[0], (x, w, b), order=2)
    check_grads(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), (x, w, b), order=2)
    train = lambda x: F.batch_norm(x, rm, rv, w, b, True)  # noqa: E731
    xs = f64(4, 3, 2, 2)
    got = vmap(train)(xs)
    for i in range(4):
        for g, want in zip(got, train(xs[i])):
            close(g[i], want)
    for g, want in zip(jit(train)(x), train(x)):
        close(g, want)


def test_batch_norm_module_running_stats_over_steps():
    bn = nnlib.BatchNorm2d(momentum=0.2)
    xs = [f64(4, 3, 2, 2, scale=1 + i, shift=i) for i in range(4)]
    params, state = bn.init(None, xs[0])
    assert state["num_batches_tracked"].dtype == fx.config.default_int
    rm, rv = np.zeros(3), np.ones(3)
    step = jit(lambda p, s, x: bn.apply(p, s, x, train=True))
    for i, x in enumerate(xs):
        out, state = (step if i % 2 else bn.apply)(params, state, x, **({} if i % 2 else
                                                                         {"train": True}))
        xn = np.asarray(x)
        close(out, np_norm(xn, (0, 2, 3)))
        rm = 0.8 * rm + 0.2 * xn.mean(axis=(0, 2, 3))
        rv = 0.8 * rv + 0.2 * xn.var(axis=(0, 2, 3), ddof=1)
        close(state["running_mean"], rm)
        close(state["running_var"], rv)
        assert int(state["num_batches_tracked"]) == i + 1
    x = xs[0]
    out, same = bn.apply(params, state, x)  # eval: running statistics, state unchanged
    assert same is state
    close(out, (np.asarray(x) - chan(rm, 4)) / np.sqrt(chan(rv, 4) + EPS))
    train_out, _ = bn.apply(params, state, x, train=True)
    assert not np.allclose(np.asarray(out), np.asarray(train_out))


def test_batch_norm_module_cumulative_average_and_untracked():
    bn = nnlib.BatchNorm1d(momentum=None)
    xs = [f64(5, 2, shift=3 * i) for i in range(3)]
    params, state = bn.init(None, xs[0])
    for x in xs:
        _, state = bn.apply(params, state, x, train=True)
    close(state["running_mean"], np.mean([np.asarray(x).mean(0) for x in xs], axis=0))
    # The first step's factor 1 / 1 replaces the initial statistics entirely.
    close(state["running_var"], np.mean([np.asarray(x).var(0, ddof=1) for x in xs], axis=0))
    bn = nnlib.BatchNorm1d(affine=False, track_running_stats=False)
    params, state = bn.init(None, xs[0])
    assert params == {} and state == {}
    out, _ = bn.apply(params, state, xs[1])  # no running stats: batch statistics in eval too
    close(out, np_norm(np.asarray(xs[1]), (0,)))


def test_batch_norm_module_shapes_dtypes_errors():
    x = fnp.ones((2, 3, 4))
    params, state = nnlib.BatchNorm1d().init(None, x)
    assert params["weight"].dtype == np.float32 and state["running_var"].dtype == np.float32
    close(params["weight"], np.ones(3), 0)
    close(params["bias"], np.zeros(3), 0)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 3 channels.*\(2, 4, 4\)"):
        nnlib.BatchNorm1d().apply(params, state, fnp.ones((2, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a input of rank 4"):
        nnlib.BatchNorm2d().init(None, x)
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected a input of rank 5"):
        nnlib.BatchNorm3d().init(None, x)
    with pytest.raises(ValueError, match="momentum"):
        nnlib.BatchNorm2d(momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        nnlib.BatchNorm2d(eps=-1.0)
    p3, s3 = nnlib.BatchNorm3d().init(None, fnp.ones((2, 3, 2, 2, 2), np.float64))
    assert p3["weight"].dtype == np.float64 and s3["running_mean"].shape == (3,)


def test_batch_norm_module_grad():
    bn = nnlib.BatchNorm1d()
    x = f64(6, 3)
    params, state = bn.init(None, x)
    f = lambda p, x: bn.apply(p, state, x, train=True)[0]  # noqa: E731
    check_grads(f, (params, x), order=1)
    g = grad(lambda p: (bn.apply(p, state, x, train=True)[0] ** 2).sum())(params)
    assert g["weight"].shape == (3,)


# --- instance_norm ----------------------------------------------------------------------

def test_instance_norm_values_and_running_stats():
    x, w, b = f64(3, 2, 6, scale=3.0, shift=-1.0), f64(2), f64(2)
    xn = np.asarray(x)
    close(F.instance_norm(x, weight=w, bias=b), np_norm(xn, (2,)) * chan(w, 3) + chan(b, 3))
    rm, rv = fnp.zeros(2, np.float64), fnp.ones(2, np.float64)
    out, m, v = F.instance_norm(x, rm, rv, momentum=0.5)
    close(out, np_norm(xn, (2,)))
    close(m, 0.5 * xn.mean(axis=2).mean(axis=0))
    close(v, 0.5 + 0.5 * xn.var(axis=2, ddof=1).mean(axis=0))
    close(F.instance_norm(x, m, v, use_input_stats=False),
          (xn - chan(m, 3)) / np.sqrt(chan(v, 3) + EPS))
    check_grads(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b), order=2)
    check_vmap_jit(lambda x: F.instance_norm(x), f64(4, 3, 2, 5))
    with pytest.raises(ValueError, match="more than 1 spatial"):
        F.instance_norm(f64(2, 3, 1))


def test_instance_norm_modules():
    x = f64(2, 3, 4, 4)
    out, state = nnlib.InstanceNorm2d().apply({}, {}, x)
    close(out, np_norm(np.asarray(x), (2, 3)))
    params, state = nnlib.InstanceNorm2d().init(None, x)
    assert params == {} and state == {}
    out1, _ = nnlib.InstanceNorm2d().apply({}, {}, x[0])  # unbatched (C, H, W)
    close(out1, np.asarray(out)[0])
    layer = nnlib.InstanceNorm1d(affine=True, track_running_stats=True, momentum=0.25)
    y = f64(4, 2, 7)
    params, state = layer.init(None, y)
    assert params["weight"].shape == (2,) and state["running_mean"].shape == (2,)
    out, state = layer.apply(params, state, y, train=True)
    close(state["running_mean"], 0.25 * np.asarray(y).mean(axis=(0, 2)))
    eval_out, same = layer.apply(params, state, y)
    assert same is state and not np.allclose(np.asarray(eval_out), np.asarray(out))
    with pytest.raises(ValueError, match="InstanceNorm3d: expected a input of rank 4 or 5"):
        nnlib.InstanceNorm3d().apply({}, {}, x[0])
    with pytest.raises(ValueError, match="InstanceNorm1d: expected 2 channels"):
        layer.apply(params, state, f64(4, 3, 7))


# --- layer_norm, group_norm, rms_norm, normalize ----------------------------------------

def test_layer_norm():
    x, w, b = f64(2, 3, 4, 5, scale=2.0), f64(4, 5), f64(4, 5)
    xn = np.asarray(x)
    close(F.layer_norm(x, (4, 5), w, b), np_norm(xn, (2, 3)) * np.asarray(w) + np.asarray(b))
    close(F.layer_norm(x, 5), np_norm(xn, (3,)))
    check_grads(lambda x, w, b: F.layer_norm(x, (4, 5), w, b), (x[:1, :1], w, b), order=2)
    check_vmap_jit(lambda x, w, b: F.layer_norm(x, (4, 5), w, b), x, w, b)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (3, 5))
    with pytest.raises(ValueError, match="weight of shape"):
        F.layer_norm(x, (4, 5), f64(5))


def test_layer_norm_module():
    x = f64(3, 4, 6)
    params, state = nnlib.LayerNorm().init(None, x)
    assert params["weight"].shape == (6,) and params["bias"].shape == (6,)
    out, _ = nnlib.LayerNorm().apply(params, state, x)
    close(out, np_norm(np.asarray(x), (2,)))
    layer = nnlib.LayerNorm((4, 6), elementwise_affine=False)
    assert layer.init(None, x) == ({}, {})
    close(layer.apply({}, {}, x)[0], np_norm(np.asarray(x), (1, 2)))
    assert sorted(nnlib.LayerNorm(bias=False).init(None, x)[0]) == ["weight"]
    with pytest.raises(ValueError, match=r"LayerNorm: expected an input whose trailing"):
        nnlib.LayerNorm().apply(params, state, f64(3, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        nnlib.LayerNorm((0, 3))


def test_group_norm():
    x, w, b = f64(2, 6, 5, scale=2.0), f64(6), f64(6)
    xn = np.asarray(x)
    want = np_norm(xn.reshape(2, 3, 2, 5), (2, 3)).reshape(xn.shape)
    close(F.group_norm(x, 3, w, b), want * chan(w, 3) + chan(b, 3))
    close(F.group_norm(x, 1), np_norm(xn, (1, 2)))
    check_grads(lambda x, w, b: F.group_norm(x, 3, w, b), (x[:1, :, :3], w, b), order=2)
    check_vmap_jit(lambda x: F.group_norm(x, 2), f64(3, 2, 4, 3))
    with pytest.raises(ValueError, match="num_groups"):
        F.group_norm(x, 4)
    layer = nnlib.GroupNorm(2)
    params, state = layer.init(None, f64(2, 4, 3, 3))
    assert params["weight"].shape == (4,)
    assert layer.apply(params, state, f64(2, 4, 3, 3))[0].shape == (2, 4, 3, 3)
    with pytest.raises(ValueError, match="GroupNorm: num_groups=2 does not divide"):
        layer.init(None, f64(2, 5, 3))
    with pytest.raises(ValueError, match="GroupNorm: expected 4 channels"):
        layer.apply(params, state, f64(2, 6, 3))
    with pytest.raises(ValueError, match="GroupNorm: expected an input of rank >= 2"):
        layer.apply(params, state, f64(4))
    with pytest.raises(ValueError, match="num_groups"):
        nnlib.GroupNorm(0)


def test_rms_norm():
    x, w = f64(3, 4, 5), f64(5)
    xn = np.asarray(x)
    eps = np.finfo(np.float64).eps
    close(F.rms_norm(x, (5,), w), xn / np.sqrt((xn ** 2).mean(-1, keepdims=True) + eps)
          * np.asarray(w))
    close(F.rms_norm(x, (4, 5), eps=0.1),
          xn / np.sqrt((xn ** 2).mean((1, 2), keepdims=True) + 0.1))
    check_grads(lambda x, w: F.rms_norm(x, 5, w), (x[0], w), order=2)
    check_vmap_jit(lambda x, w: F.rms_norm(x, 5, w), x, w)
    params, state = nnlib.RMSNorm().init(None, x)
    assert params["weight"].shape == (5,)
    close(nnlib.RMSNorm(eps=0.1).apply(params, state, x)[0],
          xn / np.sqrt((xn ** 2).mean(-1, keepdims=True) + 0.1))
    with pytest.raises(ValueError, match="RMSNorm: expected an input whose trailing"):
        nnlib.RMSNorm().apply(params, state, f64(3, 4))
    with pytest.raises(ValueError, match="eps"):
        nnlib.RMSNorm(eps=-1.0)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
def test_normalize(p):
    x = f64(3, 4)
    xn = np.asarray(x)
    norm = np.linalg.norm(xn, ord=p, axis=1, keepdims=True)
    close(F.normalize(x, p=p), xn / norm)
    close(F.normalize(x, p=p, dim=0), xn / np.linalg.norm(xn, ord=p, axis=0, keepdims=True))
    if p != 1.0:  # |x| has a kink at 0; elsewhere smooth enough
        check_grads(lambda x: F.normalize(x, p=p), (x,), order=2 if p != float("inf") else 1)
    check_vmap_jit(lambda x: F.normalize(x, p=p, dim=-1), f64(2, 3, 4))


def test_normalize_zero_vector():
    z = fnp.zeros((2, 3), np.float64)
    close(F.normalize(z), np.zeros((2, 3)))
    g = grad(lambda x: F.normalize(x).sum())(z)
    close(g, np.full((2, 3), 1e12))  # the clamped norm is the constant eps there
    assert np.isfinite(np.asarray(grad(lambda x: F.normalize(x, p=3.0).sum())(z))).all()
