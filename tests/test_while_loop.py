"""lax.while_loop: values eagerly and under jit against Python loops, forward mode,
the reverse-mode error without a bound, the bounded loop (value, early stop, the bound,
gradients against the unrolled Python loop, to second order), vmap with batched and
unbatched predicates against a loop over examples, the errors and the generated code."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import custom_jvp, grad, hessian, jacfwd, jacrev, jit, jvp, vjp, vmap


def newton_sqrt(a):
    """Unbounded: Newton's iteration for sqrt(a), to convergence."""
    return lax.while_loop(lambda x: fnp.abs(x * x - a) > 1e-12 * a, lambda x: 0.5 * (x + a / x),
                          a)


def grow(x, limit=4.0, max_steps=None):
    """Carry (value, steps): x <- x * (1 + sin(x)^2) + w while value < limit; the body
    closes over ``x`` too, so the body constants get a cotangent."""
    def body(c):
        v, k = c
        return v * (1.0 + fnp.sin(v) ** 2) + 0.1 * x, k + 1
    return lax.while_loop(lambda c: c[0] < limit, body, (x, 0), max_steps=max_steps)


def grow_py(x, limit=4.0, max_steps=None):
    """The same loop in Python (also works on concrete tracers: grad of it is the
    gradient of the unrolled loop)."""
    v, k = x, 0
    while bool(v < limit) and (max_steps is None or k < max_steps):
        v, k = v * (1.0 + fnp.sin(v) ** 2) + 0.1 * x, k + 1
    return v, k


# --- values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("x0", [0.3, 1.0, 3.9, 5.0])
def test_values_eagerly_and_under_jit_match_a_python_loop(x0):
    x = f64(x0)
    want_v, want_k = grow_py(x)
    for f in (grow, jit(grow)):
        v, k = f(x)
        close(v, want_v)
        assert int(k) == want_k and k.dtype == np.int32
    close(newton_sqrt(f64(2.0)), np.sqrt(2.0))
    close(jit(newton_sqrt)(f64(9.0)), 3.0)


def test_pytree_carry_and_weakly_typed_initial_values():
    out = lax.while_loop(lambda c: c["i"] < 5, lambda c: {"i": c["i"] + 1, "s": c["s"] * 2.0},
                         {"i": 0, "s": fx.asarray(1.0)})
    assert int(out["i"]) == 5 and float(out["s"]) == 32.0
    assert lax.while_loop(lambda c: c < 10, lambda c: c + 1, 0).dtype == np.int32
    promoted = lax.while_loop(lambda c: c < 10, lambda c: c * 2.5, 1)  # int 1 -> float
    assert promoted.dtype == np.float32 and float(promoted) == 15.625
    wide = lax.while_loop(lambda c: c < 10, lambda c: c + f64(3.0), 1.0)
    assert wide.dtype == np.float64 and float(wide) == 10.0
    literal = lax.while_loop(lambda c: c[1] < 3, lambda c: (0.0, c[1] + 1), (f64(5.0), 0))
    assert literal[0].dtype == np.float64 and float(literal[0]) == 0.0
    assert jit(lambda: lax.while_loop(lambda c: c < 10, lambda c: c + 1, 0))().dtype == np.int32


def test_a_long_eager_loop_switches_to_compiled_steps_with_the_same_results():
    def f(x):  # 300 steps: past the point where the eager loop compiles its cond and body
        return lax.while_loop(lambda c: c[1] < 300, lambda c: (fnp.sin(c[0]) * 0.9 + x, c[1] + 1),
                              (x, 0), max_steps=400)
    x = f64([0.2, -1.0])
    v, k = f(x)
    want = np.asarray(x)
    for _ in range(300):
        want = np.sin(want) * 0.9 + np.asarray(x)
    close(v, want)
    assert int(k) == 300
    close(jit(f)(x)[0], want)
    loss = lambda x: fnp.sum(f(x)[0])
    close(grad(loss)(x), jit(grad(loss))(x))


# --- forward mode and the reverse-mode error --------------------------------------------------
def test_forward_mode_of_an_unbounded_loop():
    a = f64(2.0)
    y, dy = jvp(newton_sqrt, (a,), (f64(1.0),))
    close(y, np.sqrt(2.0))
    close(dy, 0.5 / np.sqrt(2.0), rtol=1e-8)
    close(vmap(jacfwd(newton_sqrt))(f64([4.0, 9.0])), [0.25, 1 / 6], rtol=1e-8)
    check_grads(lambda x: grow(x)[0], (f64(0.7),), order=2, modes=("fwd",))
    close(jvp(lambda x: grow(x)[0], (f64(0.7),), (f64(1.0),))[1],
          jvp(lambda x: grow_py(x)[0], (f64(0.7),), (f64(1.0),))[1])


def test_reverse_mode_without_a_bound_points_to_max_steps():
    for transform in (grad, jacrev):
        with pytest.raises(ValueError, match=r"while_loop needs a bound.*max_steps=N.*fori_loop"):
            transform(lambda x: grow(x)[0])(f64(0.7))
    with pytest.raises(ValueError, match="max_steps=N"):
        jit(grad(lambda x: grow(x)[0]))(f64(0.7))
    # a loop the differentiated value does not reach needs no bound
    count = lambda x: x * lax.while_loop(lambda c: c < 3.0, lambda c: c + 1.0, f64(0.0))
    close(grad(count)(f64(2.0)), 3.0)


# --- bounded loops ----------------------------------------------------------------------------
def test_bounded_loop_stops_early_and_respects_the_bound():
    for x0, n in [(0.3, 2), (0.3, 50), (3.9, 50), (5.0, 3), (0.3, 0)]:
        v, k = grow(f64(x0), max_steps=n)
        want_v, want_k = grow_py(f64(x0), max_steps=n)
        close(v, want_v)
        assert int(k) == want_k <= n
        v, k = jit(lambda x, n=n: grow(x, max_steps=n))(f64(x0))
        close(v, want_v)
        assert int(k) == want_k
    forever = lambda: lax.while_loop(lambda c: c >= 0, lambda c: c + 1, 0, max_steps=7)
    assert int(forever()) == 7 and int(jit(forever)()) == 7


@pytest.mark.parametrize("x0", [0.3, 1.7, 3.9, 5.0])
def test_bounded_gradient_matches_the_unrolled_loop(x0):
    x = f64(x0)
    f = lambda x: grow(x, max_steps=30)[0]
    want = grad(lambda x: grow_py(x)[0])(x)
    close(grad(f)(x), want)
    close(jit(grad(f))(x), want)
    close(grad(jit(f))(x), want)
    short = lambda x: grow(x, max_steps=2)[0]  # cut off by the bound
    close(grad(short)(x), grad(lambda x: grow_py(x, max_steps=2)[0])(x))


def test_bounded_loop_second_order_both_modes():
    f = lambda x: grow(x, max_steps=8)[0]
    check_grads(f, (f64(0.9),), order=2, modes=("fwd", "rev"))
    want = grad(grad(lambda x: grow_py(x)[0]))(f64(0.9))
    close(grad(grad(f))(f64(0.9)), want)
    close(hessian(f)(f64(0.9)), want)


def test_bounded_loop_with_vector_carry_and_unmarked_dependent_leaves():
    def f(w, x):
        def body(c):  # b starts as a constant but comes to depend on w
            a, b, i = c
            return fnp.tanh(a * w) + b, b + a * 0.5, i + 1
        a, b, _ = lax.while_loop(lambda c: c[2] < 4, body, (x, f64([0.1, 0.2]), 0),
                                 max_steps=6)
        return fnp.sum(a * b)

    def f_py(w, x):
        a, b = x, f64([0.1, 0.2])
        for _ in range(4):
            a, b = fnp.tanh(a * w) + b, b + a * 0.5
        return fnp.sum(a * b)
    w, x = f64([0.3, -1.1]), f64([0.5, 2.0])
    close(grad(f, argnums=(0, 1))(w, x), grad(f_py, argnums=(0, 1))(w, x))
    check_grads(f, (w, x), order=1)
    out, pull = vjp(lambda x: grow(x, max_steps=5), f64(0.4))
    close(pull((f64(1.0), fx.asarray(0)))[0], grad(lambda x: grow_py(x, max_steps=5)[0])(
        f64(0.4)))


# --- vmap -------------------------------------------------------------------------------------
def collatz_steps(n):
    return lax.while_loop(lambda c: c[0] != 1, lambda c: (
        fnp.where(c[0] % 2 == 0, c[0] // 2, 3 * c[0] + 1), c[1] + 1), (n, 0))[1]


def collatz_py(n):
    k = 0
    while n != 1:
        n, k = (n // 2 if n % 2 == 0 else 3 * n + 1), k + 1
    return k


def test_vmap_with_a_batched_predicate_matches_a_loop():
    ns = [1, 2, 3, 6, 7, 27]
    want = [collatz_py(n) for n in ns]
    assert vmap(collatz_steps)(fx.asarray(ns)).tolist() == want
    assert jit(vmap(collatz_steps))(fx.asarray(ns)).tolist() == want
    xs = f64([0.3, 1.7, 3.9, 5.0])
    got_v, got_k = vmap(grow)(xs)
    for x, v, k in zip(xs, got_v, got_k):
        want_v, want_k = grow_py(x)
        close(v, want_v)
        assert int(k) == want_k


def test_vmap_with_an_unbatched_predicate_and_batched_constants():
    def f(scale, x):  # the count does not depend on the batch; the values do
        return lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * scale + x, c[1] + 1),
                              (f64(1.0), 0))
    scales = f64([0.5, 2.0, -1.0])
    v, k = vmap(f, in_axes=(0, None))(scales, f64(0.25))
    for s, got in zip(scales, v):
        close(got, f(s, f64(0.25))[0])
    assert k.tolist() == [3, 3, 3]  # vmap broadcasts an output shared by the batch
    v, _ = jit(vmap(f, in_axes=(None, 0)))(f64(2.0), f64([0.0, 1.0]))
    close(v, [8.0, 15.0])


def test_vmap_of_bounded_gradients_and_gradients_of_vmap():
    xs = f64([0.3, 1.7, 3.9, 5.0])
    f = lambda x: grow(x, max_steps=30)[0]
    want = [grad(lambda x: grow_py(x)[0])(x) for x in xs]
    close(vmap(grad(f))(xs), want)
    close(jit(vmap(grad(f)))(xs), want)
    close(grad(lambda xs: fnp.sum(vmap(f)(xs)))(xs), want)
    close(vmap(lambda x: jvp(f, (x,), (f64(1.0),))[1])(xs), want)


def test_collectives_in_the_body_reduce_over_the_callers_axis():
    w = lambda x: lax.while_loop(lambda c: c[1] < 2, lambda c: (c[0] + lax.psum(c[0], "i"),
                                                               c[1] + 1), (x, 0))[0]
    close(vmap(w, axis_name="i")(f64([1.0, 2.0, 3.0])), [31.0, 32.0, 33.0])


def test_a_custom_jvp_rule_with_a_bounded_loop_on_the_tangent_is_transposed():
    @custom_jvp
    def cube(x):
        return x ** 3

    @cube.defjvp
    def cube_jvp(primals, tangents):  # 3 x^2 t as a loop multiplying by x twice
        (x,), (t,) = primals, tangents
        return cube(x), lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * x, c[1] + 1),
                                       (t * 3.0, 1), max_steps=5)[0]
    close(grad(cube)(f64(2.0)), 12.0)
    close(vmap(grad(cube))(f64([1.0, -3.0])), [3.0, 27.0])


# --- composition with cond and jit ------------------------------------------------------------
def test_cond_inside_while_inside_jit_and_while_inside_cond():
    def f(x):
        body = lambda c: (lax.cond(c[0] > 1.0, lambda v: v * 0.5, lambda v: v + 1.0, c[0]),
                          c[1] + 1)
        return lax.while_loop(lambda c: c[1] < 5, body, (x, 0), max_steps=5)[0]

    def f_py(x):
        for _ in range(5):
            x = x * 0.5 if x > 1.0 else x + 1.0
        return x
    for x0 in (0.2, 3.0, 10.0):
        close(jit(f)(f64(x0)), f_py(x0))
        close(grad(f)(f64(x0)), grad(f_py)(f64(x0)))
    text = jit(f).lower(f64(1.0)).as_text()
    assert "cond_true(" in text and "for step in range(5):" in text and "break" in text
    # under vmap both branches run on every example: the loop must end for all of them
    g = lambda x: lax.cond(x > 0, lambda v: newton_sqrt(fnp.abs(v)), lambda v: -v, x)
    close(jit(g)(f64(4.0)), 2.0)
    close(jit(vmap(g))(f64([4.0, -3.0, 16.0])), [2.0, 3.0, 4.0])


def test_generated_code_is_a_python_while_over_body_functions():
    text = jit(newton_sqrt).lower(f64(2.0)).as_text()
    assert "def while_cond(" in text and "def while_body(" in text
    assert "    while while_cond(" in text and ")[0]:\n" in text
    assert "        carry, = while_body(" in text


# --- errors -------------------------------------------------------------------------------------
def test_carry_changes_are_type_errors_naming_the_leaf():
    init = {"a": f64([1.0, 2.0]), "b": fx.asarray(0)}
    with pytest.raises(TypeError, match=r"changed carry\['a'\] from f64\[2\] to f64\[3\]"):
        lax.while_loop(lambda c: c["b"] < 3, lambda c: {"a": fnp.concatenate([c["a"], c["a"][:1]]),
                                                        "b": c["b"] + 1}, init)
    with pytest.raises(TypeError, match=r"changed carry\['b'\] from i32\[\] to f32\[\]"):
        lax.while_loop(lambda c: c["b"] < 3, lambda c: {"a": c["a"], "b": c["b"] + 0.5}, init)
    with pytest.raises(TypeError, match=r"changed carry from f32\[\] to f64\[\]"):
        lax.while_loop(lambda c: c < 3, lambda c: c + f64(1.0), fx.asarray(0.0))
    with pytest.raises(TypeError, match="structure of init_val"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: c[0], (fx.asarray(0), fx.asarray(1)))
    with pytest.raises(TypeError, match=r"cond_fun must return a bool scalar, got i32\[\]"):
        lax.while_loop(lambda c: c, lambda c: c - 1, fx.asarray(3))
    with pytest.raises(TypeError, match=r"bool scalar, got bool\[2\]"):
        lax.while_loop(lambda c: c > 0, lambda c: c - 1, fx.asarray([3, 4]))
    with pytest.raises(ValueError, match="max_steps must be >= 0"):
        lax.while_loop(lambda c: c < 3, lambda c: c + 1, 0, max_steps=-1)
    with pytest.raises(TypeError, match="max_steps must be None or an int"):
        lax.while_loop(lambda c: c < 3, lambda c: c + 1, 0, max_steps=2.0)
