"""optim's optimizers: the first steps against the published equations written out in NumPy
here, convergence on a quadratic (all) and on Rosenbrock (a few), populations through vmap,
dtypes, and bad input. Gradients come from ``transforms.grad``."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import tree
from optim.aliases import (
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    amsgrad,
    lamb,
    lars,
    lion,
    nadam,
    radam,
    rmsprop,
    sgd,
)
from optim.base import apply_updates
from optim.lbfgs import lbfgs
from transforms import grad, vmap

RNG = np.random.default_rng(1)
A = {"w": np.array([1.0, 2.0, 0.5, 3.0]), "b": np.array([1.5, 0.8])}   # curvatures
C = {"w": RNG.standard_normal(4), "b": RNG.standard_normal(2)}           # the minimum
P0 = {"w": RNG.standard_normal(4), "b": RNG.standard_normal(2)}


def loss(p, a=None, c=None):
    a = tree.map(fx.asarray, A) if a is None else a
    c = tree.map(fx.asarray, C) if c is None else c
    return sum(0.5 * fnp.sum(a[k] * (p[k] - c[k]) ** 2) for k in ("w", "b"))


def fit(opt, steps, p0=P0, dtype=np.float64, f=loss):
    """``steps`` optimizer steps from ``p0`` on ``f``; the trajectory as NumPy trees."""
    p = tree.map(lambda x: fx.asarray(np.asarray(x, dtype)), p0)
    state, path = opt.init(p), []
    for _ in range(steps):
        updates, state = opt.update(grad(f)(p), state, p)
        p = apply_updates(p, updates)
        path.append(tree.map(np.asarray, p))
    return path, state


# --- the published equations, leaf by leaf, on the quadratic's gradient g = a (p - c) -------
def norm(x):
    return np.sqrt(np.sum(x * x))


def ref(kind, steps=7, **h):
    """``kind``'s trajectory from P0, each leaf on its own (these optimizers are leafwise)."""
    out = [dict() for _ in range(steps)]
    for k in P0:
        p, a, c = P0[k].copy(), A[k], C[k]
        s = {"m": 0.0, "v": 0.0, "vmax": 0.0, "x": 0.0, "s": h.get("init", 0.0)}
        for t in range(1, steps + 1):
            lr = h["lr"](t) if callable(h.get("lr")) else h.get("lr")  # a schedule: lr_t
            p = p + STEP[kind](a * (p - c), p, t, s, **(h if lr is None else dict(h, lr=lr)))
            out[t - 1][k] = p
    return out


def _adam_dir(g, t, s, b1=0.9, b2=0.999, eps=1e-8, nesterov=False, ams=False, **_):
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    if nesterov:
        m_hat = b1 * s["m"] / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1 ** t)
    v_hat = s["v"] / (1 - b2 ** t)
    s["vmax"] = np.maximum(s["vmax"], v_hat)
    return m_hat / (np.sqrt(s["vmax"] if ams else v_hat) + eps)


def _sgd(g, p, t, s, lr, momentum=None, nesterov=False, wd=0.0):
    g = g + wd * p
    if momentum is None:
        return -lr * g
    s["m"] = g + momentum * s["m"]
    return -lr * (g + momentum * s["m"] if nesterov else s["m"])


def _radam(g, p, t, s, lr, b1=0.9, b2=0.999, eps=1e-8):
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g * g
    m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho < 5:
        return -lr * m_hat
    r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return -lr * r * m_hat / (np.sqrt(v_hat) + eps)


def _adamax(g, p, t, s, lr, b1=0.9, b2=0.999, eps=1e-8):
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = np.maximum(b2 * s["v"], np.abs(g) + eps)
    return -lr * s["m"] / ((1 - b1 ** t) * s["v"])


def _rmsprop(g, p, t, s, lr, decay=0.9, eps=1e-8, centered=False, momentum=None,
             nesterov=False, init=0.0):
    s["m"] = decay * s["m"] + (1 - decay) * g
    s["s"] = decay * s["s"] + (1 - decay) * g * g
    u = -lr * g / np.sqrt(s["s"] - (s["m"] ** 2 if centered else 0.0) + eps)
    if momentum is None:
        return u
    s["x"] = u + momentum * s["x"]
    return u + momentum * s["x"] if nesterov else s["x"]


def _adagrad(g, p, t, s, lr, eps=1e-7, init=0.1):
    s["s"] = s["s"] + g * g
    return -lr * g / np.sqrt(s["s"] + eps)


def _adadelta(g, p, t, s, lr=1.0, rho=0.9, eps=1e-6):
    s["v"] = rho * s["v"] + (1 - rho) * g * g
    d = np.sqrt(s["x"] + eps) / np.sqrt(s["v"] + eps) * g
    s["x"] = rho * s["x"] + (1 - rho) * d * d
    return -lr * d


def _lamb(g, p, t, s, lr, wd=0.0, **h):
    r = _adam_dir(g, t, s, eps=1e-6, **h) + wd * p
    return -lr * norm(p) / norm(r) * r


def _lars(g, p, t, s, lr, wd=0.0, tc=0.001, momentum=0.9):
    g = g + wd * p
    s["m"] = -lr * tc * norm(p) / norm(g) * g + momentum * s["m"]
    return s["m"]


def _lion(g, p, t, s, lr, b1=0.9, b2=0.99, wd=1e-3):
    u = np.sign(b1 * s["m"] + (1 - b1) * g) + wd * p
    s["m"] = b2 * s["m"] + (1 - b2) * g
    return -lr * u


STEP = {
    "sgd": _sgd, "radam": _radam, "adamax": _adamax, "rmsprop": _rmsprop, "adagrad": _adagrad,
    "adadelta": _adadelta, "lamb": _lamb, "lars": _lars, "lion": _lion,
    "adam": lambda g, p, t, s, lr, wd=0.0, **h: -lr * (_adam_dir(g, t, s, **h) + wd * p),
}

HAND = [
    ("sgd", sgd(0.1), ref("sgd", lr=0.1)),
    ("sgd_momentum", sgd(0.1, momentum=0.9), ref("sgd", lr=0.1, momentum=0.9)),
    ("sgd_nesterov", sgd(0.1, 0.9, nesterov=True), ref("sgd", lr=0.1, momentum=0.9,
                                                        nesterov=True)),
    ("sgd_weight_decay", sgd(0.1, 0.5, weight_decay=0.01),
     ref("sgd", lr=0.1, momentum=0.5, wd=0.01)),
    ("adam", adam(0.05), ref("adam", lr=0.05)),
    ("adam_schedule", adam(lambda c: 0.05 * 0.5 ** c.astype(np.float64)),
     ref("adam", lr=lambda t: 0.05 * 0.5 ** (t - 1))),
    ("adamw", adamw(0.05, weight_decay=0.1), ref("adam", lr=0.05, wd=0.1)),
    ("nadam", nadam(0.05), ref("adam", lr=0.05, nesterov=True)),
    ("radam", radam(0.05), ref("radam", lr=0.05)),  # seven steps: rectified from t = 6
    ("amsgrad", amsgrad(0.05, b2=0.9), ref("adam", lr=0.05, b2=0.9, ams=True)),
    ("adamax", adamax(0.05), ref("adamax", lr=0.05)),
    ("rmsprop", rmsprop(0.01), ref("rmsprop", lr=0.01)),
    ("rmsprop_centered_momentum", rmsprop(0.01, centered=True, momentum=0.9),
     ref("rmsprop", lr=0.01, centered=True, momentum=0.9)),
    ("rmsprop_nesterov_initial_scale", rmsprop(0.01, initial_scale=1.0, momentum=0.5,
                                               nesterov=True),
     ref("rmsprop", lr=0.01, momentum=0.5, nesterov=True, init=1.0)),
    ("adagrad", adagrad(0.1), ref("adagrad", lr=0.1, init=0.1)),
    ("adadelta", adadelta(), ref("adadelta")),
    ("lamb", lamb(0.01, weight_decay=0.01), ref("lamb", lr=0.01, wd=0.01)),
    ("lars", lars(0.1, weight_decay=0.01), ref("lars", lr=0.1, wd=0.01)),
    ("lion", lion(0.01), ref("lion", lr=0.01)),
]


@pytest.mark.parametrize("name,opt,want", HAND, ids=[h[0] for h in HAND])
def test_first_steps_match_the_published_equations(name, opt, want):
    got, _ = fit(opt, len(want))
    for g, w in zip(got, want):
        for k in P0:
            np.testing.assert_allclose(g[k], w[k], rtol=1e-10, atol=1e-12)


# --- convergence ------------------------------------------------------------------------------
QUADRATIC = [  # (name, optimizer, steps, tolerance on |p - c|)
    ("sgd", sgd(0.3), 100, 1e-6),
    ("sgd_momentum", sgd(0.1, momentum=0.9), 300, 1e-5),
    ("sgd_nesterov", sgd(0.1, momentum=0.9, nesterov=True), 200, 1e-6),
    ("adam", adam(0.1), 300, 1e-3),
    ("adamw", adamw(0.1, weight_decay=0.0), 300, 1e-3),
    ("nadam", nadam(0.1), 300, 1e-3),
    ("radam", radam(0.1), 300, 1e-3),
    ("amsgrad", amsgrad(0.1), 300, 1e-2),
    ("adamax", adamax(0.1), 300, 1e-3),
    # these hover at a distance ~ lr around the minimum, so they get a decaying schedule
    ("rmsprop", rmsprop(lambda c: 0.05 * 0.98 ** c), 300, 1e-3),
    ("rmsprop_centered", rmsprop(lambda c: 0.05 * 0.98 ** c, centered=True, momentum=0.5), 300,
     1e-3),
    ("adagrad", adagrad(0.5), 300, 1e-3),
    ("adadelta", adadelta(lambda c: 10.0 * 0.99 ** c), 300, 1e-3),
    ("lamb", lamb(lambda c: 0.05 * 0.98 ** c), 300, 1e-3),
    ("lars", lars(lambda c: 0.98 ** c, trust_coefficient=0.1, momentum=0.5), 300, 1e-3),
    ("lion", lion(lambda c: 0.1 * 0.98 ** c, weight_decay=0.0), 300, 1e-2),
]


def distance(p, c=C):
    return max(float(np.max(np.abs(p[k] - c[k]))) for k in c)


@pytest.mark.parametrize("name,opt,steps,tol", QUADRATIC, ids=[q[0] for q in QUADRATIC])
def test_converges_on_a_quadratic(name, opt, steps, tol):
    path, _ = fit(opt, steps)
    assert distance(path[-1]) < tol, (name, distance(path[-1]))


def rosenbrock(p):
    x, y = p["xy"][0], p["xy"][1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


@pytest.mark.parametrize("opt", [adam(0.1), sgd(2e-3, momentum=0.9), rmsprop(1e-3, momentum=0.9)],
                         ids=["adam", "sgd_momentum", "rmsprop_momentum"])
def test_converges_on_rosenbrock(opt):
    path, _ = fit(opt, 1000, p0={"xy": np.array([-1.2, 1.0])}, f=rosenbrock)
    assert distance(path[-1], {"xy": np.ones(2)}) < 1e-2


# --- states through vmap, dtypes ---------------------------------------------------------------
def test_a_vmapped_population_equals_a_loop():
    """Five models of the quadratic, each with its own minimum, trained by one vmapped adam."""
    cs = {k: fx.asarray(RNG.standard_normal((5,) + v.shape)) for k, v in C.items()}
    ps = {k: fx.asarray(np.broadcast_to(v, (5,) + v.shape).copy()) for k, v in P0.items()}
    a = tree.map(fx.asarray, A)
    for opt in (adam(0.1), lamb(0.05), rmsprop(0.01, momentum=0.9),
                sgd(lambda c: 0.1 * 0.9 ** c, momentum=0.9)):
        step = lambda p, s, c, opt=opt: opt.update(grad(loss)(p, a, c), s, p)
        p_v, s_v = ps, vmap(opt.init)(ps)
        loop = [({k: v[i] for k, v in ps.items()}, None) for i in range(5)]
        loop = [(p, opt.init(p)) for p, _ in loop]
        for _ in range(3):
            u, s_v = vmap(step)(p_v, s_v, cs)
            p_v = apply_updates(p_v, u)
            for i, (p, s) in enumerate(loop):
                u_i, s = step(p, s, {k: v[i] for k, v in cs.items()})
                loop[i] = (apply_updates(p, u_i), s)
        for i, (p, s) in enumerate(loop):
            for k in p:
                np.testing.assert_allclose(np.asarray(p_v[k][i]), np.asarray(p[k]), rtol=1e-6)
            for x, y in zip(tree.leaves(s_v), tree.leaves(s)):
                np.testing.assert_allclose(np.asarray(x[i]), np.asarray(y), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,opt", [(q[0], q[1]) for q in QUADRATIC],
                         ids=[q[0] for q in QUADRATIC])
def test_params_and_states_keep_their_dtype(name, opt, dtype):
    path, state = fit(opt, 3, dtype=dtype)
    assert all(x.dtype == dtype for x in tree.leaves(path[-1]))
    for x in tree.leaves(state):
        assert x.dtype in (dtype, np.int32, np.bool_), (name, x.dtype)


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: sgd(-0.1), lambda: sgd(0.1, momentum=1.0), lambda: sgd(0.1, weight_decay=-1.0),
    lambda: adam(-1e-3), lambda: adam(1e-3, b1=1.0), lambda: adam(1e-3, b2=-0.5),
    lambda: adam(1e-3, eps=-1.0), lambda: adamw(1e-3, weight_decay=-0.1),
    lambda: nadam(1e-3, b1=1.2), lambda: radam(-1.0), lambda: amsgrad(1e-3, b2=1.0),
    lambda: adamax(1e-3, b1=-0.1), lambda: rmsprop(1e-3, decay=1.0),
    lambda: rmsprop(1e-3, momentum=-0.5), lambda: rmsprop(1e-3, eps=-1e-8),
    lambda: adagrad(-0.1), lambda: adagrad(0.1, initial_accumulator_value=-1.0),
    lambda: adadelta(rho=1.0), lambda: lamb(1e-3, b2=1.0), lambda: lars(-1.0),
    lambda: lars(0.1, trust_coefficient=-1.0), lambda: lion(1e-3, b1=1.0),
])
def test_bad_hyperparameters_raise_at_construction(make):
    with pytest.raises(ValueError, match="must be"):
        make()


@pytest.mark.parametrize("name,opt", [(q[0], q[1]) for q in QUADRATIC],
                         ids=[q[0] for q in QUADRATIC])
def test_grads_with_another_structure_show_both(name, opt):
    p = tree.map(fx.asarray, P0)
    wrong = {"w": p["w"], "bias": p["b"]}
    with pytest.raises(ValueError, match=r"(?s)different tree structures(?=.*'bias')(?=.*'b')"):
        updates, _ = opt.update(wrong, opt.init(p), p)  # stateful blocks catch it here,
        apply_updates(p, updates)                        # plain sgd when applying


def test_masks_pick_the_decayed_and_trust_ratio_leaves():
    p = {"w": fnp.asarray([3.0, 4.0]), "b": fnp.asarray([2.0])}
    g = {"w": fnp.asarray([0.0, 2.0]), "b": fnp.asarray([1.0])}
    no_decay_on_b = {"w": True, "b": False}
    opt = adamw(0.1, weight_decay=0.5, mask=no_decay_on_b)
    u, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(np.asarray(u["b"]), [-0.1], rtol=1e-6)          # -lr * sign
    np.testing.assert_allclose(np.asarray(u["w"]), [-0.15, -0.3], rtol=1e-6)   # + 0.5 * p
    opt = lars(1.0, momentum=0.0, trust_coefficient=0.1,
               trust_ratio_mask=lambda params: {"w": True, "b": False})
    u, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(np.asarray(u["w"]), [0.0, -0.5], rtol=1e-6)    # 0.1 * 5 / 2 * g
    np.testing.assert_allclose(np.asarray(u["b"]), [-1.0], rtol=1e-6)          # plain -lr * g


def test_prefix_and_plain_bool_masks_as_optax_accepts_them():
    p = {"a": {"w": fnp.asarray([3.0, 4.0])}, "c": fnp.asarray([2.0, -1.0])}
    g = {"a": {"w": fnp.asarray([1.0, 1.0])}, "c": fnp.asarray([1.0, 1.0])}
    prefix = {"a": True, "c": False}
    for make in (lambda m: adamw(0.1, weight_decay=0.5, mask=m),
                 lambda m: lamb(0.1, weight_decay=0.5, mask=m),
                 lambda m: lion(0.1, weight_decay=0.5, mask=m)):
        for mask, decayed in ((prefix, {"a"}), (False, set()), (True, {"a", "c"})):
            opt, ref = make(mask), make(lambda params: tree.map(lambda _: False, params))
            u, _ = opt.update(g, opt.init(p), p)
            r, _ = ref.update(g, ref.init(p), p)
            for k in ("a", "c"):
                same = np.allclose(np.asarray(tree.leaves(u[k])[0]),
                                   np.asarray(tree.leaves(r[k])[0]))
                assert same == (k not in decayed), (mask, k)
    opt = lars(1.0, weight_decay=0.5, weight_decay_mask=prefix, trust_ratio_mask=False,
               momentum=0.0)
    u, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(np.asarray(u["a"]["w"]), [-2.5, -3.0])   # -(g + 0.5 p)
    np.testing.assert_allclose(np.asarray(u["c"]), [-1.0, -1.0])        # no decay, no ratio


@pytest.mark.parametrize("make", [
    lambda: adam(float("nan")), lambda: adam(1e-3, b1=float("nan")),
    lambda: sgd(0.1, momentum=float("nan")), lambda: adamw(1e-3, weight_decay=float("nan")),
    lambda: adam("0.1"), lambda: adam(None), lambda: adam(1e-3, eps=[1e-8]),
    lambda: rmsprop(1e-3, decay=True), lambda: lbfgs(float("nan")),
])
def test_nan_and_non_numbers_raise_value_error_at_construction(make):
    with pytest.raises(ValueError, match="must be a real number"):
        make()


def test_schedules_and_real_scalars_pass_the_range_checks():
    adam(lambda count: 1e-3)
    adam(np.float32(1e-3), b1=np.float64(0.9))
    adam(fnp.asarray(1e-3))
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        adam(fnp.asarray(-1e-3))


def test_rmsprop_with_bias_correction():
    opt = rmsprop(0.01, eps=0.0, bias_correction=True)
    p = fnp.zeros(1)
    u, _ = opt.update(fnp.asarray([3.0]), opt.init(p), p)
    np.testing.assert_allclose(np.asarray(u), [-0.01], rtol=1e-6)  # -lr g / |g|
