"""Special functions: identities and known values (no scipy), then scipy on wide grids."""
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax

FLOATS = [np.float32, np.float64]


def ev(fn, x, dtype=np.float64):
    return np.asarray(fn(fx.asarray(np.asarray(x, dtype))))


@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_known_values_and_symmetry(dtype):
    x = np.array([0.0, 0.5, 1.0, 2.0, 3.5, 6.0, 30.0])
    expected = [math.erf(v) for v in x]
    np.testing.assert_allclose(ev(lax.erf, x, dtype), expected, rtol=1e-15 if dtype == np.float64
                               else 1e-7)
    np.testing.assert_array_equal(ev(lax.erf, -x, dtype), -ev(lax.erf, x, dtype))
    assert ev(lax.erf, x, dtype).dtype == dtype


@pytest.mark.parametrize("dtype", FLOATS)
def test_erfc_known_values_and_tails(dtype):
    x = np.array([-3.0, -0.3, 0.0, 0.3, 1.0, 4.0, 9.0])
    expected = [math.erfc(v) for v in x]
    np.testing.assert_allclose(ev(lax.erfc, x, dtype), expected, rtol=1e-14 if dtype == np.float64
                               else 1e-6)
    np.testing.assert_allclose(ev(lax.erfc, x) + ev(lax.erf, x), 1.0, rtol=1e-15)
    assert ev(lax.erfc, [27.0, 40.0, np.inf]).tolist()[1:] == [0.0, 0.0]
    assert ev(lax.erfc, [-np.inf]).tolist() == [2.0]


def test_erf_math_module_on_a_grid():
    x = np.linspace(-8, 8, 4001)
    np.testing.assert_allclose(ev(lax.erf, x), [math.erf(v) for v in x], rtol=5e-16, atol=1e-300)
    np.testing.assert_allclose(ev(lax.erfc, x), [math.erfc(v) for v in x], rtol=1e-14)


@pytest.mark.parametrize("dtype", FLOATS)
def test_erf_inv_inverts_erf(dtype):
    y = np.linspace(-0.999, 0.999, 2001).astype(dtype)
    roundtrip = ev(lax.erf, ev(lax.erf_inv, y, dtype), dtype)
    tol = 4e-16 if dtype == np.float64 else 1.2e-7
    np.testing.assert_allclose(roundtrip, y, atol=tol, rtol=0)
    x = np.linspace(-2, 2, 1001)  # beyond, erf rounds towards 1 and loses x
    np.testing.assert_allclose(ev(lax.erf_inv, ev(lax.erf, x)), x, rtol=1e-13)


def test_erf_inv_tails_and_special_points():
    y = 1 - np.array([1e-16, 1e-12, 1e-6])
    x = ev(lax.erf_inv, y)
    np.testing.assert_allclose(ev(lax.erfc, x), 1 - y, rtol=1e-13)  # accurate into the tail
    out = ev(lax.erf_inv, [0.0, 1.0, -1.0, 1.5, -2.0, np.nan])
    assert out[0] == 0 and out[1] == np.inf and out[2] == -np.inf
    assert np.isnan(out[3:]).all()
    assert float(lax.erf_inv(fx.asarray(0.5))) == pytest.approx(0.4769362762044699, rel=1e-7)


@pytest.mark.parametrize("dtype", FLOATS)
def test_lgamma_known_values(dtype):
    x = np.array([0.5, 1.0, 2.0, 3.0, 10.0, 100.0, -0.5, -2.5, 1e-8])
    expected = [math.lgamma(v) for v in x]
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(ev(lax.lgamma, x, dtype), expected, rtol=rtol, atol=rtol)
    assert np.isinf(ev(lax.lgamma, [0.0, -1.0, -7.0, np.inf], dtype)).all()


def test_lgamma_math_module_on_a_grid():
    x = np.concatenate([np.linspace(-30.25, 60.25, 3001), np.logspace(-6, 200, 300)])
    expected = np.array([math.lgamma(v) for v in x])
    np.testing.assert_allclose(ev(lax.lgamma, x), expected, rtol=1e-13, atol=1e-13)


def test_lgamma_recurrence():
    x = np.linspace(0.1, 20, 500)
    np.testing.assert_allclose(ev(lax.lgamma, x + 1) - ev(lax.lgamma, x), np.log(x), atol=1e-13)


def test_digamma_values_and_identities():
    x = np.linspace(0.05, 30, 600)
    np.testing.assert_allclose(ev(lax.digamma, x + 1) - ev(lax.digamma, x), 1 / x, atol=1e-13)
    assert ev(lax.digamma, [1.0])[0] == pytest.approx(-np.euler_gamma, rel=1e-15)
    assert ev(lax.digamma, [0.5])[0] == pytest.approx(-np.euler_gamma - 2 * np.log(2), rel=1e-15)
    neg = np.array([-0.3, -1.7, -2.25])  # reflection: psi(1-x) - psi(x) = pi cot(pi x)
    np.testing.assert_allclose(ev(lax.digamma, 1 - neg) - ev(lax.digamma, neg),
                               np.pi / np.tan(np.pi * neg), rtol=1e-13)
    assert np.isnan(ev(lax.digamma, [0.0, -1.0, -3.0])).all()


def test_integers_promote_and_dtypes_are_kept():
    assert lax.erf(fnp.arange(3)).dtype == np.float32
    assert lax.lgamma(2).dtype == np.float32
    assert lax.erf(fnp.ones(2, dtype=fnp.float16)).dtype == np.float16
    assert lax.digamma(fnp.ones(2, dtype=fnp.float64)).dtype == np.float64


@pytest.mark.parametrize("fn", [lax.erf, lax.erfc, lax.erf_inv, lax.lgamma, lax.digamma])
def test_complex_input_is_our_error(fn):
    with pytest.raises(TypeError, match=fn.__name__ + r"\(complex64"):
        fn(fnp.ones(2, dtype=fnp.complex64))


@pytest.mark.parametrize("name, ref, lo, hi", [
    ("erf", "erf", -30, 30), ("erfc", "erfc", -10, 26), ("erf_inv", "erfinv", -1, 1),
    ("lgamma", "gammaln", -40.3, 170), ("digamma", "digamma", -40.3, 170)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_against_scipy_on_wide_grids(name, ref, lo, hi, dtype):
    sc = pytest.importorskip("scipy.special")
    x = np.linspace(lo, hi, 20011).astype(dtype)
    x = x[(x != np.round(x)) | (x > 0)]  # not at the poles of lgamma / digamma
    got = ev(getattr(lax, name), x, dtype)
    expected = getattr(sc, ref)(x.astype(np.float64))
    if dtype == np.float32:
        np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-7, atol=1e-30)
    else:
        scale = np.maximum(np.abs(expected), 1.0) if name in ("lgamma", "digamma") else \
            np.abs(expected)
        finite = np.isfinite(expected)
        err = np.abs(got[finite] - expected[finite]) / np.maximum(scale[finite], 1e-300)
        assert err.max() < 5e-10 if name == "digamma" else err.max() < 1e-13, err.max()
