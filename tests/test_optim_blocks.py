"""optim's building blocks (scale, clipping, decay): the first steps against the published
update equations written out in NumPy here, dtypes, states through vmap, and bad input."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import tree
from optim.clipping import clip, clip_by_global_norm, keep_params_nonnegative, zero_nans
from optim.decay import add_decayed_weights, trace
from optim.scale import (
    ScaleByAdamState,
    scale,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_radam,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    scale_by_trust_ratio,
)
from transforms import vmap

RNG = np.random.default_rng(0)
G = RNG.standard_normal((8, 5))           # eight steps of gradients for one leaf of 5
P = RNG.standard_normal(5)                # the parameter the gradients belong to


def run(t, grads, params=P, dtype=np.float64):
    """The updates of ``t`` for each row of ``grads`` (params held fixed), as NumPy."""
    p = fx.asarray(np.asarray(params, dtype))
    state, out = t.init(p), []
    for g in grads:
        u, state = t.update(fx.asarray(np.asarray(g, dtype)), state, p)
        assert u.dtype == dtype
        out.append(np.asarray(u))
    return np.stack(out)


# --- the published equations, step by step (t counts from 1) ---------------------------------
def adam_ref(G, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False, ams=False):
    m = v = vmax = 0.0
    out = []
    for t, g in enumerate(G, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        vmax = np.maximum(vmax, v_hat)
        out.append(m_hat / (np.sqrt((vmax if ams else v_hat) + eps_root) + eps))
    return np.stack(out)


def adamax_ref(G, b1=0.9, b2=0.999, eps=1e-8):
    m = u = 0.0
    out = []
    for t, g in enumerate(G, 1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        out.append(m / (1 - b1 ** t) / u)
    return np.stack(out)


def radam_ref(G, b1=0.9, b2=0.999, eps=1e-8, threshold=5.0):
    m = v = 0.0
    rho_inf = 2 / (1 - b2) - 1
    out = []
    for t, g in enumerate(G, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho >= threshold:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            out.append(r * m_hat / (np.sqrt(v_hat) + eps))
        else:
            out.append(m_hat)
    return np.stack(out)


def rms_ref(G, decay=0.9, eps=1e-8, initial_scale=0.0, centered=False, eps_in_sqrt=True):
    m, v = 0.0, initial_scale
    out = []
    for g in G:
        m = decay * m + (1 - decay) * g
        v = decay * v + (1 - decay) * g * g
        var = v - m * m if centered else v
        out.append(g / np.sqrt(var + eps) if eps_in_sqrt else g / (np.sqrt(var) + eps))
    return np.stack(out)


def rss_ref(G, initial=0.1, eps=1e-7):
    s = initial + np.cumsum(G * G, axis=0)
    return G / np.sqrt(s + eps)


def adadelta_ref(G, rho=0.9, eps=1e-6):
    eg = ex = 0.0
    out = []
    for g in G:
        eg = rho * eg + (1 - rho) * g * g
        d = np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
        ex = rho * ex + (1 - rho) * d * d
        out.append(d)
    return np.stack(out)


def lion_ref(G, b1=0.9, b2=0.99):
    m, out = 0.0, []
    for g in G:
        out.append(np.sign(b1 * m + (1 - b1) * g))
        m = b2 * m + (1 - b2) * g
    return np.stack(out)


def trace_ref(G, decay, nesterov=False):
    t, out = 0.0, []
    for g in G:
        t = g + decay * t
        out.append(g + decay * t if nesterov else t)
    return np.stack(out)


def trust_ref(G, p=P, coeff=1.0):
    return np.stack([g * coeff * np.linalg.norm(p) / np.linalg.norm(g) for g in G])


CASES = [
    ("adam", scale_by_adam(), adam_ref(G)),
    ("adam_b2_0.9_eps_root", scale_by_adam(b2=0.9, eps_root=1e-3), adam_ref(G, b2=0.9,
                                                                            eps_root=1e-3)),
    ("nadam", scale_by_adam(nesterov=True), adam_ref(G, nesterov=True)),
    ("amsgrad", scale_by_amsgrad(b2=0.9), adam_ref(G, b2=0.9, ams=True)),
    ("adamax", scale_by_adamax(), adamax_ref(G)),
    ("radam", scale_by_radam(), radam_ref(G)),  # eight steps: rho_t crosses 5 at t = 6
    ("radam_b2_0.99_threshold_4.5", scale_by_radam(b2=0.99, threshold=4.5),
     radam_ref(G, b2=0.99, threshold=4.5)),
    ("rms", scale_by_rms(), rms_ref(G)),
    ("rms_initial_scale", scale_by_rms(0.8, 1e-3, 1.0, eps_in_sqrt=False),
     rms_ref(G, 0.8, 1e-3, 1.0, eps_in_sqrt=False)),
    ("stddev", scale_by_stddev(), rms_ref(G, centered=True)),
    ("rss", scale_by_rss(), rss_ref(G)),
    ("adadelta", scale_by_adadelta(), adadelta_ref(G)),
    ("lion", scale_by_lion(), lion_ref(G)),
    ("trust_ratio", scale_by_trust_ratio(trust_coefficient=0.5), trust_ref(G, coeff=0.5)),
    ("trace", trace(0.9), trace_ref(G, 0.9)),
    ("trace_nesterov", trace(0.5, nesterov=True), trace_ref(G, 0.5, nesterov=True)),
    ("scale", scale(-0.3), -0.3 * G),
    ("learning_rate", scale_by_learning_rate(0.3), -0.3 * G),
    ("learning_rate_no_flip", scale_by_learning_rate(0.3, flip_sign=False), 0.3 * G),
    ("schedule", scale_by_learning_rate(lambda c: 0.1 / (1 + c.astype(np.float64))),
     -0.1 / np.arange(1, 9)[:, None] * G),
    ("add_decayed_weights", add_decayed_weights(0.1), G + 0.1 * P),
    ("clip", clip(0.5), np.clip(G, -0.5, 0.5)),
    ("clip_by_global_norm", clip_by_global_norm(1.5),
     np.stack([g * min(1.0, 1.5 / np.linalg.norm(g)) for g in G])),
    ("keep_params_nonnegative", keep_params_nonnegative(),
     np.where(P + G < 0, -P, G)),
]


@pytest.mark.parametrize("name,t,want", CASES, ids=[c[0] for c in CASES])
def test_steps_match_the_published_equations(name, t, want):
    np.testing.assert_allclose(run(t, G), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,t,want", CASES[:16], ids=[c[0] for c in CASES[:16]])
def test_float32_keeps_its_dtype_and_the_values(name, t, want):
    np.testing.assert_allclose(run(t, G[:3], dtype=np.float32), want[:3], rtol=2e-5, atol=1e-6)
    state = t.init(fx.asarray(P.astype(np.float32)))
    assert all(x.dtype in (np.float32, np.int32) for x in tree.leaves(state))


def test_adam_state_is_arrays_with_an_int32_count():
    t = scale_by_adam()
    p = {"w": fnp.ones(3), "b": fnp.zeros(())}
    s = t.init(p)
    assert isinstance(s, ScaleByAdamState) and s.count.dtype == np.int32
    _, s = t.update(p, s)
    _, s = t.update(p, s)
    assert int(s.count) == 2 and s.count.dtype == np.int32
    assert all(isinstance(x, fx.Array) for x in tree.leaves(s))


def test_masks_for_weight_decay_tree_and_function():
    p = {"w": fnp.ones(2), "b": fnp.ones(1)}
    g = tree.map(fnp.zeros_like, p)
    for mask in ({"w": True, "b": False}, lambda params: tree.map(lambda x: x.ndim > 0 and
                                                                   x.shape[0] == 2, params)):
        t = add_decayed_weights(0.5, mask)
        u, _ = t.update(g, t.init(p), p)
        np.testing.assert_allclose(np.asarray(u["w"]), [0.5, 0.5])
        np.testing.assert_allclose(np.asarray(u["b"]), [0.0])


def test_zero_nans_zeroes_and_records():
    t = zero_nans()
    g = {"a": fx.asarray(np.array([1.0, np.nan])), "b": fx.asarray(np.array([2.0]))}
    u, s = t.update(g, t.init(g))
    np.testing.assert_array_equal(np.asarray(u["a"]), [1.0, 0.0])
    assert bool(s.found_nan["a"]) and not bool(s.found_nan["b"])


def test_clip_by_global_norm_spans_leaves_and_leaves_small_grads():
    t = clip_by_global_norm(1.0)
    g = {"a": fnp.asarray([3.0]), "b": fnp.asarray([4.0])}
    u, _ = t.update(g, t.init(g))
    np.testing.assert_allclose([float(u["a"][0]), float(u["b"][0])], [0.6, 0.8], rtol=1e-6)
    small = tree.map(lambda x: x * 0.01, g)
    u, _ = t.update(small, t.init(g))
    np.testing.assert_allclose(np.asarray(u["b"]), [0.04], rtol=1e-6)
    zero = tree.map(fnp.zeros_like, g)
    assert float(clip_by_global_norm(1.0).update(zero, ())[0]["a"][0]) == 0.0


def test_trust_ratio_is_one_for_zero_norms():
    t = scale_by_trust_ratio()
    p = {"zero_param": fnp.zeros(2), "w": fnp.ones(2)}
    g = {"zero_param": fnp.ones(2), "w": fnp.zeros(2)}
    u, _ = t.update(g, t.init(p), p)
    np.testing.assert_array_equal(np.asarray(u["zero_param"]), [1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(u["w"]), [0.0, 0.0])


@pytest.mark.parametrize("t", [scale_by_adam(), scale_by_radam(), scale_by_rms(),
                               scale_by_learning_rate(lambda c: 0.5 ** c), trace(0.9),
                               scale_by_trust_ratio(), clip_by_global_norm(1.0)])
def test_vmap_over_a_population_equals_a_loop(t):
    ps, gs = fx.asarray(RNG.standard_normal((4, 3))), fx.asarray(RNG.standard_normal((3, 4, 3)))
    states = vmap(t.init)(ps)
    looped = [t.init(ps[i]) for i in range(4)]
    for g in gs:
        u, states = vmap(t.update)(g, states, ps)
        for i in range(4):
            ui, looped[i] = t.update(g[i], looped[i], ps[i])
            np.testing.assert_allclose(np.asarray(u[i]), np.asarray(ui), rtol=1e-6, atol=1e-7)
    for i in range(4):
        for a, b in zip(tree.leaves(states), tree.leaves(looped[i])):
            np.testing.assert_allclose(np.asarray(a[i]), np.asarray(b), rtol=1e-6)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: scale_by_learning_rate(-0.1), lambda: scale_by_adam(b1=1.0),
    lambda: scale_by_adam(b2=-0.1), lambda: scale_by_adam(eps=-1e-8),
    lambda: scale_by_amsgrad(b2=1.5), lambda: scale_by_adamax(b1=-0.5),
    lambda: scale_by_radam(eps_root=-1.0), lambda: scale_by_rms(decay=1.0),
    lambda: scale_by_stddev(initial_scale=-1.0), lambda: scale_by_rss(eps=-1.0),
    lambda: scale_by_adadelta(rho=1.0), lambda: scale_by_lion(b2=2.0),
    lambda: scale_by_trust_ratio(trust_coefficient=-1.0), lambda: trace(1.0),
    lambda: trace(-0.1), lambda: add_decayed_weights(-1e-4), lambda: clip(-1.0),
    lambda: clip_by_global_norm(-1.0),
])
def test_bad_hyperparameters_raise_at_construction(make):
    with pytest.raises(ValueError, match="must be"):
        make()


@pytest.mark.parametrize("t", [scale_by_adam(), scale_by_amsgrad(), scale_by_rms(), trace(0.9),
                               scale_by_rss(), scale_by_lion(), scale_by_adadelta(),
                               zero_nans()])
def test_grads_with_another_structure_show_both(t):
    state = t.init({"w": fnp.ones(2), "b": fnp.ones(1)})
    with pytest.raises(ValueError, match=r"(?s)different tree structures.*'v'.*'b'"):
        t.update({"w": fnp.ones(2), "v": fnp.ones(1)}, state)


@pytest.mark.parametrize("t", [scale_by_trust_ratio(), keep_params_nonnegative(),
                               add_decayed_weights(0.1)])
def test_blocks_that_need_params_say_so(t):
    g = fnp.ones(2)
    with pytest.raises(ValueError, match="needs params"):
        t.update(g, t.init(g))
    with pytest.raises(ValueError, match="different tree structures"):
        t.update({"a": g}, t.init(g), {"b": g})


def test_trace_rounds_only_the_stored_trace_to_the_accumulator_dtype():
    g = fnp.asarray(np.array([1.0 + 2.0 ** -12], np.float32))  # not a float16
    for nesterov in (False, True):
        t = trace(0.5, nesterov=nesterov, accumulator_dtype=fnp.float16)
        u, s = t.update(g, t.init(g))
        assert s.trace.dtype == fnp.float16 and u.dtype == fnp.float32
        expected = 1.5 * (1.0 + 2.0 ** -12) if nesterov else 1.0 + 2.0 ** -12
        assert float(u[0]) == np.float32(expected)


def test_decay_masks_may_be_prefixes_or_a_plain_bool():
    p = {"a": {"w": fnp.ones(2)}, "c": fnp.ones(1)}
    g = tree.map(fnp.zeros_like, p)
    for mask, a, c in (({"a": True, "c": False}, 0.5, 0.0), (False, 0.0, 0.0),
                       (True, 0.5, 0.5)):
        t = add_decayed_weights(0.5, mask)
        u, _ = t.update(g, t.init(p), p)
        np.testing.assert_allclose(np.asarray(u["a"]["w"]), [a, a])
        np.testing.assert_allclose(np.asarray(u["c"]), [c])
    with pytest.raises(ValueError, match="prefix"):
        t = add_decayed_weights(0.5, {"a": True})
        t.update(g, t.init(p), p)


def test_rms_with_bias_correction_divides_by_the_corrected_second_moment():
    t = scale_by_rms(decay=0.9, eps=0.0, bias_correction=True)
    g = fnp.asarray(np.array([2.0, -0.5]))
    s = t.init(g)
    assert s.count.dtype == np.int32
    for step in range(1, 4):
        u, s = t.update(g, s)  # nu_hat = g^2 at every step for a constant g
        np.testing.assert_allclose(np.asarray(u), [1.0, -1.0], rtol=1e-12)
        assert int(s.count) == step
