"""The Module base and containers: Sequential (positional and named), state threading,
keys per layer, summary and parameter counts."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
from fx import random, tree
from transforms import grad, jit

KEY = random.key(0)
X = fnp.ones((4, 3))


def test_sequential_names_params_and_threads_the_input():
    model = nnlib.Sequential(nnlib.Linear(5), nnlib.ReLU(), nnlib.Linear(2))
    params, state = model.init(KEY, X)
    assert list(params) == ["0", "1", "2"] and params["1"] == {}
    assert params["0"]["weight"].shape == (5, 3) and params["2"]["weight"].shape == (2, 5)
    assert state == {}  # stateless layers leave no state entry
    out, new_state = model.apply(params, {}, X)
    h = np.maximum(np.asarray(X) @ np.asarray(params["0"]["weight"]).T
                   + np.asarray(params["0"]["bias"]), 0)
    want = h @ np.asarray(params["2"]["weight"]).T + np.asarray(params["2"]["bias"])
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-6)
    assert new_state == {}


def test_named_sequential_and_stateful_layers():
    model = nnlib.Sequential({"dense": nnlib.Linear(4), "norm": nnlib.BatchNorm1d()})
    params, state = model.init(KEY, X)
    assert list(params) == ["dense", "norm"] and list(state) == ["norm"]
    assert model["norm"] is model[1]
    _, trained = model.apply(params, state, X * 2.0, train=True)
    assert not np.allclose(np.asarray(trained["norm"]["running_mean"]),
                           np.asarray(state["norm"]["running_mean"]))
    _, evaluated = model.apply(params, state, X, train=False)
    np.testing.assert_array_equal(np.asarray(evaluated["norm"]["running_mean"]),
                                  np.asarray(state["norm"]["running_mean"]))


def test_each_layer_gets_its_own_key_and_results_are_deterministic():
    model = nnlib.Sequential(nnlib.Dropout(0.5), nnlib.Dropout(0.5))
    x = fnp.ones((64,))
    a, _ = model.apply({"0": {}, "1": {}}, {}, x, key=random.key(1), train=True)
    b, _ = model.apply({"0": {}, "1": {}}, {}, x, key=random.key(1), train=True)
    c, _ = model.apply({"0": {}, "1": {}}, {}, x, key=random.key(2), train=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_sequential_goes_through_grad_and_jit():
    model = nnlib.Sequential(nnlib.Linear(3), nnlib.Tanh(), nnlib.Linear(1))
    params, _ = model.init(KEY, X)
    loss = lambda p: fnp.sum(model.apply(p, {}, X)[0] ** 2)  # noqa: E731
    g, jg = grad(loss)(params), jit(grad(loss))(params)
    for a, b in zip(tree.leaves(g), tree.leaves(jg)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_summary_and_count_params():
    model = nnlib.Sequential(nnlib.Linear(5), nnlib.ReLU(), nnlib.Linear(2))
    params, _ = model.init(KEY, X)
    assert nnlib.count_params(params) == 3 * 5 + 5 + 5 * 2 + 2
    text = nnlib.summary(model, KEY, X)
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params"]
    assert "Linear" in lines[2] and "(4, 5)" in lines[2] and lines[2].split()[-1] == "20"
    assert lines[-1].split() == ["total", "32"]


def test_bad_layers_and_inputs():
    with pytest.raises(TypeError, match="layer '1' is a function"):
        nnlib.Sequential(nnlib.Linear(2), lambda x: x)
    with pytest.raises(ValueError, match="Conv2d"):
        nnlib.Conv2d(4, 3).init(KEY, fnp.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="neither forward nor apply"):
        nnlib.Module().apply({}, {}, X)


def test_empty_sequential_is_the_identity():
    out, state = nnlib.Sequential().apply({}, {}, X)
    assert out is X and state == {}
    assert fx.tree.leaves(nnlib.Sequential().init(KEY, X)) == []
