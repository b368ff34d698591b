"""jit's interface: the cache (one trace per signature, LRU, threads), explained retraces,
weak types, pytrees, static arguments, lower(), make_graph / eval_shape, and bad input."""
import functools
import logging
import threading
import time

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from transforms import grad, jit

RNG = np.random.default_rng(0)
M = RNG.standard_normal((3, 4)).astype(np.float32)


def same(got, want):
    """Bit-for-bit equality, dtype and shape included."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


# --- the cache ---------------------------------------------------------------------------------
def test_one_trace_per_signature_and_side_effects_run_once_per_trace():
    runs = []

    def f(x, y):
        runs.append(x.shape)
        return fnp.sin(x) * y
    jf = jit(f)
    a, b = fx.asarray(M), fx.asarray(M[0])
    want = f(a, b)
    [same(jf(a, b), want) for _ in range(3)]
    assert len(runs) == 2 and jf.cache_info()[:3] == (1, 2, 1)  # one trace (+ the eager call)
    jf(fx.asarray(M[:2]), b)  # new shape: retrace
    jf(a, b)
    assert jf.cache_info()[:3] == (2, 3, 2) and len(runs) == 3


def test_dtype_changes_retrace_and_python_numbers_are_weakly_typed():
    f = jit(lambda x: x * 2)
    same(f(2.0), np.float32(4.0))
    same(f(3.0), np.float32(6.0))
    assert f.cache_info().traces == 1  # 2.0 and 3.0 share one trace
    same(f(fx.asarray(2.0)), np.float32(4.0))   # a strong float32 array: another
    same(f(fx.asarray(2.0, dtype="float64")), np.float64(4.0))
    same(f(3), np.int32(6))
    assert f.cache_info().traces == 4
    h = fnp.ones(3, dtype="float16")
    mul = jit(lambda x, y: x * y)
    same(mul(2.0, h), 2.0 * h)  # a weak float does not widen float16, as eagerly
    same(mul(h, 2), h * 2)
    same(jit(lambda x: x + fnp.ones(2, dtype="int8"))(3), np.full(2, 4, np.int8))


def test_lru_cache_is_bounded_and_keeps_the_recently_used():
    f = jit(lambda x: x + 1.0, cache_size=2)
    for n in (1, 2, 1, 3):  # 2 is the least recently used when 3 arrives
        f(fnp.ones(n))
    assert f.cache_info() == (3, 1, 2, 2)
    f(fnp.ones(1))
    assert f.cache_info().traces == 3
    f(fnp.ones(2))
    assert f.cache_info().traces == 4
    f.clear_cache()
    assert f.cache_info().size == 0
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="cache_size"):
            jit(lambda x: x, cache_size=bad)


def test_threads_calling_at_once_trace_each_signature_once():
    traced = []

    def f(x):
        traced.append(x.shape)
        time.sleep(0.02)  # keep the tracing thread busy while the others arrive
        return fnp.tanh(x) * 2.0 + x

    jf, n = jit(f), 8
    barrier, results, errors = threading.Barrier(n), [None] * n, []
    inputs = [fx.asarray(np.arange(i % 3 + 1, dtype=np.float32)) for i in range(n)]

    def work(i):
        try:
            barrier.wait()
            results[i] = [np.asarray(jf(inputs[i])) for _ in range(4)]
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(traced) == [(1,), (2,), (3,)]
    assert jf.cache_info().traces == 3 and jf.cache_info().size == 3
    for x, outs in zip(inputs, results):
        want = np.tanh(np.asarray(x)) * np.float32(2.0) + np.asarray(x)
        for out in outs:
            same(out, want)


def test_a_failed_trace_is_not_cached():
    calls = []

    def f(x, fail):
        calls.append(fail)
        if fail:
            raise RuntimeError("boom")
        return x + 1.0
    jf = jit(f, static_argnums=1)
    with pytest.raises(RuntimeError, match="boom"):
        jf(fnp.ones(2), True)
    assert jf.cache_info().size == 0
    same(jf(fnp.ones(2), False), np.full(2, 2.0, np.float32))
    with pytest.raises(RuntimeError, match="boom"):
        jf(fnp.ones(2), True)
    assert calls == [True, False, True]


# --- explaining retraces ---------------------------------------------------------------------
@pytest.fixture
def explain(caplog):
    """The log lines of explained retraces (``fx.config.explain_retrace`` on meanwhile)."""
    old = fx.config.explain_retrace
    fx.config.explain_retrace = True
    caplog.set_level(logging.WARNING, logger="fx.jit")
    try:
        yield lambda: [r.getMessage() for r in caplog.records if r.name == "fx.jit"]
    finally:
        fx.config.explain_retrace = old


def test_explain_retrace_names_the_argument_and_what_changed(explain):
    def loss(params, x, n, *, mode="sum"):
        return (params["w"] * x).sum() * n
    f = jit(loss, static_argnums=2, static_argnames="mode")
    p, x, p4 = {"w": fnp.ones(3)}, fnp.ones(3), {"w": fnp.ones(4)}
    f(p, x, 2)
    f(p, x, 2)
    assert explain() == []  # a hit, and the first trace, explain nothing
    f(p4, fnp.ones(4), 2)
    assert "argument 0 ('params')['w'] changed shape from (3,) to (4,)" in explain()[-1]
    assert "argument 1 ('x') changed shape from (3,) to (4,)" in explain()[-1]
    f(p4, fnp.ones(4, dtype="float64"), 2)
    assert "argument 1 ('x') changed dtype from float32 to float64" in explain()[-1]
    f(p, 1.0, 2)
    assert "argument 1 ('x') changed shape from (4,) to ()" in explain()[-1]
    f(p, fx.asarray(1.0), 2)
    assert "argument 1 ('x') changed weak type from True to False" in explain()[-1]
    f(p, fx.asarray(1.0), 3)
    assert "static argument 2 ('n') changed from 2 to 3" in explain()[-1]
    f(p, fx.asarray(1.0), 3, mode="mean")
    assert "static argument 'mode' changed from (not passed) to 'mean'" in explain()[-1]
    f({"w": fnp.ones(3), "b": 1.0}, fx.asarray(1.0), 3, mode="mean")
    assert "argument 0 ('params') changed tree structure from PyTreeSpec({'w': *}) to " \
           "PyTreeSpec({'b': *, 'w': *})" in explain()[-1]
    f({"w": fnp.ones(3, dtype="float16"), "b": 1.0}, fx.asarray(1.0), 3, mode="mean")
    assert "argument 0 ('params')['w'] changed dtype from float32 to float16" in explain()[-1]
    assert all("jit(loss): tracing again" in m for m in explain())
    assert len(explain()) == f.cache_info().traces - 1 == 8


def test_explain_retrace_keyword_arguments_and_static_types(explain):
    f = jit(lambda x, y: x + y)
    f(fnp.ones(2), fnp.ones(2))
    f(fnp.ones(2), y=fnp.ones(2))
    assert "argument 'y' changed tree structure from (not passed) to PyTreeSpec(*)" in "".join(
        explain())
    g = jit(lambda x, n: x * n, static_argnums=1)
    g(fnp.ones(2), 2)
    g(fnp.ones(2), 2.0)  # equal in Python, but traces to another dtype
    assert "static argument 1 ('n') changed from 2 to 2.0" in explain()[-1]


def test_no_explanation_when_the_option_is_off(explain):
    fx.config.explain_retrace = False  # (the fixture restores it)
    f = jit(lambda x: x)
    f(fnp.ones(2)), f(fnp.ones(3))
    assert explain() == []


# --- static arguments ------------------------------------------------------------------------
def test_static_arguments_by_position_and_name_key_the_cache():
    def f(x, n, *, mode):
        return x * n if mode == "mul" else x + n
    jf = jit(f, static_argnums=1, static_argnames="mode")
    x = fx.asarray(M)
    same(jf(x, 3, mode="mul"), f(x, 3, mode="mul"))
    same(jf(x, n=3, mode="mul"), f(x, 3, mode="mul"))  # a static position passed by name
    same(jf(x, 3, mode="add"), f(x, 3, mode="add"))
    assert jf.cache_info().traces == 3
    jf(x, 3, mode="add")
    assert jf.cache_info().traces == 3


def test_static_values_equal_in_python_but_of_other_types_trace_apart():
    f = jit(lambda x, n: x * n, static_argnums=1)
    x = fnp.arange(3)
    same(f(x, 2), np.array([0, 2, 4], np.int32))
    same(f(x, 2.0), np.array([0.0, 2.0, 4.0], np.float32))
    same(f(x, True), np.array([0, 1, 2], np.int32))
    assert f.cache_info().traces == 3


def test_static_argument_in_python_control_flow_and_partial_decorator():
    @functools.partial(jit, static_argnums=(1,))
    def power(x, n):
        out = x
        for _ in range(n - 1):
            out = out * x
        return out
    x = fx.asarray(M)
    same(power(x, 3), x * x * x)
    assert "np.multiply" in power.lower(x, 3).as_text()


# --- pytrees, constants, closures, methods -----------------------------------------------------
def test_pytrees_in_and_out_with_none_leaves_and_kwargs():
    @jit
    def f(params, x, *, scale=1.0):
        return {"y": params["w"] @ x * scale, "parts": (params["b"], None), "n": x.sum()}
    params = {"w": fx.asarray(M), "b": fnp.ones(3)}
    x = fx.asarray(M[0])
    out = f(params, x, scale=2.0)
    assert set(out) == {"y", "parts", "n"} and out["parts"][1] is None
    same(out["y"], fx.asarray(M) @ x * 2.0)
    same(out["parts"][0], np.ones(3, np.float32))
    same(out["n"], x.sum())
    same(f(params, x)["y"], fx.asarray(M) @ x)
    assert f.cache_info().traces == 2


def test_constant_outputs_and_an_input_as_output():
    c = fx.asarray(M)
    f = jit(lambda x: (c, 1.0, 3, x, x * 0.0 + 1.0))
    x = fnp.ones(2)
    cc, one, three, same_x, ones = f(x)
    same(cc, M)
    same(one, np.float32(1.0))
    same(three, np.int32(3))
    same(same_x, np.ones(2, np.float32))
    same(ones, np.ones(2, np.float32))
    assert all(isinstance(v, fx.Array) for v in (cc, one, three, same_x))
    assert jit(lambda: 2.0)().dtype == np.float32


def test_closed_over_arrays_are_baked_in_at_trace_time():
    holder = {"w": fx.asarray(M)}
    f = jit(lambda x: x * holder["w"])
    x = fnp.ones((3, 4))
    same(f(x), M)
    holder["w"] = fnp.zeros((3, 4))
    same(f(x), M)  # the cached trace keeps the value it saw, as in JAX
    same(f(fnp.ones((3, 4), dtype="float64")), np.zeros((3, 4)))  # a new trace sees the new one


def test_methods_with_static_self_and_pytree_self():
    class Scale:
        def __init__(self, k):
            self.k = k

        @functools.partial(jit, static_argnums=0)
        def apply(self, x):
            return x * self.k
    x = fx.asarray(M)
    same(Scale(2.0).apply(x), x * 2.0)
    same(Scale(3.0).apply(x), x * 3.0)

    class Plain:
        @jit
        def apply(self, x):
            return x
    with pytest.raises(TypeError, match="static_argnums"):
        Plain().apply(x)  # self is not an array: the error says to make it static


def test_jit_composes_with_grad_and_nests():
    g = jit(lambda x: (x ** 2).sum())
    x = fx.asarray(M.astype(np.float64))
    same(grad(g)(x), 2 * M.astype(np.float64))
    same(jit(grad(g))(x), 2 * M.astype(np.float64))
    same(jit(lambda y: g(y) + 1.0)(x), (x ** 2).sum() + 1.0)


# --- lower, make_graph, eval_shape ---------------------------------------------------------------
def test_lower_shows_the_generated_source():
    def affine(x, y):
        return fnp.tanh(x) * 2.0 + y
    low = jit(affine).lower(fnp.ones(8), fnp.ones(8))
    assert low.as_text() == (
        "def affine(a, b):\n"
        "    c = np.tanh(a)\n"
        "    d = np.multiply(c, 2.0, out=c)\n"
        "    del c\n"
        "    e = np.add(d, b, out=d)\n"
        "    del d\n"
        "    return (e,)\n")
    assert str(low) == low.as_text()


def test_make_graph_prints_a_readable_graph():
    graph = fx.make_graph(lambda x, y: fnp.sum(fnp.sin(x) * y))(fnp.ones(3), 2.0)
    assert str(graph) == (
        "{ lambda a:f32[3] b:f32[] .\n"
        "    c:f32[3] = sin a\n"
        "    d:f32[3] = mul c b\n"
        "    e:f32[] = reduce_sum[axes=(0,)] d\n"
        "  in (e) }")


def test_eval_shape_returns_shaped_arrays_without_computing():
    big = fx.ShapedArray((100_000, 100_000), "float64")  # 80 GB if it were computed
    out = fx.eval_shape(lambda x, y: {"m": x @ x, "s": (y.sum(), y.astype("int8"))},
                        big, fnp.ones((2, 3)))
    assert out["m"] == fx.ShapedArray((100_000, 100_000), "float64")
    assert out["s"][0] == fx.ShapedArray((), "float32")
    assert out["s"][1] == fx.ShapedArray((2, 3), "int8")


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("use", [bool, int, float, "if", "while", "range"])
def test_python_control_flow_on_traced_values_is_a_concretization_error(use):
    def f(x):
        y = x * 2.0
        if use == "if":
            if y > 0:
                return y
            return -y
        if use == "while":
            while y > 0:
                y = y - 1.0
            return y
        if use == "range":
            return [y for _ in range(y.astype("int32"))]
        return use(y)
    with pytest.raises(fx.ConcretizationError) as info:
        jit(f)(fx.asarray(1.0))
    msg = str(info.value)
    op = "gt" if use in ("if", "while") else "convert_element_type" if use == "range" else "mul"
    assert f"computed by {op} at test_jit_api.py" in msg and "(f)" in msg
    assert "lax.cond" in msg and "static_argnums" in msg


def test_traced_value_leaked_through_a_global_raises_when_used():
    leaked = []

    def f(x):
        leaked.append(x * 2.0)
        return x
    jit(f)(fnp.ones(2))
    for use in (lambda t: t + 1.0, fnp.sin, np.asarray, float, lambda t: jit(f)(t)):
        with pytest.raises(fx.TracerLeakError, match="after that transform returned"):
            use(leaked[0])


def test_unhashable_static_arguments_are_named():
    f = jit(lambda x, n: x, static_argnums=1)
    with pytest.raises(TypeError, match=r"static argument 1 \('n'\) is a list, which is not hash"):
        f(1.0, [1, 2])
    g = jit(lambda x, *, opts: x, static_argnames="opts")
    with pytest.raises(TypeError, match="static argument 'opts' is a dict"):
        g(1.0, opts={})


def test_bad_arguments_to_jit():
    with pytest.raises(TypeError, match="expected a function, got int"):
        jit(3)
    for bad in ("a", [None], True, 1.5):
        with pytest.raises(TypeError, match="static_argnums must be ints"):
            jit(lambda x: x, static_argnums=bad)
    with pytest.raises(TypeError, match="static_argnames must be strings"):
        jit(lambda x: x, static_argnames=(1,))
    with pytest.raises(TypeError, match="donate_argnums must be non-negative ints"):
        jit(lambda x: x, donate_argnums=1.5)
    with pytest.raises(TypeError, match="an argument leaf is a str.*static_argnums"):
        jit(lambda x, s: x)(1.0, "relu")


def test_trace_time_errors_name_the_operation_or_the_function():
    with pytest.raises(ValueError, match=r"add\(float32\[2\], float32\[3\]\)"):
        jit(lambda a, b: a + b)(fnp.ones(2), fnp.ones(3))

    def model(x):
        return {"y": x, "act": "relu"}
    for call in (jit(model), lambda x: fx.eval_shape(model, x)):
        with pytest.raises(TypeError, match="output leaf 0 of model is a str"):
            call(1.0)


def test_lax_cond_is_the_way_to_branch_on_traced_values():
    f = jit(lambda x: lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: -v, x))
    same(f(fnp.ones(2)), np.full(2, 2.0, np.float32))
    same(f(-fnp.ones(2)), np.ones(2, np.float32))
    assert f.cache_info().traces == 1
