"""Reduction primitives: sums, products, extrema, logical folds, arg-extrema, cumulative ops.

Reductions drop the reduced axes (``fx.numpy`` adds ``keepdims`` with a reshape) and
keep the input dtype: ``fx.numpy`` casts first where NumPy would widen (bool sums, means).

Example:
    >>> import fx
    >>> from fx.prims.reductions import reduce_sum_p
    >>> reduce_sum_p.bind(fx.asarray([[1, 2], [3, 4]]), axes=(1,))
    Array([3, 7], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from fx.core.ad import linear_jvp, transpose_vjp, zero_jvp
from fx.core.aval import ShapedArray
from fx.core.batching import axis_param_batch, reduction_batch
from fx.core.primitive import Primitive
from fx.core.rule_kit import check_kinds, emitter, normalize_axis
from fx.errors import op_error
from fx.prims.shape import broadcast_in_dim_p, reshape_p


def _check_axes(op: str, x, axes) -> None:
    for a in axes:
        if normalize_axis(op, a, x.ndim, x) != a:
            raise op_error(ValueError, op, f"axes {axes} must be non-negative", x)
    if len(set(axes)) != len(axes):
        raise op_error(ValueError, op, f"repeated axis in {axes}", x)


def _reduce_rule(op: str, kinds: str, empty_ok: bool):
    """Shape rule of ``op(x, axes=...)``: the reduced axes disappear, the dtype stays."""
    def abstract_eval(x, *, axes):
        check_kinds(op, kinds, x)
        _check_axes(op, x, axes)
        if not empty_ok and any(x.shape[a] == 0 for a in axes):
            raise op_error(ValueError, op, f"the {op.removeprefix('reduce_')} of an empty axis "
                           f"(axes {axes} of shape {x.shape}) is undefined", x)
        return ShapedArray(tuple(n for i, n in enumerate(x.shape) if i not in axes), x.dtype)
    return abstract_eval


def _reduction(op: str, method: str, kinds: str, empty_ok: bool = True, typed: bool = False):
    """Declare ``op`` as the buffer's reduction ``method`` (NumPy's and CuPy's arrays share
    them, and the method skips ``np.sum``'s Python wrapper); ``typed`` reductions pass
    ``dtype=`` so the backend does not widen ints."""
    if typed:
        impl = lambda x, *, axes: getattr(x, method)(axis=axes, dtype=x.dtype)
    else:
        impl = lambda x, *, axes: getattr(x, method)(axis=axes)

    @emitter(fresh=True, accepts_out=True)
    def emit(ctx, eqn, args, out=None):
        x = ctx.aval(eqn.inputs[0])
        dtype = f", dtype={ctx.literal(x.dtype)}" if typed and x.dtype.kind in "biu" else ""
        return f"{args[0]}.{method}(axis={ctx.literal(tuple(eqn.params['axes']))}{dtype}" \
               f"{ctx.out(out)})"
    prim = Primitive(op, impl=impl, abstract_eval=_reduce_rule(op, kinds, empty_ok))
    prim.emit = emit
    return prim


reduce_sum_p = _reduction("reduce_sum", "sum", "iufc", typed=True)
reduce_prod_p = _reduction("reduce_prod", "prod", "iufc", typed=True)
reduce_max_p = _reduction("reduce_max", "max", "biufc", empty_ok=False)
reduce_min_p = _reduction("reduce_min", "min", "biufc", empty_ok=False)
reduce_and_p = _reduction("reduce_and", "all", "b")
reduce_or_p = _reduction("reduce_or", "any", "b")


# --- argmax / argmin: first occurrence, NaN counts as the extreme (as NumPy) -----------------
def _arg_rule(op: str):
    def abstract_eval(x, *, axis, index_dtype):
        check_kinds(op, "biufc", x)
        _check_axes(op, x, (axis,))
        if x.shape[axis] == 0:
            raise op_error(ValueError, op, f"attempt to get {op} of an empty axis {axis} of "
                           f"shape {x.shape}", x)
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype)
    return abstract_eval


def _arg_reduction(op: str, np_fn) -> Primitive:
    return Primitive(
        op, abstract_eval=_arg_rule(op),
        impl=lambda x, *, axis, index_dtype: np_fn(x, axis=axis).astype(index_dtype, copy=False))


argmax_p = _arg_reduction("argmax", np.argmax)
argmin_p = _arg_reduction("argmin", np.argmin)


# --- cumulative sums and products along one axis, optionally from the end ----------------------
def _cumulative(op: str, np_fn) -> Primitive:
    def impl(x, *, axis, reverse=False):
        if reverse:
            return np.flip(np_fn(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return np_fn(x, axis=axis, dtype=x.dtype)

    def abstract_eval(x, *, axis, reverse=False):
        check_kinds(op, "iufc", x)
        _check_axes(op, x, (axis,))
        return x.update(weak_type=False)
    return Primitive(op, impl=impl, abstract_eval=abstract_eval)


cumsum_p = _cumulative("cumsum", np.cumsum)
cumprod_p = _cumulative("cumprod", np.cumprod)


# --- forward-mode rules ------------------------------------------------------------------------
for _p in (reduce_sum_p, cumsum_p):
    _p.jvp = linear_jvp(_p)
for _p in (reduce_and_p, reduce_or_p, argmax_p, argmin_p):
    _p.jvp = zero_jvp(_p)


def _extremum_jvp(prim):
    """Tangent of max/min: the mean of the tangents at the positions that attain it."""
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        at_extremum = (x == reshape_p.bind(out, new_sizes=kept)).astype(x.dtype)
        count = reduce_sum_p.bind(at_extremum, axes=axes)
        return out, reduce_sum_p.bind(t * at_extremum, axes=axes) / count
    return jvp


reduce_max_p.jvp = _extremum_jvp(reduce_max_p)
reduce_min_p.jvp = _extremum_jvp(reduce_min_p)


def _reduce_prod_jvp(primals, tangents, *, axes):
    """sum_i t_i * prod_{j != i} x_j, with the "all but one" products formed from exclusive
    cumulative products from both ends, so zeros in ``x`` need no division."""
    from fx.numpy import concatenate, moveaxis, ones
    (x,), (t,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    kept = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    size = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    ends = tuple(range(-len(axes), 0))
    flat = lambda v: reshape_p.bind(moveaxis(v, axes, ends), new_sizes=(*kept, size))  # noqa: E731
    xs, ts = flat(x), flat(t)
    one = ones((*kept, 1), dtype=x.dtype)
    before = concatenate([one, cumprod_p.bind(xs, axis=xs.ndim - 1)[..., :-1]], axis=-1)
    after = concatenate([cumprod_p.bind(xs, axis=xs.ndim - 1, reverse=True)[..., 1:], one],
                        axis=-1)
    return out, reduce_sum_p.bind(ts * before * after, axes=(xs.ndim - 1,))


reduce_prod_p.jvp = _reduce_prod_jvp


def _shifted(v, s: int, fill):
    """``v`` moved ``s`` places along its last axis, the first ``s`` entries ``fill``."""
    from fx.numpy import concatenate, full
    return concatenate([full((*v.shape[:-1], s), fill, dtype=v.dtype), v[..., :-s]], axis=-1)


def _cumprod_jvp(primals, tangents, *, axis, reverse=False):
    """``y_k = x_k y_(k-1)``, so ``dy_k = x_k dy_(k-1) + y_(k-1) dx_k``: a linear recurrence in
    the tangent. A Hillis-Steele scan solves it in ``ceil(log2 n)`` steps without division
    (zeros in ``x`` are fine): each step composes every ``dy -> a_k dy + b_k`` with the one
    ``s`` places before, ``b_k += a_k b_(k-s)``, ``a_k *= a_(k-s)``; the ``a`` are products
    of ``x`` only."""
    from fx.numpy import moveaxis
    (x,), (t,) = primals, tangents
    y = cumprod_p.bind(x, axis=axis, reverse=reverse)
    n = x.shape[axis]
    if n == 0:
        return y, t

    def scan_order(v):  # the scan axis last, in the order of accumulation
        v = moveaxis(v, axis, -1)
        return v[..., ::-1] if reverse else v
    a = scan_order(x)
    b = scan_order(t) * _shifted(scan_order(y), 1, 1)  # y_(k-1) dx_k, with y_(-1) = 1
    s = 1
    while s < n:
        b = b + a * _shifted(b, s, 0)
        a = a * _shifted(a, s, 1)
        s *= 2
    return y, moveaxis(b[..., ::-1] if reverse else b, -1, axis)


cumprod_p.jvp = _cumprod_jvp


# --- reverse-mode rules: transposes of the linear primitives ------------------------------------
def _reduce_sum_transpose(ct, x, *, axes):
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [broadcast_in_dim_p.bind(ct, shape=x.aval.shape, broadcast_dimensions=kept)]


reduce_sum_p.transpose = _reduce_sum_transpose
cumsum_p.transpose = lambda ct, x, *, axis, reverse=False: [
    cumsum_p.bind(ct, axis=axis, reverse=not reverse)]
reduce_sum_p.vjp, cumsum_p.vjp = transpose_vjp(reduce_sum_p), transpose_vjp(cumsum_p)


# --- batching rules ----------------------------------------------------------------------------
for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p):
    _p.batch = reduction_batch(_p)
for _p in (argmax_p, argmin_p, cumsum_p, cumprod_p):
    _p.batch = axis_param_batch(_p, "axis")
