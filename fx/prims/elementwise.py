"""Elementwise primitives: unary math, broadcasting binary ops, comparisons, select, casts.

Each primitive is one block: name, backend implementation and shape rule here;
differentiation, batching and jit rules join the same block as the transforms land.
Operands of a binary primitive share one dtype (``fx.core.elementwise.promote`` sees to
it); broadcasting follows NumPy.

Example:
    >>> import fx
    >>> from fx.prims.elementwise import sin_p
    >>> sin_p.bind(fx.asarray([0.0]))
    Array([0.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import (
    Zero,
    add_tangents,
    instantiate,
    is_linear,
    linear_jvp,
    loaded,
    transpose_vjp,
    unbroadcast,
    zero_jvp,
)
from fx.core.aval import ShapedArray
from fx.core.batching import broadcasting_batch, vectorized_batch
from fx.core.primitive import Primitive
from fx.core.rule_kit import check_kinds, elementwise_rule, emitter, to_bool, to_real
from fx.errors import op_error

# Accepted kinds mirror what NumPy accepts, so eager and traced code agree (complex
# max/min/comparisons are lexicographic, as in NumPy).
NUMERIC, INEXACT, FLOAT, INTEGER = "biufc", "fc", "f", "biu"


def elementwise(name: str, impl, kinds: str = NUMERIC, out_dtype=None) -> Primitive:
    """Declare an elementwise primitive (any arity) with the shared shape and batching
    rules."""
    prim = Primitive(name, impl=impl, abstract_eval=elementwise_rule(name, kinds, out_dtype))
    prim.batch = broadcasting_batch(prim)
    return prim


# --- unary, float in -> float out -------------------------------------------------------
exp_p = elementwise("exp", np.exp, INEXACT)
exp2_p = elementwise("exp2", np.exp2, INEXACT)
expm1_p = elementwise("expm1", np.expm1, INEXACT)
log_p = elementwise("log", np.log, INEXACT)
log2_p = elementwise("log2", np.log2, INEXACT)
log10_p = elementwise("log10", np.log10, INEXACT)
log1p_p = elementwise("log1p", np.log1p, INEXACT)
sqrt_p = elementwise("sqrt", np.sqrt, INEXACT)
cbrt_p = elementwise("cbrt", np.cbrt, FLOAT)
sin_p = elementwise("sin", np.sin, INEXACT)
cos_p = elementwise("cos", np.cos, INEXACT)
tan_p = elementwise("tan", np.tan, INEXACT)
asin_p = elementwise("asin", np.arcsin, INEXACT)
acos_p = elementwise("acos", np.arccos, INEXACT)
atan_p = elementwise("atan", np.arctan, INEXACT)
sinh_p = elementwise("sinh", np.sinh, INEXACT)
cosh_p = elementwise("cosh", np.cosh, INEXACT)
tanh_p = elementwise("tanh", np.tanh, INEXACT)
asinh_p = elementwise("asinh", np.arcsinh, INEXACT)
acosh_p = elementwise("acosh", np.arccosh, INEXACT)
atanh_p = elementwise("atanh", np.arctanh, INEXACT)

# --- unary, dtype preserving -----------------------------------------------------------
neg_p = elementwise("neg", np.negative, "iufc")
sign_p = elementwise("sign", np.sign, "iufc")
abs_p = elementwise("abs", np.abs, "iufc", out_dtype=to_real)
floor_p = elementwise("floor", np.floor, FLOAT)
ceil_p = elementwise("ceil", np.ceil, FLOAT)
trunc_p = elementwise("trunc", np.trunc, FLOAT)
round_p = elementwise("round", np.rint, FLOAT)  # half to even, like NumPy
conj_p = elementwise("conj", np.conj, NUMERIC)
real_p = elementwise("real", np.real, INEXACT, out_dtype=to_real)
imag_p = elementwise("imag", np.imag, INEXACT, out_dtype=to_real)
not_p = elementwise("not", np.invert, INTEGER)  # bitwise not; logical not on bool
is_nan_p = elementwise("is_nan", np.isnan, INEXACT, out_dtype=to_bool)
is_inf_p = elementwise("is_inf", np.isinf, INEXACT, out_dtype=to_bool)
is_finite_p = elementwise("is_finite", np.isfinite, INEXACT, out_dtype=to_bool)

# --- binary ----------------------------------------------------------------------------
add_p = elementwise("add", np.add)
sub_p = elementwise("sub", np.subtract, "iufc")
mul_p = elementwise("mul", np.multiply)
div_p = elementwise("div", np.true_divide, INEXACT)
floor_div_p = elementwise("floor_div", np.floor_divide, "iuf")
rem_p = elementwise("rem", np.remainder, "iuf")  # sign of the divisor, like NumPy
fmod_p = elementwise("fmod", np.fmod, "iuf")  # sign of the dividend, like C
pow_p = elementwise("pow", np.power, "iufc")
max_p = elementwise("max", np.maximum, NUMERIC)
min_p = elementwise("min", np.minimum, NUMERIC)
atan2_p = elementwise("atan2", np.arctan2, FLOAT)
hypot_p = elementwise("hypot", np.hypot, FLOAT)
logaddexp_p = elementwise("logaddexp", np.logaddexp, FLOAT)
and_p = elementwise("and", np.bitwise_and, INTEGER)
or_p = elementwise("or", np.bitwise_or, INTEGER)
xor_p = elementwise("xor", np.bitwise_xor, INTEGER)
shift_left_p = elementwise("shift_left", np.left_shift, "iu")
shift_right_p = elementwise("shift_right", np.right_shift, "iu")  # logical for unsigned

# --- comparisons -----------------------------------------------------------------------
eq_p = elementwise("eq", np.equal, NUMERIC, out_dtype=to_bool)
ne_p = elementwise("ne", np.not_equal, NUMERIC, out_dtype=to_bool)
lt_p = elementwise("lt", np.less, NUMERIC, out_dtype=to_bool)
le_p = elementwise("le", np.less_equal, NUMERIC, out_dtype=to_bool)
gt_p = elementwise("gt", np.greater, NUMERIC, out_dtype=to_bool)
ge_p = elementwise("ge", np.greater_equal, NUMERIC, out_dtype=to_bool)


# --- select: where(pred, on_true, on_false) -----------------------------------------------
def _select_abstract(pred, on_true, on_false):
    if pred.dtype != np.bool_:
        raise op_error(TypeError, "select", f"the condition must be bool, got {pred.dtype}",
                       pred, on_true, on_false)
    out = elementwise_rule("select")(on_true, on_false)
    shape = elementwise_rule("select")(pred.update(dtype=on_true.dtype), out).shape
    return out.update(shape=shape)


select_p = Primitive("select", impl=np.where, abstract_eval=_select_abstract)
select_p.batch = broadcasting_batch(select_p)


# --- stop_gradient: the identity, with a zero derivative ----------------------------------
stop_gradient_p = elementwise("stop_gradient", lambda x: x, NUMERIC)


# --- casts ---------------------------------------------------------------------------------
def _convert_abstract(x, *, new_dtype):
    check_kinds("convert_element_type", NUMERIC, x)
    return ShapedArray(x.shape, new_dtype)


convert_element_type_p = Primitive(
    "convert_element_type", impl=lambda x, *, new_dtype: x.astype(new_dtype),
    abstract_eval=_convert_abstract)
convert_element_type_p.batch = vectorized_batch(convert_element_type_p)


# --- forward-mode rules: d(out) = sum_i d(out)/d(x_i) * t_i ------------------------------------
def defjvp_unary(prim, derivative):
    """Rules from the derivative ``derivative(x, y)`` where ``y = prim(x)``: jvp
    ``t * derivative`` and vjp ``ct * derivative``."""
    def jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        y = prim.bind(x)
        return y, t * derivative(x, y)

    def vjp(ct, y, primals, marks):
        return [ct * derivative(primals[0], y)]
    prim.jvp, prim.vjp = jvp, vjp


def defjvp_binary(prim, d_x, d_y):
    """Rules from the partials ``d_x(x, y, out)``, ``d_y(x, y, out)``: jvp
    ``t_x * d_x + t_y * d_y`` skipping zero tangents, vjp ``ct * d`` summed down to each
    operand's shape (broadcasting)."""
    def jvp(primals, tangents):
        (x, y), (t_x, t_y) = primals, tangents
        out = prim.bind(x, y)
        return out, add_tangents(*[t if type(t) is Zero else t * d(x, y, out)
                                   for t, d in ((t_x, d_x), (t_y, d_y))])

    def vjp(ct, out, primals, marks):
        x, y = primals
        return [None if m is None else unbroadcast(ct * d(x, y, out), m.aval)
                for m, d in zip(marks, (d_x, d_y))]
    prim.jvp, prim.vjp = jvp, vjp


def _where(condition, x, y):
    return loaded("fx.numpy").where(condition, x, y)  # promotes the weak scalars of rules


def _ones_like(x):
    return loaded("fx.numpy").ones_like(x)


def _share(wins, ties, like):
    """1 where ``wins``, 0.5 on ``ties``, else 0, in ``like``'s dtype."""
    cast = lambda mask: convert_element_type_p.bind(mask, new_dtype=like.dtype)  # noqa: E731
    return cast(wins) + 0.5 * cast(ties)


_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))
defjvp_unary(exp_p, lambda x, y: y)
defjvp_unary(exp2_p, lambda x, y: y * _LN2)
defjvp_unary(expm1_p, lambda x, y: y + 1)
defjvp_unary(log_p, lambda x, y: 1 / x)
defjvp_unary(log2_p, lambda x, y: 1 / (x * _LN2))
defjvp_unary(log10_p, lambda x, y: 1 / (x * _LN10))
defjvp_unary(log1p_p, lambda x, y: 1 / (x + 1))
defjvp_unary(sqrt_p, lambda x, y: 0.5 / y)
defjvp_unary(cbrt_p, lambda x, y: 1 / (3 * y * y))
defjvp_unary(sin_p, lambda x, y: cos_p.bind(x))
defjvp_unary(cos_p, lambda x, y: -sin_p.bind(x))
defjvp_unary(tan_p, lambda x, y: 1 + y * y)
defjvp_unary(asin_p, lambda x, y: 1 / sqrt_p.bind(1 - x * x))
defjvp_unary(acos_p, lambda x, y: -1 / sqrt_p.bind(1 - x * x))
defjvp_unary(atan_p, lambda x, y: 1 / (1 + x * x))
defjvp_unary(sinh_p, lambda x, y: cosh_p.bind(x))
defjvp_unary(cosh_p, lambda x, y: sinh_p.bind(x))
defjvp_unary(tanh_p, lambda x, y: 1 - y * y)
defjvp_unary(asinh_p, lambda x, y: 1 / sqrt_p.bind(x * x + 1))
defjvp_unary(acosh_p, lambda x, y: 1 / sqrt_p.bind(x * x - 1))
defjvp_unary(atanh_p, lambda x, y: 1 / (1 - x * x))


def _abs_jvp(primals, tangents):
    """Real x: t * sign(x), 0 at the kink as in JAX. Complex z: Re(conj(z) t) / |z|."""
    (x,), (t,) = primals, tangents
    y = abs_p.bind(x)
    if x.dtype.kind != "c":
        return y, t * sign_p.bind(x)
    return y, real_p.bind(t * _where(y == 0, 0, conj_p.bind(x) / _where(y == 0, 1, y)))


abs_p.jvp = _abs_jvp
for _p in (neg_p, conj_p, real_p, imag_p, add_p, sub_p):
    _p.jvp = linear_jvp(_p)

defjvp_binary(mul_p, lambda x, y, out: y, lambda x, y, out: x)
defjvp_binary(div_p, lambda x, y, out: 1 / y, lambda x, y, out: -out / y)


def _pow_d_base(x, y, out):
    """y x^(y-1), and 0 where y == 0 (x^0 is constant, even at x = 0), as in JAX."""
    if isinstance(y, (np.generic, int, float)) and y != 0:
        return y * pow_p.bind(x, y - 1)  # a constant exponent such as x ** 2: nothing to mask
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * 0^-1, masked below
        d = y * pow_p.bind(x, y - 1)
    return _where(y == 0, 0, d)


def _pow_d_exponent(x, y, out):
    """log(x) x^y, with 0 at x == 0 as in JAX (NaN for a negative real base, whose power is
    only defined at integer exponents)."""
    return log_p.bind(_where(x == 0, 1, x)) * out


defjvp_binary(pow_p, _pow_d_base, _pow_d_exponent)
defjvp_binary(atan2_p, lambda x, y, out: y / (x * x + y * y),
              lambda x, y, out: -x / (x * x + y * y))
defjvp_binary(hypot_p, lambda x, y, out: x / out, lambda x, y, out: y / out)
defjvp_binary(logaddexp_p, lambda x, y, out: exp_p.bind(x - out),
              lambda x, y, out: exp_p.bind(y - out))
defjvp_binary(rem_p, lambda x, y, out: _ones_like(out), lambda x, y, out: -floor_p.bind(x / y))
defjvp_binary(fmod_p, lambda x, y, out: _ones_like(out), lambda x, y, out: -trunc_p.bind(x / y))
# ties split the tangent evenly, so max(x, x) has derivative 1, as in JAX
defjvp_binary(max_p, lambda x, y, out: _share(x > y, x == y, x),
              lambda x, y, out: _share(y > x, x == y, x))
defjvp_binary(min_p, lambda x, y, out: _share(x < y, x == y, x),
              lambda x, y, out: _share(y < x, x == y, x))

select_p.jvp = lambda primals, tangents: (
    select_p.bind(*primals), select_p.bind(primals[0], *map(instantiate, tangents[1:])))
for _p in (stop_gradient_p, sign_p, floor_p, ceil_p, trunc_p, round_p, not_p, is_nan_p, is_inf_p,
           is_finite_p, floor_div_p, and_p, or_p, xor_p, shift_left_p, shift_right_p, eq_p, ne_p,
           lt_p, le_p, gt_p, ge_p):
    _p.jvp = zero_jvp(_p)


def _convert_jvp(primals, tangents, *, new_dtype):
    out = convert_element_type_p.bind(primals[0], new_dtype=new_dtype)
    if np.dtype(new_dtype).kind not in "fc":
        return out, Zero(out.aval)
    return out, convert_element_type_p.bind(instantiate(tangents[0]), new_dtype=new_dtype)


convert_element_type_p.jvp = _convert_jvp


# --- reverse-mode rules: transposes of the linear primitives ------------------------------------
def _unbroadcast_each(ct, *inputs, scale=None):
    """``ct`` (times ``scale(i)``) summed down to each linear operand's shape."""
    return [unbroadcast(ct if scale is None else scale(i, ct), x.aval) if is_linear(x) else None
            for i, x in enumerate(inputs)]


add_p.transpose = lambda ct, x, y: _unbroadcast_each(ct, x, y)
sub_p.transpose = lambda ct, x, y: _unbroadcast_each(ct, x, y,
                                                     scale=lambda i, c: -c if i else c)
neg_p.transpose = lambda ct, x: [-ct]
mul_p.transpose = lambda ct, x, y: _unbroadcast_each(ct, x, y,
                                                     scale=lambda i, c: c * (x, y)[1 - i])
div_p.transpose = lambda ct, x, y: [unbroadcast(ct / y, x.aval), None]
conj_p.transpose = lambda ct, x: [conj_p.bind(ct) if x.aval.dtype.kind == "c" else ct]
# real and imag are linear over the reals: their transposes embed into the complex plane
real_p.transpose = lambda ct, x: [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype)]
imag_p.transpose = lambda ct, x: [
    -1j * convert_element_type_p.bind(ct, new_dtype=x.aval.dtype)
    if x.aval.dtype.kind == "c" else _zeros_like(ct)]  # a real operand has no imaginary part


def _select_transpose(ct, pred, on_true, on_false):
    zeros = _zeros_like(ct)
    return [None] + [unbroadcast(select_p.bind(pred, *((ct, zeros) if i == 0 else (zeros, ct))),
                                 x.aval) if is_linear(x) else None
                     for i, x in enumerate((on_true, on_false))]


def _zeros_like(x):
    return loaded("fx.numpy").zeros_like(x)


def _convert_transpose(ct, x, *, new_dtype):
    if ct.dtype.kind == "c" and x.aval.dtype.kind != "c":
        ct = real_p.bind(ct)  # the real input moved only the real part
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype)]


select_p.transpose, convert_element_type_p.transpose = _select_transpose, _convert_transpose
for _p in (add_p, sub_p, neg_p, conj_p, real_p, imag_p, select_p, convert_element_type_p):
    _p.vjp = transpose_vjp(_p)


# --- jit emitters (the ufuncs need none: codegen writes them as np.<ufunc>) ----------------------
convert_element_type_p.emit = emitter(fresh=True)(
    lambda ctx, eqn, args, out=None: f"{args[0]}.astype({ctx.literal(eqn.params['new_dtype'])})")
select_p.emit = emitter(fresh=True)(
    lambda ctx, eqn, args, out=None: f"{ctx.xp}.where({', '.join(args)})")
stop_gradient_p.emit = emitter()(lambda ctx, eqn, args, out=None: args[0])
