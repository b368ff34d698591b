"""Reductions: bad input gives our errors naming the op and the shapes; the dtype policy
(int32 default integer, float32 default float); numerical stability of logsumexp."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core.aval import ShapedArray
from fx.prims import reductions as rp

X = fnp.ones((2, 3))


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min", "any",
                                  "all", "median", "logsumexp", "ptp", "count_nonzero",
                                  "nansum", "nanmean", "nanmax", "nanmin", "argmax", "cumsum",
                                  "average", "argmin", "cumprod"])
def test_bad_axis_names_op_and_shape(name):
    with pytest.raises(ValueError, match=rf"{name}\(float32\[2, 3\]\).*axis 2 is out of bounds"):
        getattr(fnp, name)(X, axis=2)


def test_other_bad_axes():
    with pytest.raises(ValueError, match=r"sum\(float32\[2, 3\]\).*repeated axis"):
        fnp.sum(X, axis=(0, -2))
    with pytest.raises(TypeError, match=r"mean\(float32\[2, 3\]\).*axis must be an int"):
        fnp.mean(X, axis=1.0)
    with pytest.raises(TypeError, match=r"argmin\(float32\[2, 3\]\).*axis must be an int"):
        fnp.argmin(X, axis=(0, 1))
    with pytest.raises(ValueError, match=r"cumprod\(float32\[2, 3\]\)"):
        X.cumprod(axis=-3)


def test_empty_extrema_raise_naming_the_op():
    empty = fnp.ones((0, 3))
    with pytest.raises(ValueError, match=r"reduce_max\(float32\[0, 3\]\).*the max of an empty"):
        fnp.max(empty)
    with pytest.raises(ValueError, match=r"reduce_min.*the min of an empty"):
        empty.min(axis=0)
    with pytest.raises(ValueError, match=r"argmax\(float32\[0\]\).*empty"):
        fnp.argmax(fnp.ones(0))
    assert fnp.max(empty, axis=1).shape == (0,)  # nothing reduced over an empty axis
    assert fnp.sum(empty).item() == 0


def test_average_weights_must_fit():
    with pytest.raises(ValueError, match=r"average\(float32\[2, 3\], float32\[3\]\)"):
        fnp.average(X, axis=0, weights=fnp.ones(3))
    with pytest.raises(TypeError, match="average.*weights"):
        fnp.average(X, weights=fnp.ones(3))


def test_primitive_rules():
    f32 = ShapedArray((2, 3), "float32")
    with pytest.raises(TypeError, match=r"reduce_and\(float32\[2, 3\]\)"):
        rp.reduce_and_p.abstract_eval(f32, axes=(0,))
    with pytest.raises(ValueError, match="reduce_sum.*non-negative"):
        rp.reduce_sum_p.abstract_eval(f32, axes=(-1,))
    assert rp.reduce_sum_p.abstract_eval(f32, axes=(0, 1)) == ShapedArray((), "float32")
    assert rp.argmax_p.abstract_eval(f32, axis=1, index_dtype=np.dtype("int32")).shape == (2,)
    assert rp.cumsum_p.bind(fx.asarray([1, 2, 3]), axis=0, reverse=True).tolist() == [6, 5, 3]


@pytest.mark.parametrize("dtype, expected", [
    ("bool", "int32"), ("int8", "int32"), ("uint8", "uint32"), ("int32", "int32"),
    ("int64", "int64"), ("uint32", "uint32"), ("float32", "float32"), ("float64", "float64")])
def test_sum_prod_cumsum_dtypes(dtype, expected):
    x = fnp.ones(4, dtype=dtype)
    for fn in (fnp.sum, fnp.prod, fnp.cumsum, fnp.cumprod if dtype != "bool" else fnp.cumsum):
        assert fn(x).dtype == expected, fn.__name__
    assert fnp.sum(x, dtype="float64").dtype == np.float64


@pytest.mark.parametrize("dtype, expected", [
    ("int32", "float32"), ("bool", "float32"), ("float64", "float64"), ("float16", "float16"),
    ("complex64", "complex64")])
def test_mean_dtypes(dtype, expected):
    x = fnp.ones(4, dtype=dtype)
    assert fnp.mean(x).dtype == expected
    assert fnp.var(x).dtype == np.finfo(np.dtype(expected)).dtype
    assert fnp.median(x.real if dtype.startswith("complex") else x).dtype != np.int32


def test_index_results_are_int32_and_keepdims_shapes():
    x = fnp.arange(24.0).reshape(2, 3, 4)
    assert fnp.argmax(x).dtype == np.int32 and fnp.argsort(x).dtype == np.int32
    assert fnp.argmax(x, keepdims=True).shape == (1, 1, 1)
    assert fnp.argmin(x, axis=-2, keepdims=True).shape == (2, 1, 4)
    assert fnp.count_nonzero(x).dtype == np.int32
    assert fnp.searchsorted(fnp.arange(5), 2).dtype == np.int32
    assert fnp.sum(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert x.max(axis=(-1, 0)).shape == (3,)


def test_logsumexp_is_stable():
    big = fx.asarray([1000.0, 1000.0])
    assert np.isclose(fnp.logsumexp(big).item(), 1000 + np.log(2))
    with np.errstate(divide="ignore"):
        assert fnp.logsumexp(fx.asarray([-np.inf, -np.inf])).item() == -np.inf
    assert fnp.logsumexp(fx.asarray([0.0, np.inf])).item() == np.inf
    out, sign = fnp.logsumexp(fx.asarray([0.0, 1.0]), b=fx.asarray([1.0, -1.0]),
                              return_sign=True)
    assert np.isclose(out.item(), np.log(np.e - 1)) and sign.item() == -1.0
    assert fnp.logsumexp(fnp.ones((2, 3), dtype="int32"), axis=1).dtype == np.float32


def test_nan_reductions_of_all_nan_slices():
    x = fx.asarray([[np.nan, np.nan], [1.0, np.nan]])
    assert np.array_equal(np.asarray(fnp.nanmax(x, axis=1)), [np.nan, 1.0], equal_nan=True)
    with np.errstate(invalid="ignore"):
        mean = fnp.nanmean(x, axis=1)
    assert np.array_equal(np.asarray(mean), [np.nan, 1.0], equal_nan=True)
    assert fnp.nansum(x).item() == 1.0
    assert np.isnan(fnp.median(x).item()) and np.isnan(fnp.max(x).item())
