"""Line searches: transformations that scale a descent direction by a step size found by
re-evaluating the loss (Optax's ``scale_by_zoom_linesearch`` and
``scale_by_backtracking_linesearch``).

Their ``update(updates, state, params, *, value=None, grad=None, value_fn)`` takes the
direction as ``updates``, the loss ``value`` and gradient ``grad`` at ``params`` (computed
from ``value_fn`` when not given) and ``value_fn: params -> scalar loss``. The state keeps the
value and gradient at the new params, which ``value_and_grad_from_state`` reuses.

These searches are **eager**: they loop in Python (a bounded number of times) on the
values of the loss, so they do not go through ``vmap`` or ``jit``; a jit-friendly version
will come with ``lax.while_loop``.

Example:
    >>> from optim.linesearch import scale_by_zoom_linesearch
    >>> ls = scale_by_zoom_linesearch(max_linesearch_steps=10)
    >>> f = lambda x: fnp.sum((x - 3.0) ** 2)
    >>> x = fnp.zeros(1)
    >>> u, state = ls.update(fnp.full(1, 6.0), ls.init(x), x, value_fn=f)
    >>> u, state.learning_rate, state.value
    (Array([3.], dtype=float32), Array(0.5, dtype=float32), Array(0., dtype=float32))
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim.base import GradientTransformation, check_range
from optim.tree_math import tree_vdot, zero_count, zeros_like
from transforms import value_and_grad


def _step(params, direction, a):
    return tree.map(lambda p, d: (p + a * d).astype(p.dtype), params, direction)


class LinesearchInfo(NamedTuple):
    """``num_linesearch_steps``: loss evaluations; ``decrease_error`` /
    ``curvature_error``: by how much the accepted step misses the sufficient decrease /
    (strong) curvature condition (0 when it satisfies it)."""
    num_linesearch_steps: Any
    decrease_error: Any
    curvature_error: Any


class ScaleByZoomLinesearchState(NamedTuple):
    """``learning_rate``: the last accepted step size; ``value``, ``grad``: the loss and its
    gradient at the new params; ``info``: a ``LinesearchInfo``."""
    learning_rate: Any
    value: Any
    grad: Any
    info: LinesearchInfo


ScaleByBacktrackingLinesearchState = ScaleByZoomLinesearchState


def _init_state(params, store_grad: bool = True):
    leaves = tree.leaves(params)
    dtype = leaves[0].dtype if leaves else fnp.float32
    return ScaleByZoomLinesearchState(
        learning_rate=fnp.asarray(1.0, dtype=dtype), value=fnp.asarray(fnp.inf, dtype=dtype),
        grad=zeros_like(params) if store_grad else None,
        info=LinesearchInfo(zero_count(), fnp.zeros((), dtype), fnp.zeros((), dtype)))


def _start(params, value, grad, value_fn, name):
    if value_fn is None:
        raise ValueError(f"{name} needs value_fn: call update(updates, state, params, "
                         "value=..., grad=..., value_fn=loss)")
    if params is None:
        raise ValueError(f"{name} needs params")
    if value is None or grad is None:
        value, grad = value_and_grad(value_fn)(params)
    return value, grad


def _cubic_min(a_lo, v_lo, d_lo, a_hi, v_hi, d_hi):
    """The minimiser of the cubic through two points with slopes (Nocedal & Wright 3.59),
    safeguarded to the middle 80% of the interval, else the midpoint."""
    lo, hi = min(a_lo, a_hi), max(a_lo, a_hi)
    margin = 0.1 * (hi - lo)
    try:
        d1 = d_lo + d_hi - 3 * (v_lo - v_hi) / (a_lo - a_hi)
        d2 = math.copysign(math.sqrt(d1 * d1 - d_lo * d_hi), a_hi - a_lo)
        a = a_hi - (a_hi - a_lo) * (d_hi + d2 - d1) / (d_hi - d_lo + 2 * d2)
    except (ValueError, ZeroDivisionError, OverflowError):
        a = math.nan
    return a if lo + margin <= a <= hi - margin else 0.5 * (a_lo + a_hi)


def scale_by_zoom_linesearch(max_linesearch_steps: int = 20, slope_rtol: float = 1e-4,
                             curv_rtol: float = 0.9, increase_factor: float = 2.0,
                             approx_dec_rtol: float = 1e-6, max_stepsize: float | None = None,
                             initial_guess_strategy: str = "one") -> GradientTransformation:
    """A step size satisfying the strong Wolfe conditions (Nocedal & Wright, Algs. 3.5, 3.6).

    With ``phi(a) = f(x + a d)``: sufficient decrease ``phi(a) <= phi(0) + slope_rtol * a *
    phi'(0)`` and curvature ``|phi'(a)| <= curv_rtol * |phi'(0)|``. Near a minimum, where
    the loss changes below its rounding error, the approximate decrease of Hager & Zhang
    (``phi(a) <= phi(0) + approx_dec_rtol * |phi(0)|`` and ``phi'(a) <= (2 slope_rtol - 1)
    phi'(0)``) stands in for sufficient decrease. Step sizes grow by
    ``increase_factor`` until a bracket is found, then a cubic-interpolating zoom narrows it;
    at most ``max_linesearch_steps`` loss-and-gradient evaluations in all. If none is
    accepted, the lowest point with sufficient decrease is taken (zero step if there is
    none), and ``info`` reports the errors. A direction that is not a descent direction is
    replaced by ``-grad``.

    Args:
        initial_guess_strategy: ``"one"`` (start each search at 1) or ``"keep"`` (at the
            last accepted step size).

    Example:
        >>> ls = scale_by_zoom_linesearch(max_linesearch_steps=10)
        >>> ls.init(fnp.zeros(2)).info.num_linesearch_steps
        Array(0, dtype=int32)
    """
    check_range("max_linesearch_steps", max_linesearch_steps, low=1)
    check_range("slope_rtol", slope_rtol, low=0, high=1)
    check_range("curv_rtol", curv_rtol, low=slope_rtol, high=1)
    check_range("increase_factor", increase_factor, low=1, high_open=False)
    check_range("approx_dec_rtol", approx_dec_rtol, low=0)
    if initial_guess_strategy not in ("one", "keep"):
        raise ValueError(f"initial_guess_strategy must be 'one' or 'keep', "
                         f"got {initial_guess_strategy!r}")

    def update(updates, state, params=None, *, value=None, grad=None, value_fn=None):
        value, grad = _start(params, value, grad, value_fn, "scale_by_zoom_linesearch")
        direction = updates
        phi0, dphi0 = float(value), float(tree_vdot(grad, direction))
        if not dphi0 < 0:
            direction = tree.map(lambda g: -g, grad)
            dphi0 = -float(tree_vdot(grad, grad))
        vg = value_and_grad(value_fn)
        evals = 0

        def evaluate(a):
            nonlocal evals
            evals += 1
            v, g = vg(_step(params, direction, a))
            v = float(v)
            return v if math.isfinite(v) else math.inf, g, float(tree_vdot(g, direction))

        def decrease(a, v, d):
            return v <= phi0 + slope_rtol * a * dphi0 or (
                v <= phi0 + approx_dec_rtol * abs(phi0) and d <= (2 * slope_rtol - 1) * dphi0)

        def curvature(d):
            return abs(d) <= curv_rtol * abs(dphi0)

        best = (0.0, phi0, grad, dphi0)
        accepted = None
        a_prev, v_prev, d_prev = 0.0, phi0, dphi0
        a = 1.0 if initial_guess_strategy == "one" else float(state.learning_rate)
        if max_stepsize is not None:
            a = min(a, max_stepsize)
        bracket = None
        while evals < max_linesearch_steps:
            v, g, d = evaluate(a)
            if decrease(a, v, d) and v < best[1]:
                best = (a, v, g, d)
            if not decrease(a, v, d) or (evals > 1 and v >= v_prev):
                bracket = (a_prev, v_prev, d_prev, a, v, d)
                break
            if curvature(d):
                accepted = (a, v, g, d)
                break
            if d >= 0:
                bracket = (a, v, d, a_prev, v_prev, d_prev)
                break
            a_next = a * increase_factor
            if max_stepsize is not None:
                a_next = min(a_next, max_stepsize)
            if a_next == a:
                break
            a_prev, v_prev, d_prev, a = a, v, d, a_next
        while bracket is not None and accepted is None and evals < max_linesearch_steps:
            a_lo, v_lo, d_lo, a_hi, v_hi, d_hi = bracket
            a = _cubic_min(a_lo, v_lo, d_lo, a_hi, v_hi, d_hi)
            v, g, d = evaluate(a)
            if decrease(a, v, d) and v < best[1]:
                best = (a, v, g, d)
            if not decrease(a, v, d) or v >= v_lo:
                bracket = (a_lo, v_lo, d_lo, a, v, d)
            elif curvature(d):
                accepted = (a, v, g, d)
            elif d * (a_hi - a_lo) >= 0:
                bracket = (a, v, d, a_lo, v_lo, d_lo)
            else:
                bracket = (a, v, d, a_hi, v_hi, d_hi)
        a, v, g, d = accepted if accepted is not None else best
        return _finish(params, direction, state, a, v, g, evals,
                       max(v - phi0 - slope_rtol * a * dphi0, 0.0),
                       max(abs(d) - curv_rtol * abs(dphi0), 0.0))
    return GradientTransformation(_init_state, update)


def _finish(params, direction, state, a, v, g, evals, decrease_error, curvature_error):
    dtype = state.value.dtype
    updates = tree.map(lambda d, p: (a * d).astype(p.dtype), direction, params)
    return updates, ScaleByZoomLinesearchState(
        learning_rate=fnp.asarray(a, dtype=dtype), value=fnp.asarray(v, dtype=dtype), grad=g,
        info=LinesearchInfo(fnp.asarray(evals, dtype=fnp.int32),
                            fnp.asarray(decrease_error, dtype=dtype),
                            fnp.asarray(curvature_error, dtype=dtype)))


def scale_by_backtracking_linesearch(max_backtracking_steps: int, slope_rtol: float = 1e-4,
                                     decrease_factor: float = 0.8,
                                     increase_factor: float = 1.5,
                                     max_learning_rate: float = 1.0,
                                     store_grad: bool = False) -> GradientTransformation:
    """A step size satisfying sufficient decrease (Armijo) by backtracking.

    Starts at ``min(increase_factor * last_step, max_learning_rate)`` and multiplies by
    ``decrease_factor`` until ``f(x + a d) <= f(x) + slope_rtol * a * <grad, d>``, at most
    ``max_backtracking_steps`` times (then the last, smallest step is taken). Only values
    are evaluated; ``store_grad=True`` also computes the gradient at the new params (for
    ``value_and_grad_from_state``). With ``store_grad=False`` the state's ``grad`` is None
    (as in Optax), and ``value_and_grad_from_state`` evaluates the value and gradient
    afresh. No curvature condition: prefer the zoom search for L-BFGS.

    Example:
        >>> ls = scale_by_backtracking_linesearch(max_backtracking_steps=20)
        >>> f = lambda x: fnp.sum(x ** 2)
        >>> x = fnp.ones(1)
        >>> u, state = ls.update(-2 * x, ls.init(x), x, value_fn=f)
        >>> float(f(x + u)) < 1.0
        True
    """
    check_range("max_backtracking_steps", max_backtracking_steps, low=1)
    check_range("slope_rtol", slope_rtol, low=0, high=1)
    check_range("decrease_factor", decrease_factor, low=0, high=1)
    check_range("increase_factor", increase_factor, low=1, high_open=False)
    check_range("max_learning_rate", max_learning_rate, low=0)

    def update(updates, state, params=None, *, value=None, grad=None, value_fn=None):
        value, grad = _start(params, value, grad, value_fn, "scale_by_backtracking_linesearch")
        phi0, dphi0 = float(value), float(tree_vdot(grad, updates))
        a = min(float(state.learning_rate) * increase_factor, max_learning_rate)
        evals = 0
        for _ in range(max_backtracking_steps):
            evals += 1
            v = float(value_fn(_step(params, updates, a)))
            if math.isfinite(v) and v <= phi0 + slope_rtol * a * dphi0:
                break
            a *= decrease_factor
        else:
            v = float(value_fn(_step(params, updates, a)))
        g = None
        if store_grad:
            v, g = value_and_grad(value_fn)(_step(params, updates, a))
            v = float(v)
        return _finish(params, updates, state, a, v, g, evals,
                       max(v - phi0 - slope_rtol * a * dphi0, 0.0), 0.0)
    return GradientTransformation(lambda params: _init_state(params, store_grad), update)


def value_and_grad_from_state(value_fn: Callable) -> Callable:
    """``fn(params, *, state) -> (value, grad)`` that reuses the value and gradient a line
    search stored in ``state`` (anywhere in it, e.g. in ``lbfgs``'s state) when they are
    finite, and evaluates ``value_and_grad(value_fn)(params)`` otherwise: at the first step,
    and after a backtracking search with ``store_grad=False`` (which stores no gradient).

    Eager: it decides in Python whether the stored value is usable.

    Example:
        >>> from optim.linesearch import scale_by_zoom_linesearch
        >>> ls = scale_by_zoom_linesearch()
        >>> f = lambda x: fnp.sum(x ** 2)
        >>> value_and_grad_from_state(f)(fnp.ones(1), state=ls.init(fnp.ones(1)))
        (Array(1., dtype=float32), Array([2.], dtype=float32))
    """
    def fn(params, *, state):
        found = _find_linesearch_state(state)
        if (found is not None and found.grad is not None
                and math.isfinite(float(found.value))):
            return found.value, found.grad
        return value_and_grad(value_fn)(params)
    return fn


def _find_linesearch_state(state):
    if isinstance(state, ScaleByZoomLinesearchState):
        return state
    if isinstance(state, tuple):
        for s in state:
            found = _find_linesearch_state(s)
            if found is not None:
                return found
    return None
