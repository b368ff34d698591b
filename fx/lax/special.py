"""Special functions (JAX's ``lax.erf`` family): ``from fx import lax; lax.erf(x)``.

Integer inputs are converted to the default float dtype; float32 and float64 are
honoured. The primitives and their accuracy notes live in ``fx.prims.special``.

Example:
    >>> import fx
    >>> from fx import lax
    >>> lax.erf_inv(fx.asarray([0.0, 0.5]))
    Array([0.        , 0.47693628], dtype=float32)
    >>> lax.lgamma(fx.asarray([0.5, 3.0]))
    Array([0.5723649, 0.6931472], dtype=float32)
"""
from __future__ import annotations

import operator

from fx.core.elementwise import promote, unary
from fx.core.primitive import bind
from fx.prims import special as sp

__all__ = ["erf", "erfc", "erf_inv", "lgamma", "digamma", "polygamma"]

erf = unary(sp.erf_p, inexact=True, doc="Error function ``2/sqrt(pi) * int_0^x exp(-t^2) dt``.")
erfc = unary(sp.erfc_p, inexact=True,
             doc="Complementary error function ``1 - erf(x)``, accurate where erf is near 1.")
erf_inv = unary(sp.erf_inv_p, inexact=True,
                doc="Inverse of ``erf`` on ``[-1, 1]`` (±inf at ±1, NaN outside).")
lgamma = unary(sp.lgamma_p, inexact=True,
               doc="``log|Gamma(x)|`` (+inf at the poles 0, -1, -2, ...).")
digamma = unary(sp.digamma_p, inexact=True,
                doc="``d/dx log Gamma(x)`` (NaN at the poles 0, -1, -2, ..., as in JAX).")


def polygamma(n, x):
    """``n``-th derivative of ``digamma`` (``polygamma(0, x)`` is ``digamma(x)``).

    Unlike JAX, the order ``n`` is a static non-negative int, not an array. At the poles
    0, -1, -2, ... the value is the limit from the right, ``(-1)^(n+1) inf`` (as scipy).

    >>> polygamma(1, fx.asarray([1.0, 0.5]))  # pi^2 / 6, pi^2 / 2
    Array([1.644934, 4.934802], dtype=float32)
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"polygamma: the order n must be a static int, got "
                        f"{type(n).__name__}") from None
    if n < 0:
        raise ValueError(f"polygamma: the order n must be non-negative, got {n}")
    (x,) = promote((x,), inexact=True)
    return bind(sp.digamma_p, x) if n == 0 else bind(sp.polygamma_p, x, n=n)
