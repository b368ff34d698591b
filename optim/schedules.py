"""Schedules: functions of the step count that give a hyperparameter (Optax's names).

A schedule takes the count (a Python int, an fx integer array of any shape, or a tracer)
and returns a float array of the same shape (``fx.config.default_float`` for integer
counts). Schedules use only ``fx.numpy`` ops, never a Python ``if`` on the count, so they
work on arrays of steps, under ``transforms.vmap`` and under ``jit``. Bad hyperparameters
(negative steps, ...) raise ``ValueError`` when the schedule is built.

Example:
    >>> from optim.schedules import warmup_cosine_decay_schedule
    >>> s = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
    >>> fnp.round(s(fnp.array([0, 5, 10, 60, 110, 200])), 3)
    Array([0. , 0.5, 1. , 0.5, 0. , 0. ], dtype=float32)
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import fx
import fx.numpy as fnp
from optim.base import check_range

Schedule = Callable[..., fx.Array]

__all__ = ["Schedule", "constant_schedule", "linear_schedule", "polynomial_schedule",
           "exponential_decay", "cosine_decay_schedule", "warmup_cosine_decay_schedule",
           "cosine_onecycle_schedule", "piecewise_constant_schedule", "join_schedules"]


def _count(count):
    """The count as a float array (integer counts become ``fx.config.default_float``)."""
    c = fnp.asarray(count)
    return c if c.dtype.kind in "fc" else c.astype(fx.config.default_float)


def constant_schedule(value) -> Schedule:
    """``value`` at every step.

    Example:
        >>> from optim.schedules import constant_schedule
        >>> constant_schedule(0.1)(fnp.array([0, 7]))
        Array([0.1, 0.1], dtype=float32)
    """
    return lambda count: fnp.zeros_like(_count(count)) + value


def polynomial_schedule(init_value, end_value, power, transition_steps: int,
                        transition_begin: int = 0) -> Schedule:
    """``(init - end) * (1 - t / transition_steps) ** power + end`` with ``t = clip(count -
    transition_begin, 0, transition_steps)``: ``init_value`` until ``transition_begin``,
    ``end_value`` after ``transition_begin + transition_steps``. As in Optax,
    ``transition_steps=0`` gives the constant ``init_value``.

    Example:
        >>> from optim.schedules import polynomial_schedule
        >>> s = polynomial_schedule(1.0, 0.0, power=2, transition_steps=4, transition_begin=2)
        >>> s(fnp.array([0, 2, 4, 6, 9]))
        Array([1.  , 1.  , 0.25, 0.  , 0.  ], dtype=float32)
    """
    check_range("power", power, low=0)
    check_range("transition_steps", transition_steps, low=0)
    check_range("transition_begin", transition_begin, low=0)
    if transition_steps == 0:
        return constant_schedule(init_value)

    def schedule(count):
        t = fnp.clip(_count(count) - transition_begin, 0, transition_steps)
        return (init_value - end_value) * (1 - t / transition_steps) ** power + end_value
    return schedule


def linear_schedule(init_value, end_value, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """``polynomial_schedule`` with ``power=1``: a straight line from ``init_value`` (at
    ``transition_begin``) to ``end_value`` (``transition_steps`` later), flat outside.

    Example:
        >>> from optim.schedules import linear_schedule
        >>> linear_schedule(1.0, 0.0, transition_steps=10)(fnp.array([0, 5, 10, 20]))
        Array([1. , 0.5, 0. , 0. ], dtype=float32)
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(init_value, transition_steps: int, decay_rate, transition_begin: int = 0,
                      staircase: bool = False, end_value=None) -> Schedule:
    """``init * decay_rate ** (t / transition_steps)`` with ``t = count - transition_begin``
    (``init_value`` for ``t <= 0``); ``staircase`` floors the exponent; ``end_value`` bounds
    the result (a floor when ``decay_rate < 1``, a ceiling otherwise).

    Example:
        >>> from optim.schedules import exponential_decay
        >>> s = exponential_decay(1.0, transition_steps=2, decay_rate=0.5, staircase=True)
        >>> s(fnp.array([0, 1, 2, 3, 4]))
        Array([1.  , 1.  , 0.5 , 0.5 , 0.25], dtype=float32)
    """
    check_range("transition_steps", transition_steps, low=0, low_open=True)
    check_range("decay_rate", decay_rate, low=0, low_open=True)
    check_range("transition_begin", transition_begin, low=0)

    def schedule(count):
        t = _count(count) - transition_begin
        p = t / transition_steps
        if staircase:
            p = fnp.floor(p)
        value = fnp.where(t <= 0, init_value, init_value * fnp.power(decay_rate, fnp.maximum(p, 0)))
        if end_value is not None:
            bound = fnp.maximum if decay_rate < 1 else fnp.minimum
            value = bound(value, end_value)
        return value
    return schedule


def _cosine(init_value, end_value, steps, exponent) -> Schedule:
    """From ``init_value`` to ``end_value`` along ``((1 + cos(pi t / steps)) / 2) ** exponent``,
    ``t`` clipped to ``[0, steps]`` (``steps > 0``)."""
    def schedule(count):
        t = fnp.clip(_count(count), 0, steps)
        c = 0.5 * (1 + fnp.cos(math.pi * t / steps))
        return (init_value - end_value) * c ** exponent + end_value
    return schedule


def cosine_decay_schedule(init_value, decay_steps: int, alpha=0.0, exponent=1.0) -> Schedule:
    """``init * ((1 - alpha) * c ** exponent + alpha)`` with ``c = (1 + cos(pi * t /
    decay_steps)) / 2``, ``t = clip(count, 0, decay_steps)``: from ``init_value`` down to
    ``alpha * init_value`` at ``decay_steps``, constant after.

    Example:
        >>> from optim.schedules import cosine_decay_schedule
        >>> cosine_decay_schedule(2.0, decay_steps=10, alpha=0.5)(fnp.array([0, 5, 10, 11]))
        Array([2. , 1.5, 1. , 1. ], dtype=float32)
    """
    check_range("decay_steps", decay_steps, low=0, low_open=True)
    check_range("alpha", alpha, low=0)
    check_range("exponent", exponent, low=0, low_open=True)
    return _cosine(init_value, alpha * init_value, decay_steps, exponent)


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps: int, decay_steps: int,
                                 end_value=0.0, exponent=1.0) -> Schedule:
    """A linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then a
    cosine decay (``cosine_decay_schedule`` with ``exponent``) to ``end_value`` at step
    ``decay_steps`` (the total length, warmup included, as in Optax).

    Example:
        >>> from optim.schedules import warmup_cosine_decay_schedule
        >>> s = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2, decay_steps=6)
        >>> fnp.round(s(fnp.array([0, 1, 2, 4, 6])), 3)
        Array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    check_range("warmup_steps", warmup_steps, low=0)
    check_range("exponent", exponent, low=0, low_open=True)
    if not isinstance(decay_steps, numbers.Real) or not decay_steps > warmup_steps:
        raise ValueError(f"decay_steps (the total length, warmup included) must be > "
                         f"warmup_steps={warmup_steps}, got {decay_steps!r}")
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           _cosine(peak_value, end_value, decay_steps - warmup_steps, exponent)],
                          [warmup_steps])


def cosine_onecycle_schedule(transition_steps: int, peak_value, pct_start=0.3, div_factor=25.0,
                             final_div_factor=1e4) -> Schedule:
    """One-cycle (Smith 2018): a cosine rise from ``peak / div_factor`` (step 0) to
    ``peak_value`` (step ``int(pct_start * transition_steps)``), then a cosine fall to
    ``peak / (div_factor * final_div_factor)`` at ``transition_steps``, constant after.
    (Optax starts the rise at step -1, so its step 0 is slightly above ``peak /
    div_factor``; here step 0 is exactly that.)

    Example:
        >>> from optim.schedules import cosine_onecycle_schedule
        >>> s = cosine_onecycle_schedule(10, 1.0, pct_start=0.2, div_factor=4.0,
        ...                              final_div_factor=5.0)
        >>> s(fnp.array([0, 1, 2, 6, 10, 12]))
        Array([0.25 , 0.625, 1.   , 0.525, 0.05 , 0.05 ], dtype=float32)
    """
    check_range("transition_steps", transition_steps, low=0, low_open=True)
    check_range("pct_start", pct_start, low=0)
    if pct_start > 1:
        raise ValueError(f"pct_start must be <= 1, got {pct_start}")
    check_range("div_factor", div_factor, low=0, low_open=True)
    check_range("final_div_factor", final_div_factor, low=0, low_open=True)
    start, final = peak_value / div_factor, peak_value / (div_factor * final_div_factor)
    rise = int(pct_start * transition_steps)
    fall = transition_steps - rise
    up = _cosine(start, peak_value, rise, 1.0) if rise > 0 else constant_schedule(peak_value)
    down = _cosine(peak_value, final, fall, 1.0) if fall > 0 else constant_schedule(final)
    return join_schedules([up, down], [rise])


def piecewise_constant_schedule(init_value,
                                boundaries_and_scales: Mapping[int, float] | None = None
                                ) -> Schedule:
    """``init_value`` times the product of the ``scale`` of every ``boundary <= count`` in
    ``boundaries_and_scales`` (``{boundary: scale}``, scales >= 0).

    Example:
        >>> from optim.schedules import piecewise_constant_schedule
        >>> s = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})
        >>> s(fnp.array([0, 1, 2, 3, 4, 9]))
        Array([1.  , 1.  , 0.5 , 0.5 , 0.05, 0.05], dtype=float32)
    """
    items = sorted((boundaries_and_scales or {}).items())
    for boundary, scale in items:
        check_range(f"boundary {boundary!r}", boundary, low=0)
        check_range(f"the scale at boundary {boundary}", scale, low=0)

    def schedule(count):
        c = _count(count)
        value = fnp.zeros_like(c) + init_value
        for boundary, scale in items:
            value = fnp.where(c >= boundary, value * scale, value)
        return value
    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """``schedules[i](count - boundaries[i - 1])`` for ``boundaries[i - 1] <= count <
    boundaries[i]`` (``schedules[0](count)`` before the first boundary): each schedule sees
    the steps since its own start.

    Example:
        >>> from optim.schedules import constant_schedule, join_schedules, linear_schedule
        >>> s = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 0.0, 4)], [3])
        >>> s(fnp.array([0, 2, 3, 5, 7, 9]))
        Array([1. , 1. , 1. , 0.5, 0. , 0. ], dtype=float32)
    """
    schedules, boundaries = list(schedules), list(boundaries)
    if not schedules or not all(callable(s) for s in schedules):
        raise ValueError(f"join_schedules needs a non-empty list of schedules, got {schedules!r}")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join_schedules needs len(schedules) - 1 = {len(schedules) - 1} "
                         f"boundaries, got {len(boundaries)}: {boundaries}")
    for i, b in enumerate(boundaries):
        check_range(f"boundaries[{i}]", b, low=0)
    if any(b > a for b, a in zip(boundaries, boundaries[1:])):
        raise ValueError(f"boundaries must be non-decreasing, got {boundaries}")

    def schedule(count):
        c = _count(count)
        value = schedules[0](c)
        for boundary, s in zip(boundaries, schedules[1:]):
            value = fnp.where(c < boundary, value, s(c - boundary))
        return value
    return schedule
