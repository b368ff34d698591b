"""vmap of the indexing primitives against a Python loop, for what the registry's draws
miss (they batch only the operand): batched index arrays with a shared or batched
operand, separated advanced indices, mask-derived indices, scatter duplicates, and
dynamic windows whose starts differ per example (clamped at the edges)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax
from fx.prims.indexing import ARRAY, gather_p, indexed_shape, scatter_p
from transforms import grad, jvp, vmap

B = 3
MODES = ["set", "add", "mul", "min", "max"]


def stack(values, axis):
    """Per-example values stacked along ``axis`` (negative counts from the end); None: the
    first value, shared by every example."""
    if axis is None:
        return values[0]
    return np.stack(values, axis=axis if axis >= 0 else axis + 1 + np.ndim(values[0]))


def check(f, per_example, axes, exact=True):
    """``vmap(f)`` over the stacked arguments equals ``f`` applied example by example."""
    args = [stack(v, ax) for v, ax in zip(per_example, axes)]
    got = vmap(f, in_axes=tuple(axes))(*[fx.asarray(a) for a in args])
    want = np.stack([np.asarray(f(*[fx.asarray(v[i] if ax is not None else v[0])
                                    for v, ax in zip(per_example, axes)])) for i in range(B)])
    assert got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(np.asarray(got), want)
    else:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def draws(rng, make, same=False):
    """``B`` per-example draws of ``make(rng)`` (one draw repeated when ``same``)."""
    first = make(rng)
    return [first] * B if same else [first] + [make(rng) for _ in range(B - 1)]


def ints(rng, shape, n):
    return lambda r=rng: r.integers(0, n, size=shape)


def floats(shape):
    return lambda r: r.integers(-4, 5, size=shape).astype(np.float64)  # exact sums, products


# --- x[index] through the public API -----------------------------------------------------------
X_SHAPE = (4, 5, 6)


@pytest.mark.parametrize("x_axis", [None, 0, -1])
@pytest.mark.parametrize("i_axis", [0, -1])
@pytest.mark.parametrize("index", [
    lambda i: (i,),                          # leading array
    lambda i: (slice(None), i),              # contiguous block after a slice
    lambda i: (1, i),                        # int and array: one block
    lambda i: (i, slice(None), i % 3),       # separated: the block goes first
    lambda i: (Ellipsis, i),                 # after an ellipsis
    lambda i: (None, i, None, 2),            # new axes around the block
    lambda i: (slice(1, None, 2), None, i),  # separated by a new axis: first
])
def test_getitem_batched_index_arrays(x_axis, i_axis, index):
    rng = np.random.default_rng(0)
    xs = draws(rng, floats(X_SHAPE), same=x_axis is None)
    idx = draws(rng, ints(rng, (2, 3), 4))
    check(lambda x, i: x[index(i)], [xs, idx], [x_axis, i_axis])


@pytest.mark.parametrize("x_axis", [None, 1])
def test_getitem_batched_and_shared_index_arrays(x_axis):
    """A batched index array next to a shared one of another rank: they broadcast as each
    example's did (shared (3,) against per-example (2, 1))."""
    rng = np.random.default_rng(1)
    xs = draws(rng, floats(X_SHAPE), same=x_axis is None)
    idx = draws(rng, ints(rng, (2, 1), 4))
    shared = [np.array([0, 4, 4])] * B
    check(lambda x, i, j: x[i, j], [xs, idx, shared], [x_axis, 0, None])
    check(lambda x, i, j: x[i, :, j], [xs, idx, shared], [x_axis, 0, None])
    check(lambda x, i, j: x[j, :, i], [xs, shared, idx], [x_axis, None, -1])


def test_getitem_scalar_batched_index():
    """One integer per example (a 0-d index array): a per-example row."""
    rng = np.random.default_rng(2)
    xs = draws(rng, floats(X_SHAPE))
    rows = [np.array(k) for k in (0, 3, 3)]
    check(lambda x, i: x[i], [xs, rows], [0, 0])
    check(lambda x, i: x[:, i, 1:], [xs, rows], [None, 0])


def test_getitem_mask_derived_indices():
    """A concrete mask becomes integer index arrays, next to a batched one."""
    rng = np.random.default_rng(3)
    mask = np.array([True, False, True, True])
    xs = draws(rng, floats(X_SHAPE))
    cols = draws(rng, ints(rng, (), 5))
    check(lambda x: x[mask], [xs], [0])
    check(lambda x: x[:, :, np.array([1, 0, 0, 1, 1, 0], bool)], [xs], [-1])
    check(lambda x, j: x[mask, j], [xs, cols], [0, 0])
    check(lambda x, j: x[mask, 1:, j], [xs, cols], [None, 0])
    rows = np.nonzero(mask)[0]
    check(lambda x, j: x[rows[:, None], j], [xs, draws(rng, ints(rng, (1, 2), 5))], [2, 0])


def test_take_and_take_along_axis_with_batched_indices():
    rng = np.random.default_rng(4)
    xs = draws(rng, floats(X_SHAPE))
    idx = draws(rng, ints(rng, (2, 2), 5))
    check(lambda x, i: fnp.take(x, i, axis=1), [xs, idx], [None, 0])
    check(lambda x, i: fnp.take(x, i, axis=1), [xs, idx], [1, -1])
    along = draws(rng, ints(rng, (4, 2, 6), 5))
    check(lambda x, i: fnp.take_along_axis(x, i, axis=1), [xs, along], [0, 1])
    check(lambda x, i: fnp.take_along_axis(x, i, axis=1), [xs, along], [None, 0])


# --- x.at[index] updates ---------------------------------------------------------------------
@pytest.mark.parametrize("method", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("axes", [(0, 0, 0), (None, 0, None), (-1, None, 0), (None, -1, -1),
                                  (1, None, None)])
def test_at_updates_with_duplicate_batched_indices(method, axes):
    """Each example's duplicates combine (or, for set, the last write wins) as in the loop."""
    rng = np.random.default_rng(5)
    xs = draws(rng, floats(X_SHAPE), same=axes[0] is None)
    idx = [np.array([1, 1, 3, 1]), np.array([0, 2, 2, 0]), np.array([3, 3, 3, 3])]
    idx = idx if axes[1] is not None else [idx[0]] * B
    ups = draws(rng, floats((4, 6)), same=axes[2] is None)
    check(lambda x, i, u: getattr(x.at[i, 2:], method)(u[:, None]), [xs, idx, ups], axes)
    ups = draws(rng, floats((4, 4)), same=axes[2] is None)
    check(lambda x, i, u: getattr(x.at[:, 0, i], method)(u), [xs, idx, ups], axes)
    check(lambda x, i, u: getattr(x.at[i, :, i], method)(u[:, :1]), [xs, idx, ups], axes)


def test_scatter_add_duplicates_accumulate_per_example():
    idx = [np.array([0, 0, 0]), np.array([1, 2, 1]), np.array([2, 2, 2])]
    got = vmap(lambda i: fnp.zeros(3).at[i].add(1.0))(fx.asarray(np.stack(idx)))
    np.testing.assert_array_equal(np.asarray(got), [[3, 0, 0], [0, 2, 1], [0, 0, 3]])


# --- random specs at the primitive level -------------------------------------------------------
def random_case(rng):
    """A per-example operand shape, a spec with one or more array slots (entries for some
    leading axes, maybe an ellipsis, entries for some trailing axes; new axes anywhere),
    and the index arrays' per-example shapes (broadcastable, of different ranks)."""
    shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4)))
    base = [(), (2,), (3,), (2, 3)][rng.integers(4)]
    n_front = int(rng.integers(1, len(shape) + 1))
    ellipsis = bool(rng.integers(2))
    n_back = int(rng.integers(0, len(shape) - n_front + 1)) if ellipsis else 0
    axes = list(range(n_front)) + list(range(len(shape) - n_back, len(shape)))
    spec, arrays = [], []
    for n in (shape[a] for a in axes):
        kind = rng.choice(["array", "array", "int", "slice"])
        if kind == "array":
            spec.append(ARRAY)
            arrays.append((base[rng.integers(len(base) + 1):], n))
        elif kind == "int":
            spec.append(int(rng.integers(n)))
        else:
            start = int(rng.integers(n))
            spec.append((start, n, int(rng.integers(1, 3))) if rng.integers(2) else
                        (start, None, -1))
    if not arrays:
        spec[0], arrays = ARRAY, [(base, shape[0])]
    if ellipsis:
        spec.insert(n_front, Ellipsis)
    for _ in range(rng.integers(0, 3)):
        spec.insert(int(rng.integers(len(spec) + 1)), None)
    return shape, tuple(spec), arrays


def axis_choice(rng, allow_none=True):
    return [None, 0, -1][rng.integers(0 if allow_none else 1, 3)]


@pytest.mark.parametrize("seed", range(40))
def test_random_gather_and_scatter(seed):
    rng = np.random.default_rng(seed)
    shape, spec, arrays = random_case(rng)
    x_axis = axis_choice(rng)
    i_axes = [axis_choice(rng) for _ in arrays]
    if x_axis is None and all(a is None for a in i_axes):
        i_axes[0] = 0
    xs = draws(rng, floats(shape), same=x_axis is None)
    idx = [draws(rng, ints(rng, s, n), same=ax is None) for (s, n), ax in zip(arrays, i_axes)]
    check(lambda x, *i: gather_p.bind(x, *i, spec=spec), [xs, *idx], [x_axis, *i_axes])
    out_shape = indexed_shape("test", fx.asarray(xs[0]).aval, spec,
                              [fx.asarray(i[0]).aval for i in idx])
    u_axis = axis_choice(rng)
    ups = draws(rng, floats(out_shape), same=u_axis is None)
    for mode in MODES:
        check(lambda x, u, *i, mode=mode: scatter_p.bind(x, u, *i, spec=spec, mode=mode),
              [xs, ups, *idx], [x_axis, u_axis, *i_axes])


def test_nested_vmap_and_jvp_of_batched_gather():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, B, 4, 5))
    idx = rng.integers(0, 5, size=(B, 2, 3))
    f = lambda x, i: x[1:, i]                                               # noqa: E731
    inner = vmap(f, in_axes=(0, None))
    got = vmap(inner, in_axes=(1, 0))(fx.asarray(x), fx.asarray(idx))
    want = np.stack([np.stack([x[a, b][1:][:, idx[b]] for a in range(2)]) for b in range(B)])
    np.testing.assert_array_equal(np.asarray(got), want)
    t = rng.standard_normal(x[0].shape)
    _, got = jvp(lambda x: vmap(f)(x, fx.asarray(idx)), (fx.asarray(x[0]),), (fx.asarray(t),))
    want = np.stack([t[b][1:][:, idx[b]] for b in range(B)])
    np.testing.assert_array_equal(np.asarray(got), want)


def test_per_example_gradient_through_batched_indices():
    """vmap of grad: the gather's transpose (a scatter-add) is batched too."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, 5))
    idx = np.array([[0, 0, 2], [4, 1, 4], [3, 3, 3]])
    got = vmap(grad(lambda x, i: fnp.sum(x[i] ** 2)))(fx.asarray(x), fx.asarray(idx))
    want = np.zeros_like(x)
    for b in range(B):
        np.add.at(want[b], idx[b], 2 * x[b, idx[b]])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


# --- dynamic windows ---------------------------------------------------------------------------
STARTS = [np.array([-3, 0, 1]), np.array([2, 5, 1]), np.array([9, 3, -1])]  # edges clamp


@pytest.mark.parametrize("x_axis, batched", [
    (x_axis, batched) for x_axis in (None, 0, -1)
    for batched in ((True, True, True), (True, False, False), (False, True, False),
                    (False, False, False)) if x_axis is not None or any(batched)])
def test_dynamic_slice_per_example_starts(x_axis, batched):
    rng = np.random.default_rng(8)
    xs = draws(rng, floats((4, 5, 6)), same=x_axis is None)
    sizes = (2, 5, 3)
    starts = [[STARTS[b][k] for b in range(B)] for k in range(3)]
    axes = [x_axis] + [0 if on else None for on in batched]
    check(lambda x, *s: lax.dynamic_slice(x, s, sizes), [xs, *starts], axes)


@pytest.mark.parametrize("axes", [(0, 0, 0), (None, None, 0), (-1, None, 0), (None, 1, 0),
                                  (1, 2, None), (None, 0, None)])
def test_dynamic_update_slice_per_example_starts(axes):
    rng = np.random.default_rng(9)
    xs = draws(rng, floats((4, 5, 6)), same=axes[0] is None)
    us = draws(rng, floats((3, 2, 6)), same=axes[1] is None)
    starts = [[STARTS[b][k] for b in range(B)] for k in range(3)]
    check(lambda x, u, s0, s1: lax.dynamic_update_slice(x, u, [s0, s1, 0]),
          [xs, us, starts[0], starts[1]], list(axes) + [axes[2]])


def test_dynamic_index_with_batched_index_clamps():
    xs = [np.arange(5.0) * (b + 1) for b in range(B)]
    got = vmap(lambda x, i: lax.dynamic_index_in_dim(x, i, keepdims=False))(
        fx.asarray(np.stack(xs)), fx.asarray(np.array([-1, 7, 2])))
    np.testing.assert_array_equal(np.asarray(got), [4.0, 8.0, 6.0])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32])
def test_dynamic_windows_with_narrow_start_dtypes(dtype):
    """Starts of any integer dtype clamp exactly (no overflow when near the edges)."""
    xs = [np.arange(120.0) + b for b in range(B)]
    starts = np.array([-100, 100, 127] if dtype != np.uint8 else [0, 119, 255], dtype=dtype)
    check(lambda x, s: lax.dynamic_slice(x, [s], [90]), [xs, list(starts)], [0, 0])
    us = [np.full(90, -1.0 - b) for b in range(B)]
    check(lambda x, u, s: lax.dynamic_update_slice(x, u, [s]), [xs, us, list(starts)],
          [None, 0, 0])


def test_per_example_gradient_through_dynamic_slice():
    """vmap of grad: the window's transpose (a dynamic_update_slice) has batched starts."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((B, 6))
    starts = np.array([-2, 3, 5])
    got = vmap(grad(lambda x, s: fnp.sum(lax.dynamic_slice(x, [s], [3]) ** 2)))(
        fx.asarray(x), fx.asarray(starts))
    want = np.zeros_like(x)
    for b, s in enumerate([3, 3, 3]):  # -2 counts from the end: 4, which clamps to 3, as 5
        want[b, s:s + 3] = 2 * x[b, s:s + 3]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
