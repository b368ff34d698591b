"""Linear-algebra primitives: the one contraction (``dot_general``), ``diagonal`` and the
matrix decompositions and solvers.

``dot_general`` is the only contraction: ``matmul``, ``dot``, ``tensordot``, ``einsum``
and friends in ``fx.numpy`` are compositions of it. Its output layout follows JAX:
batch dimensions, then the free dimensions of ``x``, then those of ``y``. The
decompositions act on the last two axes and are batched over the leading ones, as in
``numpy.linalg``; operands share one float or complex dtype (``fx.numpy`` promotes).

Example:
    >>> import fx.numpy as fnp
    >>> from fx.prims.linalg import dot_general_p
    >>> x, y = fnp.ones((2, 3)), fnp.ones((3, 4))
    >>> dot_general_p.bind(x, y, dimension_numbers=(((1,), (0,)), ((), ()))).shape
    (2, 4)
"""
from __future__ import annotations

import math

import numpy as np

from fx.core.ad import (
    Zero,
    add_tangents,
    bilinear_vjp,
    is_linear,
    linear_jvp,
    transpose_vjp,
    unbroadcast,
)
from fx.core.aval import ShapedArray, aval_of
from fx.core.batching import broadcasting_batch, leading_batch, move_to_front
from fx.core.primitive import Primitive
from fx.core.rule_kit import broadcast_shapes, check_kinds, emitter, normalize_axis, to_real
from fx.errors import op_error
from fx.prims.shape import reshape_p, squeeze_p, transpose_p

INEXACT = "fc"


# --- dot_general -------------------------------------------------------------------------
def _free_dims(ndim: int, contract, batch) -> tuple[int, ...]:
    used = set(contract) | set(batch)
    return tuple(d for d in range(ndim) if d not in used)


def _check_dims(x, y, dims, what: str) -> None:
    """Dimension indices valid for ``x``/``y`` and of matching sizes."""
    xd, yd = dims
    if len(xd) != len(yd):
        raise op_error(ValueError, "dot_general", f"{what} dimensions {xd} and {yd} differ in "
                       "length", x, y)
    for a, ds in ((x, xd), (y, yd)):
        if any(not isinstance(d, int) or not 0 <= d < a.ndim for d in ds):
            raise op_error(ValueError, "dot_general", f"{what} dimensions {ds} out of range for "
                           f"an operand of dimension {a.ndim}", x, y)
    for i, j in zip(xd, yd):
        if x.shape[i] != y.shape[j]:
            raise op_error(ValueError, "dot_general", f"{what} dimension {x.shape[i]} != "
                           f"{y.shape[j]} (axes {i} and {j})", x, y)


def _dot_general_abstract(x, y, *, dimension_numbers, preferred_element_type=None):
    check_kinds("dot_general", "biufc", x, y)
    if x.dtype != y.dtype:
        raise op_error(TypeError, "dot_general", "operands must share one dtype (promote first)",
                       x, y)
    (xc, yc), (xb, yb) = dimension_numbers
    _check_dims(x, y, (xc, yc), "contracting")
    _check_dims(x, y, (xb, yb), "batch")
    for c, b in ((xc, xb), (yc, yb)):
        if len(set(c) | set(b)) != len(c) + len(b):
            raise op_error(ValueError, "dot_general", f"repeated dimension in contracting {c} "
                           f"and batch {b}", x, y)
    shape = ([x.shape[d] for d in xb] + [x.shape[d] for d in _free_dims(x.ndim, xc, xb)]
             + [y.shape[d] for d in _free_dims(y.ndim, yc, yb)])
    return ShapedArray(shape, preferred_element_type or x.dtype)


def _as_batched_matrix(a, perm, shape):
    """``a`` transposed by ``perm`` and reshaped to ``shape``; no work when already so."""
    if perm != tuple(range(a.ndim)):
        a = a.transpose(perm)
    return a if a.shape == shape else a.reshape(shape)


def _dot_general_impl(x, y, *, dimension_numbers, preferred_element_type=None):
    # One BLAS call: both operands as (batch..., free, contract) matrices, then np.matmul.
    (xc, yc), (xb, yb) = dimension_numbers
    if preferred_element_type is not None:
        x, y = x.astype(preferred_element_type), y.astype(preferred_element_type)
    if not xb and y.ndim <= 2 and xc == (x.ndim - 1,) and yc == (max(y.ndim - 2, 0),):
        return np.matmul(x, y)  # already matmul's layout (the common case): no reshapes
    xf, yf = _free_dims(x.ndim, xc, xb), _free_dims(y.ndim, yc, yb)
    batch = tuple(x.shape[d] for d in xb)
    m, n = tuple(x.shape[d] for d in xf), tuple(y.shape[d] for d in yf)
    k = math.prod(x.shape[d] for d in xc)
    lhs = _as_batched_matrix(x, xb + xf + xc, batch + (math.prod(m), k))
    rhs = _as_batched_matrix(y, yb + yc + yf, batch + (k, math.prod(n)))
    # nothing contracted (an outer product, e.g. a per-example weight gradient): a
    # broadcasting multiply is twice as fast as a matmul with an inner size of one
    out = lhs * rhs if not xc else np.matmul(lhs, rhs)
    shape = batch + m + n
    return out if out.shape == shape else out.reshape(shape)


dot_general_p = Primitive("dot_general", impl=_dot_general_impl,
                          abstract_eval=_dot_general_abstract)


@emitter(fresh=True, accepts_out=True)
def _dot_general_emit(ctx, eqn, args, out=None):
    """The implementation's one BLAS call, with its layout worked out at compile time:
    ``np.matmul(a.T, b)`` for the weight gradient of a dense layer, and so on."""
    x, y = (ctx.aval(v) for v in eqn.inputs)
    (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
    a, b = args
    dtype = eqn.params.get("preferred_element_type")
    if dtype is not None:
        a, b = (f"{v}.astype({ctx.literal(np.dtype(dtype))})" for v in (a, b))
    matmul = ctx.backend_attr("matmul", np.matmul)
    if not xb and y.ndim <= 2 and xc == (x.ndim - 1,) and yc == (max(y.ndim - 2, 0),):
        return f"{matmul}({a}, {b}{ctx.out(out)})"
    xf, yf = _free_dims(x.ndim, xc, xb), _free_dims(y.ndim, yc, yb)
    batch = tuple(x.shape[d] for d in xb)
    m, n = tuple(x.shape[d] for d in xf), tuple(y.shape[d] for d in yf)
    k = math.prod(x.shape[d] for d in xc)
    lhs = _matrix_source(ctx, a, x.shape, xb + xf + xc, batch + (math.prod(m), k))
    rhs = _matrix_source(ctx, b, y.shape, yb + yc + yf, batch + (k, math.prod(n)))
    shape = batch + m + n
    reshaped = shape != batch + (math.prod(m), math.prod(n))
    call = f"{lhs} * {rhs}" if not xc else \
        f"{matmul}({lhs}, {rhs}{'' if reshaped else ctx.out(out)})"
    return f"({call}).reshape({ctx.literal(shape)})" if reshaped else call


def _matrix_source(ctx, src: str, shape, perm, target) -> str:
    """Source of ``_as_batched_matrix``: the operand transposed and reshaped as needed."""
    if perm != tuple(range(len(shape))):
        src = f"{src}.T" if perm == (1, 0) else f"{src}.transpose({ctx.literal(perm)})"
        shape = tuple(shape[p] for p in perm)
    return src if tuple(shape) == target else f"{src}.reshape({ctx.literal(target)})"


dot_general_p.emit = _dot_general_emit


# --- diagonal ------------------------------------------------------------------------------
# A primitive rather than a gather: one backend call that returns a view, no index arrays.
def _diagonal_abstract(x, *, offset, axis1, axis2):
    if x.ndim < 2:
        raise op_error(ValueError, "diagonal", "input must be at least 2-D", x)
    a1, a2 = normalize_axis("diagonal", axis1, x.ndim), normalize_axis("diagonal", axis2, x.ndim)
    if a1 == a2:
        raise op_error(ValueError, "diagonal", f"axis1 and axis2 are the same axis ({axis1})", x)
    n1, n2 = x.shape[a1], x.shape[a2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rest = [d for i, d in enumerate(x.shape) if i not in (a1, a2)]
    return ShapedArray(rest + [length], x.dtype)


diagonal_p = Primitive("diagonal", impl=lambda x, *, offset, axis1, axis2:
                       np.diagonal(x, offset, axis1, axis2),
                       abstract_eval=_diagonal_abstract)


# --- decompositions ------------------------------------------------------------------------
def check_matrix(op: str, a, square: bool = True):
    """Check that ``a`` is a (stack of) float/complex matrix; return its last two sizes."""
    check_kinds(op, INEXACT, a)
    if a.ndim < 2:
        raise op_error(ValueError, op, "expects a matrix (at least 2-D)", a)
    m, n = a.shape[-2:]
    if square and m != n:
        raise op_error(ValueError, op, f"expects square matrices, got shape {a.shape}", a)
    return m, n


def _same_dtype(op: str, *avals) -> None:
    if len({a.dtype for a in avals}) > 1:
        raise op_error(TypeError, op, "operands must share one dtype (promote first)", *avals)


def _square_rule(op: str, batch_only: bool = False):
    """Rule of ``inv``-like (same aval) or ``det``-like (batch shape only) primitives."""
    def abstract_eval(a):
        check_matrix(op, a)
        return a.update(shape=a.shape[:-2]) if batch_only else a
    return abstract_eval


cholesky_p = Primitive("cholesky", impl=np.linalg.cholesky, abstract_eval=_square_rule("cholesky"))
inv_p = Primitive("inv", impl=np.linalg.inv, abstract_eval=_square_rule("inv"))
det_p = Primitive("det", impl=np.linalg.det, abstract_eval=_square_rule("det", batch_only=True))


def _slogdet_abstract(a):
    check_matrix("slogdet", a)
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], to_real(a.dtype))]


slogdet_p = Primitive("slogdet", impl=lambda a: list(np.linalg.slogdet(a)),
                      abstract_eval=_slogdet_abstract, multiple_results=True)


# qr, svd and eigh are declared with all their rules in fx/prims/decompositions.py


# --- solvers -------------------------------------------------------------------------------
def _solve_abstract(a, b):
    n, _ = check_matrix("solve", a)
    check_kinds("solve", INEXACT, b)
    _same_dtype("solve", a, b)
    if b.ndim == 1:  # NumPy 2: b is a vector only when it is 1-D
        if b.shape[0] != n:
            raise op_error(ValueError, "solve", f"b has {b.shape[0]} rows, a is {n}x{n}", a, b)
        return b.update(shape=a.shape[:-2] + (n,))
    if b.ndim < 2 or b.shape[-2] != n:
        raise op_error(ValueError, "solve", f"b must have shape ({n},) or (..., {n}, K), got "
                       f"{b.shape}", a, b)
    batch = broadcast_shapes("solve", ShapedArray(a.shape[:-2], a.dtype),
                             ShapedArray(b.shape[:-2], b.dtype))
    return b.update(shape=batch + b.shape[-2:])


solve_p = Primitive("solve", impl=np.linalg.solve, abstract_eval=_solve_abstract)


def _triangular_solve_abstract(a, b, *, left_side, lower, transpose_a):
    m, _ = check_matrix("triangular_solve", a)
    check_kinds("triangular_solve", INEXACT, b)
    _same_dtype("triangular_solve", a, b)
    if b.ndim < 2:
        raise op_error(ValueError, "triangular_solve", "b must be at least 2-D", a, b)
    rows = b.shape[-2] if left_side else b.shape[-1]
    if rows != m:
        side = "rows" if left_side else "columns"
        raise op_error(ValueError, "triangular_solve", f"b has {rows} {side}, a is {m}x{m}",
                       a, b)
    batch = broadcast_shapes("triangular_solve", ShapedArray(a.shape[:-2], a.dtype),
                             ShapedArray(b.shape[:-2], b.dtype))
    return b.update(shape=batch + b.shape[-2:])


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a):
    # scipy is not a dependency: a general solve on the masked triangle gives the same answer.
    t = np.tril(a) if lower else np.triu(a)
    if transpose_a:
        t = np.swapaxes(t, -1, -2)
    if left_side:
        return np.linalg.solve(t, b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)


triangular_solve_p = Primitive("triangular_solve", impl=_triangular_solve_impl,
                               abstract_eval=_triangular_solve_abstract)


# --- forward-mode rules ------------------------------------------------------------------------
def _dot_general_jvp(primals, tangents, **params):
    (x, y), (t_x, t_y) = primals, tangents
    return dot_general_p.bind(x, y, **params), add_tangents(
        t_x if type(t_x) is Zero else dot_general_p.bind(t_x, y, **params),
        t_y if type(t_y) is Zero else dot_general_p.bind(x, t_y, **params))


dot_general_p.jvp = _dot_general_jvp
diagonal_p.jvp = linear_jvp(diagonal_p)


def _inv_jvp(primals, tangents):
    """d(A^-1) = -A^-1 dA A^-1."""
    from fx.numpy import matmul
    (a,), (t,) = primals, tangents
    a_inv = inv_p.bind(a)
    return a_inv, -matmul(matmul(a_inv, t), a_inv)


def _trace_inv_times(a, t):
    """trace(A^-1 dA) over the last two axes (Jacobi's formula)."""
    from fx.numpy import matmul, trace
    return trace(matmul(inv_p.bind(a), t), axis1=-2, axis2=-1)


def _det_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    det = det_p.bind(a)
    return det, det * _trace_inv_times(a, t)


def _slogdet_jvp(primals, tangents):
    """d log|det A| = Re tr(A^-1 dA); a complex sign turns by i Im tr(A^-1 dA) (a real
    sign is piecewise constant)."""
    from fx.numpy import imag, real
    (a,), (t,) = primals, tangents
    sign, logabsdet = slogdet_p.bind(a)
    if a.dtype.kind != "c":
        return [sign, logabsdet], [Zero(sign.aval), _trace_inv_times(a, t)]
    trace = _trace_inv_times(a, t)
    return [sign, logabsdet], [sign * (1j * imag(trace)), real(trace)]


inv_p.jvp, det_p.jvp, slogdet_p.jvp = _inv_jvp, _det_jvp, _slogdet_jvp


def _solve_jvp(primals, tangents):
    """x = A^-1 b, so dx = A^-1 (db - dA x); a 1-D b is a vector (NumPy 2 rule)."""
    from fx.numpy import expand_dims, matmul, squeeze
    (a, b), (t_a, t_b) = primals, tangents
    x = solve_p.bind(a, b)
    as_matrix = (lambda v: expand_dims(v, -1)) if b.ndim == 1 else (lambda v: v)
    rhs = add_tangents(t_b if type(t_b) is Zero else as_matrix(t_b),
                       t_a if type(t_a) is Zero else -matmul(t_a, as_matrix(x)))
    dx = solve_p.bind(a, rhs)
    return x, squeeze(dx, -1) if b.ndim == 1 else dx


def _cholesky_jvp(primals, tangents):
    """dL = L Phi(L^-1 dA L^-H), Phi taking the lower triangle with half the diagonal.

    Like the backend, the rule reads only the strict lower triangle of dA (mirrored,
    conjugated) and the real part of its diagonal."""
    from fx.numpy import conj, eye, matmul, real, swapaxes, tril
    (a,), (t,) = primals, tangents
    herm = lambda m: conj(swapaxes(m, -1, -2))  # noqa: E731
    below = tril(t, -1)
    t = below + herm(below) + eye(a.shape[-1], dtype=a.dtype) * real(t)
    low = cholesky_p.bind(a)
    low_inv = inv_p.bind(low)
    s = matmul(matmul(low_inv, t), herm(low_inv))
    phi = tril(s) - 0.5 * s * eye(a.shape[-1], dtype=a.dtype)
    return low, matmul(low, phi)


solve_p.jvp, cholesky_p.jvp = _solve_jvp, _cholesky_jvp


def _triangular_solve_jvp(primals, tangents, **params):
    """``x = op(T)^-1 b`` (``b op(T)^-1`` unless ``left_side``), ``T`` the ``lower`` or upper
    triangle of ``a``, ``op`` a transpose if ``transpose_a``: ``dx = op(T)^-1 (db - op(dT) x)``
    (``(db - x op(dT)) op(T)^-1``). Like the backend, the rule reads only that triangle of dA."""
    from fx.numpy import matmul, swapaxes, tril, triu
    (a, b), (t_a, t_b) = primals, tangents
    x = triangular_solve_p.bind(a, b, **params)
    rhs = t_b
    if type(t_a) is not Zero:
        dt = tril(t_a) if params["lower"] else triu(t_a)
        dt = swapaxes(dt, -1, -2) if params["transpose_a"] else dt
        rhs = add_tangents(t_b, -(matmul(dt, x) if params["left_side"] else matmul(x, dt)))
    return x, triangular_solve_p.bind(a, rhs, **params)


triangular_solve_p.jvp = _triangular_solve_jvp




# --- reverse-mode rules: transposes of the linear primitives ------------------------------------
def _dot_general_transpose(ct, x, y, *, dimension_numbers, preferred_element_type=None):
    """Contract the cotangent with the other operand over that operand's free dimensions,
    then permute the result into the linear operand's layout."""
    (xc, yc), (xb, yb) = dimension_numbers
    xf, yf = _free_dims(aval_of(x).ndim, xc, xb), _free_dims(aval_of(y).ndim, yc, yb)
    nb = len(xb)
    ct_batch = tuple(range(nb))
    ct_free = {0: tuple(range(nb, nb + len(xf))), 1: tuple(range(nb + len(xf), ct.ndim))}

    def one(me, other, mc, oc, mb, ob, mf, of, ct_other_free):
        c = ct if ct.dtype == me.aval.dtype else ct.astype(me.aval.dtype)
        contracting = [mc[k] for k in np.argsort(oc)]  # mine, ordered as the other's
        if list(mb) + contracting + list(mf) == list(range(len(mb) + len(mc) + len(mf))):
            # other^T @ ct is already in my layout (the weight gradient x^T @ ct)
            return dot_general_p.bind(other, c, dimension_numbers=(
                (of, ct_other_free), (ob, ct_batch)))
        out = dot_general_p.bind(c, other, dimension_numbers=((ct_other_free, of), (ct_batch, ob)))
        # out: batch, my free dimensions, then my contracting ones ordered as the other's
        perm = tuple(np.argsort(list(mb) + list(mf) + contracting).tolist())
        return out if perm == tuple(range(out.ndim)) else transpose_p.bind(out, permutation=perm)
    return [one(x, y, xc, yc, xb, yb, xf, yf, ct_free[1]) if is_linear(x) else None,
            one(y, x, yc, xc, yb, xb, yf, xf, ct_free[0]) if is_linear(y) else None]


def _diagonal_transpose(ct, x, *, offset, axis1, axis2):
    """Zeros with ``ct`` written on the diagonal: ``ct`` spread along the other axis of the
    last two, masked to the diagonal, and those two axes moved back into place."""
    from fx.numpy import concatenate, expand_dims, eye, moveaxis, where, zeros
    shape, ndim = x.aval.shape, len(x.aval.shape)
    a1, a2 = axis1 % ndim, axis2 % ndim
    n1, n2 = shape[a1], shape[a2]
    along = n1 if offset >= 0 else n2  # ct is indexed by row (offset >= 0) or by column
    padded = concatenate([ct, zeros((*ct.shape[:-1], along - ct.shape[-1]), ct.dtype)], axis=-1)
    spread = expand_dims(padded, -1 if offset >= 0 else -2)
    full = where(eye(n1, n2, k=offset, dtype=bool), spread, 0)
    return [moveaxis(full, (-2, -1), (a1, a2))]


def _solve_transpose(ct, a, b):
    """x = A^-1 b is linear in b: b's cotangent is A^-T ct, summed over broadcast batches."""
    from fx.numpy import expand_dims, squeeze, swapaxes
    a_t = swapaxes(a, -1, -2)
    if len(b.aval.shape) == 1:
        ct_b = squeeze(solve_p.bind(a_t, expand_dims(ct, -1)), -1)
    else:
        ct_b = solve_p.bind(a_t, ct)
    return [None, unbroadcast(ct_b, b.aval)]


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a):
    ct_b = triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                   transpose_a=not transpose_a)
    return [None, unbroadcast(ct_b, b.aval)]


dot_general_p.transpose, diagonal_p.transpose = _dot_general_transpose, _diagonal_transpose
solve_p.transpose, triangular_solve_p.transpose = _solve_transpose, _triangular_solve_transpose
dot_general_p.vjp, diagonal_p.vjp = bilinear_vjp(dot_general_p), transpose_vjp(diagonal_p)


# --- batching rules ----------------------------------------------------------------------------
def _bump(dims, bdim: int) -> tuple[int, ...]:
    """Axes of one example as axes of the whole batch, batched at ``bdim``."""
    return tuple(d + (d >= bdim) for d in dims)


def _dot_general_batch(vals, dims, *, dimension_numbers, **params):
    """In place, no transposes: two batch axes become the first batch dimension pair; one
    is a free dimension, placed in the output (batch, x's free, y's free) by its rank."""
    (x, y), (xd, yd) = vals, dims
    (xc, yc), (xb, yb) = dimension_numbers
    if xd is not None:
        xc, xb = _bump(xc, xd), _bump(xb, xd)
    if yd is not None:
        yc, yb = _bump(yc, yd), _bump(yb, yd)
    if xd is not None and yd is not None:
        xb, yb, out_dim = (xd, *xb), (yd, *yb), 0
    elif xd is not None:
        out_dim = len(xb) + sum(d < xd for d in _free_dims(x.ndim, xc, xb))
    else:
        out_dim = x.ndim - len(xc) + sum(d < yd for d in _free_dims(y.ndim, yc, yb))
    dn = ((xc, yc), (xb, yb))
    return dot_general_p.bind(x, y, dimension_numbers=dn, **params), out_dim


def _diagonal_batch(vals, dims, *, offset, axis1, axis2):
    """In place: the two axes shift past the batch axis, which moves left by those before it."""
    (x,), (bdim,) = vals, dims
    a1, a2 = _bump((axis1 % (x.ndim - 1), axis2 % (x.ndim - 1)), bdim)
    return diagonal_p.bind(x, offset=offset, axis1=a1, axis2=a2), bdim - (a1 < bdim) - (a2 < bdim)


def _matrices_batch(prim):
    """Rule of a solver of stacks of matrices, whose stack axes broadcast: batch axes to
    the front, the batched operands' ranks aligned after them (as elementwise ops do)."""
    aligned = broadcasting_batch(prim)
    return lambda vals, dims, **params: aligned(
        [move_to_front(v, d) for v, d in zip(vals, dims)],
        [None if d is None else 0 for d in dims], **params)


def _solve_batch(vals, dims):
    """NumPy 2 reads a 2-D ``b`` as matrices: a batch of vectors is solved as a batch of
    one-column matrices, then squeezed."""
    (a, b), (a_dim, b_dim) = vals, dims
    if b_dim is None or b.ndim > 2:  # a shared b (vector or matrices), or batched matrices
        return _solve_matrices_batch(vals, dims)
    b = move_to_front(b, b_dim)
    out, _ = _solve_matrices_batch([a, reshape_p.bind(b, new_sizes=(*b.shape, 1))], [a_dim, 0])
    return squeeze_p.bind(out, dimensions=(out.ndim - 1,)), 0


_solve_matrices_batch = _matrices_batch(solve_p)


dot_general_p.batch, diagonal_p.batch = _dot_general_batch, _diagonal_batch
for _p in (cholesky_p, inv_p, det_p, slogdet_p):
    _p.batch = leading_batch(_p)
solve_p.batch, triangular_solve_p.batch = _solve_batch, _matrices_batch(triangular_solve_p)
