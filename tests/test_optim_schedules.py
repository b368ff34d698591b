"""optim.schedules: values against hand-written formulas, boundaries, vmap, bad input."""
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from optim.base import check_range
from optim.schedules import (
    constant_schedule,
    cosine_decay_schedule,
    cosine_onecycle_schedule,
    exponential_decay,
    join_schedules,
    linear_schedule,
    piecewise_constant_schedule,
    polynomial_schedule,
    warmup_cosine_decay_schedule,
)
from transforms import vmap


def values(s, steps):
    """``s`` at each of ``steps`` (Python ints), one call per step, as float64."""
    return np.array([float(s(int(n))) for n in steps])


def check(s, want: dict, rtol=1e-6, atol=1e-7):
    """``s(step)`` equals ``want[step]`` for each step, called with a Python int."""
    steps = list(want)
    np.testing.assert_allclose(values(s, steps), [want[n] for n in steps], rtol=rtol, atol=atol)


def test_constant():
    s = constant_schedule(0.3)
    check(s, {0: 0.3, 5: 0.3, 10**6: 0.3})
    out = s(fnp.arange(6).reshape(2, 3))
    assert out.shape == (2, 3) and out.dtype == np.float32


def test_linear_with_begin():
    s = linear_schedule(2.0, 0.5, transition_steps=6, transition_begin=4)
    f = lambda n: 2.0 + (0.5 - 2.0) * min(max(n - 4, 0), 6) / 6
    check(s, {n: f(n) for n in (0, 3, 4, 5, 7, 10, 11, 100)})


def test_linear_increasing_is_monotone():
    v = values(linear_schedule(0.0, 1.0, 10), range(15))
    assert np.all(np.diff(v) >= 0) and v[0] == 0 and v[-1] == 1


def test_polynomial():
    s = polynomial_schedule(1.0, 0.1, power=3, transition_steps=8, transition_begin=2)
    f = lambda n: (1.0 - 0.1) * (1 - min(max(n - 2, 0), 8) / 8) ** 3 + 0.1
    check(s, {n: f(n) for n in (0, 2, 3, 6, 9, 10, 50)})


def test_polynomial_zero_steps_is_constant_init_as_in_optax():
    check(polynomial_schedule(1.0, 0.0, 2, transition_steps=0), {0: 1.0, 5: 1.0})


def test_exponential_decay():
    s = exponential_decay(0.8, transition_steps=4, decay_rate=0.3, transition_begin=2)
    f = lambda n: 0.8 if n <= 2 else 0.8 * 0.3 ** ((n - 2) / 4)
    check(s, {n: f(n) for n in (0, 2, 3, 6, 9, 30)})


def test_exponential_staircase_and_floor():
    s = exponential_decay(1.0, 3, 0.5, staircase=True, end_value=0.2)
    f = lambda n: max(0.5 ** (n // 3), 0.2)
    check(s, {n: f(n) for n in range(0, 12)})


def test_exponential_growth_with_ceiling():
    s = exponential_decay(1.0, 1, 2.0, end_value=5.0)
    check(s, {0: 1.0, 1: 2.0, 2: 4.0, 3: 5.0, 10: 5.0})


def test_cosine_decay():
    s = cosine_decay_schedule(0.4, decay_steps=10, alpha=0.25, exponent=2.0)
    f = lambda n: 0.4 * ((1 - 0.25) * (0.5 * (1 + math.cos(math.pi * min(n, 10) / 10))) ** 2
                         + 0.25)
    check(s, {n: f(n) for n in (0, 1, 3, 5, 9, 10, 11, 1000)})
    v = values(s, range(12))
    assert np.all(np.diff(v) <= 0)


def test_warmup_cosine_decay():
    s = warmup_cosine_decay_schedule(0.1, 1.0, warmup_steps=5, decay_steps=25, end_value=0.2)

    def f(n):
        if n < 5:
            return 0.1 + (1.0 - 0.1) * n / 5
        t = min(n - 5, 20)
        return 0.2 + (1.0 - 0.2) * 0.5 * (1 + math.cos(math.pi * t / 20))
    check(s, {n: f(n) for n in (0, 1, 4, 5, 6, 15, 24, 25, 40)})
    v = values(s, range(40))
    assert np.all(np.diff(v[:6]) > 0) and np.all(np.diff(v[5:]) <= 1e-7)
    assert v.max() == pytest.approx(1.0) and np.argmax(v) == 5
    # continuity at the boundary: the jump there is no larger than one warmup step
    assert abs(v[5] - v[4]) <= 0.18 + 1e-6 and abs(v[6] - v[5]) < 0.01


def test_warmup_cosine_without_warmup_and_exponent():
    s = warmup_cosine_decay_schedule(0.0, 2.0, warmup_steps=0, decay_steps=4, exponent=3.0)
    f = lambda n: 2.0 * (0.5 * (1 + math.cos(math.pi * min(n, 4) / 4))) ** 3
    check(s, {n: f(n) for n in range(7)})


def test_onecycle():
    T, peak, pct, div, final = 20, 0.5, 0.25, 10.0, 100.0
    s = cosine_onecycle_schedule(T, peak, pct_start=pct, div_factor=div, final_div_factor=final)
    lo, end, rise = peak / div, peak / (div * final), int(pct * T)

    def f(n):
        if n < rise:
            return peak + (lo - peak) * 0.5 * (1 + math.cos(math.pi * n / rise))
        t = min(n - rise, T - rise)
        return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * t / (T - rise)))
    check(s, {n: f(n) for n in (0, 1, 2, 4, 5, 6, 12, 19, 20, 30)})
    v = values(s, range(T + 5))
    assert v[0] == pytest.approx(lo) and v[rise] == pytest.approx(peak)
    assert v[T] == pytest.approx(end) and np.argmax(v) == rise
    assert np.all(np.diff(v[:rise + 1]) > 0) and np.all(np.diff(v[rise:]) <= 1e-9)


def test_onecycle_defaults_and_edges():
    s = cosine_onecycle_schedule(100, 1.0)
    check(s, {0: 1 / 25, 30: 1.0, 100: 1 / (25 * 1e4)}, rtol=1e-5)
    check(cosine_onecycle_schedule(10, 1.0, pct_start=0.0), {0: 1.0, 10: 1 / 25e4})
    check(cosine_onecycle_schedule(10, 1.0, pct_start=1.0), {0: 1 / 25, 10: 1 / 25e4})


def test_piecewise_constant():
    s = piecewise_constant_schedule(2.0, {10: 0.5, 3: 0.1})
    check(s, {0: 2.0, 2: 2.0, 3: 0.2, 9: 0.2, 10: 0.1, 99: 0.1})
    check(piecewise_constant_schedule(0.7), {0: 0.7, 50: 0.7})
    check(piecewise_constant_schedule(0.7, {}), {0: 0.7, 50: 0.7})


def test_join_schedules_shift_the_count():
    s = join_schedules([constant_schedule(1.0), linear_schedule(0.0, 4.0, 4),
                        constant_schedule(9.0)], [2, 6])
    check(s, {0: 1.0, 1: 1.0, 2: 0.0, 3: 1.0, 5: 3.0, 6: 9.0, 20: 9.0})
    check(join_schedules([constant_schedule(3.0)], []), {0: 3.0, 7: 3.0})


ALL = {
    "constant": constant_schedule(0.5),
    "linear": linear_schedule(1.0, 0.0, 7, transition_begin=2),
    "polynomial": polynomial_schedule(1.0, 0.1, 2.0, 9),
    "exponential": exponential_decay(1.0, 3, 0.7, transition_begin=1, end_value=0.3),
    "staircase": exponential_decay(1.0, 3, 0.7, staircase=True),
    "cosine": cosine_decay_schedule(1.0, 8, alpha=0.1),
    "warmup_cosine": warmup_cosine_decay_schedule(0.0, 1.0, 3, 12, end_value=0.1),
    "onecycle": cosine_onecycle_schedule(12, 1.0),
    "piecewise": piecewise_constant_schedule(1.0, {3: 0.5, 8: 0.2}),
    "join": join_schedules([linear_schedule(0.0, 1.0, 4), cosine_decay_schedule(1.0, 6)], [4]),
}


@pytest.mark.parametrize("name", list(ALL))
def test_vmap_over_steps_equals_a_loop(name):
    s = ALL[name]
    steps = fnp.arange(16)
    batched = np.asarray(vmap(s)(steps))
    np.testing.assert_allclose(batched, values(s, range(16)), rtol=1e-6, atol=1e-7)
    # an array of steps (no vmap) gives the same values, with its shape
    np.testing.assert_allclose(np.asarray(s(steps.reshape(4, 4))), batched.reshape(4, 4),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(ALL))
def test_count_types(name):
    s = ALL[name]
    want = float(s(5))
    for count in (5, np.int64(5), fnp.asarray(5), fnp.asarray(5, dtype=fnp.int64),
                  fnp.asarray(5.0)):
        out = s(count)
        assert isinstance(out, fx.Array) and out.shape == ()
        assert float(out) == pytest.approx(want, rel=1e-6)
    assert s(3).dtype == np.float32
    assert s(fnp.asarray(3.0, dtype=fnp.float64)).dtype == np.float64


def test_vmap_over_a_hyperparameter():
    peaks = fnp.asarray([1.0, 2.0, 4.0])
    out = vmap(lambda p: warmup_cosine_decay_schedule(0.0, p, 4, 10)(2))(peaks)
    np.testing.assert_allclose(np.asarray(out), [0.5, 1.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize("build", [
    lambda: linear_schedule(1.0, 0.0, transition_steps=-1),
    lambda: linear_schedule(1.0, 0.0, 10, transition_begin=-2),
    lambda: linear_schedule(1.0, 0.0, "10"),
    lambda: polynomial_schedule(1.0, 0.0, power=-1.0, transition_steps=10),
    lambda: polynomial_schedule(1.0, 0.0, 1.0, transition_steps=float("nan")),
    lambda: exponential_decay(1.0, transition_steps=0, decay_rate=0.5),
    lambda: exponential_decay(1.0, 10, decay_rate=0.0),
    lambda: exponential_decay(1.0, 10, decay_rate=-0.5),
    lambda: exponential_decay(1.0, 10, 0.5, transition_begin=-1),
    lambda: cosine_decay_schedule(1.0, decay_steps=0),
    lambda: cosine_decay_schedule(1.0, decay_steps=-5),
    lambda: cosine_decay_schedule(1.0, 10, alpha=-0.1),
    lambda: cosine_decay_schedule(1.0, 10, exponent=0.0),
    lambda: warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=10),
    lambda: warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=-1, decay_steps=10),
    lambda: cosine_onecycle_schedule(0, 1.0),
    lambda: cosine_onecycle_schedule(10, 1.0, pct_start=1.5),
    lambda: cosine_onecycle_schedule(10, 1.0, pct_start=-0.1),
    lambda: cosine_onecycle_schedule(10, 1.0, div_factor=0.0),
    lambda: cosine_onecycle_schedule(10, 1.0, final_div_factor=-1.0),
    lambda: piecewise_constant_schedule(1.0, {5: -0.5}),
    lambda: piecewise_constant_schedule(1.0, {-5: 0.5}),
    lambda: join_schedules([], []),
    lambda: join_schedules([constant_schedule(1.0), constant_schedule(2.0)], []),
    lambda: join_schedules([constant_schedule(1.0)] * 3, [5, 2]),
    lambda: join_schedules([constant_schedule(1.0)] * 2, [-1]),
    lambda: join_schedules([constant_schedule(1.0), 0.5], [3]),
])
def test_bad_hyperparameters_raise_at_construction(build):
    with pytest.raises(ValueError):
        build()


def test_error_names_the_argument():
    with pytest.raises(ValueError, match="transition_steps must be >= 0, got -3"):
        linear_schedule(1.0, 0.0, -3)
    with pytest.raises(ValueError, match="decay_steps"):
        warmup_cosine_decay_schedule(0.0, 1.0, 10, 5)


def test_nan_and_non_numbers_are_rejected_with_value_error():
    for bad in (float("nan"), "3", None, True):
        with pytest.raises(ValueError, match="transition_steps must be a real number"):
            linear_schedule(1.0, 0.0, bad)
    with pytest.raises(ValueError, match="decay_rate must be > 0, got 0"):
        exponential_decay(1.0, 10, 0)
    with pytest.raises(ValueError, match="alpha must be a real number, got nan"):
        cosine_decay_schedule(1.0, 10, alpha=math.nan)
    check_range("x", lambda count: count, low=0)  # schedules pass
    with pytest.raises(ValueError, match=r"x must be <= 1, got 2"):
        check_range("x", 2, 0, 1, high_open=False)
