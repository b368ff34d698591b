"""Scaling blocks: ``scale``, learning rates and schedules, and the adaptive ``scale_by_*``
rescalings (Adam and its variants, RMS, Adagrad, Adadelta, trust ratio, Lion).

Every state is a NamedTuple of arrays; step counts are int32 arrays. Factories raise
``ValueError`` for bad hyperparameters (NaN or not a real number, a negative learning rate
or eps, betas outside [0, 1)); updates raise it for grads whose tree differs from the
state's (both are shown).

Example:
    >>> from optim.scale import scale_by_adam
    >>> t = scale_by_adam()
    >>> g = {"w": fnp.asarray([2.0, -0.5])}
    >>> t.update(g, t.init(g))[0]["w"]  # the first Adam step is sign(g) (up to eps)
    Array([ 1., -1.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim import tree_math as tm
from optim.base import (
    GradientTransformation,
    check_range,
    check_same_structure,
    init_empty,
)
from optim.tree_math import safe_increment, update_moment, zero_count, zeros_like


def _check(grads, moment) -> None:
    check_same_structure(grads, moment, "grads", "optimizer state")


def _check_args(betas: dict, **nonnegative) -> None:
    """ValueError for a beta outside [0, 1) or a negative eps (etc.), at construction."""
    for name, value in betas.items():
        check_range(name, value, 0.0, 1.0)
    for name, value in nonnegative.items():
        check_range(name, value, 0.0)


def _cast(t, dtype):
    return t if dtype is None else tree.map(lambda x: x.astype(dtype), t)


class ScaleByScheduleState(NamedTuple):
    """The int32 step count a schedule is evaluated at."""
    count: Any


def scale(step_size: float) -> GradientTransformation:
    """``u = step_size * g``."""
    def update(grads, state, params=None):
        del params
        return tree.map(lambda g: g * step_size, grads), state
    return GradientTransformation(init_empty, update)


def scale_by_schedule(step_size_fn: Callable[[Any], Any]) -> GradientTransformation:
    """``u = step_size_fn(count) * g``; ``count`` (int32) starts at 0 and lives in the state."""
    def init(params):
        del params
        return ScaleByScheduleState(zero_count())

    def update(grads, state, params=None):
        del params
        step = step_size_fn(state.count)
        updates = tree.map(lambda g: (g * step).astype(g.dtype), grads)
        return updates, ScaleByScheduleState(safe_increment(state.count))
    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, *, flip_sign: bool = True) -> GradientTransformation:
    """``u = -learning_rate * g`` (``+`` when ``flip_sign=False``); ``learning_rate`` is a
    number or a schedule (a callable of the int32 step count).
    """
    _check_args({}, learning_rate=learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


class ScaleByAdamState(NamedTuple):
    """Step count and the first (``mu``) and second (``nu``) moment estimates."""
    count: Any
    mu: Any
    nu: Any


def _adam_moments(grads, state, b1, b2, mu_dtype):
    """Adam's two moving averages and the incremented count."""
    _check(grads, state.mu)
    mu = _cast(update_moment(grads, state.mu, b1, 1), mu_dtype)
    nu = update_moment(grads, state.nu, b2, 2)
    return mu, nu, safe_increment(state.count)


def _mu_hat(grads, mu, b1, count, nesterov):
    if not nesterov:
        return tm.bias_correction(mu, b1, count)
    return tree.map(lambda m, g: b1 * m + (1 - b1) * g,
                    tm.bias_correction(mu, b1, safe_increment(count)),
                    tm.bias_correction(grads, b1, count))


def _adam_init(mu_dtype):
    return lambda params: ScaleByAdamState(zero_count(), zeros_like(params, mu_dtype),
                                           zeros_like(params))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                  mu_dtype=None, *, nesterov: bool = False) -> GradientTransformation:
    """Adam (Kingma & Ba, 2014): ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``u = m_hat / (sqrt(v_hat + eps_root) + eps)`` with ``m_hat = m / (1 - b1^t)``,
    ``v_hat = v / (1 - b2^t)``. ``nesterov=True`` gives NAdam:
    ``m_hat = b1 m / (1 - b1^(t+1)) + (1-b1) g / (1 - b1^t)``.
    """
    _check_args({"b1": b1, "b2": b2}, eps=eps, eps_root=eps_root)

    def update(grads, state, params=None):
        del params
        mu, nu, count = _adam_moments(grads, state, b1, b2, mu_dtype)
        mu_hat = _mu_hat(grads, mu, b1, count, nesterov)
        nu_hat = tm.bias_correction(nu, b2, count)
        updates = tree.map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return updates, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(_adam_init(mu_dtype), update)


class ScaleByAmsgradState(NamedTuple):
    """Adam's state plus the running maximum ``nu_max`` of the corrected second moment."""
    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                     eps_root: float = 0.0, mu_dtype=None) -> GradientTransformation:
    """AMSGrad (Reddi et al., 2018): Adam with ``v_max = max(v_max, v_hat)`` in place of
    ``v_hat``: ``u = m_hat / (sqrt(v_max + eps_root) + eps)``.
    """
    _check_args({"b1": b1, "b2": b2}, eps=eps, eps_root=eps_root)

    def init(params):
        return ScaleByAmsgradState(zero_count(), zeros_like(params, mu_dtype), zeros_like(params),
                                   zeros_like(params))

    def update(grads, state, params=None):
        del params
        mu, nu, count = _adam_moments(grads, state, b1, b2, mu_dtype)
        mu_hat = tm.bias_correction(mu, b1, count)
        nu_max = tree.map(fnp.maximum, state.nu_max, tm.bias_correction(nu, b2, count))
        updates = tree.map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_max)
        return updates, ScaleByAmsgradState(count, mu, nu, nu_max)
    return GradientTransformation(init, update)


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999,
                    eps: float = 1e-8) -> GradientTransformation:
    """AdaMax (Kingma & Ba, 2014): ``m = b1 m + (1-b1) g``, ``v = max(b2 v, |g| + eps)``,
    ``u = m_hat / v``.
    """
    _check_args({"b1": b1, "b2": b2}, eps=eps)

    def update(grads, state, params=None):
        del params
        _check(grads, state.mu)
        mu = update_moment(grads, state.mu, b1, 1)
        nu = tree.map(lambda g, v: fnp.maximum(b2 * v, fnp.abs(g) + eps), grads, state.nu)
        count = safe_increment(state.count)
        updates = tree.map(lambda m, v: m / v, tm.bias_correction(mu, b1, count), nu)
        return updates, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(_adam_init(None), update)


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   threshold: float = 5.0, *, nesterov: bool = False) -> GradientTransformation:
    """RAdam (Liu et al., 2020): with ``rho_inf = 2 / (1-b2) - 1`` and
    ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``, ``u = r_t m_hat / (sqrt(v_hat + eps_root) +
    eps)`` where ``r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))``
    if ``rho_t >= threshold``, else ``u = m_hat``.
    """
    _check_args({"b1": b1, "b2": b2}, eps=eps, eps_root=eps_root)
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def rectification(count):
        t = count.astype(fnp.float64)
        b2t = fnp.asarray(b2, fnp.float64) ** t
        rho = rho_inf - 2 * t * b2t / (1 - b2t)
        use = rho >= threshold
        rho = fnp.where(use, rho, rho_inf)  # keeps the unused branch free of sqrt(<0)
        r = fnp.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return use, r

    def leaf(m, v, use, r):
        rectified = r.astype(m.dtype) * m / (fnp.sqrt(v + eps_root) + eps)
        return fnp.where(use, rectified, m).astype(m.dtype)

    def update(grads, state, params=None):
        del params
        mu, nu, count = _adam_moments(grads, state, b1, b2, None)
        mu_hat = _mu_hat(grads, mu, b1, count, nesterov)
        nu_hat = tm.bias_correction(nu, b2, count)
        use, r = rectification(count)
        updates = tree.map(lambda m, v: leaf(m, v, use, r), mu_hat, nu_hat)
        return updates, ScaleByAdamState(count, mu, nu)
    return GradientTransformation(_adam_init(None), update)


class ScaleByRmsState(NamedTuple):
    """The moving average ``nu`` of squared gradients."""
    nu: Any


class ScaleByRmsWithCountState(NamedTuple):
    """``nu`` and the step count, for the bias-corrected variant."""
    count: Any
    nu: Any


def _rms_div(g, v, eps, eps_in_sqrt):
    return g / fnp.sqrt(v + eps) if eps_in_sqrt else g / (fnp.sqrt(v) + eps)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                 eps_in_sqrt: bool = True, bias_correction: bool = False
                 ) -> GradientTransformation:
    """RMSProp (Hinton, 2012): ``v = decay v + (1-decay) g^2``, ``u = g / sqrt(v + eps)``
    (``g / (sqrt(v) + eps)`` when ``eps_in_sqrt=False``); ``v`` starts at ``initial_scale``.
    """
    _check_args({"decay": decay}, eps=eps, initial_scale=initial_scale)

    def init(params):
        nu = tree.map(lambda p: fnp.full_like(p, initial_scale), params)
        if bias_correction:
            return ScaleByRmsWithCountState(zero_count(), nu)
        return ScaleByRmsState(nu)

    def update(grads, state, params=None):
        del params
        _check(grads, state.nu)
        nu = update_moment(grads, state.nu, decay, 2)
        div = lambda v: tree.map(lambda g, v: _rms_div(g, v, eps, eps_in_sqrt), grads, v)
        if not bias_correction:
            return div(nu), ScaleByRmsState(nu)
        count = safe_increment(state.count)
        return div(tm.bias_correction(nu, decay, count)), ScaleByRmsWithCountState(count, nu)
    return GradientTransformation(init, update)


class ScaleByRStdDevState(NamedTuple):
    """Moving averages of the gradients (``mu``) and of their squares (``nu``)."""
    mu: Any
    nu: Any


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                    eps_in_sqrt: bool = True) -> GradientTransformation:
    """Centered RMSProp (Graves, 2013): ``m = decay m + (1-decay) g``,
    ``v = decay v + (1-decay) g^2``, ``u = g / sqrt(v - m^2 + eps)``.
    """
    _check_args({"decay": decay}, eps=eps, initial_scale=initial_scale)

    def init(params):
        nu = tree.map(lambda p: fnp.full_like(p, initial_scale), params)
        return ScaleByRStdDevState(zeros_like(params), nu)

    def update(grads, state, params=None):
        del params
        _check(grads, state.mu)
        mu = update_moment(grads, state.mu, decay, 1)
        nu = update_moment(grads, state.nu, decay, 2)
        updates = tree.map(lambda g, m, v: _rms_div(g, v - m ** 2, eps, eps_in_sqrt),
                           grads, mu, nu)
        return updates, ScaleByRStdDevState(mu, nu)
    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    """The running sum of squared gradients."""
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7) -> GradientTransformation:
    """Adagrad (Duchi et al., 2011): ``s = s + g^2``, ``u = g / sqrt(s + eps)`` (0 where
    ``s == 0``); ``s`` starts at ``initial_accumulator_value``.
    """
    _check_args({}, initial_accumulator_value=initial_accumulator_value, eps=eps)

    def init(params):
        return ScaleByRssState(tree.map(
            lambda p: fnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None):
        del params
        _check(grads, state.sum_of_squares)
        s = tree.map(lambda g, s: s + g * g, grads, state.sum_of_squares)
        updates = tree.map(lambda g, s: fnp.where(s > 0, g / fnp.sqrt(s + eps), 0.0).astype(
            g.dtype), grads, s)
        return updates, ScaleByRssState(s)
    return GradientTransformation(init, update)


class ScaleByAdaDeltaState(NamedTuple):
    """Moving averages of squared gradients (``e_g``) and of squared updates (``e_x``)."""
    e_g: Any
    e_x: Any


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> GradientTransformation:
    """Adadelta (Zeiler, 2012): ``E[g^2] = rho E[g^2] + (1-rho) g^2``,
    ``u = sqrt(E[x^2] + eps) / sqrt(E[g^2] + eps) * g``, ``E[x^2] = rho E[x^2] + (1-rho) u^2``.
    """
    _check_args({"rho": rho}, eps=eps)

    def init(params):
        return ScaleByAdaDeltaState(zeros_like(params), zeros_like(params))

    def update(grads, state, params=None):
        del params
        _check(grads, state.e_g)
        e_g = update_moment(grads, state.e_g, rho, 2)
        updates = tree.map(lambda g, eg, ex: fnp.sqrt(ex + eps) / fnp.sqrt(eg + eps) * g,
                           grads, e_g, state.e_x)
        e_x = update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g, e_x)
    return GradientTransformation(init, update)


def scale_by_trust_ratio(min_norm: float = 0.0, trust_coefficient: float = 1.0,
                         eps: float = 0.0) -> GradientTransformation:
    """LARS/LAMB trust ratio (You et al., 2017/2019), leaf by leaf:
    ``u = g * trust_coefficient * max(|p|, min_norm) / (max(|g|, min_norm) + eps)``, and
    ``u = g`` where either norm is zero. Needs ``params``.

    Raises:
        ValueError: for negative arguments, or when ``update`` gets no ``params``.
    """
    _check_args({}, min_norm=min_norm, trust_coefficient=trust_coefficient, eps=eps)

    def leaf(g, p):
        p_norm = fnp.maximum(fnp.sqrt(fnp.sum(p * p)), min_norm)
        g_norm = fnp.maximum(fnp.sqrt(fnp.sum(g * g)), min_norm)
        zero = fnp.logical_or(p_norm == 0, g_norm == 0)
        ratio = trust_coefficient * p_norm / fnp.where(zero, 1.0, g_norm + eps)
        return (g * fnp.where(zero, 1.0, ratio)).astype(g.dtype)

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("scale_by_trust_ratio needs params: update(grads, state, params)")
        check_same_structure(grads, params, "grads", "params")
        return tree.map(leaf, grads, params), state
    return GradientTransformation(init_empty, update)


class ScaleByLionState(NamedTuple):
    """Step count and the momentum ``mu``."""
    count: Any
    mu: Any


def scale_by_lion(b1: float = 0.9, b2: float = 0.99, mu_dtype=None) -> GradientTransformation:
    """Lion (Chen et al., 2023): ``u = sign(b1 m + (1-b1) g)``, then
    ``m = b2 m + (1-b2) g``.
    """
    _check_args({"b1": b1, "b2": b2})

    def init(params):
        return ScaleByLionState(zero_count(), zeros_like(params, mu_dtype))

    def update(grads, state, params=None):
        del params
        _check(grads, state.mu)
        updates = tree.map(lambda g, m: fnp.sign((1 - b1) * g + b1 * m).astype(g.dtype),
                           grads, state.mu)
        mu = _cast(update_moment(grads, state.mu, b2, 1), mu_dtype)
        return updates, ScaleByLionState(safe_increment(state.count), mu)
    return GradientTransformation(init, update)
