"""Registry-driven: every op in the table matches NumPy in values, shape and dtype."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from tests.op_specs import ALL_SPECS

# FX_TEST_EXAMPLES=200 python -m pytest tests/test_op_values.py   searches harder (slow)
EXAMPLES = int(os.environ.get("FX_TEST_EXAMPLES", "12"))
CASES = [pytest.param(spec, np.dtype(dt), id=f"{spec.name}-{np.dtype(dt).name}")
         for spec in ALL_SPECS for dt in spec.dtypes]


def assert_matches(got, expected, spec, dtype):
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), (got, expected)
        for g, e in zip(got, expected):
            assert_matches(g, e, spec, dtype)
        return
    assert isinstance(got, fx.Array), f"{spec.name} returned {type(got).__name__}"
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{spec.name}: shape {got.shape} != {expected.shape}"
    if spec.check_dtype:
        assert got.dtype == expected.dtype, f"{spec.name}: dtype {got.dtype} != {expected.dtype}"
    rtol, atol = spec.tolerance(dtype)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=spec.name)


@pytest.mark.parametrize("spec, dtype", CASES)
def test_matches_numpy(spec, dtype):
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    @given(st.data())
    def check(data):
        arrs = data.draw(spec.args(dtype), label="args")
        kwargs = data.draw(spec.draw_kwargs(arrs), label="kwargs")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-NaN/empty notes
            expected = spec.np_fn(*arrs, **kwargs)
            got = spec.fx_fn(*[fx.asarray(a) for a in arrs], **kwargs)
        assert_matches(got, expected, spec, dtype)
    check()
