"""masked, multi_transform, MultiSteps, apply_if_finite and ema against values by hand."""
from typing import Any, NamedTuple

import numpy as np
import pytest

import fx.numpy as fnp
from fx import tree
from optim.accumulate import MultiSteps, apply_if_finite, ema, params_ema, skip_not_finite
from optim.base import GradientTransformation, identity, stateless
from optim.combine import MaskedNode, MultiTransformState, masked, multi_transform
from transforms import vmap


class TraceState(NamedTuple):
    trace: Any


def momentum(lr=0.1, beta=0.9):
    """A local stateful block: ``m = beta * m + g``, update ``-lr * m``."""
    def init(params):
        return TraceState(tree.map(fnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        m = tree.map(lambda g, t: beta * t + g, grads, state.trace)
        return tree.map(lambda t: -lr * t, m), TraceState(m)
    return GradientTransformation(init, update)


double = stateless(lambda u, p: tree.map(lambda g: 2 * g, u))


def arr(*xs):
    return fnp.asarray(np.array(xs, dtype=np.float64))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


PARAMS = {"w": fnp.asarray(np.ones((2, 2))), "b": arr(1.0, 2.0)}
GRADS = {"w": fnp.asarray(np.full((2, 2), 3.0)), "b": arr(4.0, 5.0)}


# masked ------------------------------------------------------------------------------------

def test_masked_pytree_mask_passes_others_through_and_keeps_state_only_for_masked():
    t = masked(momentum(), {"w": True, "b": False})
    state = t.init(PARAMS)
    assert isinstance(state.inner_state.trace["b"], MaskedNode)
    u, state = t.update(GRADS, state, PARAMS)
    u, state = t.update(GRADS, state, PARAMS)
    close(u["w"], -0.1 * (0.9 * 3.0 + 3.0) * np.ones((2, 2)))
    assert u["b"] is GRADS["b"]
    close(state.inner_state.trace["w"], 5.7 * np.ones((2, 2)))


def test_masked_function_mask_and_prefix_mask():
    t = masked(double, lambda p: tree.map(lambda x: x.ndim == 2, p))
    u, _ = t.update(GRADS, t.init(PARAMS), PARAMS)
    close(u["w"], 6.0 * np.ones((2, 2)))
    close(u["b"], [4.0, 5.0])
    nested = {"layer": {"w": arr(1.0), "b": arr(2.0)}, "head": arr(3.0)}
    t = masked(double, {"layer": True, "head": False})
    u, _ = t.update(nested, t.init(nested))
    close(u["layer"]["w"], [2.0])
    close(u["layer"]["b"], [4.0])
    close(u["head"], [3.0])


def test_masked_bad_mask_shows_both_structures():
    t = masked(double, {"w": True, "c": False})
    with pytest.raises(ValueError, match="mask.*\n.*params"):
        t.init(PARAMS)


# multi_transform ---------------------------------------------------------------------------

def test_multi_transform_pytree_labels_separate_states():
    t = multi_transform({"mom": momentum(), "dbl": double, "unused": momentum()},
                        {"w": "mom", "b": "dbl"})
    state = t.init(PARAMS)
    assert isinstance(state, MultiTransformState)
    assert set(state.inner_states) == {"mom", "dbl", "unused"}
    for _ in range(2):
        u, state = t.update(GRADS, state, PARAMS)
    close(u["w"], -0.1 * 5.7 * np.ones((2, 2)))
    close(u["b"], [8.0, 10.0])
    assert isinstance(state.inner_states["mom"].inner_state.trace["b"], MaskedNode)
    close(state.inner_states["mom"].inner_state.trace["w"], 5.7 * np.ones((2, 2)))
    assert tree.leaves(state.inner_states["unused"]) == []


def test_multi_transform_function_labels():
    t = multi_transform({"matrix": double, "vector": identity()},
                        lambda p: tree.map(lambda x: "matrix" if x.ndim == 2 else "vector", p))
    u, _ = t.update(GRADS, t.init(PARAMS), PARAMS)
    close(u["w"], 6.0 * np.ones((2, 2)))
    close(u["b"], [4.0, 5.0])


def test_multi_transform_unknown_label_and_bad_labels():
    t = multi_transform({"a": identity()}, {"w": "a", "b": "nope"})
    with pytest.raises(ValueError, match="'nope'"):
        t.init(PARAMS)
    t = multi_transform({"a": identity()}, {"w": "a"})
    with pytest.raises(ValueError, match="param_labels"):
        t.init(PARAMS)


# MultiSteps --------------------------------------------------------------------------------

def test_multisteps_matches_momentum_on_averaged_grads_by_hand():
    k, gs = 3, [arr(1.0, -2.0), arr(3.0, 0.5), arr(-1.0, 4.0),
                arr(2.0, 2.0), arr(0.0, -3.0), arr(5.0, 1.0)]
    t = MultiSteps(momentum(lr=0.1, beta=0.9), every_k_schedule=k)
    state = t.init(arr(0.0, 0.0))
    m, outs = np.zeros(2), []
    for i, g in enumerate(gs):
        u, state = t.update(g, state, arr(0.0, 0.0))
        outs.append(np.asarray(u))
        if (i + 1) % k == 0:
            m = 0.9 * m + np.mean([np.asarray(x) for x in gs[i + 1 - k:i + 1]], axis=0)
            close(u, -0.1 * m)
            assert bool(t.has_updated(state))
        else:
            close(u, [0.0, 0.0])
            assert not bool(t.has_updated(state))
    assert int(state.gradient_step) == 2 and int(state.mini_step) == 0
    close(state.acc_grads, [0.0, 0.0])


def test_multisteps_sum_schedule_and_gradient_transformation():
    t = MultiSteps(identity(), every_k_schedule=lambda step: fnp.where(step < 1, 1, 2),
                   use_grad_mean=False).gradient_transformation()
    state = t.init(arr(0.0))
    outs = []
    for g in [1.0, 2.0, 3.0, 4.0, 5.0]:
        u, state = t.update(arr(g), state)
        outs.append(float(u[0]))
    assert outs == [1.0, 0.0, 5.0, 0.0, 9.0]


def test_multisteps_skip_not_finite_and_bad_input():
    t = MultiSteps(identity(), every_k_schedule=2, should_skip_update_fn=skip_not_finite)
    state = t.init(arr(0.0, 0.0))
    u, state = t.update(arr(1.0, np.nan), state)
    assert int(state.mini_step) == 0 and int(state.skip_state["num_not_finite"]) == 1
    u, state = t.update(arr(1.0, 1.0), state)
    u, state = t.update(arr(3.0, 3.0), state)
    close(u, [2.0, 2.0])
    with pytest.raises(ValueError):
        MultiSteps(identity(), every_k_schedule=0)
    with pytest.raises(ValueError, match="different tree structures"):
        t.update({"a": arr(1.0)}, state)


# apply_if_finite ---------------------------------------------------------------------------

def test_apply_if_finite_skips_nan_and_inf_then_gives_up():
    t = apply_if_finite(momentum(lr=1.0, beta=0.5), max_consecutive_errors=2)
    state = t.init(arr(0.0, 0.0))
    u, state = t.update(arr(1.0, 2.0), state)
    close(u, [-1.0, -2.0])
    for bad, count in [(arr(np.nan, 1.0), 1), (arr(1.0, np.inf), 2)]:
        u, state = t.update(bad, state)
        close(u, [0.0, 0.0])
        assert int(state.notfinite_count) == count and not bool(state.last_finite)
        close(state.inner_state.trace, [1.0, 2.0])
    u, state = t.update(arr(2.0, 2.0), state)
    close(u, [-2.5, -3.0])
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 2
    for _ in range(3):
        u, state = t.update(arr(-np.inf, 0.0), state)
    assert np.isnan(np.asarray(u)[0]) or np.isinf(np.asarray(u)[0])
    assert int(state.total_notfinite) == 5
    with pytest.raises(ValueError):
        apply_if_finite(identity(), -1)


# ema ---------------------------------------------------------------------------------------

def test_ema_values_by_hand():
    gs, d = [arr(2.0), arr(4.0), arr(-1.0)], 0.9
    for debias in (True, False):
        t = ema(d, debias=debias)
        state, m = t.init(arr(0.0)), 0.0
        for i, g in enumerate(gs, start=1):
            u, state = t.update(g, state)
            m = d * m + (1 - d) * float(g[0])
            close(u, [m / (1 - d ** i) if debias else m])
            close(state.ema, [m])
        assert int(state.count) == 3
    t = ema(0.5, accumulator_dtype=fnp.float32)
    assert t.update(arr(1.0), t.init(arr(0.0)))[1].ema.dtype == fnp.float32
    with pytest.raises(ValueError):
        ema(1.5)


def test_params_ema_in_a_loop():
    t, p = params_ema(0.8), arr(1.0)
    state, e = t.init(p), 1.0
    for g in [0.5, -1.0, 2.0]:
        u, state = t.update(arr(g), state, p)
        close(u, [g])
        p = p + u
        e = 0.8 * e + 0.2 * float(p[0])
        close(state.ema, [e])
    with pytest.raises(ValueError, match="params"):
        t.update(arr(1.0), state)


# states through vmap -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["masked", "multi", "multisteps", "finite", "ema"])
def test_states_through_vmap_match_a_loop(name):
    make = {"masked": lambda: masked(momentum(), lambda p: {"w": True, "b": False}),
            "multi": lambda: multi_transform({"m": momentum(), "d": double},
                                             {"w": "m", "b": "d"}),
            "multisteps": lambda: MultiSteps(momentum(), 2).gradient_transformation(),
            "finite": lambda: apply_if_finite(momentum(), 1),
            "ema": lambda: ema(0.9)}[name]
    t = make()
    rng = np.random.default_rng(0)
    n = 3
    params = {"w": fnp.asarray(rng.normal(size=(n, 2))), "b": fnp.asarray(rng.normal(size=n))}
    grads = [{"w": fnp.asarray(rng.normal(size=(n, 2))), "b": fnp.asarray(rng.normal(size=n))}
             for _ in range(3)]
    grads[1]["b"] = grads[1]["b"].at[1].set(np.nan)

    def step(g, s, p):
        return t.update(g, s, p)
    state = vmap(t.init)(params)
    for g in grads:
        u, state = vmap(step)(g, state, params)
    for i in range(n):
        pick = lambda x, i=i: x[i]
        p_i = tree.map(pick, params)
        s_i = t.init(p_i)
        for g in grads:
            u_i, s_i = t.update(tree.map(pick, g), s_i, p_i)
        for a, b in zip(tree.leaves((u, state)), tree.leaves((u_i, s_i))):
            np.testing.assert_allclose(np.asarray(a[i]), np.asarray(b), rtol=1e-12)


def test_ema_and_params_ema_show_both_structures_on_a_mismatch():
    p = {"w": fnp.ones(2)}
    wrong = {"v": fnp.ones(2)}
    for t in (ema(0.9), params_ema(0.9)):
        with pytest.raises(ValueError, match=r"(?s)different tree structures.*'v'.*'w'"):
            t.update(wrong, t.init(p), wrong)
    t = params_ema(0.9)
    with pytest.raises(ValueError, match=r"(?s)params and ema state.*'v'.*'w'"):
        t.update(p, t.init(p), wrong)
