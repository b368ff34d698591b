"""``fx.numpy.linalg``: NumPy's linear algebra over fx arrays (``fnp.linalg.inv`` ...).

Functions act on the last two axes and are batched over the leading ones. Integer and
bool inputs are promoted to the default float (float32); float64 is honoured. The
decompositions are primitives (``fx.prims.linalg``); ``norm``, ``pinv``,
``matrix_power`` and ``matrix_rank`` are compositions.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.linalg.det(fnp.asarray([[2.0, 0.0], [0.0, 3.0]]))
    Array(6., dtype=float32)
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.core.elementwise import as_operand, promote
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.errors import UnsupportedError, op_error
from fx.numpy import contractions
from fx.numpy.contractions import matmul, outer, tensordot
from fx.prims import decompositions as dp
from fx.prims import linalg as lp

__all__ = ["inv", "solve", "det", "slogdet", "cholesky", "qr", "svd", "svdvals", "eigh",
           "eigvalsh", "norm", "vector_norm", "matrix_norm", "matrix_power", "pinv",
           "matrix_rank", "matmul", "outer", "tensordot", "diagonal", "trace",
           "SlogdetResult", "QRResult", "SVDResult", "EighResult"]


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


def _float(*args):
    """Operands promoted to one float/complex dtype (ints and bools to the default float)."""
    return promote(args, inexact=True)


def inv(a):
    """Inverse of a (stack of) square matrix.

    >>> fnp.linalg.inv(fnp.asarray([[2.0, 0.0], [0.0, 4.0]]))
    Array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    return bind(lp.inv_p, *_float(a))


def solve(a, b):
    """Solve ``a @ x = b``; ``b`` is a vector only when 1-D (NumPy 2 semantics).

    >>> fnp.linalg.solve(fnp.eye(2) * 2, fnp.ones(2))
    Array([0.5, 0.5], dtype=float32)
    """
    return bind(lp.solve_p, *_float(a, b))


def det(a):
    """Determinant of a (stack of) square matrix.

    >>> fnp.linalg.det(fnp.eye(3) * 2)
    Array(8., dtype=float32)
    """
    return bind(lp.det_p, *_float(a))


def slogdet(a):
    """Sign and log of the absolute determinant, as ``(sign, logabsdet)``.

    >>> fnp.linalg.slogdet(fnp.eye(2) * 3).logabsdet
    Array(2.1972246, dtype=float32)
    """
    return SlogdetResult(*bind(lp.slogdet_p, *_float(a)))


def cholesky(a, /, *, upper=False):
    """Cholesky factor of a Hermitian positive-definite matrix (lower unless ``upper``).

    >>> fnp.linalg.cholesky(fnp.eye(2) * 4)
    Array([[2., 0.],
           [0., 2.]], dtype=float32)
    """
    (a,) = _float(a)
    if not upper:
        return bind(lp.cholesky_p, a)
    # like NumPy, the upper factor reads only the upper triangle of ``a``
    low = bind(lp.cholesky_p, fnp.swapaxes(a, -1, -2))
    return fnp.conj(fnp.swapaxes(low, -1, -2))


def qr(a, mode="reduced"):
    """QR decomposition; ``mode`` is ``"reduced"``, ``"complete"`` or ``"r"``.

    >>> q, r = fnp.linalg.qr(fnp.ones((3, 2)))
    >>> q.shape, r.shape
    ((3, 2), (2, 2))
    """
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    q, r = bind(dp.qr_p, *_float(a), mode="reduced" if mode == "r" else mode)
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` (S descending).

    >>> fnp.linalg.svd(fnp.eye(2) * 3, compute_uv=False)
    Array([3., 3.], dtype=float32)
    """
    del hermitian  # the general algorithm is right for Hermitian input too
    out = bind(dp.svd_p, *_float(a), full_matrices=bool(full_matrices),
               compute_uv=bool(compute_uv))
    return SVDResult(*out) if compute_uv else out[0]


def svdvals(x, /):
    """Singular values, descending."""
    return svd(x, compute_uv=False)


def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors of a Hermitian matrix.

    >>> fnp.linalg.eigh(fnp.eye(2)).eigenvalues
    Array([1., 1.], dtype=float32)
    """
    return EighResult(*bind(dp.eigh_p, *_float(a), UPLO=UPLO))


def eigvalsh(a, UPLO="L"):
    """Eigenvalues (ascending) of a Hermitian matrix."""
    return eigh(a, UPLO).eigenvalues


def matrix_power(a, n):
    """``a`` multiplied by itself ``n`` times (negative ``n`` inverts first).

    >>> fnp.linalg.matrix_power(fnp.eye(2) * 2, 3)
    Array([[8., 0.],
           [0., 8.]], dtype=float32)
    """
    a = as_operand(a)
    n = operator.index(n)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise op_error(ValueError, "matrix_power", f"expects square matrices, got shape "
                       f"{a.shape}", a)
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:  # binary powering: log2(n) products
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return fnp.broadcast_to(fnp.eye(a.shape[-1], dtype=a.dtype), a.shape) if result is None \
        else result


def _rank_tol(s, m, n, rtol):
    if rtol is None:
        rtol = max(m, n) * dtypes.finfo(s.dtype).eps
    return fnp.multiply(fnp.max(s, axis=-1, keepdims=True), rtol)


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    """Moore-Penrose pseudo-inverse from the SVD (singular values <= rcond * max dropped).

    >>> fnp.linalg.pinv(fnp.eye(2) * 2)
    Array([[0.5, 0. ],
           [0. , 0.5]], dtype=float32)
    """
    del hermitian
    (a,) = _float(a)
    u, s, vh = svd(a, full_matrices=False)
    if rcond is None:  # NumPy's defaults: 1e-15 unless rtol is given
        rcond = 1e-15 if rtol is None else rtol
    cutoff = _rank_tol(s, *a.shape[-2:], rcond)
    s_inv = fnp.where(s > cutoff, fnp.reciprocal(fnp.where(s > cutoff, s, 1)), 0)
    v_scaled = fnp.multiply(fnp.conj(fnp.swapaxes(vh, -1, -2)), fnp.expand_dims(s_inv, -2))
    return matmul(v_scaled, fnp.conj(fnp.swapaxes(u, -1, -2)))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """Number of singular values above the tolerance (``S.max() * max(M, N) * eps``).

    >>> fnp.linalg.matrix_rank(fnp.eye(3))
    Array(3, dtype=int32)
    """
    del hermitian
    (A,) = _float(A)
    if A.ndim < 2:
        return fnp.any(A != 0).astype(np.int32)
    s = svdvals(A)
    tol = _rank_tol(s, *A.shape[-2:], rtol) if tol is None else fnp.expand_dims(
        as_operand(tol), -1)
    return fnp.sum(s > tol, axis=-1).astype(np.int32)


# --- norms ----------------------------------------------------------------------------------
def _vector_norm(x, ord, axis, keepdims):
    """``ord`` norm of ``abs(x)`` over ``axis`` (a tuple of axes)."""
    kw = {"axis": axis, "keepdims": keepdims}
    if ord is None or ord == 2:
        return fnp.sqrt(fnp.sum(fnp.real(fnp.multiply(fnp.conj(x), x)), **kw))
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; it needs a 2-D input or a "
                         "pair of axes")
    ax = fnp.abs(x)
    if ord == np.inf:
        return fnp.max(ax, **kw)
    if ord == -np.inf:
        return fnp.min(ax, **kw)
    if ord == 0:
        return fnp.sum(ax != 0, **kw).astype(ax.dtype)
    if ord == 1:
        return fnp.sum(ax, **kw)
    return fnp.power(fnp.sum(fnp.power(ax, ord), **kw), 1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    if ord in ("fro", None):
        return _vector_norm(x, None, axes, keepdims)
    if ord in ("nuc", 2, -2):
        s = svdvals(fnp.moveaxis(x, (r, c), (-2, -1)))
        out = {"nuc": fnp.sum, 2: fnp.max, -2: fnp.min}[ord](s, axis=-1)
        return fnp.expand_dims(out, axes) if keepdims else out
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (r, c) if ord in (1, -1) else (c, r)
        reduce = fnp.max if ord > 0 else fnp.min
        out = reduce(fnp.sum(fnp.abs(x), axis=summed, keepdims=True), axis=other,
                     keepdims=True)
        return out if keepdims else fnp.squeeze(out, axes)
    raise ValueError(f"norm: invalid ord={ord!r} for a matrix norm (use None, 'fro', 'nuc', "
                     "1, -1, 2, -2, inf or -inf)")


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    >>> fnp.linalg.norm(fnp.asarray([3.0, 4.0]))
    Array(5., dtype=float32)
    """
    (x,) = _float(x)
    if axis is None:
        if ord is None:
            out = _vector_norm(fnp.ravel(x), None, 0, False)
            return fnp.reshape(out, (1,) * x.ndim) if keepdims else out
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D input or an explicit "
                             f"axis, got shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(normalize_axis("norm", a, x.ndim) for a in axes)
    if len(axes) == 1:
        if not (ord is None or isinstance(ord, (int, float)) and not isinstance(ord, bool)):
            raise ValueError(f"norm: invalid ord={ord!r} for a vector norm")
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"norm: axis must be one axis or a pair of distinct axes, got {axis}")
    return _matrix_norm(x, ord, axes, keepdims)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Vector norm over ``axis`` (all axes, flattened, by default)."""
    (x,) = _float(x)
    if axis is None:
        out = _vector_norm(fnp.ravel(x), ord, (0,), False)
        return fnp.reshape(out, (1,) * x.ndim) if keepdims else out
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return _vector_norm(x, ord, tuple(normalize_axis("vector_norm", a, x.ndim) for a in axes),
                        keepdims)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Matrix norm over the last two axes."""
    (x,) = _float(x)
    if x.ndim < 2:
        raise op_error(ValueError, "matrix_norm", "expects a matrix (at least 2-D)", x)
    return _matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)


def diagonal(x, /, *, offset=0):
    """Diagonals of the matrices in the last two axes."""
    return contractions.diagonal(x, offset, -2, -1)


def trace(x, /, *, offset=0, dtype=None):
    """Traces of the matrices in the last two axes."""
    return contractions.trace(x, offset, -2, -1, dtype)


def __getattr__(name: str):
    if hasattr(np.linalg, name) and not name.startswith("__"):
        raise UnsupportedError(f"fx.numpy.linalg.{name} is not implemented")
    raise AttributeError(f"module 'fx.numpy.linalg' has no attribute {name!r}")

