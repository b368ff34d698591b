"""Elementwise mathematical functions with NumPy names and broadcasting.

Arithmetic, exponentials and logs, trigonometry, rounding, comparisons, logical and
bitwise operations. Most are a primitive plus the eager fast path
(``fx.core.elementwise``); the rest are compositions (``square``, ``clip``, ``fmax``,
``nan_to_num``, ...) and carry no rules of their own.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.clip(fnp.asarray([-2.0, 0.5, 3.0]), 0.0, 1.0)
    Array([0. , 0.5, 1. ], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.core.elementwise import as_operand, binary, promote, unary
from fx.core.primitive import bind
from fx.prims import elementwise as ew

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod",
    "remainder", "fmod", "divmod", "power", "float_power", "negative", "positive", "abs",
    "absolute", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
    "cbrt", "square", "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "deg2rad",
    "rad2deg", "degrees", "radians", "maximum", "minimum", "fmax", "fmin", "clip", "where",
    "floor", "ceil", "round", "around", "rint", "trunc", "fix", "logaddexp", "logaddexp2",
    "hypot", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "nan_to_num", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "invert", "left_shift", "right_shift", "conj", "conjugate", "real",
    "imag", "angle", "signbit", "copysign", "heaviside", "sinc",
]

# --- primitives with the eager fast path ---------------------------------------------------
add = binary(ew.add_p)
subtract = binary(ew.sub_p)
multiply = binary(ew.mul_p)
divide = true_divide = binary(ew.div_p, inexact=True)
floor_divide = binary(ew.floor_div_p)
mod = remainder = binary(ew.rem_p)
fmod = binary(ew.fmod_p)
power = binary(ew.pow_p)
maximum = binary(ew.max_p)
minimum = binary(ew.min_p)
arctan2 = binary(ew.atan2_p, inexact=True)
hypot = binary(ew.hypot_p, inexact=True)
logaddexp = binary(ew.logaddexp_p, inexact=True)
bitwise_and = binary(ew.and_p)
bitwise_or = binary(ew.or_p)
bitwise_xor = binary(ew.xor_p)
left_shift = binary(ew.shift_left_p)
right_shift = binary(ew.shift_right_p)
equal = binary(ew.eq_p)
not_equal = binary(ew.ne_p)
less = binary(ew.lt_p)
less_equal = binary(ew.le_p)
greater = binary(ew.gt_p)
greater_equal = binary(ew.ge_p)

negative = unary(ew.neg_p)
sign = unary(ew.sign_p)
abs = absolute = unary(ew.abs_p)
bitwise_not = invert = unary(ew.not_p)
floor = unary(ew.floor_p, inexact=True)
ceil = unary(ew.ceil_p, inexact=True)
trunc = fix = unary(ew.trunc_p, inexact=True)
rint = unary(ew.round_p, inexact=True)
exp = unary(ew.exp_p, inexact=True)
exp2 = unary(ew.exp2_p, inexact=True)
expm1 = unary(ew.expm1_p, inexact=True)
log = unary(ew.log_p, inexact=True)
log2 = unary(ew.log2_p, inexact=True)
log10 = unary(ew.log10_p, inexact=True)
log1p = unary(ew.log1p_p, inexact=True)
sqrt = unary(ew.sqrt_p, inexact=True)
cbrt = unary(ew.cbrt_p, inexact=True)
sin = unary(ew.sin_p, inexact=True)
cos = unary(ew.cos_p, inexact=True)
tan = unary(ew.tan_p, inexact=True)
arcsin = unary(ew.asin_p, inexact=True)
arccos = unary(ew.acos_p, inexact=True)
arctan = unary(ew.atan_p, inexact=True)
sinh = unary(ew.sinh_p, inexact=True)
cosh = unary(ew.cosh_p, inexact=True)
tanh = unary(ew.tanh_p, inexact=True)
arcsinh = unary(ew.asinh_p, inexact=True)
arccosh = unary(ew.acosh_p, inexact=True)
arctanh = unary(ew.atanh_p, inexact=True)


# --- compositions ---------------------------------------------------------------------------
def positive(x, /):
    """``+x``: the array itself."""
    return as_operand(x)


def square(x, /):
    """``x * x``."""
    x = as_operand(x)
    return multiply(x, x)


def reciprocal(x, /):
    """``1 / x`` (integer inputs give floats, as for ``divide``)."""
    return divide(1, x)


def float_power(x1, x2, /):
    """``x1 ** x2`` computed in float64 (complex128 for complex inputs), as NumPy does."""
    x1, x2 = promote((x1, x2), inexact=True)
    wide = np.complex128 if dtypes.result_type(x1, x2).kind == "c" else np.float64
    return power(x1.astype(wide), x2.astype(wide))


def divmod(x1, x2, /):
    """``(floor_divide(x1, x2), mod(x1, x2))``."""
    return floor_divide(x1, x2), mod(x1, x2)


def deg2rad(x, /):
    """Degrees to radians."""
    return multiply(x, np.pi / 180)


def rad2deg(x, /):
    """Radians to degrees."""
    return multiply(x, 180 / np.pi)


radians, degrees = deg2rad, rad2deg


def fmax(x1, x2, /):
    """Elementwise maximum that ignores NaNs (NaN only where both are NaN)."""
    x1, x2 = promote((x1, x2))
    if x1.dtype.kind not in "fc":
        return maximum(x1, x2)
    return where(isnan(x2), x1, where(isnan(x1), x2, maximum(x1, x2)))


def fmin(x1, x2, /):
    """Elementwise minimum that ignores NaNs (NaN only where both are NaN)."""
    x1, x2 = promote((x1, x2))
    if x1.dtype.kind not in "fc":
        return minimum(x1, x2)
    return where(isnan(x2), x1, where(isnan(x1), x2, minimum(x1, x2)))


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """Limit values to ``[a_min, a_max]`` (either bound may be None; NumPy 2 ``min``/``max``)."""
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if lo is None and hi is None:
        raise ValueError("clip: at least one of a_min/min and a_max/max must be given")
    out = as_operand(a)
    if lo is not None:
        out = maximum(out, lo)
    if hi is not None:
        out = minimum(out, hi)
    return out


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` holds, else ``y`` (broadcasting). One argument: ``nonzero``."""
    if x is None and y is None:
        from fx.numpy.index_tricks import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    condition = as_operand(condition)
    if condition.dtype != np.bool_:
        condition = not_equal(condition, 0)
    x, y = promote((x, y))
    return bind(ew.select_p, condition, x, y)


def round(a, decimals=0):
    """Round half to even to ``decimals`` places (NumPy's ``round``); ints round to tens etc."""
    a = as_operand(a)
    if decimals == 0:
        return a if a.dtype.kind in "biu" else rint(a)
    if a.dtype.kind in "biu":
        if decimals > 0:
            return a
        scale = 10 ** (-decimals)
        return multiply(floor_divide(add(a, scale // 2), scale), scale)
    scale = 10.0 ** decimals
    return divide(rint(multiply(a, scale)), scale)


around = round


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)`` without overflow."""
    ln2 = float(np.log(2.0))
    return divide(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), ln2)


def _float_predicate(prim, integer_answer: bool):
    def predicate(x, /):
        x = as_operand(x)
        if x.dtype.kind in "fc":
            return bind(prim, x)
        from fx.numpy.creation import full_like
        return full_like(x, integer_answer, dtype=np.bool_)
    predicate.__name__ = prim.name.replace("_", "")
    predicate.__doc__ = f"Elementwise ``{predicate.__name__}`` (integers give {integer_answer})."
    return predicate


isnan = _float_predicate(ew.is_nan_p, False)
isinf = _float_predicate(ew.is_inf_p, False)
isfinite = _float_predicate(ew.is_finite_p, True)


def isposinf(x, /):
    """True where ``x`` is +inf."""
    return logical_and(isinf(x), greater(x, 0))


def isneginf(x, /):
    """True where ``x`` is -inf."""
    return logical_and(isinf(x), less(x, 0))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by ``nan``, infinities by ``posinf``/``neginf`` (default: dtype limits)."""
    del copy
    x = as_operand(x)
    if x.dtype.kind == "c":
        parts = [nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf) for p in (real(x), imag(x))]
        return add(parts[0], multiply(parts[1], 1j))
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    x = where(isnan(x), nan, x)
    x = where(isposinf(x), info.max if posinf is None else posinf, x)
    return where(isneginf(x), info.min if neginf is None else neginf, x)


def _as_bool(x):
    x = as_operand(x)
    return x if x.dtype == np.bool_ else not_equal(x, 0)


def logical_and(x1, x2, /):
    """Elementwise truth-value AND."""
    return bitwise_and(_as_bool(x1), _as_bool(x2))


def logical_or(x1, x2, /):
    """Elementwise truth-value OR."""
    return bitwise_or(_as_bool(x1), _as_bool(x2))


def logical_xor(x1, x2, /):
    """Elementwise truth-value XOR."""
    return bitwise_xor(_as_bool(x1), _as_bool(x2))


def logical_not(x, /):
    """Elementwise truth-value NOT."""
    return invert(_as_bool(x))


def conj(x, /):
    """Complex conjugate (identity for real arrays)."""
    x = as_operand(x)
    return bind(ew.conj_p, x) if x.dtype.kind == "c" else x


conjugate = conj


def real(val, /):
    """Real part (identity for real arrays)."""
    val = as_operand(val)
    return bind(ew.real_p, val) if val.dtype.kind == "c" else val


def imag(val, /):
    """Imaginary part (zeros for real arrays)."""
    val = as_operand(val)
    if val.dtype.kind == "c":
        return bind(ew.imag_p, val)
    from fx.numpy.creation import zeros_like
    return zeros_like(val)


def angle(z, deg=False):
    """Argument of complex numbers (``arctan2(imag, real)``), in degrees with ``deg``."""
    z = as_operand(z)
    if z.dtype.kind not in "fc":
        z = z.astype(dtypes.to_inexact(z.dtype))
    out = arctan2(imag(z), real(z))
    return rad2deg(out) if deg else out


def signbit(x, /):
    """True where the sign bit is set (negative numbers and -0.0)."""
    x = as_operand(x)
    if x.dtype.kind == "u" or x.dtype == np.bool_:
        from fx.numpy.creation import full_like
        return full_like(x, False, dtype=np.bool_)
    if x.dtype.kind in "i":
        return less(x, 0)
    return logical_or(less(x, 0), less(divide(1, x), 0))


def copysign(x1, x2, /):
    """Magnitude of ``x1`` with the sign of ``x2``."""
    x1, x2 = promote((x1, x2), inexact=True)
    return where(signbit(x2), negative(abs(x1)), abs(x1))


def heaviside(x1, x2, /):
    """Step function: 0 for x1 < 0, ``x2`` at 0, 1 for x1 > 0."""
    x1, x2 = promote((x1, x2), inexact=True)
    return where(less(x1, 0), 0, where(greater(x1, 0), 1, x2))


def sinc(x, /):
    """``sin(pi x) / (pi x)``, with 1 at 0.

    Near 0 it is the Taylor polynomial ``1 - u/6 + u^2/120 - u^3/5040`` in
    ``u = (pi x)^2``, exact to rounding there and with the right derivatives at 0 (a
    guard that returned the constant 1 would give zero derivatives of every order).
    """
    x = promote((x,), inexact=True)[0]
    px = multiply(x, np.pi)
    near = less(absolute(px), 1e-2)
    safe = where(near, 1, px)
    u = multiply(px, px)
    series = 1 - u / 6 + multiply(u, u) / 120 - multiply(multiply(u, u), u) / 5040
    return where(near, series, divide(sin(safe), safe))

