"""Indexing behaviour (traced paths, bounds, duplicates, helpers) and bad-input errors.

Values against NumPy for drawn indices live in tests/op_specs/indexing.py; here are the
paths the table cannot reach: indexing under a transform, our IndexErrors, the eager-only
functions and lax's clamping windows.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fx
import fx.numpy as fnp
from fx import lax
from tests.op_specs.indexing import numpy_index
from tests.test_trace_stack import record


def traced(f, *args):
    """``f(*args)`` with every argument traced; returns (value, primitive names)."""
    out, log = record(f, *args)
    return out, [name for _, name in log]


def split_arrays(index):
    """(index with arrays replaced by slots, list of the arrays) so arrays can be traced."""
    items = index if isinstance(index, tuple) else (index,)
    arrays = [i for i in items if isinstance(i, np.ndarray)]
    slots = iter(range(len(arrays)))
    template = tuple(next(slots) if isinstance(i, np.ndarray) else ("keep", i) for i in items)
    return template, arrays


# --- indexing under a transform ------------------------------------------------------------------
@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(st.data())
def test_traced_getitem_with_traced_index_arrays_matches_numpy(data):
    x = data.draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                         max_side=4)))
    index = data.draw(numpy_index(x.shape, masks=False))
    template, arrays = split_arrays(index)

    def f(xv, *idx):
        return xv[tuple(idx[t] if isinstance(t, int) else t[1] for t in template)]
    out, _ = traced(f, x, *arrays)
    expected = x[index]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_basic_indexing_is_slice_rev_reshape():
    x = np.arange(24.0).reshape(2, 3, 4)
    out, names = traced(lambda v: v[1, ::-2, None, 1:3], x)
    np.testing.assert_array_equal(np.asarray(out), x[1, ::-2, None, 1:3])
    assert names == ["slice", "rev", "reshape"]
    _, names = traced(lambda v: v[...], x)
    assert names == []


def test_traced_negative_index_arrays_wrap_like_numpy():
    x = np.arange(5.0)
    out, names = traced(lambda v, i: v[i], x, np.array([-1, 0, -5]))
    assert out.tolist() == [4.0, 0.0, 0.0] and "gather" in names


def test_traced_boolean_mask_raises_concretization_error():
    with pytest.raises(fx.ConcretizationError, match="fnp.where"):
        traced(lambda v: v[v > 0], np.arange(3.0))
    with pytest.raises(fx.ConcretizationError, match="fnp.where"):
        traced(lambda v: v.at[v > 0].set(0.0), np.arange(3.0))


def test_concrete_mask_works_inside_a_transform():
    mask = np.array([True, False, True])
    out, _ = traced(lambda v: v[mask] * 2, np.arange(3.0))
    assert out.tolist() == [0.0, 4.0]


def test_static_out_of_range_int_raises_at_trace_time():
    with pytest.raises(IndexError, match=r"getitem\(float32\[3\]\): index 3 is out of bounds "
                                         r"for axis 0 with size 3"):
        traced(lambda v: v[3], np.zeros(3, np.float32))
    with pytest.raises(IndexError, match="axis 1 with size 2"):
        fnp.zeros((2, 2))[0, -3]
    with pytest.raises(IndexError, match=r"at\[\]\.set"):
        fnp.zeros(2).at[5].set(1.0)


def test_traced_scatter_and_take():
    out, names = traced(lambda v, i: v.at[i].add(1.0), np.zeros(3), np.array([0, 0, -1]))
    assert out.tolist() == [2.0, 0.0, 1.0] and names[-1] == "scatter"
    out, _ = traced(lambda v, i: fnp.take(v, i, mode="wrap"), np.arange(3.0), np.array([4]))
    assert out.tolist() == [1.0]


def test_iteration_and_methods():
    x = fnp.arange(6).reshape(2, 3)
    assert [r.tolist() for r in x] == [[0, 1, 2], [3, 4, 5]]
    assert x.take([0, 5]).tolist() == [0, 5]
    assert [i.tolist() for i in x.nonzero()] == [[0, 0, 1, 1, 1], [1, 2, 0, 1, 2]]


# --- concrete bounds and bad indices -------------------------------------------------------------
def test_concrete_index_arrays_are_checked():
    x = fnp.zeros((2, 3))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
        x[:, [0, 3]]
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 1"):
        x[0, np.array([-4])]
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 0"):
        x.at[fx.asarray([2])].add(1.0)
    assert x[:, [-1]].shape == (2, 1)


@pytest.mark.parametrize("index, error, pattern", [
    (1.5, IndexError, "only integers"),
    ((0, 0, 0), IndexError, "too many indices"),
    ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
    (np.array([0.5]), IndexError, "integer or boolean"),
    (np.array([True, False, True]), IndexError, "boolean index of shape"),
    (True, IndexError, "boolean scalar"),
    (slice(None, None, 0), ValueError, "slice step cannot be zero"),
    (([0, 1], [0, 1, 0]), ValueError, "cannot be broadcast"),
    ("a", IndexError, "only integers"),
])
def test_bad_indices_raise_our_errors(index, error, pattern):
    with pytest.raises(error, match=pattern):
        fnp.zeros((2, 2))[index]


def test_at_bad_updates():
    with pytest.raises(ValueError, match=r"at\[\]\.set.*cannot be broadcast to the indexed "
                                         r"shape \(2,\)"):
        fnp.zeros(4).at[:2].set(fnp.ones(3))


# --- .at semantics -----------------------------------------------------------------------------
def test_at_duplicates_and_copies():
    x = fnp.zeros(3)
    assert x.at[[0, 0, 2]].add(1.0).tolist() == [2.0, 0.0, 1.0]
    assert x.at[[1, 1]].set(fx.asarray([5.0, 7.0])).tolist() == [0.0, 7.0, 0.0]  # last wins
    assert fnp.full(3, 2.0).at[[0, 0]].multiply(3.0).tolist() == [18.0, 2.0, 2.0]
    assert fnp.full(3, 5.0).at[[0, 0]].min(fx.asarray([4.0, 1.0])).tolist()[0] == 1.0
    assert x.tolist() == [0.0, 0.0, 0.0]  # the original is untouched


def test_at_cast_broadcast_and_other_methods():
    x = fnp.arange(6).reshape(2, 3)
    out = x.at[:, 1].set(2.7)
    assert out.dtype == np.int32 and out[:, 1].tolist() == [2, 2]
    assert x.at[0].add(fx.asarray([1, 1, 1])).tolist() == [[1, 2, 3], [3, 4, 5]]
    assert x.at[1, 2].get().tolist() == 5
    assert fnp.full(2, 8.0).at[0].divide(2.0).tolist() == [4.0, 8.0]
    assert fnp.full(2, 7).at[0].divide(2).tolist() == [3, 7]
    assert fnp.full(2, 3.0).at[1].power(2.0).tolist() == [3.0, 9.0]
    assert fnp.full(2, 3).at[1].subtract(5).tolist() == [3, -2]


def test_put_along_axis():
    x = fnp.zeros((2, 3))
    out = fnp.put_along_axis(x, fx.asarray([[2], [0]]), 1.0, axis=1)
    assert out.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="put_along_axis"):
        fnp.put_along_axis(x, fx.asarray([2]), 1.0, axis=1)


# --- take and the eager-only functions ------------------------------------------------------------
def test_take_modes_and_errors():
    a = fnp.asarray([10, 20, 30])
    assert fnp.take(a, [-1, 5], mode="clip").tolist() == [10, 30]
    assert fnp.take(a, [-1, 5], mode="wrap").tolist() == [30, 30]
    with pytest.raises(IndexError, match=r"take\(int32\[3\]\): index 5 is out of bounds"):
        fnp.take(a, [5])
    with pytest.raises(ValueError, match="mode"):
        fnp.take(a, [0], mode="fill")
    with pytest.raises(ValueError, match="axis 1 is out of bounds"):
        fnp.take(a, [0], axis=1)


def test_nonzero_family():
    a = fx.asarray([[0, 2], [3, 0]])
    assert [i.tolist() for i in fnp.nonzero(a)] == [[0, 1], [1, 0]]
    assert fnp.argwhere(a).tolist() == [[0, 1], [1, 0]]
    assert fnp.flatnonzero(a).tolist() == [1, 2]
    assert fnp.where(a)[1].tolist() == [1, 0]
    assert [i.tolist() for i in fnp.nonzero(a, size=3, fill_value=-1)] == [[0, 1, -1],
                                                                          [1, 0, -1]]
    assert fnp.flatnonzero(a, size=1).tolist() == [1]
    with pytest.raises(ValueError, match="0-d"):
        fnp.nonzero(fx.asarray(1))


def test_nonzero_traced_needs_size():
    with pytest.raises(fx.ConcretizationError, match="size="):
        traced(fnp.nonzero, np.array([0, 1]))
    out, _ = traced(lambda v: fnp.argwhere(v, size=3), np.array([[0, 1], [1, 1]]))
    assert out.tolist() == [[0, 1], [1, 0], [1, 1]]
    out, _ = traced(lambda v: fnp.flatnonzero(v, size=3, fill_value=9), np.array([0, 1, 0]))
    assert out.tolist() == [1, 9, 9]


def test_index_constructors_select_choose():
    assert [i.tolist() for i in fnp.diag_indices(2)] == [[0, 1], [0, 1]]
    assert [i.tolist() for i in fnp.tril_indices(2)] == [[0, 1, 1], [0, 0, 1]]
    assert [i.tolist() for i in fnp.triu_indices_from(fnp.zeros((2, 3)), 1)] == [[0, 0, 1],
                                                                                 [1, 2, 2]]
    rows, cols = fnp.ix_([0, 1], [True, False, True])
    assert fnp.arange(6).reshape(2, 3)[rows, cols].tolist() == [[0, 2], [3, 5]]
    assert fnp.compress([True, False, True], fx.asarray([[1, 2, 3]]), axis=1).tolist() == \
        [[1, 3]]
    x = fnp.arange(4)
    assert fnp.select([x < 1, x > 2], [x, x * 10], -1).tolist() == [0, -1, -1, 30]
    assert fnp.choose([2, 0], [[1, 2], [3, 4], [5, 6]]).tolist() == [5, 2]
    assert fnp.choose([3, -1], [[1, 2], [3, 4]], mode="wrap").tolist() == [3, 4]
    with pytest.raises(IndexError, match="choose"):
        fnp.choose([2], [[1], [2]])
    with pytest.raises(ValueError, match="same length"):
        fnp.select([x > 0], [])
    with pytest.raises(TypeError, match="boolean"):
        fnp.select([x], [x])
    with pytest.raises(ValueError, match="1-dimensional"):
        fnp.ix_([[0]])


# --- lax slicing ---------------------------------------------------------------------------------
def test_dynamic_slice_clamps_and_accepts_traced_starts():
    x = np.arange(12.0).reshape(3, 4)
    out, names = traced(lambda v, i: lax.dynamic_slice(v, (i, 1), (2, 2)), x, np.array(5))
    assert out.tolist() == [[5.0, 6.0], [9.0, 10.0]] and "dynamic_slice" in names
    assert lax.dynamic_slice(fx.asarray(x), fx.asarray([-1, 0]), (1, 4)).tolist() == \
        [[8.0, 9.0, 10.0, 11.0]]
    assert lax.dynamic_index_in_dim(fx.asarray(x), 1, axis=1, keepdims=False).tolist() == \
        [1.0, 5.0, 9.0]
    out = lax.dynamic_update_slice(fx.asarray(x), fnp.zeros((1, 2), np.float64), (9, 3))
    assert out[2].tolist() == [8.0, 9.0, 0.0, 0.0]
    out = lax.dynamic_update_index_in_dim(fx.asarray(x), fnp.ones(3, np.float64), 0, axis=1)
    assert out[:, 0].tolist() == [1.0, 1.0, 1.0]


def test_static_lax_slices():
    x = fnp.arange(10)
    assert lax.slice(x, (1,), (8,), (3,)).tolist() == [1, 4, 7]
    assert lax.slice_in_dim(x, -3, None).tolist() == [7, 8, 9]
    assert lax.index_in_dim(x, -1, keepdims=False).tolist() == 9
    with pytest.raises(IndexError, match="index_in_dim.*index 10 is out of bounds"):
        lax.index_in_dim(x, 10)


def test_lax_bad_inputs_name_the_op():
    x = fnp.zeros((2, 3))
    with pytest.raises(ValueError, match="dynamic_slice.*one start index per axis"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(ValueError, match=r"dynamic_slice.*slice sizes \(3, 1\)"):
        lax.dynamic_slice(x, (0, 0), (3, 1))
    with pytest.raises(TypeError, match="dynamic_slice"):
        lax.dynamic_slice(x, (0, 1.5), (1, 1))
    with pytest.raises(ValueError, match="dynamic_update_slice.*rank"):
        lax.dynamic_update_slice(x, fnp.zeros(2), (0, 0))
    with pytest.raises(TypeError, match="dynamic_update_slice.*dtype"):
        lax.dynamic_update_slice(x, fnp.zeros((1, 1), np.int32), (0, 0))


def test_dynamic_slice_with_a_narrow_start_dtype_on_a_long_axis():
    x = fnp.arange(200.0)
    start = fx.asarray(-3, dtype="int8")  # -3 + 200 does not fit in int8
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, (start,), (2,))),
                                  [197.0, 198.0])
