"""``fx.debug.print`` (run-time values under every transform) and ``fx.config.debug_nans``
(the first primitive producing a NaN raises, naming itself and the user's line)."""
import re

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core import primitive as _primitive
from fx.core import trace as _trace
from fx.debug import check_nans
from tests.helpers import close, f64
from transforms import custom_vjp, grad, jit, jvp, value_and_grad, vjp, vmap

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's NaN warnings


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def at(fn, offset: int = 1) -> str:
    """The source ``fx`` reports for line ``offset`` of ``fn``'s body."""
    return f"test_debug.py:{fn.__code__.co_firstlineno + offset} ({fn.__name__})"


# --- print -----------------------------------------------------------------------------------
def show(x):
    fx.debug.print("x={} twice={t}", x, t=x * 2.0)
    return fnp.sum(fnp.sin(x) * x)


def test_print_eager_shows_values_and_formats(capsys):
    show(fx.asarray([1.0, 2.0]))
    fx.debug.print("{:.3f} {} {n}", fx.asarray(1.23456), "text", n=7)
    fx.debug.print("no operands")
    fx.debug.print("{d}", d={"a": fx.asarray([1, 2])})
    assert lines(capsys) == ["x=[1. 2.] twice=[2. 4.]", "1.235 text 7", "no operands",
                             "{'a': Array([1, 2], dtype=int32)}"]


def test_print_rejects_a_non_string_format():
    with pytest.raises(TypeError, match="format must be a str"):
        fx.debug.print(fx.asarray(1.0))


def test_print_under_jit_runs_at_every_call_not_at_trace_time(capsys):
    f = jit(show)
    lowered = f.lower(fx.asarray([1.0, 2.0]))
    assert lines(capsys) == []                       # tracing and compiling print nothing
    assert "debug_print(" in lowered.as_text()
    f(fx.asarray([1.0, 2.0]))
    f(fx.asarray([3.0, 4.0]))
    assert lines(capsys) == ["x=[1. 2.] twice=[2. 4.]", "x=[3. 4.] twice=[6. 8.]"]
    assert f.cache_info().traces == 1


def test_print_under_jit_is_kept_when_nothing_uses_its_operands(capsys):
    def f(x):
        fx.debug.print("unused {}", fnp.exp(x))     # dead code, but an effect
        return x
    jit(f)(fx.asarray(0.0))
    assert lines(capsys) == ["unused 1.0"]


def test_print_under_vmap_prints_each_example(capsys):
    xs = fx.asarray([[1.0, 2.0], [3.0, 4.0]])
    close(vmap(show)(xs), [show(xs[0]), show(xs[1])])
    assert lines(capsys)[:2] == ["x=[1. 2.] twice=[2. 4.]", "x=[3. 4.] twice=[6. 8.]"]
    vmap(lambda x, y: fx.debug.print("{} {}", x, y), in_axes=(1, None))(xs, fx.asarray(9.0))
    assert lines(capsys) == ["[1. 3.] 9.0", "[2. 4.] 9.0"]
    vmap(vmap(lambda x: fx.debug.print("{}", x)))(xs)
    assert lines(capsys) == ["1.0", "3.0", "2.0", "4.0"]  # as in JAX: the inner axis unrolls first


def test_print_under_jit_of_vmap_and_vmap_of_jit(capsys):
    xs = fx.asarray([[1.0, 2.0], [3.0, 4.0]])
    want = ["x=[1. 2.] twice=[2. 4.]", "x=[3. 4.] twice=[6. 8.]"]
    jit(vmap(show))(xs)
    assert lines(capsys) == want
    vmap(jit(show))(xs)
    assert lines(capsys) == want


def test_print_under_differentiation_shows_primals_and_changes_no_derivative(capsys):
    def quiet(x):
        return fnp.sum(fnp.sin(x) * x)
    x = f64([0.5, 1.5])
    close(grad(show)(x), grad(quiet)(x))
    assert lines(capsys) == ["x=[0.5 1.5] twice=[1. 3.]"]
    close(jvp(show, (x,), (f64([1.0, 0.0]),))[1], jvp(quiet, (x,), (f64([1.0, 0.0]),))[1])
    assert lines(capsys) == ["x=[0.5 1.5] twice=[1. 3.]"]
    out, pull = vjp(show, x)
    close(pull(f64(1.0))[0], grad(quiet)(x))
    close(grad(lambda x: fnp.sum(grad(show)(x)))(x), grad(lambda x: fnp.sum(grad(quiet)(x)))(x))
    close(jit(grad(show))(x), grad(quiet)(x))
    close(grad(jit(show))(x), grad(quiet)(x))
    close(vmap(grad(show))(x[:, None]), vmap(grad(quiet))(x[:, None]))
    assert all(line.startswith("x=") for line in lines(capsys))


# --- debug_nans ------------------------------------------------------------------------------
@pytest.fixture
def nans():
    before = _trace.dynamic_active
    fx.config.debug_nans = True
    try:
        yield
    finally:
        fx.config.debug_nans = False
        assert _trace.dynamic_active == before and _primitive.nan_check is None


def log_of(x):
    return fnp.log(x) + 1.0


def zero_over_zero(x):
    return x / x


def test_debug_nans_eager_names_primitive_and_line(nans):
    with pytest.raises(FloatingPointError) as e:
        log_of(fx.asarray([1.0, -1.0]))
    assert str(e.value) == f"NaN produced by log at {at(log_of)}"
    with pytest.raises(FloatingPointError, match=re.escape(f"div at {at(zero_over_zero)}")):
        zero_over_zero(fx.asarray(0.0))             # the Array / Array fast path is bypassed
    with pytest.raises(FloatingPointError, match="NaN produced by mul"):
        fx.asarray(complex(np.inf, 0.0)) * 0.0       # complex: a NaN in either part
    with pytest.raises(FloatingPointError, match="NaN produced by log"):
        vmap(log_of)(fx.asarray([1.0, -1.0]))


def test_debug_nans_checks_outputs_only(nans):
    close(fx.asarray(1.0) / fx.asarray(0.0), np.inf)  # inf is not NaN
    assert int(fx.asarray(7) // fx.asarray(2)) == 3
    fx.debug.print("{}", fx.asarray(np.nan))          # no output, nothing to check
    # As in JAX, a NaN that comes from outside raises at the first primitive it flows through.
    with pytest.raises(FloatingPointError, match="NaN produced by add"):
        fx.asarray(np.nan) + 1.0


def test_debug_nans_under_jit(nans, capsys):
    f = jit(log_of)
    close(f(fx.asarray(1.0)), 1.0)
    with pytest.raises(FloatingPointError) as e:
        f(fx.asarray([1.0, -1.0]))
    assert str(e.value) == f"NaN produced by log at {at(log_of)} (under jit)"
    assert "check_nans(" in f.lower(fx.asarray(1.0)).as_text()
    fx.config.debug_nans = False                      # a separate cache entry, unchecked
    assert np.isnan(np.asarray(f(fx.asarray([1.0, -1.0]))[1]))
    assert "check_nans(" not in f.lower(fx.asarray(1.0)).as_text()


def root_times_zero(x):
    y = fnp.sqrt(x)
    return y * 0.0


def test_debug_nans_in_the_backward_pass_names_the_forward_line(nans):
    close(root_times_zero(fx.asarray(0.0)), 0.0)     # the forward pass is fine
    with pytest.raises(FloatingPointError) as e:
        grad(root_times_zero)(fx.asarray(0.0))      # 0 * (0.5 / sqrt(0)) = 0 * inf
    msg = str(e.value)
    assert msg.startswith("NaN produced by ")
    assert msg.endswith(f" in the backward pass of sqrt at {at(root_times_zero)}")
    with pytest.raises(FloatingPointError, match="in the backward pass of sqrt"):
        value_and_grad(lambda x: fnp.sum(root_times_zero(x)))(fx.asarray([1.0, 0.0]))
    with pytest.raises(FloatingPointError, match="NaN produced by"):
        jit(grad(root_times_zero))(fx.asarray(0.0))


@custom_vjp
def nan_backward(x):
    return x


nan_backward.defvjp(lambda x: (x, x), lambda x, ct: (ct * fnp.log(-x),))


def test_debug_nans_names_a_custom_vjp_backward(nans):
    def f(x):
        return nan_backward(x) * 2.0
    with pytest.raises(FloatingPointError) as e:
        grad(f)(fx.asarray(1.0))
    assert str(e.value) == f"NaN produced by log in the backward pass of custom_vjp " \
                           f"nan_backward at {at(f)}"


def test_debug_nans_off_is_the_fast_path():
    assert not fx.config.debug_nans
    before = _trace.dynamic_active
    assert _primitive.nan_check is None
    assert np.isnan(np.asarray(log_of(fx.asarray(-1.0))))
    assert np.isnan(np.asarray(grad(root_times_zero)(fx.asarray(0.0))))
    fx.config.debug_nans = True
    fx.config.debug_nans = True                       # idempotent: one bump of the counter
    try:
        assert _trace.dynamic_active == before + 1
    finally:
        fx.config.debug_nans = False
    assert _trace.dynamic_active == before and _primitive.nan_check is None


def test_check_nans_on_buffers():
    check_nans(np.array([1.0, np.inf]), "add", "m.py:1 (f)")
    check_nans(np.array([1, 2]), "add", None)
    check_nans(np.float32(1.0), "add", None)
    for bad in (np.array([np.nan], np.float32), np.complex64(complex(0.0, np.nan))):
        with pytest.raises(FloatingPointError, match=r"^NaN produced by sub at m.py:1 \(f\) "
                           r"\(under jit\)$"):
            check_nans(bad, "sub", "m.py:1 (f)")
    with pytest.raises(FloatingPointError, match="at an unknown line"):
        check_nans(np.array(np.nan), "sub", None)
