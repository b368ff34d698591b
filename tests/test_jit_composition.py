"""jit composes with every transform, in both orders and nested: values against the
same composition without jit, in float64."""
import numpy as np
import pytest

import fx.numpy as fnp
import optim
from fx import tree
from tests import helpers
from tests.helpers import f64
from transforms import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jit,
    jvp,
    linearize,
    value_and_grad,
    vjp,
    vmap,
)

RNG = np.random.default_rng(3)
W = f64(RNG.standard_normal((4, 3)))
X = f64(RNG.standard_normal((5, 4)))
V = f64(RNG.standard_normal(3))


def close(got, want):
    for g, w in zip(tree.leaves(got), tree.leaves(want)):
        helpers.close(g, w, 1e-10, 1e-12)


def loss(w, x):
    return fnp.sum(fnp.tanh(x @ w) ** 2) + 0.1 * fnp.sum(w * w)


def example_loss(w, x):  # one example: x has 4 features
    return fnp.sum(fnp.sin(x @ w))


COMPOSITIONS = {
    "grad(jit)": lambda: (grad(jit(loss))(W, X), grad(loss)(W, X)),
    "jit(grad)": lambda: (jit(grad(loss))(W, X), grad(loss)(W, X)),
    "jit(value_and_grad)": lambda: (jit(value_and_grad(loss))(W, X), value_and_grad(loss)(W, X)),
    "vmap(jit)": lambda: (vmap(jit(example_loss), in_axes=(None, 0))(W, X),
                          fnp.stack([example_loss(W, x) for x in X])),
    "jit(vmap)": lambda: (jit(vmap(example_loss, in_axes=(None, 0)))(W, X),
                          fnp.stack([example_loss(W, x) for x in X])),
    "jit(vmap(grad))": lambda: (jit(vmap(grad(example_loss), in_axes=(None, 0)))(W, X),
                                fnp.stack([grad(example_loss)(W, x) for x in X])),
    "vmap(jit(grad))": lambda: (vmap(jit(grad(example_loss)), in_axes=(None, 0))(W, X),
                                fnp.stack([grad(example_loss)(W, x) for x in X])),
    "vmap(grad(jit))": lambda: (vmap(grad(jit(example_loss)), in_axes=(None, 0))(W, X),
                                fnp.stack([grad(example_loss)(W, x) for x in X])),
    "jvp(jit)": lambda: (jvp(jit(lambda w: loss(w, X)), (W,), (W,)),
                         jvp(lambda w: loss(w, X), (W,), (W,))),
    "jit(jvp)": lambda: (jit(lambda w, t: jvp(lambda w: loss(w, X), (w,), (t,)))(W, W),
                         jvp(lambda w: loss(w, X), (W,), (W,))),
    "linearize(jit)": lambda: (linearize(jit(lambda w: loss(w, X)), W)[1](W),
                               jvp(lambda w: loss(w, X), (W,), (W,))[1]),
    "vjp(jit)": lambda: (vjp(jit(lambda w: fnp.tanh(X @ w)), W)[1](f64(np.ones((5, 3)))),
                         vjp(lambda w: fnp.tanh(X @ w), W)[1](f64(np.ones((5, 3))))),
    "hessian(jit)": lambda: (hessian(jit(lambda v: fnp.sum(fnp.sin(v) * v ** 3)))(V),
                             hessian(lambda v: fnp.sum(fnp.sin(v) * v ** 3))(V)),
    "jit(hessian)": lambda: (jit(hessian(lambda v: fnp.sum(fnp.sin(v) * v ** 3)))(V),
                             hessian(lambda v: fnp.sum(fnp.sin(v) * v ** 3))(V)),
    "jacfwd(jit)": lambda: (jacfwd(jit(fnp.tanh))(V), jacfwd(fnp.tanh)(V)),
    "jit(jacrev)": lambda: (jit(jacrev(fnp.tanh))(V), jacrev(fnp.tanh)(V)),
    "jit(jit)": lambda: (jit(lambda w: jit(loss)(w, X) * 2.0)(W), loss(W, X) * 2.0),
    "grad(jit(grad))": lambda: (grad(lambda v: fnp.sum(jit(grad(lambda u: fnp.sum(
        fnp.sin(u) ** 2)))(v)))(V), grad(lambda v: fnp.sum(grad(lambda u: fnp.sum(
            fnp.sin(u) ** 2))(v)))(V)),
    "jit(checkpoint)": lambda: (jit(grad(checkpoint(lambda w: loss(w, X))))(W),
                                grad(lambda w: loss(w, X))(W)),
}


@pytest.mark.parametrize("name", COMPOSITIONS)
def test_jit_composes(name):
    got, want = COMPOSITIONS[name]()
    close(got, want)


@custom_jvp
def clipped_sin(x):
    return fnp.sin(x)


@clipped_sin.defjvp
def _clipped_sin_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return clipped_sin(x), 2.0 * t  # deliberately not cos(x): the rule must be used


@custom_vjp
def scaled(x):
    return x * 1.0


scaled.defvjp(lambda x: (scaled(x), None), lambda _, ct: (3.0 * ct,))


@pytest.mark.parametrize("order", ["jit(grad)", "grad(jit)", "jit(grad(jit))"])
@pytest.mark.parametrize("fn, slope", [(clipped_sin, 2.0), (scaled, 3.0)])
def test_custom_rules_are_kept_under_jit(order, fn, slope):
    f = lambda x: fnp.sum(fn(x))  # noqa: E731
    g = {"jit(grad)": jit(grad(f)), "grad(jit)": grad(jit(f)),
         "jit(grad(jit))": jit(grad(jit(f)))}[order]
    close(g(V), fnp.full(3, slope))


def test_custom_jvp_rule_is_used_by_jvp_of_jit_and_vmap_of_jit():
    close(jvp(jit(clipped_sin), (V,), (V,))[1], 2.0 * V)
    close(vmap(jit(grad(lambda x: clipped_sin(x))))(V), fnp.full(3, 2.0))


def test_optimizer_states_go_through_jit():
    """An adam step jitted with its state as an argument equals the eager step, over a few
    steps (the state pytree, its counters and moments included)."""
    opt = optim.adam(1e-2)
    params = {"w": W, "b": fnp.zeros(3, dtype="float64")}

    def step(params, state):
        grads = grad(lambda p: loss(p["w"], X) + fnp.sum(p["b"] ** 2))(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    jitted = jit(step)
    eager_p, eager_s = params, opt.init(params)
    jit_p, jit_s = params, opt.init(params)
    for _ in range(3):
        eager_p, eager_s = step(eager_p, eager_s)
        jit_p, jit_s = jitted(jit_p, jit_s)
    close(jit_p, eager_p)
    close(jit_s, eager_s)
    assert jitted.cache_info().traces == 1


def test_closing_over_an_outer_tracer_is_evaluated_not_cached():
    """A jitted function closing over a value being differentiated sees the right value
    at every call (it is staged afresh, never served from the cache)."""
    def outer(w):
        inner = jit(lambda x: fnp.sum(fnp.sin(w * x)))
        return inner(V)
    close(grad(outer)(f64(2.0)), fnp.sum(V * fnp.cos(2.0 * V)))
    close(grad(outer)(f64(0.5)), fnp.sum(V * fnp.cos(0.5 * V)))


def test_jit_of_a_function_returning_the_gradient_of_a_jitted_closure():
    f = jit(lambda x: fnp.sum(x ** 3))
    close(jit(grad(f))(V), 3 * V ** 2)
    close(jit(grad(grad(lambda s: f(s * V))))(f64(1.5)),
          6 * 1.5 * fnp.sum(V ** 3))
