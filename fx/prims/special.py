"""Special-function primitives: ``erf``, ``erfc``, ``erf_inv``, ``lgamma``, ``digamma``,
``polygamma``.

NumPy has none of these, so each impl is a vectorised NumPy composition (it runs on
CuPy unchanged through NumPy's dispatch). Everything is computed in float64 and
rounded to the input dtype, so float32 results are correctly rounded or nearly so:

* ``erf``/``erfc``: W. J. Cody's rational Chebyshev approximations (CALERF, 1969),
  relative error below 1e-16 on three ranges of ``|x|``;
* ``erf_inv``: M. Giles' approximation ("Approximating the erfinv function", 2010)
  refined by Halley steps on ``erf`` near 0 and Newton steps on ``log erfc`` in the
  tails (accurate up to ``|y| = 1 - 2**-53``);
* ``lgamma``: the Lanczos approximation (g = 7, 9 terms) with the reflection formula;
* ``digamma``: recurrence up to ``x >= 6``, then the asymptotic series; reflection below 0.5;
* ``polygamma`` (order ``n >= 1``, a static parameter): the same scheme, recurrence up to
  ``x >= 10 + n``, reflection below 0 through the derivatives of ``cot``.

Example:
    >>> import fx
    >>> from fx.prims.special import erf_p
    >>> erf_p.bind(fx.asarray([0.0, 1.0]))
    Array([0.       , 0.8427008], dtype=float32)
"""
from __future__ import annotations

import functools
import math

import numpy as np

from fx.core.batching import vectorized_batch
from fx.core.primitive import Primitive
from fx.core.rule_kit import elementwise_rule
from fx.errors import op_error
from fx.prims.elementwise import FLOAT, defjvp_unary, elementwise, exp_p

_SQRT_PI_INV = 0.56418958354775628695  # 1 / sqrt(pi)

# Cody's coefficients: |x| <= 0.5 (A, B), 0.5 < |x| <= 4 (C, D), |x| > 4 (P, Q).
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)


def _ratio(t, num, den):
    """Cody's rational function: numerator of degree len(den), leading coefficient last."""
    n, d = num[-1] * t, t
    for a, b in zip(num[:len(den) - 1], den[:-1]):
        n, d = (n + a) * t, (d + b) * t
    return (n + num[len(den) - 1]) / (d + den[-1])


def _exp_neg_square(y):
    """``exp(-y*y)`` without the rounding error of forming ``y*y`` (Cody's split)."""
    head = np.trunc(y * 16.0) / 16.0
    return np.exp(-head * head) * np.exp(-(y - head) * (y + head))


def _erf_parts(x):
    """``(erf(x) for |x| <= 0.5, erfc(|x|) otherwise, mask |x| <= 0.5)`` in float64."""
    y = np.minimum(np.abs(x), 40.0)  # erfc(40) underflows: avoids inf - inf below
    small = y <= 0.5
    ysq = y * y
    erf_small = x * _ratio(ysq, _A, _B)
    mid = _ratio(y, _C, _D)
    inv = 1.0 / np.maximum(ysq, 16.0)
    tail = (_SQRT_PI_INV - inv * _ratio(inv, _P, _Q)) / np.maximum(y, 4.0)
    erfc_big = _exp_neg_square(y) * np.where(y <= 4.0, mid, tail)
    return erf_small, erfc_big, small


def _in_float64(fn):
    """Run ``fn`` on float64 data and round the result back to the input dtype."""
    def impl(x):
        if x.dtype.kind != "f":
            raise TypeError("float input expected")  # the shape rule words the error
        with np.errstate(all="ignore"):
            out = fn(np.asarray(x, dtype=np.float64) if isinstance(x, np.generic)
                     else x.astype(np.float64))
            return out.astype(x.dtype)
    impl.__name__ = fn.__name__
    return impl


@_in_float64
def erf_impl(x):
    erf_small, erfc_big, small = _erf_parts(x)
    return np.where(small, erf_small, np.copysign(1.0 - erfc_big, x))


@_in_float64
def erfc_impl(x):
    erf_small, erfc_big, small = _erf_parts(x)
    big = np.where(x < 0, 2.0 - erfc_big, erfc_big)
    return np.where(small, 1.0 - erf_small, big)


def _erf_inv_initial(y):
    """Giles' single-precision approximation (relative error about 1e-7)."""
    w = -np.log((1.0 - y) * (1.0 + y))
    central = w - 2.5
    p = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p = c + p * central
    tail = np.sqrt(w) - 3.0
    q = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        q = c + q * tail
    return np.where(w < 5.0, p, q) * y


@_in_float64
def erf_inv_impl(y):
    w = np.abs(y)
    x = _erf_inv_initial(w)
    for _ in range(4):
        # Halley on erf(x) - w near 0; Newton on log(erfc(x) / (1 - w)) in the tails,
        # which is nearly quadratic in x and so converges from a poor start too.
        erf_small, erfc_big, small = _erf_parts(x)
        slope = 2.0 * _SQRT_PI_INV * _exp_neg_square(x)
        resid = erf_small - w
        halley = resid / (slope + x * resid)
        newton = -np.log(erfc_big / (1.0 - w)) * erfc_big / slope
        x = x - np.where(small, halley, newton)
    x = np.where(w == 1.0, np.inf, np.where(w > 1.0, np.nan, x))
    return np.copysign(x, y)


_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def _pi_frac(x):
    """``pi * (x - round(x))``: the argument of ``sin(pi x)``, ``tan(pi x)`` reduced exactly."""
    return np.pi * (x - np.round(x))


@_in_float64
def lgamma_impl(x):
    reflect = x < 0.5
    z = np.where(reflect, 1.0 - x, x) - 1.0
    series = _LANCZOS[0] + sum(c / (z + i) for i, c in enumerate(_LANCZOS[1:], 1))
    t = z + _LANCZOS_G + 0.5
    right = 0.5 * np.log(2.0 * np.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
    left = np.log(np.pi / np.abs(np.sin(_pi_frac(x)))) - right
    pole = reflect & (x == np.floor(x))
    return np.where(pole | (x == np.inf), np.inf, np.where(reflect, left, right))


# Bernoulli numbers B_2k / 2k for the asymptotic series of digamma.
_DIGAMMA_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


@_in_float64
def digamma_impl(x):
    reflect = x < 0.5
    z = np.where(reflect, 1.0 - x, x)
    shift = np.zeros_like(z)
    for _ in range(6):  # psi(z) = psi(z + 1) - 1/z until z >= 6
        low = z < 6.0
        shift = shift - np.where(low, 1.0 / z, 0.0)
        z = np.where(low, z + 1.0, z)
    inv2 = 1.0 / (z * z)
    series = 0.0
    for c in reversed(_DIGAMMA_SERIES):
        series = (series + c) * inv2
    right = np.log(z) - 0.5 / z - series + shift
    left = right - np.pi / np.tan(_pi_frac(x))  # psi(1-x) - pi cot(pi x)
    pole = reflect & (x == np.floor(x))
    return np.where(pole, np.nan, np.where(reflect, left, right))


erf_p = elementwise("erf", erf_impl, FLOAT)
erfc_p = elementwise("erfc", erfc_impl, FLOAT)
erf_inv_p = elementwise("erf_inv", erf_inv_impl, FLOAT)
lgamma_p = elementwise("lgamma", lgamma_impl, FLOAT)
digamma_p = elementwise("digamma", digamma_impl, FLOAT)


# --- polygamma: psi^(n)(x) = (-1)^(n+1) n! sum_k (x + k)^-(n+1), the n-th derivative of digamma
# Bernoulli numbers B_2k for the asymptotic series.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330)


@functools.cache
def _cot_derivative(n: int) -> np.poly1d:
    """``P_n`` with ``d^n/du^n cot(u) = P_n(cot u)``: ``P_0(c) = c``,
    ``P_(k+1)(c) = -(1 + c^2) P_k'(c)`` (integer coefficients)."""
    p = np.poly1d([1.0, 0.0])
    for _ in range(n):
        p = -np.poly1d([1.0, 0.0, 1.0]) * p.deriv()
    return p


def _polygamma64(x, n: int):
    """``psi^(n)(x)``, ``n >= 1``: recurrence up to ``z >= 10 + n`` (where the asymptotic
    series has converged to float64), the series, and reflection below 0:
    ``psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x))``."""
    sign = 1.0 if n % 2 else -1.0  # (-1)^(n+1)
    reflect = x < 0.0
    z = np.where(reflect, 1.0 - x, x)
    shift = np.zeros_like(z)
    for _ in range(10 + n):  # psi^(n)(z) = psi^(n)(z + 1) + (-1)^(n+1) n! / z^(n+1)
        low = z < 10.0 + n
        shift = shift + np.where(low, z ** -(n + 1.0), 0.0)
        z = np.where(low, z + 1.0, z)
    # psi^(n)(z) ~ (-1)^(n+1) [(n-1)!/z^n + n!/(2 z^(n+1)) + sum_k B_2k (2k+n-1)!/(2k)!/z^(2k+n)]
    inv2 = 1.0 / (z * z)
    series = 0.0
    for k, b in reversed(list(enumerate(_BERNOULLI, 1))):
        series = (series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k)) * inv2
    tail = z ** -float(n) * (math.factorial(n - 1) + 0.5 * math.factorial(n) / z + series)
    right = sign * (math.factorial(n) * shift + tail)
    cot = 1.0 / np.tan(_pi_frac(x))
    left = -sign * right - np.pi ** (n + 1) * _cot_derivative(n)(cot)
    pole = (x <= 0.0) & (x == np.floor(x))  # the limit from the right, as scipy
    return np.where(pole, sign * np.inf, np.where(reflect, left, right))


def polygamma_impl(x, *, n):
    def polygamma(v):
        return _polygamma64(v, n)
    return _in_float64(polygamma)(x)


_polygamma_shape = elementwise_rule("polygamma", FLOAT)


def _polygamma_abstract(x, *, n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise op_error(ValueError, "polygamma", f"order n must be an int >= 1 (order 0 is "
                       f"digamma), got {n!r}", x)
    return _polygamma_shape(x)


polygamma_p = Primitive("polygamma", impl=polygamma_impl, abstract_eval=_polygamma_abstract)
polygamma_p.batch = vectorized_batch(polygamma_p)


# --- forward-mode rules ------------------------------------------------------------------------
_TWO_OVER_SQRT_PI, _SQRT_PI_OVER_TWO = 2 / float(np.sqrt(np.pi)), float(np.sqrt(np.pi)) / 2
defjvp_unary(erf_p, lambda x, y: _TWO_OVER_SQRT_PI * exp_p.bind(-x * x))
defjvp_unary(erfc_p, lambda x, y: -_TWO_OVER_SQRT_PI * exp_p.bind(-x * x))
defjvp_unary(erf_inv_p, lambda x, y: _SQRT_PI_OVER_TWO * exp_p.bind(y * y))
defjvp_unary(lgamma_p, lambda x, y: digamma_p.bind(x))
defjvp_unary(digamma_p, lambda x, y: polygamma_p.bind(x, n=1))


def _polygamma_jvp(primals, tangents, *, n):
    """d psi^(n)(x) = psi^(n+1)(x) dx."""
    (x,), (t,) = primals, tangents
    return polygamma_p.bind(x, n=n), t * polygamma_p.bind(x, n=n + 1)


polygamma_p.jvp = _polygamma_jvp
