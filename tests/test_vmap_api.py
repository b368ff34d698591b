"""vmap's pytree shell, collectives, chunking, composition with the other transforms,
and bad input."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from tests.helpers import close, f64, scaled_sin
from transforms import checkpoint, custom_vjp, grad, jacfwd, jacrev, jvp, vjp, vmap

RNG = np.random.default_rng(0)
M = RNG.standard_normal((4, 3))


def loop(f, *args, axis=0):
    return np.stack([np.asarray(f(*[a[i] for a in args])) for i in range(args[0].shape[axis])])


# --- axes, pytrees, keyword arguments --------------------------------------------------------
def test_in_axes_ints_negative_and_none():
    x, v = f64(M), f64(M[0])
    close(vmap(lambda r, w: r * w, in_axes=(0, None))(x, v), M * M[0])
    close(vmap(lambda c: fnp.sum(c), in_axes=-1)(x), M.sum(axis=0))
    close(vmap(lambda c: c * 2.0, in_axes=1, out_axes=1)(x), M * 2)
    close(vmap(lambda c: c, in_axes=1, out_axes=-1)(x), M)


def test_pytree_in_axes_and_out_axes():
    params = {"w": f64(M), "b": f64([1.0, 2.0, 3.0])}
    out = vmap(lambda p: {"y": p["w"] * p["b"], "n": fnp.sum(p["w"])},
               in_axes=({"w": 0, "b": None},), out_axes={"y": 1, "n": 0})(params)
    close(out["y"], (M * [1.0, 2.0, 3.0]).T)
    close(out["n"], M.sum(axis=1))


def test_keyword_arguments_are_batched_along_axis_0():
    close(vmap(lambda x, scale: x * scale)(f64(M), scale=f64([1.0, 2.0, 3.0, 4.0])),
          M * np.array([1.0, 2.0, 3.0, 4.0])[:, None])


def test_unbatched_outputs_are_broadcast_and_axis_size_without_batched_inputs():
    close(vmap(lambda x: 7.0)(f64(M)), np.full(4, 7.0))
    close(vmap(lambda: fnp.ones(2), axis_size=3)(), np.ones((3, 2)))
    close(vmap(lambda x, c: c, in_axes=(0, None), out_axes=(None))(f64(M), f64(5.0)), 5.0)


def test_nested_vmap_and_chunks_give_identical_results():
    f = lambda a, b: fnp.tanh(a @ b)
    a, b = f64(RNG.standard_normal((5, 3))), f64(RNG.standard_normal((3, 2)))
    want = np.tanh(np.asarray(a)[:, :, None] * np.asarray(b)[None]).sum(axis=1)
    close(vmap(vmap(lambda r, c: fnp.tanh(fnp.sum(r * c)), in_axes=(None, 1)),
               in_axes=(0, None))(a, b), np.tanh(np.asarray(a) @ np.asarray(b)))
    assert want.shape == (5, 2)
    whole, elementwise = vmap(f, in_axes=(0, None))(a, b), vmap(fnp.sin)(a)
    for chunk in (1, 2, 5, 9):
        np.testing.assert_array_equal(np.asarray(vmap(fnp.sin, chunk_size=chunk)(a)),
                                      np.asarray(elementwise))
        close(vmap(f, in_axes=(0, None), chunk_size=chunk)(a, b), whole, rtol=1e-15)


# --- collectives -----------------------------------------------------------------------------
def test_collectives_over_a_named_axis():
    x = f64([1.0, 2.0, 6.0])
    close(vmap(lambda v: lax.psum(v, "b"), axis_name="b")(x), [9.0, 9.0, 9.0])
    close(vmap(lambda v: v - lax.pmean(v, "b"), axis_name="b")(x), [-2.0, -1.0, 3.0])
    close(vmap(lambda v: lax.pmax(v, "b") - lax.pmin(v, "b"), axis_name="b")(x), [5.0] * 3)
    close(vmap(lambda v: lax.all_gather(v, "b"), axis_name="b")(x), [[1.0, 2.0, 6.0]] * 3)
    np.testing.assert_array_equal(np.asarray(vmap(lambda v: lax.axis_index("b"),
                                                  axis_name="b")(x)), [0, 1, 2])


def test_nested_named_axes_and_tuples_of_names():
    m = f64(np.arange(6.0).reshape(2, 3))
    inner = lambda v: lax.psum(v, "i") + 10 * lax.psum(v, "j")
    close(vmap(vmap(inner, axis_name="j"), axis_name="i")(m),
          [[33.0, 35.0, 37.0], [123.0, 125.0, 127.0]])
    close(vmap(vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"), axis_name="i")(m),
          np.full((2, 3), 15.0))


def test_collectives_are_differentiable_both_ways():
    x = f64([1.0, 2.0, 6.0])
    outer = grad(lambda x: fnp.sum(vmap(lambda v: v * lax.psum(v, "b"), axis_name="b")(x)))
    close(outer(x), [18.0] * 3)
    close(vmap(grad(lambda v: v * lax.psum(v, "b")), axis_name="b")(x), [18.0] * 3)
    softmax = lambda v: fnp.exp(v - lax.pmax(v, "b")) / lax.psum(fnp.exp(v - lax.pmax(v, "b")),
                                                                  "b")
    close(grad(lambda x: vmap(softmax, axis_name="b")(x)[0])(x),
          np.asarray(jacrev(lambda x: fnp.exp(x) / fnp.sum(fnp.exp(x)))(x))[0])


def test_collective_without_its_axis_raises():
    with pytest.raises(NameError, match="unbound axis name 'b'"):
        lax.psum(f64(1.0), "b")
    with pytest.raises(NameError, match="unbound axis name 'c'"):
        vmap(lambda v: lax.psum(v, "c"), axis_name="b")(f64([1.0]))


# --- composition -------------------------------------------------------------------------------
def test_per_example_gradients_and_gradient_of_a_vmap():
    w = f64(RNG.standard_normal(3))
    loss = lambda w, x: fnp.tanh(fnp.dot(w, x)) ** 2
    per_example = vmap(grad(loss), in_axes=(None, 0))(w, f64(M))
    close(per_example, loop(lambda x: grad(loss)(w, fx.asarray(x)), M), rtol=1e-12)
    close(grad(lambda w: fnp.sum(vmap(loss, in_axes=(None, 0))(w, f64(M))))(w),
          np.asarray(per_example).sum(axis=0))


def test_vmap_of_jvp_vjp_and_jacobians():
    x = f64(M)
    tangents = vmap(lambda r: jvp(fnp.sin, (r,), (fnp.ones(3, "float64"),))[1])(x)
    close(tangents, np.cos(M))
    cts = vmap(lambda r: vjp(fnp.sin, r)[1](fnp.ones(3, "float64"))[0])(x)
    close(cts, np.cos(M))
    f = lambda v: fnp.sin(v) * fnp.sum(v ** 2)
    close(vmap(jacfwd(f))(x), vmap(jacrev(f))(x))
    close(jacfwd(f, chunk_size=2)(x[0]), jacrev(f, chunk_size=1)(x[0]))


def test_custom_rules_under_vmap_in_both_orders():
    f = scaled_sin(2.0)  # a deliberately wrong rule, so using it shows
    x = f64([0.1, 0.2, 0.3])
    close(grad(lambda x: fnp.sum(vmap(f)(x)))(x), 2 * np.cos([0.1, 0.2, 0.3]))
    close(vmap(grad(f))(x), 2 * np.cos([0.1, 0.2, 0.3]))

    @custom_vjp
    def clip_gradient(v):
        return v
    clip_gradient.defvjp(lambda v: (v, None), lambda _, ct: (fnp.clip(ct, -1.0, 1.0),))
    close(grad(lambda x: fnp.sum(vmap(clip_gradient)(x) * 5.0))(x), [1.0] * 3)
    close(vmap(grad(lambda v: clip_gradient(v) * 5.0))(x), [1.0] * 3)
    body = lambda v: fnp.sin(v) * v
    close(grad(lambda x: fnp.sum(vmap(checkpoint(body))(x)))(x),
          grad(lambda x: fnp.sum(vmap(body)(x)))(x))


# --- bad input ---------------------------------------------------------------------------------
def test_mismatched_batch_sizes_list_every_argument():
    with pytest.raises(ValueError, match=r"argument 0: 4, argument 1: 3"):
        vmap(lambda a, b: a + b)(f64(M), f64(M[0]))


def test_bad_in_axes_name_the_argument():
    with pytest.raises(ValueError, match=r"in_axes 2 is out of range for argument 0 "
                                         r"of shape \(4, 3\)"):
        vmap(fnp.sin, in_axes=2)(f64(M))
    with pytest.raises(ValueError, match="in_axes has 2 entries but the function was called "
                                         "with 1 positional"):
        vmap(fnp.sin, in_axes=(0, 0))(f64(M))
    with pytest.raises(ValueError, match="do not match the arguments"):
        vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": f64(M)})
    with pytest.raises(TypeError, match="in_axes entries must be ints or None"):
        vmap(fnp.sin, in_axes=(1.5,))(f64(M))


def test_other_bad_input():
    with pytest.raises(ValueError, match="no argument is batched"):
        vmap(lambda x: x, in_axes=None)(f64(M))
    with pytest.raises(ValueError, match="out_axes=None"):
        vmap(lambda x: x, out_axes=None)(f64(M))
    with pytest.raises(ValueError, match="chunk_size cannot be combined with axis_name"):
        vmap(fnp.sin, axis_name="b", chunk_size=2)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        vmap(fnp.sin, chunk_size=0)
    with pytest.raises(fx.ConcretizationError):
        vmap(lambda x: x * 2 if x > 0 else x)(f64([1.0, -1.0]))


def test_random_with_batched_keys_matches_a_loop():
    from fx import random
    keys = random.split(random.key(0), 4)
    samplers = [lambda k: random.normal(k, (3,)), lambda k: random.randint(k, (2,), 0, 10),
                lambda k: random.split(k), lambda k: random.permutation(k, 5),
                lambda k: random.bernoulli(k, 0.3, (5,))]
    for sample in samplers:
        np.testing.assert_array_equal(np.asarray(vmap(sample)(keys)),
                                      loop(lambda k, f=sample: f(fx.asarray(k)),
                                           np.asarray(keys)))


# --- found in review ---------------------------------------------------------------------------
def test_custom_vjp_and_checkpoint_with_pytree_arguments_under_grad_of_vmap():
    xs = f64(np.arange(6.0).reshape(3, 2))
    params = {"w": f64([1.0, 2.0]), "b": f64(0.5)}
    body = lambda p, x: fnp.sum(fnp.tanh(p["w"] * x + p["b"]))
    want = grad(lambda p: fnp.sum(vmap(body, in_axes=(None, 0))(p, xs)))(params)
    got = grad(lambda p: fnp.sum(vmap(checkpoint(body), in_axes=(None, 0))(p, xs)))(params)
    for k in want:
        close(got[k], want[k])


def test_python_numbers_broadcast_by_vmap_take_the_default_dtypes():
    xs = fnp.ones((3, 2))
    assert vmap(lambda r: 1.0)(xs).dtype == np.float32
    assert vmap(lambda r: 1)(xs).dtype == np.int32
    scaled = checkpoint(lambda x, s: fnp.sum(x * s))
    close(grad(lambda a: fnp.sum(vmap(scaled, in_axes=(0, None))(a, 2.0)))(xs), np.full((3, 2), 2))


def test_empty_batches_leaks_and_error_names():
    assert vmap(fnp.sum, chunk_size=2)(fnp.zeros((0, 4))).shape == (0,)
    leaked = []
    vmap(lambda a: leaked.append(a) or a)(fnp.ones((2, 3)))
    with pytest.raises(fx.TracerLeakError, match="vmap"):
        vmap(lambda b: b)(leaked[0])
    with pytest.raises(ValueError, match="axis_size=4"):
        vmap(fnp.sin, axis_size=4)(fnp.ones((2, 3)))
    with pytest.raises(ValueError, match="jacrev: chunk_size"):
        jacrev(fnp.sin, chunk_size=0)
