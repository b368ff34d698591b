"""Op specs: special functions (``fx.lax.erf`` ...) against scipy.special, when installed.

scipy is not a dependency of fx: without it this family contributes no rows (the
identities in tests/test_special.py still run).
"""
from fx import lax
from tests.op_specs.spec import OpSpec, arrays

try:
    from scipy import special as _sc
except ImportError:  # pragma: no cover - depends on the environment
    _sc = None

_TOL = {"rtol": {"float64": 1e-12}, "atol": {"float64": 1e-13}}
_ORDERS = tuple({"n": n} for n in (0, 1, 2, 3))


def _sc_polygamma(x, n):
    return _sc.polygamma(n, x).astype(x.dtype)  # scipy computes in float64


SPECS = [] if _sc is None else [
    OpSpec("erf", lax.erf, _sc.erf, arrays(lo=-6.0, hi=6.0), **_TOL),
    OpSpec("erfc", lax.erfc, _sc.erfc, arrays(lo=-6.0, hi=10.0), **_TOL),
    OpSpec("erf_inv", lax.erf_inv, _sc.erfinv, arrays(lo=-0.999, hi=0.999), **_TOL),
    OpSpec("lgamma", lax.lgamma, _sc.gammaln, arrays(lo=0.01, hi=50.0), **_TOL),
    OpSpec("digamma", lax.digamma, _sc.digamma, arrays(lo=0.01, hi=50.0), **_TOL),
    OpSpec("polygamma", lambda x, n: lax.polygamma(n, x), _sc_polygamma,
           arrays(lo=0.01, hi=50.0), kwargs=_ORDERS, **_TOL),
    # the reflection branch, between two poles (the values there are large: looser atol)
    OpSpec("polygamma_negative", lambda x, n: lax.polygamma(n, x), _sc_polygamma,
           arrays(lo=-2.95, hi=-2.05), kwargs=_ORDERS[1:],
           rtol={"float64": 1e-11}, atol={"float64": 1e-11}),
]
