"""Op specs: reductions (sums, statistics, extrema, logical folds, cumulative ops).

The NumPy references are adjusted only where fx's dtype policy deliberately differs:
the default integer is int32 (sums of bool/int32, index results) and the default float
is float32 (means, variances and medians of integers).
"""
import numpy as np
from hypothesis import strategies as st

import fx.numpy as fnp
from tests.op_specs.spec import FLOATS, INTS, NUMERIC, OpSpec, arrays, axis_kwargs, fixed

BOOL = (np.bool_,)
NONEMPTY = arrays(min_side=1)
# integer inputs give float32 results (compared with NumPy's float64 ones)
INT_TO_FLOAT = {"int32": 1e-6, "int64": 1e-6}


def _acc(dtype):
    """fx's sum/prod dtype: bools and narrow ints widen to int32 only."""
    dtype = np.dtype(dtype)
    return np.dtype(np.int32) if dtype.kind == "b" or dtype == np.int32 else None


def _inexact(dtype):
    return np.dtype(dtype) if np.dtype(dtype).kind in "fc" else np.dtype(np.float32)


def _accumulated(np_fn):
    """``np_fn`` with the accumulator dtype fx uses."""
    return lambda a, **kw: np_fn(a, dtype=kw.pop("dtype", None) or _acc(a.dtype), **kw)


def _in_float(np_fn):
    """``np_fn`` computed on floats, as fx does for integer inputs."""
    return lambda a, **kw: np.asarray(np_fn(a, **kw)).astype(_inexact(a.dtype))


def _as_int32(np_fn):
    return lambda *a, **kw: np.asarray(np_fn(*a, **kw)).astype(np.int32)


def _with_nans(factory):
    """Inputs where values above 1.5 became NaN (so whole slices may be NaN)."""
    return lambda dtype: factory(dtype).map(
        lambda t: tuple(np.where(x > 1.5, np.nan, x).astype(x.dtype) for x in t))


def _np_logsumexp(a, axis=None, keepdims=False, b=None):
    """Naive float64 reference (inputs are small, so it cannot overflow)."""
    wide = np.exp(a.astype(np.float64)) * (1 if b is None else b)
    return np.log(np.sum(wide, axis=axis, keepdims=keepdims)).astype(a.dtype)


SPECS = [
    OpSpec("sum", fnp.sum, _accumulated(np.sum), arrays(), NUMERIC + BOOL, axis_kwargs()),
    OpSpec("sum_dtype", fnp.sum, np.sum, arrays(min_dims=1), NUMERIC,
           ({"dtype": np.float64}, {"axis": 0, "dtype": np.float32}, {"dtype": np.int64})),
    OpSpec("prod", fnp.prod, _accumulated(np.prod), arrays(lo=-2, hi=2), NUMERIC + BOOL,
           axis_kwargs()),
    OpSpec("mean", fnp.mean, _in_float(np.mean), arrays(), NUMERIC, axis_kwargs(),
           rtol=INT_TO_FLOAT),
    OpSpec("mean_dtype", fnp.mean, np.mean, arrays(), FLOATS, ({"dtype": np.float64},)),
    OpSpec("var", fnp.var, _in_float(np.var), arrays(), NUMERIC,
           axis_kwargs(ddof=st.integers(0, 1)), rtol={"float32": 1e-4, **INT_TO_FLOAT},
           atol={"float32": 1e-5, "int32": 1e-6, "int64": 1e-6}),
    OpSpec("std", fnp.std, _in_float(np.std), arrays(), NUMERIC,
           axis_kwargs(ddof=st.integers(0, 1)), rtol={"float32": 1e-4, **INT_TO_FLOAT},
           atol={"float32": 1e-5, "int32": 1e-6, "int64": 1e-6}),
    *[OpSpec(n, getattr(fnp, n), getattr(np, n), NONEMPTY, NUMERIC, axis_kwargs())
      for n in ["max", "min", "amax", "amin", "ptp"]],
    *[OpSpec(n, getattr(fnp, n), getattr(np, n), arrays(lo=-1, hi=1), NUMERIC + BOOL,
             axis_kwargs()) for n in ["any", "all"]],
    *[OpSpec(n, getattr(fnp, n), _as_int32(getattr(np, n)), NONEMPTY, NUMERIC,
             axis_kwargs(multi=False)) for n in ["argmax", "argmin"]],
    *[OpSpec(n, getattr(fnp, n), _as_int32(getattr(np, n)), _with_nans(NONEMPTY), FLOATS,
             axis_kwargs(multi=False)) for n in ["argmax", "argmin"]],
    OpSpec("count_nonzero", fnp.count_nonzero, _as_int32(np.count_nonzero), arrays(lo=-1, hi=1),
           NUMERIC + BOOL, axis_kwargs()),
    OpSpec("cumsum", fnp.cumsum, _accumulated(np.cumsum), arrays(), NUMERIC + BOOL,
           axis_kwargs(keepdims=False, multi=False)),
    OpSpec("cumsum_dtype", fnp.cumsum, np.cumsum, arrays(), INTS, ({"dtype": np.float32},)),
    OpSpec("cumprod", fnp.cumprod, _accumulated(np.cumprod), arrays(lo=-2, hi=2), NUMERIC,
           axis_kwargs(keepdims=False, multi=False)),
    OpSpec("median", fnp.median, _in_float(np.median), NONEMPTY, NUMERIC, axis_kwargs(),
           rtol=INT_TO_FLOAT),
    OpSpec("median_nan", fnp.median, np.median, _with_nans(NONEMPTY), FLOATS, axis_kwargs()),
    OpSpec("logsumexp", fnp.logsumexp, _np_logsumexp, NONEMPTY, FLOATS, axis_kwargs()),
    OpSpec("logsumexp_b", lambda a, b: fnp.logsumexp(a, b=b, axis=-1),
           lambda a, b: _np_logsumexp(a, b=b, axis=-1), arrays(2, lo=0.1, hi=3, min_dims=1,
                                                               min_side=1)),
    OpSpec("average", fnp.average, np.average, NONEMPTY, FLOATS, axis_kwargs()),
    OpSpec("average_weights", lambda a, w, **kw: fnp.average(a, weights=w, **kw),
           lambda a, w, **kw: np.average(a, weights=w, **kw),
           arrays(2, lo=0.5, hi=3, shapes="same", min_side=1), FLOATS, axis_kwargs()),
    OpSpec("average_1d_weights", lambda a, w: fnp.average(a, axis=1, weights=w),
           lambda a, w: np.average(a, axis=1, weights=w), fixed((3, 4), (4,), lo=0.5)),
    OpSpec("average_returned", lambda a, w: fnp.average(a, 0, w, returned=True),
           lambda a, w: np.average(a, 0, w, returned=True), fixed((3, 2), (3, 2), lo=0.5)),
    OpSpec("nansum", fnp.nansum, np.nansum, _with_nans(arrays()), FLOATS, axis_kwargs()),
    OpSpec("nanmean", fnp.nanmean, np.nanmean, _with_nans(arrays()), FLOATS, axis_kwargs(),
           rtol={"float32": 1e-4}),
    *[OpSpec(n, getattr(fnp, n), getattr(np, n), _with_nans(NONEMPTY), FLOATS, axis_kwargs())
      for n in ["nanmax", "nanmin"]],
    *[OpSpec(f"{n}_int", getattr(fnp, n), getattr(np, n), NONEMPTY, INTS, axis_kwargs())
      for n in ["nanmax", "nanmin"]],
]
