"""jit's memory: donated arguments (their buffers reused, the arrays unusable afterwards,
shared memory never corrupted) and the memory plan of the generated code (values freed
after their last use, dead buffers reused through ``out=``, never while a view of them
lives), checked bit for bit against eager evaluation on adversarial graphs."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from transforms import grad, jit

RNG = np.random.default_rng(0)
M = RNG.standard_normal((3, 3)).astype(np.float32)


def address(a) -> int:
    """Where an fx array's data starts (read without holding a reference to its buffer)."""
    return a._v.__array_interface__["data"][0]


def leaves(out) -> list:
    return [np.array(v) for v in fx.tree.leaves(out)]  # copies, taken at once


def check_against_eager(f, *args, donate=()):
    """jit(f) gives eager's results bit for bit, twice (the cached code too), and leaves
    its non-donated arguments unchanged; returns the generated source."""
    kept = [leaves(a) for a in args]
    want = leaves(f(*args))
    jf = jit(f, donate_argnums=donate)
    fresh = lambda: [fx.tree.map(lambda v: fx.asarray(np.array(v)), a) if i in donate else a
                     for i, a in enumerate(args)]  # noqa: E731
    for _ in range(2):
        got = leaves(jf(*fresh()))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)
    for i, (a, k) in enumerate(zip(args, kept)):
        if i not in donate:
            for v, w in zip(leaves(a), k):
                np.testing.assert_array_equal(v, w)
    return jf.lower(*fresh()).as_text()


# --- donation ------------------------------------------------------------------------------
def test_donated_buffer_receives_the_result():
    f = jit(lambda x, y: x * 2.0 + y, donate_argnums=0)
    x, y = fx.asarray(M), fx.asarray(M[0])
    where = address(x)
    out = f(x, y)
    np.testing.assert_array_equal(np.asarray(out), M * np.float32(2.0) + M[0])
    assert address(out) == where
    src = f.lower(fx.asarray(M), y).as_text()
    assert "np.multiply(a, 2.0, out=a)" in src and "del a" in src
    g = jit(lambda x, y: x * 2.0 + y)  # without donation the argument is never written
    assert "out=a" not in g.lower(x=fx.asarray(M), y=y).as_text()


USES = {
    "arithmetic": lambda a: a + 1.0,
    "reflected": lambda a: 1.0 + a,
    "function": fnp.sin,
    "shape": lambda a: a.shape,
    "dtype": lambda a: a.dtype,
    "repr": repr,
    "str": str,
    "asarray": np.asarray,
    "index": lambda a: a[0],
    "len": len,
    "iter": list,
    "bool": bool,
    "float": lambda a: float(a[0, 0]),
    "grad": grad(lambda a: (a * a).sum()),
}


@pytest.mark.parametrize("use", list(USES), ids=list(USES))
def test_any_use_of_a_donated_array_raises(use):
    f = jit(lambda x: x * 2.0, donate_argnums=0)
    x = fx.asarray(M)
    f(x)
    with pytest.raises(fx.errors.DonatedArrayError,
                       match="donated to the jitted function <lambda>.*use the function's result"):
        USES[use](x)


@pytest.mark.parametrize("use", [float, int, bool, complex, lambda a: a * 2.0, repr])
def test_any_use_of_a_donated_scalar_array_raises(use):
    f = jit(lambda x: x + 1.0, donate_argnums=0)
    s = fx.asarray(2.0)
    assert float(f(s)) == 3.0
    with pytest.raises(fx.errors.DonatedArrayError):
        use(s)


def test_a_donated_array_passed_again_raises():
    f = jit(lambda x: x * 2.0, donate_argnums=0)
    x = fx.asarray(M)
    f(x)
    with pytest.raises(fx.errors.DonatedArrayError):
        f(x)


def test_every_leaf_of_a_donated_pytree_is_given_up_scalars_included():
    f = jit(lambda p, x: {"w": p["w"] - x, "b": p["b"] + 1.0}, donate_argnums=0)
    p = {"w": fx.asarray(M), "b": fx.asarray(0.5)}
    x = fx.asarray(M[0])
    out = f(p, x)
    np.testing.assert_array_equal(np.asarray(out["w"]), M - M[0])
    assert float(out["b"]) == 1.5
    for leaf in p.values():
        with pytest.raises(fx.errors.DonatedArrayError):
            leaf * 1.0
    np.testing.assert_array_equal(np.asarray(x), M[0])  # not donated


def test_donated_views_and_shared_buffers_are_copied_not_corrupted():
    f = jit(lambda x, y: x * 2.0 + y, donate_argnums=0)
    base = fx.asarray(M)
    t = base.T  # a view of base's buffer
    out = f(t, fx.asarray(M[0]))
    np.testing.assert_array_equal(np.asarray(out), M.T * np.float32(2.0) + M[0])
    np.testing.assert_array_equal(np.asarray(base), M)

    x = fx.asarray(M)
    held = [x.reshape(9), np.asarray(x)]  # views of x's buffer outlive the call
    f(x, fx.asarray(M[0]))
    np.testing.assert_array_equal(np.asarray(held[0]), M.reshape(9))
    np.testing.assert_array_equal(held[1], M)


def test_the_same_array_passed_donated_and_not():
    f = jit(lambda x, y: x * 2.0 + y, donate_argnums=0)
    a = fx.asarray(M)
    out = f(a, a)
    np.testing.assert_array_equal(np.asarray(out), M * np.float32(2.0) + M)
    g = jit(lambda x, y: x * 2.0 - y, donate_argnums=(0, 1))
    b = fx.asarray(M)
    np.testing.assert_array_equal(np.asarray(g(b, b)), M * np.float32(2.0) - M)


def test_donated_inputs_that_are_also_outputs():
    f = jit(lambda x: (x, x.T, x * 2.0, x.reshape(9)), donate_argnums=0)
    same, t, twice, flat = f(fx.asarray(M))
    np.testing.assert_array_equal(np.asarray(same), M)
    np.testing.assert_array_equal(np.asarray(t), M.T)
    np.testing.assert_array_equal(np.asarray(twice), M * np.float32(2.0))
    np.testing.assert_array_equal(np.asarray(flat), M.reshape(9))


def test_donating_an_array_the_function_closes_over():
    c = fx.asarray(M)
    f = jit(lambda x: x * c, donate_argnums=0)
    np.testing.assert_array_equal(np.asarray(f(c)), M * M)
    np.testing.assert_array_equal(np.asarray(f(fnp.ones((3, 3)))), M)  # c's values kept


def test_results_never_alias_a_callers_numpy_array():
    for f in (lambda x: x, lambda x: x.reshape(9), lambda x: (x.T, x * 1.0)):
        n = M.copy()
        got = leaves(jit(f)(n))  # (copied at once) ...
        out = jit(f)(n)
        n[0, 0] = 100.0  # ... the caller's array is mutable; fx arrays are not
        for g, w in zip(got, leaves(out)):
            np.testing.assert_array_equal(g, w)


def test_donation_is_ignored_under_outer_transforms():
    f = jit(lambda x: (x * x).sum(), donate_argnums=0)
    x = fx.asarray(M.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(grad(f)(x)), 2 * M.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(x), M.astype(np.float64))


@pytest.mark.parametrize("static, donated", [((0, 1), 2), ((1,), 3), (-2, 3), ((-4, 2), 3),
                                             ((0, 2), 3)])
def test_the_donated_argument_is_the_one_named_among_static_ones(static, donated):
    def f(a, b, c, d):
        return a * 1.0 + b * 2.0 + c * 3.0 + d * 4.0
    nums = [i % 4 for i in ((static,) if isinstance(static, int) else static)]
    args = [float(i + 1) if i in nums else fx.asarray(M + i) for i in range(4)]
    want = np.asarray(f(*args))
    np.testing.assert_array_equal(
        np.asarray(jit(f, static_argnums=static, donate_argnums=donated)(*args)), want)
    for i, a in enumerate(args):
        if i == donated:
            with pytest.raises(fx.errors.DonatedArrayError):
                a + 1.0
        else:
            a + 1.0  # still usable


def test_static_and_donated_together_is_an_error():
    for kwargs in ({"static_argnums": 1}, {"static_argnames": "n"}):
        with pytest.raises(ValueError, match="argument 1 is both static and donated"):
            jit(lambda x, n: x, donate_argnums=1, **kwargs)
    with pytest.raises(ValueError, match="argument 1 is both static and donated"):
        jit(lambda x, n: x, static_argnums=-1, donate_argnums=1)
    with pytest.raises(TypeError, match="donate_argnums"):
        jit(lambda x: x, donate_argnums=-1)
    with pytest.raises(ValueError, match="counts from the end"):
        jit(lambda *xs: xs, static_argnums=-1)  # which argument it is depends on the call


# --- the memory plan, read from the generated source ------------------------------------------
def test_elementwise_chain_frees_and_reuses_one_buffer():
    src = check_against_eager(lambda x: fnp.exp(fnp.sin(x) * 2.0 + x) - x, fx.asarray(M))
    assert src.splitlines()[1:] == [
        "    b = np.sin(a)",
        "    c = np.multiply(b, 2.0, out=b)",
        "    del b",
        "    d = np.add(c, a, out=c)",
        "    del c",
        "    e = np.exp(d, out=d)",
        "    del d",
        "    f = np.subtract(e, a, out=e)",
        "    del e",
        "    return (f,)"]


def test_mlp_writes_bias_and_activation_in_place_and_frees_each_layer():
    def mlp(params, x):
        for w, b in params:
            x = fnp.tanh(x @ w + b)
        return (x * x).mean()
    params = [(fx.asarray(RNG.standard_normal(s).astype(np.float32)), fnp.zeros(s[1]))
              for s in ((4, 8), (8, 8), (8, 2))]
    src = check_against_eager(mlp, params, fx.asarray(RNG.standard_normal((16, 4)), "float32"))
    lines = [ln.strip() for ln in src.splitlines()]
    adds = [ln for ln in lines if "np.add(" in ln]
    tanhs = [ln for ln in lines if "np.tanh(" in ln]
    assert len(adds) == len(tanhs) == 3
    assert all(", out=" in ln for ln in adds + tanhs)  # no allocation beyond the matmuls
    assert sum("np.matmul(" in ln for ln in lines) == 3
    for ln in lines[1:-1]:  # every value computed is deleted right after its last use
        if " = " in ln:
            name = ln.split(" = ")[0]
            assert name in src.split("return")[-1] or any(
                d.startswith("del ") and name in d[4:].split(", ") for d in lines), name


def test_dead_buffer_of_another_value_is_reused_through_out():
    def f(x):
        a = fnp.exp(x)
        b = a.sum(0)        # a dies here: its buffer goes to the pool
        return fnp.sin(x * 2.0) + b
    src = check_against_eager(f, fx.asarray(M))
    assert "np.multiply(a, 2.0, out=b)" in src.replace(" ", " ")


# --- adversarial graphs: reuse must never corrupt a live value ------------------------------
def test_view_of_an_intermediate_outliving_its_base():
    def f(x):
        y = fnp.exp(x)
        t, r, b = y.T, y.reshape(9), fnp.broadcast_to(y[:1], (3, 3))
        z = fnp.sin(y)      # y's last use: it must not be overwritten while its views live
        return z * 2.0, t, r + 1.0, b
    src = check_against_eager(f, fx.asarray(M))
    assert "np.sin(b, out=b)" not in src


def test_dead_value_whose_view_lives_is_not_pooled():
    def f(x):
        y = fnp.exp(x)
        v = y.T
        s = y.sum()         # y's last use, but v still views its buffer
        z = fnp.sin(x)      # the same shape and dtype as y: must not get y's buffer
        return z + s, v
    src = check_against_eager(f, fx.asarray(M))
    assert "np.sin(a)" in src


def test_values_used_twice_and_aliasing_outputs():
    def f(x):
        y = x * 3.0
        a = y + 1.0         # y is still needed by b and the outputs
        b = y * a
        return y, a, b, y, y.T
    check_against_eager(f, fx.asarray(M))


def test_square_transpose_operand_does_not_alias_the_output():
    def f(x):
        y = fnp.exp(x)
        return y + y.T      # writing into y would overwrite y.T's elements as it reads them
    check_against_eager(f, fx.asarray(M))
    check_against_eager(f, fx.asarray(M), donate=(0,))
    check_against_eager(lambda x: x - x.T, fx.asarray(M), donate=(0,))


def test_donated_inputs_viewed_by_outputs_are_not_overwritten():
    check_against_eager(lambda x: (x.T, x * 2.0), fx.asarray(M), donate=(0,))
    check_against_eager(lambda x, y: (x[::-1], fnp.exp(x) + y, y),
                        fx.asarray(M), fx.asarray(M[0]), donate=(0, 1))


def test_control_flow_results_that_may_be_their_operands():
    def f(x):
        y = fnp.exp(x * 0.1)
        z = lax.cond(x.sum() > 0, lambda v: v, lambda v: v * 2.0, y)
        return z, y + 1.0, lax.stop_gradient(y) * 2.0
    check_against_eager(f, fx.asarray(M))
    check_against_eager(f, fx.asarray(-np.abs(M)))

    def g(x):
        y = x * 2.0
        c, ys = lax.scan(lambda c, _: (c + 1.0, c), y, None, length=3)
        return c, ys, y * 3.0
    check_against_eager(g, fx.asarray(M))


UNARY = [fnp.sin, fnp.exp, lambda x: -x, lambda x: x * 2.0, lambda x: x.T,
         lambda x: x.reshape(9).reshape(3, 3), lambda x: fnp.broadcast_to(x[:1], (3, 3)),
         lambda x: x[::-1], lambda x: x.sum(0, keepdims=True) + x, lambda x: fnp.maximum(x, 0.0),
         lambda x: fnp.where(x > 0, x, 0.5 * x), lambda x: x.astype("float64").astype("float32")]
BINARY = [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y.T, lambda x, y: x @ y,
          lambda x, y: x / (1.0 + y * y)]


def random_program(seed: int):
    rng = np.random.default_rng(seed)
    steps = []
    for k in range(int(rng.integers(4, 12))):
        n = 3 + k
        steps.append((int(rng.integers(len(UNARY))), int(rng.integers(n)), None)
                     if rng.random() < 0.5 else
                     (int(rng.integers(len(BINARY))), int(rng.integers(n)), int(rng.integers(n))))
    outs = [int(i) for i in rng.choice(3 + len(steps), size=int(rng.integers(1, 4)))]

    def f(*xs):
        vals = list(xs)
        for op, i, j in steps:
            vals.append(UNARY[op](vals[i]) if j is None else BINARY[op](vals[i], vals[j]))
        return tuple(vals[i] for i in outs)
    donate = tuple(i for i in range(3) if rng.random() < 0.5)
    return f, donate


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_match_eager_bit_for_bit(seed):
    f, donate = random_program(seed)
    rng = np.random.default_rng(seed + 1000)
    args = [fx.asarray(rng.standard_normal((3, 3)).astype(np.float32)) for _ in range(3)]
    check_against_eager(f, *args, donate=donate)
