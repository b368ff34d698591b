"""lbfgs and the line searches: Rosenbrock, quadratics, the Wolfe conditions, bad input."""
import numpy as np
import pytest

import fx.numpy as fnp
from fx import tree
from optim.base import apply_updates
from optim.lbfgs import lbfgs, scale_by_lbfgs
from optim.linesearch import (
    scale_by_backtracking_linesearch,
    scale_by_zoom_linesearch,
    value_and_grad_from_state,
)
from transforms import value_and_grad


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def quadratic_problem(n=5, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, n))
    a = q @ q.T + n * np.eye(n)
    b = rng.normal(size=n)
    af, bf = fnp.asarray(a), fnp.asarray(b)
    return (lambda x: 0.5 * fnp.dot(x, af @ x) - fnp.dot(bf, x)), np.linalg.solve(a, b)


def run(opt, f, x, steps, tol=None, solution=None, record=None):
    state = opt.init(x)
    vg = value_and_grad_from_state(f)
    for i in range(steps):
        value, grad = vg(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, value_fn=f)
        if record is not None:
            record.append((x, value, grad, updates))
        x = apply_updates(x, updates)
        if tol is not None and np.max(np.abs(np.asarray(x) - solution)) < tol:
            return x, state, i + 1
    return x, state, steps


def vdot(a, b):
    return sum(float(np.vdot(np.asarray(x), np.asarray(y)))
               for x, y in zip(tree.leaves(a), tree.leaves(b)))


def test_rosenbrock_to_1e6_in_under_100_iterations():
    x0 = fnp.asarray(np.array([-1.2, 1.0]))
    x, state, n = run(lbfgs(), rosenbrock, x0, 100, tol=1e-6, solution=np.ones(2))
    assert x.dtype == fnp.float64
    assert n < 100
    np.testing.assert_allclose(np.asarray(x), [1.0, 1.0], atol=1e-6)


def test_quadratic_in_a_few_iterations():
    f, solution = quadratic_problem()
    x, _, n = run(lbfgs(), f, fnp.asarray(np.zeros(5)), 20, tol=1e-8, solution=solution)
    assert n <= 10
    np.testing.assert_allclose(np.asarray(x), solution, atol=1e-8)


def test_small_memory_wraps_around_and_backtracking_works():
    f, solution = quadratic_problem(n=8, seed=1)
    x, state, n = run(lbfgs(memory_size=2), f, fnp.asarray(np.zeros(8)), 60, tol=1e-8,
                      solution=solution)
    assert n < 60 and int(state[0].count) == n
    ls = scale_by_backtracking_linesearch(max_backtracking_steps=30, store_grad=True)
    x, _, n = run(lbfgs(linesearch=ls), f, fnp.asarray(np.zeros(8)), 60, tol=1e-8,
                  solution=solution)
    assert n < 60


def test_wolfe_conditions_hold_at_accepted_steps():
    record = []
    c1, c2 = 1e-4, 0.9
    run(lbfgs(linesearch=scale_by_zoom_linesearch(slope_rtol=c1, curv_rtol=c2)), rosenbrock,
        fnp.asarray(np.array([-1.2, 1.0])), 25, record=record)
    for x, value, grad, u in record:
        new_value, new_grad = value_and_grad(rosenbrock)(x + u)
        slope = vdot(grad, u)
        assert slope < 0
        assert float(new_value) <= float(value) + c1 * slope + 1e-12
        assert abs(vdot(new_grad, u)) <= c2 * abs(slope) + 1e-12


def test_state_records_value_grad_and_info():
    f, _ = quadratic_problem()
    x = fnp.asarray(np.zeros(5))
    opt = lbfgs()
    value, grad = value_and_grad(f)(x)
    u, (lb_state, ls_state) = opt.update(grad, opt.init(x), x, value=value, value_fn=f)
    new_value, new_grad = value_and_grad(f)(x + u)
    np.testing.assert_allclose(float(ls_state.value), float(new_value))
    np.testing.assert_allclose(np.asarray(ls_state.grad), np.asarray(new_grad))
    assert float(ls_state.info.decrease_error) == 0 and float(ls_state.info.curvature_error) == 0
    assert 1 <= int(ls_state.info.num_linesearch_steps) <= 20
    assert lb_state.diff_params_memory.shape == (10, 5)


def test_two_loop_matches_the_explicit_bfgs_inverse_hessian():
    rng = np.random.default_rng(3)
    n, m = 4, 3
    t = scale_by_lbfgs(memory_size=m)
    xs = [rng.normal(size=n) for _ in range(5)]
    gs = [rng.normal(size=n) for _ in range(5)]
    state = t.init(fnp.asarray(xs[0]))
    for x, g in zip(xs, gs):
        d, state = t.update(fnp.asarray(g), state, fnp.asarray(x))
    pairs = [(xs[i + 1] - xs[i], gs[i + 1] - gs[i]) for i in range(4)][-m:]
    s_last, y_last = pairs[-1]
    h = np.eye(n) * (s_last @ y_last / (y_last @ y_last) if s_last @ y_last > 0 else 1.0)
    for s, y in pairs:
        if s @ y <= 0:  # skipped, as documented
            continue
        rho = 1 / (s @ y)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    np.testing.assert_allclose(np.asarray(d), h @ gs[-1], rtol=1e-10)


def test_pytree_params_and_fixed_steps_without_linesearch():
    f = lambda p: fnp.sum((p["a"] - 1.0) ** 2) + fnp.sum((p["b"] + 2.0) ** 2)
    p0 = {"a": fnp.asarray(np.zeros(2)), "b": fnp.asarray(np.zeros(1))}
    x, _, _ = run(lbfgs(), f, p0, 5)
    np.testing.assert_allclose(np.asarray(x["a"]), [1.0, 1.0], atol=1e-10)
    np.testing.assert_allclose(np.asarray(x["b"]), [-2.0], atol=1e-10)
    opt = lbfgs(learning_rate=0.5, linesearch=None)
    g = {"a": fnp.asarray(np.array([3.0, 4.0])), "b": fnp.asarray(np.zeros(1))}
    u, _ = opt.update(g, opt.init(p0), p0)
    np.testing.assert_allclose(np.asarray(u["a"]), [-0.3, -0.4])  # -lr * g / ||g||


def test_not_a_descent_direction_falls_back_to_minus_grad():
    ls = scale_by_zoom_linesearch()
    f = lambda x: fnp.sum(x ** 2)
    x = fnp.asarray(np.array([1.0]))
    u, state = ls.update(fnp.asarray(np.array([1.0])), ls.init(x), x, value_fn=f)
    assert float(f(x + u)) < 1.0 and float(u[0]) < 0


def test_bad_input():
    with pytest.raises(ValueError, match="learning_rate"):
        lbfgs(learning_rate=-1.0)
    with pytest.raises(ValueError, match="memory_size"):
        lbfgs(memory_size=0)
    with pytest.raises(ValueError, match="initial_guess_strategy"):
        scale_by_zoom_linesearch(initial_guess_strategy="max")
    with pytest.raises(ValueError, match="curv_rtol"):
        scale_by_zoom_linesearch(slope_rtol=0.5, curv_rtol=0.1)
    opt = lbfgs()
    x = fnp.asarray(np.zeros(2))
    state = opt.init(x)
    with pytest.raises(ValueError, match="value_fn"):
        opt.update(x, state, x, value=fnp.asarray(0.0))
    with pytest.raises(ValueError, match="needs params"):
        opt.update(x, state)
    with pytest.raises(ValueError, match="different tree structures"):
        opt.update({"a": x}, state, {"a": x}, value_fn=lambda p: fnp.sum(p["a"]))
    with pytest.raises(ValueError, match="state"):
        opt.update(x, state[0], x, value_fn=lambda p: fnp.sum(p))


def test_backtracking_without_stored_grad_recomputes_and_converges():
    # store_grad=False keeps no gradient: value_and_grad_from_state must not reuse zeros.
    opt = lbfgs(linesearch=scale_by_backtracking_linesearch(30))
    x0 = fnp.asarray(np.array([-1.2, 1.0]))
    x, state, _ = run(opt, rosenbrock, x0, 300, tol=1e-5, solution=np.ones(2))
    np.testing.assert_allclose(np.asarray(x), [1.0, 1.0], atol=1e-5)
    assert state[1].grad is None
    value, grad = value_and_grad_from_state(rosenbrock)(x, state=state)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(value_and_grad(rosenbrock)(x)[1]))


def test_zoom_first_trial_step_respects_max_stepsize():
    f = lambda x: fnp.sum((x - 3.0) ** 2)
    x = fnp.zeros(1)
    for strategy in ("one", "keep"):
        ls = scale_by_zoom_linesearch(max_linesearch_steps=10, max_stepsize=0.25,
                                      initial_guess_strategy=strategy)
        u, state = ls.update(fnp.full(1, 6.0), ls.init(x), x, value_fn=f)
        assert float(state.learning_rate) <= 0.25
        np.testing.assert_allclose(np.asarray(u), [1.5])


@pytest.mark.parametrize("params", [{}, (), None, {"a": []}])
def test_empty_tree_gives_a_clear_error(params):
    for opt in (lbfgs(), scale_by_lbfgs()):
        with pytest.raises(ValueError, match="at least one parameter"):
            opt.init(params)
