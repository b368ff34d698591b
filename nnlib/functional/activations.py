"""Activation functions with ``torch.nn.functional``'s names, arguments and semantics.

These are the hottest functions of every model, so each is written for the fewest NumPy
calls under ``jit`` and for a lean gradient: the elementwise ones carry a hand-written
derivative (a ``custom_jvp`` whose tangent reuses the forward's intermediates, e.g.
``relu``'s ``t * (x > 0)``), so neither the tie-splitting rule of ``maximum`` nor
guards against overflow show up in the backward pass. At the kinks the derivative is
torch's: ``relu'(0) = 0``, ``leaky_relu'(0) = negative_slope``, ``hardtanh`` has
derivative 0 at its bounds, ``hardswish'(3) = 1.5``. Nothing overflows (no NumPy
warnings) below 1e18 in magnitude (1e12 for ``gelu``'s tanh form, whose cubic is
torch's): ``sigmoid``, ``silu`` and ``mish`` clamp the argument of ``exp`` where the
result no longer changes; ``softplus`` and ``logsigmoid`` use ``log1p(exp(-|x|))``.
``softmax``, ``log_softmax`` and ``glu`` live in ``nnlib.functional.softmax``. The
examples below use this module's names.

Example:
    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.relu(fnp.asarray([-1.0, 0.0, 2.0]))
    Array([0., 0., 2.], dtype=float32)
"""
from __future__ import annotations

import functools
import math

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.core.aval import aval_of
from transforms import custom_jvp

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "swish",
           "mish", "sigmoid", "hardsigmoid", "hard_sigmoid", "hardtanh", "hard_tanh",
           "hardswish", "hard_swish", "tanh", "softplus", "softsign",
           "logsigmoid", "log_sigmoid"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_GELU_K = 0.7978845608028654  # sqrt(2 / pi)


def _rule(name: str, forward, tangent):
    """An elementwise function with a hand-written derivative.

    ``forward(x) -> (y, aux)``; ``tangent(t, x, y, aux)`` is the output tangent (linear in
    ``t``; reverse mode transposes it). The rule recomputes the forward with the same
    operations, so under ``jit`` its intermediates are shared with the tangent.
    """
    def fun(x):
        return forward(x)[0]
    fun.__name__ = fun.__qualname__ = name
    f = custom_jvp(fun)

    @f.defjvp
    def _jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        y, aux = forward(x)
        return y, tangent(t, x, y, aux)
    return f


def _exp_limit(x) -> float:
    """The largest argument ``exp`` takes without overflow in ``x``'s dtype (rounded down)."""
    dtype = aval_of(x).dtype
    return math.floor(math.log(float(np.finfo(dtype).max))) if dtype.kind == "f" else 88.0


def _as(mask, x):
    return mask.astype(aval_of(x).dtype)


# --- the rectifier family ---------------------------------------------------------------
relu = _rule("relu", lambda x: (fnp.maximum(x, 0), None),
             lambda t, x, y, aux: t * (x > 0))
relu.__doc__ = """``max(x, 0)``, with derivative 0 at 0 (as torch and ``jax.nn``).

    >>> relu(fnp.asarray([-2.0, 3.0]))
    Array([0., 3.], dtype=float32)
    """


@functools.lru_cache(maxsize=256)
def _hardtanh(lo: float, hi: float):
    def tangent(t, x, y, aux):
        inside = fnp.abs(x) < hi if lo == -hi else (x > lo) & (x < hi)
        return t * inside
    return _rule("hardtanh", lambda x: (fnp.clip(x, lo, hi), None), tangent)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """``x`` clipped to ``[min_val, max_val]``; derivative 0 outside the open interval.

    >>> hardtanh(fnp.asarray([-3.0, 0.5, 3.0]))
    Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be less than max_val ({max_val})")
    return _hardtanh(float(min_val), float(max_val))(x)


hard_tanh = hardtanh


def relu6(x):
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``).

    >>> relu6(fnp.asarray([-1.0, 3.0, 9.0]))
    Array([0., 3., 6.], dtype=float32)
    """
    return _hardtanh(0.0, 6.0)(x)


@functools.lru_cache(maxsize=256)
def _leaky(s: float):
    if 0 < s <= 1:
        forward = lambda x: (fnp.maximum(x, x * s), None)  # noqa: E731
    elif s > 1:
        forward = lambda x: (fnp.minimum(x, x * s), None)  # noqa: E731
    else:
        forward = lambda x: (fnp.where(x > 0, x, x * s), None)  # noqa: E731
    return _rule("leaky_relu", forward,
                 lambda t, x, y, aux: t * (_as(x > 0, x) * (1.0 - s) + s))


def leaky_relu(x, negative_slope: float = 0.01):
    """``x`` for ``x > 0``, else ``negative_slope * x`` (derivative ``negative_slope`` at 0).

    >>> leaky_relu(fnp.asarray([-2.0, 3.0]), 0.1)
    Array([-0.2,  3. ], dtype=float32)
    """
    negative_slope = float(negative_slope)
    return relu(x) if negative_slope == 0 else _leaky(negative_slope)(x)


@functools.lru_cache(maxsize=256)
def _elu_like(name: str, alpha: float, scale: float, inv: float):
    """``scale * (max(x, 0) + alpha * expm1(inv * min(x, 0)))``: elu, selu, celu."""
    slope = scale * alpha * inv  # the derivative's limit at 0 from the left

    def forward(x):
        q = fnp.expm1(fnp.minimum(x, 0) if inv == 1 else fnp.minimum(x, 0) * inv)
        pos = fnp.maximum(x, 0)
        return (pos + q * alpha if scale == 1 else pos * scale + q * (scale * alpha)), q

    def tangent(t, x, y, q):
        if slope == scale:  # the derivative is scale * exp(inv * min(x, 0))
            return t * (q + 1.0) if scale == 1 else t * ((q + 1.0) * scale)
        return t * (q * slope + (_as(x > 0, x) * (scale - slope) + slope))
    return _rule(name, forward, tangent)


def elu(x, alpha: float = 1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    >>> elu(fnp.asarray([-1.0, 2.0]))
    Array([-0.63212055,  2.        ], dtype=float32)
    """
    return _elu_like("elu", float(alpha), 1.0, 1.0)(x)


def selu(x):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al.

    >>> selu(fnp.asarray([-1.0, 2.0]))
    Array([-1.1113307,  2.101402 ], dtype=float32)
    """
    return _elu_like("selu", _SELU_ALPHA, _SELU_SCALE, 1.0)(x)


def celu(x, alpha: float = 1.0):
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> celu(fnp.asarray([-1.0, 2.0]), alpha=2.0)
    Array([-0.78693867,  2.        ], dtype=float32)
    """
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _elu_like("celu", float(alpha), 1.0, 1.0 / float(alpha))(x)


# --- smooth gates --------------------------------------------------------------------------
def _gelu_exact(x):
    c = lax.erfc(x * -_SQRT_HALF)
    return (x * 0.5) * c, c


def _gelu_exact_tangent(t, x, y, c):
    return t * (c * 0.5 + x * fnp.exp((x * x) * -0.5) * _INV_SQRT_2PI)


def _gelu_tanh(x):
    sq = x * x
    th = fnp.tanh(x * (sq * (_GELU_K * 0.044715) + _GELU_K))
    h = x * 0.5
    return h + h * th, (sq, th, h)


def _gelu_tanh_tangent(t, x, y, aux):
    sq, th, h = aux
    slope = (1.0 - th * th) * (sq * (3 * _GELU_K * 0.044715) + _GELU_K)
    return t * ((th + 1.0) * 0.5 + h * slope)


_GELU = {"none": _rule("gelu", _gelu_exact, _gelu_exact_tangent),
         "tanh": _rule("gelu", _gelu_tanh, _gelu_tanh_tangent)}


def gelu(x, approximate: str = "none"):
    """``x * Phi(x)`` (``approximate="none"``) or torch's tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (``approximate="tanh"``).

    >>> gelu(fnp.asarray([-1.0, 1.0]))
    Array([-0.15865526,  0.8413447 ], dtype=float32)
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU[approximate](x)


def _sigmoid(x):
    e = fnp.exp(fnp.minimum(-x, _exp_limit(x)))
    return 1.0 / (e + 1.0), e


# y (1 - y) as y (e y): 1 - y would lose all digits where y rounds to 1
sigmoid = _rule("sigmoid", _sigmoid, lambda t, x, y, e: t * (y * (e * y)))
sigmoid.__doc__ = """``1 / (1 + exp(-x))``, overflow-free (``exp``'s argument is clamped).

    >>> sigmoid(fnp.asarray([0.0, 2.0]))
    Array([0.5     , 0.880797], dtype=float32)
    """


def _silu(x):
    den = fnp.exp(fnp.minimum(-x, _exp_limit(x))) + 1.0
    return x / den, den


silu = swish = _rule("silu", _silu, lambda t, x, y, den: t * ((x + 1.0 - y) / den))
silu.__doc__ = """``x * sigmoid(x)`` (also called swish).

    >>> silu(fnp.asarray([-1.0, 1.0]))
    Array([-0.2689414,  0.7310586], dtype=float32)
    """


def _mish(x):
    # tanh(softplus(x)) = n / (n + 2) with n = e (e + 2), e = exp(x); beyond the cap
    # the ratio is 1 to the last bit, so clamping the exponent changes nothing.
    e = fnp.exp(fnp.minimum(x, 20.0 if aval_of(x).dtype.itemsize >= 4 else 5.0))
    n = e * (e + 2.0)
    r = n / (n + 2.0)
    return x * r, (e, r)


def _mish_tangent(t, x, y, aux):
    e, r = aux  # mish' = tanh(sp) + x sech(sp)^2 sigmoid(x)
    return t * (r + (1.0 - r * r) * x * (e / (e + 1.0)))


mish = _rule("mish", _mish, _mish_tangent)
mish.__doc__ = """``x * tanh(softplus(x))``.

    >>> mish(fnp.asarray([-1.0, 1.0]))
    Array([-0.30340144,  0.8650984 ], dtype=float32)
    """


def _hardsigmoid_tangent(t, x, y, aux):
    return t * (_as(fnp.abs(x) < 3.0, x) * (1.0 / 6.0))


hardsigmoid = hard_sigmoid = _rule(
    "hardsigmoid", lambda x: (fnp.clip(x + 3.0, 0.0, 6.0) / 6.0, None), _hardsigmoid_tangent)
hardsigmoid.__doc__ = """``relu6(x + 3) / 6``; derivative ``1/6`` on ``(-3, 3)``, else 0.

    >>> hardsigmoid(fnp.asarray([-4.0, 0.0, 1.5]))
    Array([0.  , 0.5 , 0.75], dtype=float32)
    """


def _hardswish(x):
    h6 = fnp.clip(x + 3.0, 0.0, 6.0)
    return x * (h6 * (1.0 / 6.0)), h6


def _hardswish_tangent(t, x, y, h6):
    # torch's: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above
    return t * ((h6 + x * _as(fnp.abs(x) <= 3.0, x)) * (1.0 / 6.0))


hardswish = hard_swish = _rule("hardswish", _hardswish, _hardswish_tangent)
hardswish.__doc__ = """``x * relu6(x + 3) / 6``.

    >>> hardswish(fnp.asarray([-4.0, 1.0, 4.0]))
    Array([-0.       ,  0.6666667,  4.       ], dtype=float32)
    """


def tanh(x):
    """Hyperbolic tangent (its derivative ``1 - y^2`` reuses the output).

    >>> tanh(fnp.asarray([0.0, 1.0]))
    Array([0.       , 0.7615942], dtype=float32)
    """
    return fnp.tanh(x)


def _softplus_core(z):
    return fnp.maximum(z, 0) + fnp.log1p(fnp.exp(-fnp.abs(z)))


@functools.lru_cache(maxsize=256)
def _softplus(beta: float, threshold: float, dtype):
    # torch returns x itself where beta * x > threshold; when the stable formula already
    # rounds to x there (beta == 1 and exp(-threshold) far below half an ulp), the
    # select is dropped.
    eps = float(np.finfo(dtype).eps) if dtype.kind == "f" else 0.0
    exact = beta == 1 and threshold > 0 and math.exp(-threshold) < eps * threshold / 4

    def forward(x):
        z = x if beta == 1 else x * beta
        sp = _softplus_core(z) if beta == 1 else _softplus_core(z) / beta
        return (sp if exact else fnp.where(z > threshold, x, sp)), z

    def tangent(t, x, y, z):  # sigmoid(beta x) = exp(beta x - beta y); 1 past threshold
        return t * fnp.exp(z - (y if beta == 1 else y * beta))
    return _rule("softplus", forward, tangent)


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``.

    >>> softplus(fnp.asarray([-1.0, 0.0, 30.0]))
    Array([ 0.3132617,  0.6931472, 30.       ], dtype=float32)
    """
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return _softplus(float(beta), float(threshold), aval_of(x).dtype)(x)


def _softsign(x):
    den = fnp.abs(x) + 1.0
    return x / den, den


softsign = _rule("softsign", _softsign, lambda t, x, y, den: t / (den * den))
softsign.__doc__ = """``x / (1 + |x|)``.

    >>> softsign(fnp.asarray([-1.0, 3.0]))
    Array([-0.5 ,  0.75], dtype=float32)
    """


def _logsigmoid(x):
    return fnp.minimum(x, 0) - fnp.log1p(fnp.exp(-fnp.abs(x))), None


logsigmoid = log_sigmoid = _rule("logsigmoid", _logsigmoid,
                                 lambda t, x, y, aux: t * fnp.exp(y - x))
logsigmoid.__doc__ = """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, stable for any x
    (its derivative ``sigmoid(-x)`` is ``exp(y - x)``).

    >>> logsigmoid(fnp.asarray([-100.0, 0.0]))
    Array([-100.       ,   -0.6931472], dtype=float32)
    """
