"""Wrappers over time: gradient accumulation (``MultiSteps``), skipping non-finite updates
(``apply_if_finite``) and exponential moving averages (``ema``, ``params_ema``).

Every decision on array values is a ``fnp.where`` select (both branches are computed), so
the states go through ``vmap`` and ``jit`` unchanged.

Example:
    >>> from optim.base import identity
    >>> from optim.accumulate import MultiSteps
    >>> t = MultiSteps(identity(), every_k_schedule=2)
    >>> params = {"w": fnp.zeros(2)}
    >>> state = t.init(params)
    >>> u, state = t.update({"w": fnp.ones(2)}, state, params)
    >>> u["w"]
    Array([0., 0.], dtype=float32)
    >>> t.update({"w": fnp.full(2, 3.0)}, state, params)[0]["w"]
    Array([2., 2.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim.base import GradientTransformation, check_range, check_same_structure
from optim.tree_math import (
    bias_correction,
    safe_increment,
    update_moment,
    zero_count,
    zeros_like,
)


def _select(pred, on_true, on_false):
    """``on_true`` where the scalar ``pred`` holds, else ``on_false``, leaf by leaf."""
    return tree.map(lambda a, b: fnp.where(pred, a, b).astype(fnp.result_type(a, b)),
                    on_true, on_false)


def _all_finite(updates):
    return fnp.all(fnp.stack([fnp.all(fnp.isfinite(g)) for g in tree.leaves(updates)]
                             or [fnp.asarray(True)]))


class MultiStepsState(NamedTuple):
    """``mini_step``: mini-batches accumulated since the last real step; ``gradient_step``:
    real steps taken; ``inner_opt_state``; ``acc_grads``: the running mean (or sum) of the
    gradients; ``skip_state``: the state of ``should_skip_update_fn`` (``()`` without one)."""
    mini_step: Any
    gradient_step: Any
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any = ()


def skip_not_finite(updates, gradient_step, params):
    """A ``should_skip_update_fn`` for ``MultiSteps``: skip mini-batches with NaN/inf
    gradients; its state counts the non-finite leaves."""
    del gradient_step, params
    counts = [fnp.sum(~fnp.isfinite(g)) for g in tree.leaves(updates)]
    num_not_finite = sum(counts) if counts else fnp.asarray(0)
    return num_not_finite > 0, {"num_not_finite": fnp.asarray(num_not_finite).astype(fnp.int32)}


class MultiSteps:
    """Gradient accumulation (Optax's ``MultiSteps``): average ``k`` mini-batch gradients and
    apply ``opt`` to the average every ``k``-th call; the calls in between return zeros.

    Note that ``opt.update`` runs on *every* call, not only on the k-th one: its result (and
    its new state) is then selected with ``fnp.where`` and kept only on the k-th call. That
    is the price of being vmap- and jit-safe (a select, not a Python branch on the step
    count): each mini-batch costs one inner update, and ``opt`` must not have side effects.

    Args:
        opt: the inner transformation.
        every_k_schedule: ``k``, or a function ``gradient_step -> k``.
        use_grad_mean: average the gradients (True) or sum them.
        should_skip_update_fn: optional ``fn(updates, gradient_step, params) ->
            (should_skip, skip_state)``; a skipped mini-batch leaves the state as it was
            (``skip_not_finite`` skips NaN/inf gradients).

    Example:
        >>> from optim.base import identity
        >>> t = MultiSteps(identity(), every_k_schedule=3).gradient_transformation()
        >>> t.init({"w": fnp.zeros(1)}).mini_step
        Array(0, dtype=int32)
    """

    def __init__(self, opt: GradientTransformation, every_k_schedule: int | Callable,
                 use_grad_mean: bool = True, should_skip_update_fn: Callable | None = None):
        if not callable(every_k_schedule):
            check_range("every_k_schedule", every_k_schedule, low=1)
        self.inner_opt = opt
        self._every_k = every_k_schedule if callable(every_k_schedule) else (
            lambda step: every_k_schedule)
        self._use_grad_mean = use_grad_mean
        self._should_skip = should_skip_update_fn

    def init(self, params) -> MultiStepsState:
        skip_state = ()
        if self._should_skip is not None:
            skip_state = self._should_skip(zeros_like(params), zero_count(),
                                           params)[1]
        return MultiStepsState(mini_step=zero_count(),
                               gradient_step=zero_count(),
                               inner_opt_state=self.inner_opt.init(params),
                               acc_grads=zeros_like(params), skip_state=skip_state)

    def update(self, updates, state: MultiStepsState, params=None, **extra_args):
        """One mini-batch: returns ``(updates, state)``; the updates are zeros except on
        every ``k``-th call, where they are ``opt``'s updates for the accumulated gradients."""
        check_same_structure(updates, state.acc_grads, "grads", "accumulated grads")
        k = self._every_k(state.gradient_step)
        skip, skip_state = (None, ()) if self._should_skip is None else self._should_skip(
            updates, state.gradient_step, params)
        n = state.mini_step
        if self._use_grad_mean:
            acc = tree.map(lambda g, a: (a * n.astype(a.dtype) + g) / (n + 1).astype(a.dtype),
                           updates, state.acc_grads)
        else:
            acc = tree.map(lambda g, a: a + g, updates, state.acc_grads)
        final_updates, inner_state = self.inner_opt.update(acc, state.inner_opt_state, params,
                                                           **extra_args)
        is_final = n >= k - 1
        zeros = zeros_like(final_updates)
        new_updates = _select(is_final, final_updates, zeros)
        new_state = MultiStepsState(
            mini_step=fnp.where(is_final, zero_count(), safe_increment(n)),
            gradient_step=fnp.where(is_final, safe_increment(state.gradient_step),
                                    state.gradient_step),
            inner_opt_state=_select(is_final, inner_state, state.inner_opt_state),
            acc_grads=_select(is_final, zeros_like(acc), acc),
            skip_state=skip_state)
        if skip is not None:
            new_updates = _select(skip, zeros, new_updates)
            kept = state._replace(skip_state=skip_state)
            new_state = _select(skip, kept, new_state)
        return new_updates, new_state

    def has_updated(self, state: MultiStepsState):
        """True right after a call that applied ``opt`` (a real step)."""
        return fnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> GradientTransformation:
        """``MultiSteps`` as a plain ``GradientTransformation`` (to use in ``chain``)."""
        return GradientTransformation(self.init, self.update)


class ApplyIfFiniteState(NamedTuple):
    """``notfinite_count``: consecutive non-finite updates; ``last_finite``: whether the
    last one was finite; ``total_notfinite``: all non-finite updates so far;
    ``inner_state``."""
    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


def apply_if_finite(inner: GradientTransformation,
                    max_consecutive_errors: int) -> GradientTransformation:
    """Skip updates with a NaN or inf (Optax's ``apply_if_finite``).

    A non-finite gradient gives zero updates and leaves ``inner``'s state unchanged, unless
    it is more than ``max_consecutive_errors`` in a row: then it goes through (so a run that
    only produces NaNs fails visibly instead of silently stalling).

    Example:
        >>> from optim.base import identity
        >>> t = apply_if_finite(identity(), max_consecutive_errors=2)
        >>> g = {"w": fnp.asarray([1.0, fnp.nan])}
        >>> u, state = t.update(g, t.init(g))
        >>> u["w"], state.notfinite_count
        (Array([0., 0.], dtype=float32), Array(1, dtype=int32))
    """
    check_range("max_consecutive_errors", max_consecutive_errors, low=0)

    def init(params):
        return ApplyIfFiniteState(notfinite_count=zero_count(),
                                  last_finite=fnp.asarray(True),
                                  total_notfinite=zero_count(),
                                  inner_state=inner.init(params))

    def update(grads, state, params=None):
        isfinite = _all_finite(grads)
        notfinite_count = fnp.where(isfinite, zero_count(),
                                    safe_increment(state.notfinite_count))
        new_updates, inner_state = inner.update(grads, state.inner_state, params)
        apply = fnp.logical_or(isfinite, notfinite_count > max_consecutive_errors)
        return (_select(apply, new_updates, zeros_like(new_updates)),
                ApplyIfFiniteState(
                    notfinite_count=notfinite_count, last_finite=isfinite,
                    total_notfinite=fnp.where(isfinite, state.total_notfinite,
                                              safe_increment(state.total_notfinite)),
                    inner_state=_select(apply, inner_state, state.inner_state)))
    return GradientTransformation(init, update)


class EmaState(NamedTuple):
    """``count``: updates seen; ``ema``: the moving average (not debiased)."""
    count: Any
    ema: Any


def ema(decay: float, debias: bool = True, accumulator_dtype=None) -> GradientTransformation:
    """The exponential moving average of the updates (Optax's ``ema``).

    ``m_t = decay * m_{t-1} + (1 - decay) * g_t`` with ``m_0 = 0``; the result is
    ``m_t / (1 - decay**t)`` if ``debias`` else ``m_t``. Applied to params (``t.update(params,
    state)``) it keeps an EMA of the params; see also ``params_ema``.

    Example:
        >>> t = ema(0.5)
        >>> state = t.init(fnp.zeros(1))
        >>> u, state = t.update(fnp.asarray([2.0]), state)
        >>> u, state.ema
        (Array([2.], dtype=float32), Array([1.], dtype=float32))
    """
    check_range("decay", decay, low=0, high=1, high_open=False)

    def init(params):
        return EmaState(count=zero_count(),
                        ema=tree.map(lambda p: fnp.zeros_like(p, dtype=accumulator_dtype),
                                     params))

    def update(grads, state, params=None):
        del params
        check_same_structure(grads, state.ema, "updates", "ema state")
        new_ema = update_moment(grads, state.ema, decay, order=1)
        count = safe_increment(state.count)
        updates = bias_correction(new_ema, decay, count) if debias else new_ema
        if accumulator_dtype is not None:
            new_ema = tree.map(lambda m: m.astype(accumulator_dtype), new_ema)
        return updates, EmaState(count=count, ema=new_ema)
    return GradientTransformation(init, update)


class ParamsEmaState(NamedTuple):
    """``count``: steps seen; ``ema``: the moving average of the params after each step."""
    count: Any
    ema: Any


def params_ema(decay: float) -> GradientTransformation:
    """Keep an EMA of the parameters in the state; the updates pass through unchanged.

    Put it last in a ``chain``: after each step ``state.ema`` is
    ``decay * ema + (1 - decay) * (params + updates)``, starting from the initial params
    (so no debiasing is needed). Evaluate with ``state.ema`` instead of the params.

    Raises:
        ValueError: in ``update`` if ``params`` is not given.

    Example:
        >>> from optim.base import identity
        >>> t = params_ema(0.5)
        >>> params = fnp.zeros(1)
        >>> u, state = t.update(fnp.asarray([4.0]), t.init(params), params)
        >>> u, state.ema
        (Array([4.], dtype=float32), Array([2.], dtype=float32))
    """
    check_range("decay", decay, low=0, high=1, high_open=False)

    def init(params):
        return ParamsEmaState(count=zero_count(),
                              ema=tree.map(lambda p: p + fnp.zeros_like(p), params))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("params_ema needs params: call update(grads, state, params)")
        check_same_structure(grads, state.ema, "updates", "ema state")
        check_same_structure(params, state.ema, "params", "ema state")
        new_ema = tree.map(lambda e, p, u: (decay * e + (1 - decay) * (p + u)).astype(e.dtype),
                           state.ema, params, grads)
        return grads, ParamsEmaState(count=safe_increment(state.count), ema=new_ema)
    return GradientTransformation(init, update)
