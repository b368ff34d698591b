"""Op specs: elementwise math, comparisons, logical and bitwise functions."""
from dataclasses import replace

import numpy as np

import fx.numpy as fnp
from tests.op_specs.spec import FLOATS, INTS, NUMERIC, OpSpec, arrays

UNIT = arrays(lo=-0.95, hi=0.95)
POSITIVE = arrays(lo=0.05, hi=4.0)


def NONZERO_DIVISOR(dtype):
    """Dividend and divisor of either sign, the divisor never zero."""
    return arrays(2, lo=-5, hi=5)(dtype).map(lambda t: (t[0], np.where(t[1] == 0, 1, t[1])))


def _unary(name, domain=arrays(), dtypes=FLOATS, **kw):
    return OpSpec(name, getattr(fnp, name), getattr(np, name), domain, dtypes, **kw)


def _binary(name, domain=arrays(2), dtypes=FLOATS, **kw):
    return OpSpec(name, getattr(fnp, name), getattr(np, name), domain, dtypes, **kw)


SPECS = [
    *[_unary(n) for n in ["exp", "exp2", "expm1", "sin", "cos", "tan", "arctan", "sinh", "cosh",
                          "tanh", "arcsinh", "cbrt", "floor", "ceil", "trunc", "rint", "fix",
                          "sinc", "deg2rad", "rad2deg", "signbit"]],
    *[_unary(n, POSITIVE) for n in ["log", "log2", "log10", "log1p", "sqrt", "reciprocal"]],
    *[_unary(n, UNIT) for n in ["arcsin", "arccos", "arctanh"]],
    _unary("arccosh", arrays(lo=1.05, hi=4.0)),
    *[_unary(n, dtypes=NUMERIC) for n in ["negative", "positive", "abs", "absolute", "sign",
                                           "square", "conj", "real", "imag"]],
    *[_unary(n, dtypes=NUMERIC) for n in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]],
    OpSpec("round", fnp.round, np.round, arrays(), FLOATS + INTS,
           kwargs=({}, {"decimals": 2}, {"decimals": -1})),
    OpSpec("nan_to_num", fnp.nan_to_num,
           np.nan_to_num, arrays(), FLOATS, kwargs=({}, {"nan": 1.0, "posinf": 2.0})),
    OpSpec("angle", fnp.angle, np.angle, arrays(), FLOATS),
    *[_binary(n, dtypes=NUMERIC) for n in ["add", "subtract", "multiply", "maximum", "minimum",
                                           "fmax", "fmin", "equal", "not_equal", "less",
                                           "less_equal", "greater", "greater_equal"]],
    *[_binary(n) for n in ["divide", "true_divide", "arctan2", "hypot", "logaddexp",
                           "logaddexp2", "copysign", "heaviside"]],
    *[_binary(n, NONZERO_DIVISOR, dtypes=NUMERIC)
      for n in ["floor_divide", "mod", "remainder", "fmod", "divmod"]],
    _binary("power", arrays(2, lo=0.1, hi=3)),
    _binary("power", arrays(2, lo=0, hi=4), dtypes=INTS),
    _binary("float_power", arrays(2, lo=0.1, hi=3), dtypes=(np.float64,)),
    *[_binary(n, arrays(2, lo=-3, hi=3), dtypes=NUMERIC + (np.bool_,))
      for n in ["logical_and", "logical_or", "logical_xor"]],
    _unary("logical_not", dtypes=NUMERIC + (np.bool_,)),
    *[_binary(n, arrays(2, lo=-100, hi=100), dtypes=INTS + (np.bool_, np.uint32))
      for n in ["bitwise_and", "bitwise_or", "bitwise_xor"]],
    *[_unary(n, arrays(lo=-100, hi=100), dtypes=INTS + (np.bool_, np.uint32))
      for n in ["bitwise_not", "invert"]],
    *[_binary(n, arrays(2, lo=0, hi=20), dtypes=INTS + (np.uint32,))
      for n in ["left_shift", "right_shift"]],
    OpSpec("clip", lambda a, lo, hi: fnp.clip(a, lo, hi), lambda a, lo, hi: np.clip(a, lo, hi),
           arrays(3), NUMERIC),
    OpSpec("where", lambda c, x, y: fnp.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
           arrays(3), NUMERIC),
]

# Kinks, jumps, integer or bool outputs, or points of non-differentiability that the drawn
# inputs can hit (0 for abs/cbrt/hypot, zero divisors): not checked by finite differences.
NONSMOOTH = {
    "floor", "ceil", "trunc", "rint", "fix", "round", "signbit", "abs", "absolute", "sign",
    "cbrt", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "maximum", "minimum", "fmax",
    "fmin", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "floor_divide", "mod", "remainder", "fmod", "divmod", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "invert", "left_shift", "right_shift", "clip", "where", "heaviside", "copysign", "angle",
    "hypot", "arctan2", "divide", "true_divide",
}
SPECS = [replace(s, smooth=s.name not in NONSMOOTH) for s in SPECS]
