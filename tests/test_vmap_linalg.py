"""vmap of the linalg primitives against a Python loop: ``dot_general`` with batch and
several contracting dimensions, matmul of matrices with vectors, and the solvers with
batched and shared operands (NumPy 2's 1-D ``b`` is a vector, anything else matrices)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core.primitive import bind
from fx.prims.linalg import dot_general_p, triangular_solve_p
from tests.helpers import close, f64
from transforms import grad, vmap

RNG = np.random.default_rng(0)
B = 3


def batched(shape, axis):
    """A float64 batch of ``B`` arrays of ``shape`` stacked along ``axis`` (one if None)."""
    if axis is None:
        return RNG.standard_normal(shape)
    return np.moveaxis(RNG.standard_normal((B, *shape)), 0, axis)


def example(x, axis, i):
    return x if axis is None else np.take(x, i, axis=axis)


def check_against_loop(f, shapes, axes, rtol=1e-10, atol=1e-10):
    args = [batched(s, ax) for s, ax in zip(shapes, axes)]
    got = vmap(f, in_axes=tuple(axes))(*[f64(a) for a in args])
    want = np.stack([np.asarray(f(*[f64(example(a, ax, i)) for a, ax in zip(args, axes)]))
                     for i in range(B)])
    close(got, want, rtol=rtol, atol=atol)


# --- dot_general -----------------------------------------------------------------------------
# x: (batch 2, free 3, contract 4, contract 5); y: (contract 5, batch 2, contract 4, free 6)
DN = (((2, 3), (2, 0)), ((0,), (1,)))
X_SHAPE, Y_SHAPE = (2, 3, 4, 5), (5, 2, 4, 6)


def dot(x, y):
    return bind(dot_general_p, x, y, dimension_numbers=DN)


@pytest.mark.parametrize("x_axis, y_axis", [(x, y) for x in [None, 0, 2, 4]
                                            for y in [None, 0, 3, 4] if (x, y) != (None, None)])
def test_dot_general_batch_and_contracting_dims(x_axis, y_axis):
    check_against_loop(dot, [X_SHAPE, Y_SHAPE], [x_axis, y_axis])


@pytest.mark.parametrize("x_axis, y_axis", [(1, None), (None, 1), (1, 2)])
def test_dot_general_nested_vmap(x_axis, y_axis):
    """Outer batch along ``x_axis`` / ``y_axis``, inner batch (of 2) along axis 0."""
    def stack(shape, axis):
        return RNG.standard_normal(shape) if axis is None else batched((2, *shape), axis)
    x, y = stack(X_SHAPE, x_axis), stack(Y_SHAPE, y_axis)
    inner = vmap(dot, in_axes=(None if x_axis is None else 0, None if y_axis is None else 0))
    got = vmap(inner, in_axes=(x_axis, y_axis))(f64(x), f64(y))
    pick = lambda a, axis, i, j: a if axis is None else np.take(a, i, axis)[j]  # noqa: E731
    close(got, [[np.asarray(dot(f64(pick(x, x_axis, i, j)), f64(pick(y, y_axis, i, j))))
                 for j in range(2)] for i in range(B)], rtol=1e-10, atol=1e-10)


def test_dot_general_keeps_preferred_element_type():
    x, y = np.arange(24, dtype=np.int32).reshape(B, 2, 4), np.ones((4, 5), np.int32)
    f = lambda a, b: bind(dot_general_p, a, b, dimension_numbers=(((1,), (0,)), ((), ())),  # noqa: E731
                          preferred_element_type=np.dtype(np.float64))
    got = vmap(f, in_axes=(0, None))(fx.asarray(x), fx.asarray(y))
    assert got.dtype == np.float64
    close(got, x @ y)


def test_dot_general_batch_under_grad():
    """The in-place batch dimensions go through dot_general's transpose rule."""
    x, y = batched(X_SHAPE, 2), batched(Y_SHAPE, None)
    loss = lambda a, b: fnp.sum(vmap(dot, in_axes=(2, None))(a, b) ** 2)  # noqa: E731
    g_x, g_y = grad(loss, argnums=(0, 1))(f64(x), f64(y))
    each = [grad(lambda a, b: fnp.sum(dot(a, b) ** 2), argnums=(0, 1))(
        f64(example(x, 2, i)), f64(y)) for i in range(B)]
    close(np.moveaxis(np.asarray(g_x), 2, 0), [np.asarray(e[0]) for e in each], rtol=1e-10)
    close(g_y, sum(np.asarray(e[1]) for e in each), rtol=1e-10)


# --- matmul of matrices and vectors ---------------------------------------------------------
@pytest.mark.parametrize("shapes, axes", [
    ([(4, 3), (3,)], [0, None]), ([(4, 3), (3,)], [2, None]), ([(4, 3), (3,)], [None, 0]),
    ([(4, 3), (3,)], [None, 1]), ([(3,), (3, 4)], [0, None]), ([(3,), (3, 4)], [1, None]),
    ([(3,), (3, 4)], [None, 0]), ([(3,), (3, 4)], [None, 2]), ([(3,), (3, 4)], [1, 1]),
    ([(2, 4, 3), (3,)], [1, 0]), ([(3,), (2, 3, 4)], [None, 3]), ([(3,), (3,)], [0, 1]),
])
def test_matmul_matrix_and_vector(shapes, axes):
    check_against_loop(fnp.matmul, shapes, axes)


# --- solvers ---------------------------------------------------------------------------------
N = 3


def matrices(shape, axis):
    """Well-conditioned (diagonally dominant) matrices of ``shape``, batched along ``axis``."""
    a = RNG.standard_normal(shape if axis is None else (B, *shape)) + 2 * N * np.eye(N)
    return a if axis is None else np.moveaxis(a, 0, axis)


def last(shape, axis):
    return len(shape) if axis == "last" else axis


@pytest.mark.parametrize("a_shape", [(N, N), (2, N, N)])
@pytest.mark.parametrize("b_shape", [(N,), (N, 2), (4, 1, N, 2)])
@pytest.mark.parametrize("a_axis, b_axis", [(a, b) for a in [None, 0, "last"]
                                            for b in [None, 0, "last"] if (a, b) != (None, None)])
def test_solve_batched_and_shared_operands(a_shape, b_shape, a_axis, b_axis):
    a_axis, b_axis = last(a_shape, a_axis), last(b_shape, b_axis)
    a, b = matrices(a_shape, a_axis), batched(b_shape, b_axis)
    got = vmap(fnp.linalg.solve, in_axes=(a_axis, b_axis))(f64(a), f64(b))
    want = np.stack([np.linalg.solve(example(a, a_axis, i), example(b, b_axis, i))
                     for i in range(B)])
    close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("left_side", [True, False])
@pytest.mark.parametrize("a_axis, b_axis", [(0, None), (None, 0), (2, 1), (None, 3), (1, 0)])
def test_triangular_solve_batched_and_shared(left_side, a_axis, b_axis):
    params = dict(left_side=left_side, lower=True, transpose_a=False)
    solve = lambda x, y: bind(triangular_solve_p, x, y, **params)  # noqa: E731
    a, b = matrices((N, N), a_axis), batched((2, N, 2) if left_side else (2, 2, N), b_axis)
    got = vmap(solve, in_axes=(a_axis, b_axis))(f64(a), f64(b))
    want = np.stack([np.asarray(solve(f64(example(a, a_axis, i)), f64(example(b, b_axis, i))))
                     for i in range(B)])
    close(got, want, rtol=1e-10, atol=1e-10)


def test_vmap_of_grad_through_solve_with_a_batched_vector():
    a, b = matrices((N, N), None), batched((N,), 0)
    g = vmap(grad(lambda m, v: fnp.sum(fnp.linalg.solve(m, v) ** 2), argnums=1),
             in_axes=(None, 0))(f64(a), f64(b))
    close(g, [2 * np.linalg.solve(a.T, np.linalg.solve(a, v)) for v in b], rtol=1e-10)
