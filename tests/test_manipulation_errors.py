"""Shape functions and primitives: bad input gives our errors naming the op and the shapes;
plus the primitive behaviour NumPy has no direct reference for (interior padding, cropping)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core.aval import ShapedArray
from fx.prims import shape as sp

X = fnp.ones((2, 3))


def test_reshape_to_incompatible_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape\(float32\[2, 3\]\).*\(2, 3\).*\(4,\)"):
        fnp.reshape(X, (4,))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, -1\)"):
        X.reshape(4, -1)
    with pytest.raises(ValueError, match="only one -1"):
        fnp.reshape(X, (-1, -1))
    with pytest.raises(TypeError, match="reshape.*shape must be"):
        fnp.reshape(X, (2.0, 3))
    with pytest.raises(ValueError, match="order"):
        fnp.reshape(X, 6, order="K")


def test_concatenate_and_stack_list_the_shapes():
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\), \(2, 4\)"):
        fnp.concatenate([X, fnp.ones((2, 4))])
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\), \(3,\)"):
        fnp.concatenate([X, fnp.ones(3)])
    with pytest.raises(ValueError, match="zero-dimensional"):
        fnp.concatenate([fnp.ones(()), fnp.ones(())])
    with pytest.raises(ValueError, match="at least one"):
        fnp.concatenate([])
    with pytest.raises(ValueError, match=r"stack.*same shape.*\(2, 3\), \(2,\)"):
        fnp.stack([X, fnp.ones(2)])
    with pytest.raises(ValueError, match=r"concatenate.*axis 2 is out of bounds"):
        fnp.concatenate([X, X], axis=2)


def test_bad_axes_name_the_op_and_shape():
    cases = [
        (lambda: fnp.transpose(X, (0, 0)), r"transpose\(float32\[2, 3\]\).*permutation"),
        (lambda: fnp.transpose(X, (0, 2)), r"transpose\(float32\[2, 3\]\).*out of bounds"),
        (lambda: fnp.squeeze(X, 0), r"squeeze\(float32\[2, 3\]\).*size is not one"),
        (lambda: fnp.expand_dims(X, 4), r"expand_dims\(float32\[2, 3\]\).*axis 4"),
        (lambda: fnp.moveaxis(X, (0, 1), 0), r"moveaxis\(float32\[2, 3\]\)"),
        (lambda: fnp.swapaxes(X, 0, 5), r"swapaxes\(float32\[2, 3\]\)"),
        (lambda: fnp.flip(X, 3), r"flip\(float32\[2, 3\]\)"),
        (lambda: fnp.roll(X, 1, axis=2), r"roll\(float32\[2, 3\]\)"),
        (lambda: fnp.roll(X, (1, 2, 3), axis=(0, 1)), r"roll.*do not match"),
        (lambda: fnp.rot90(X, axes=(1, 1)), r"rot90.*different"),
        (lambda: fnp.rot90(fnp.ones(3)), r"rot90\(float32\[3\]\)"),
        (lambda: fnp.fliplr(fnp.ones(3)), r"fliplr\(float32\[3\]\)"),
        (lambda: fnp.sort(fnp.ones(())), r"sort\(float32\[\]\).*out of bounds"),
        (lambda: fnp.argsort(X, axis=2), r"argsort\(float32\[2, 3\]\)"),
        (lambda: fnp.split(X, 2, axis=1), r"split\(float32\[2, 3\]\).*equal division"),
        (lambda: fnp.array_split(X, 0), r"array_split.*positive"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()


def test_broadcasting_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) to shape \(3, 3\)"):
        fnp.broadcast_to(X, (3, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\) to shape \(3,\)"):
        fnp.broadcast_to(X, (3,))
    with pytest.raises(ValueError, match=r"broadcast_arrays.*\(2, 3\) and \(4,\)"):
        fnp.broadcast_arrays(X, fnp.ones(4))
    assert fnp.broadcast_shapes((2, 1), (3,)) == (2, 3)


def test_repeat_tile_and_pad_arguments():
    with pytest.raises(ValueError, match=r"repeat\(float32\[2, 3\]\).*one per element"):
        fnp.repeat(X, [1, 2], axis=1)
    with pytest.raises(ValueError, match="repeat.*non-negative"):
        fnp.repeat(X, -1)
    with pytest.raises(TypeError, match="repeat.*ints"):
        fnp.repeat(X, 1.5)
    with pytest.raises(ValueError, match="tile.*non-negative"):
        fnp.tile(X, (-1, 2))
    with pytest.raises(NotImplementedError, match="pad: mode 'mean'"):
        fnp.pad(X, 1, mode="mean")
    with pytest.raises(ValueError, match=r"pad\(float32\[2, 3\]\).*non-negative"):
        fnp.pad(X, -1)
    with pytest.raises(ValueError, match=r"pad\(float32\[2, 3\]\).*one pair per axis"):
        fnp.pad(X, ((1, 2), (3, 4), (5, 6)))
    with pytest.raises(TypeError, match="pad.*integers"):
        fnp.pad(X, 1.5)
    with pytest.raises(ValueError, match="pad.*empty axis"):
        fnp.pad(fnp.ones((0, 2)), 1, mode="wrap")
    with pytest.raises(TypeError, match="unexpected keyword"):
        fnp.pad(X, 1, mode="edge", constant_values=3)
    with pytest.raises(NotImplementedError, match="reflect_type"):
        fnp.pad(X, 1, mode="reflect", reflect_type="odd")


def test_sorting_and_grid_arguments():
    with pytest.raises(NotImplementedError, match="sort: order"):
        fnp.sort(X, order="f0")
    with pytest.raises(ValueError, match=r"searchsorted\(float32\[2, 3\]\).*1-D"):
        fnp.searchsorted(X, 1.0)
    with pytest.raises(ValueError, match="side"):
        fnp.searchsorted(fnp.ones(3), 1.0, side="middle")
    with pytest.raises(ValueError, match="meshgrid.*indexing"):
        fnp.meshgrid(fnp.ones(2), indexing="yx")


def test_primitive_rules_validate_static_params():
    x = fx.asarray([1, 2, 3])
    with pytest.raises(IndexError, match=r"slice\(int32\[3\]\).*out of bounds"):
        sp.slice_p.bind(x, start_indices=(1,), limit_indices=(5,), strides=(1,))
    with pytest.raises(ValueError, match="pad.*interior"):
        sp.pad_p.bind(x, np.int32(0), padding_config=((0, 0, -1),))
    with pytest.raises(ValueError, match="pad.*negative size"):
        sp.pad_p.bind(x, np.int32(0), padding_config=((-2, -2, 0),))
    # what tracing checks (fx.numpy never binds these with bad parameters)
    square = ShapedArray((1, 1), "float32")
    with pytest.raises(ValueError, match="broadcast_in_dim.*increasing"):
        sp.broadcast_in_dim_p.abstract_eval(square, shape=(1, 1), broadcast_dimensions=(1, 0))
    with pytest.raises(ValueError, match="rev.*repeated"):
        sp.rev_p.abstract_eval(square, dimensions=(0, 0))
    with pytest.raises(ValueError, match=r"reshape\(float32\[1, 1\]\).*\(-1,\)"):
        sp.reshape_p.abstract_eval(square, new_sizes=(-1,))
    with pytest.raises(TypeError, match="concatenate.*share one dtype"):
        sp.concatenate_p.abstract_eval(square, square.update(dtype="int32"), dimension=0)


def test_pad_primitive_interior_and_cropping():
    x = fx.asarray([1, 2, 3])
    out = sp.pad_p.bind(x, np.int32(0), padding_config=((1, -1, 1),))
    assert out.tolist() == [0, 1, 0, 2, 0]
    out = sp.pad_p.bind(fnp.ones((2, 2), dtype="int32"), np.int32(7),
                        padding_config=((0, 1, 0), (-1, 0, 2)))
    assert out.tolist() == [[7, 7, 1], [7, 7, 1], [7, 7, 7]]


def test_strided_slice_and_sort_primitives():
    x = fnp.arange(10)
    assert sp.slice_p.bind(x, start_indices=(1,), limit_indices=(8,), strides=(3,)).tolist() \
        == [1, 4, 7]
    y = fx.asarray([2.0, np.nan, -1.0, 2.0])
    assert np.array_equal(np.asarray(sp.sort_p.bind(y, dimension=0)),
                          [-1.0, 2.0, 2.0, np.nan], equal_nan=True)
    idx = sp.argsort_p.bind(y, dimension=0, index_dtype=np.dtype(np.int32))
    assert idx.tolist() == [2, 0, 3, 1] and idx.dtype == np.int32


def test_results_are_fx_arrays_with_numpy_container_types():
    assert isinstance(fnp.split(X, 3, axis=1), list)
    assert isinstance(fnp.broadcast_arrays(X, X), tuple)
    assert isinstance(fnp.meshgrid(fnp.ones(2), fnp.ones(3)), tuple)
    assert isinstance(fnp.atleast_1d(1.0), fx.Array) and fnp.atleast_1d(1.0).shape == (1,)
    assert X.flatten().shape == (6,) and X.T.shape == (3, 2)
    assert fnp.ravel(X) is not None and fnp.reshape(X, (2, 3)) is X


@pytest.mark.parametrize("fn", [
    lambda x: fnp.pad(x, ((1, 2), (3, 0)), mode="reflect"),
    lambda x: fnp.repeat(x, [1, 2, 0], axis=1),
    lambda x: fnp.concatenate([fnp.roll(x, 1, axis=0), fnp.tile(x, 2)], axis=1),
    lambda x: fnp.median(x, axis=0, keepdims=True),
    lambda x: fnp.logsumexp(x, axis=1) + fnp.var(x, ddof=1),
    lambda x: fnp.searchsorted(fnp.sort(fnp.ravel(x)), x, side="right"),
])
def test_functions_work_on_tracers(fn):
    from tests.test_trace_stack import record
    x = np.arange(9.0).reshape(3, 3)
    traced, log = record(fn, x)
    assert log and np.array_equal(np.asarray(traced), np.asarray(fn(fx.asarray(x))))
