"""The QR, singular value and symmetric eigen decompositions, each declared with all its
rules: implementation, shape rule, forward mode (reverse mode linearizes it) and batching.

Example:
    >>> import fx, fx.numpy as fnp
    >>> from transforms import jvp
    >>> a = fx.asarray([[2.0, 0.0], [0.0, 3.0]])
    >>> jvp(lambda m: fnp.linalg.eigh(m)[0], (a,), (fx.asarray([[1.0, 0.0], [0.0, 0.0]]),))[1]
    Array([1., 0.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx.core.aval import ShapedArray
from fx.core.batching import leading_batch
from fx.core.primitive import Primitive
from fx.core.rule_kit import to_real
from fx.errors import op_error
from fx.prims.linalg import check_matrix, triangular_solve_p


# --- declarations --------------------------------------------------------------------------
def _qr_abstract(a, *, mode):
    m, n = check_matrix("qr", a, square=False)
    if mode not in ("reduced", "complete"):
        raise op_error(ValueError, "qr", f"mode must be 'reduced' or 'complete', got {mode!r}", a)
    k = min(m, n) if mode == "reduced" else m
    batch = a.shape[:-2]
    return [a.update(shape=batch + (m, k)), a.update(shape=batch + (k, n))]


qr_p = Primitive("qr", impl=lambda a, *, mode: list(np.linalg.qr(a, mode=mode)),
                 abstract_eval=_qr_abstract, multiple_results=True)


def _svd_abstract(a, *, full_matrices, compute_uv):
    m, n = check_matrix("svd", a, square=False)
    k, batch = min(m, n), a.shape[:-2]
    s = ShapedArray(batch + (k,), to_real(a.dtype))
    if not compute_uv:
        return [s]
    ku, kv = (m, n) if full_matrices else (k, k)
    return [a.update(shape=batch + (m, ku)), s, a.update(shape=batch + (kv, n))]


def _svd_impl(a, *, full_matrices, compute_uv):
    if not compute_uv:
        return [np.linalg.svd(a, compute_uv=False)]
    return list(np.linalg.svd(a, full_matrices=full_matrices))


svd_p = Primitive("svd", impl=_svd_impl, abstract_eval=_svd_abstract, multiple_results=True)


def _eigh_abstract(a, *, UPLO):
    n, _ = check_matrix("eigh", a)
    if UPLO not in ("L", "U"):
        raise op_error(ValueError, "eigh", f"UPLO must be 'L' or 'U', got {UPLO!r}", a)
    return [ShapedArray(a.shape[:-1], to_real(a.dtype)), a]


eigh_p = Primitive("eigh", impl=lambda a, *, UPLO: list(np.linalg.eigh(a, UPLO=UPLO)),
                   abstract_eval=_eigh_abstract, multiple_results=True)


# --- forward-mode rules --------------------------------------------------------------------
def _eigh_jvp(primals, tangents, *, UPLO):
    """dw = diag(V^H dA V); dV = V (F * V^H dA V), F_ij = 1 / (w_j - w_i) off the diagonal.

    Like the backend, the rule reads one triangle of dA (``UPLO``), mirrored. Eigenvalues
    must be distinct for the eigenvector tangent to exist."""
    from fx.numpy import conj, diagonal, expand_dims, eye, matmul, swapaxes, tril, triu, where
    (a,), (t,) = primals, tangents
    w, v = eigh_p.bind(a, UPLO=UPLO)
    lower = UPLO == "L"
    half = tril(t) if lower else triu(t)
    t = half + conj(swapaxes(tril(t, -1) if lower else triu(t, 1), -1, -2))
    v_h = conj(swapaxes(v, -1, -2))
    s = matmul(matmul(v_h, t), v)
    gaps = expand_dims(w, -2) - expand_dims(w, -1)
    off_diagonal = eye(w.shape[-1], dtype=bool) == False  # noqa: E712
    f = where(off_diagonal, 1 / where(off_diagonal, gaps, 1), 0)
    return [w, v], [diagonal(s, axis1=-2, axis2=-1).real.astype(w.dtype), matmul(v, f * s)]


eigh_p.jvp = _eigh_jvp


def _h(v):
    """Conjugate transpose of the last two axes."""
    from fx.numpy import conj, swapaxes
    return conj(swapaxes(v, -1, -2))


def _qr_jvp(primals, tangents, *, mode):
    """``dA = dQ R + Q dR`` with ``Q^H dQ`` skew-Hermitian and ``dR R^-1`` upper triangular.

    For ``m >= n``, ``C = Q^H dA R^-1`` splits into the two: ``Omega = tril(C, -1) -
    tril(C, -1)^H`` (plus the imaginary diagonal of C for complex input: diag R stays real),
    ``dR = (C - Omega) R`` and ``dQ = Q Omega + (I - Q Q^H) dA R^-1``. For ``m < n``, ``A =
    Q [R1 R2]``: the square rule on ``A1 = Q R1``, and ``dR2 = dQ^H A2 + Q^H dA2``. R (R1)
    must be invertible. Complete QR of a tall matrix has no rule: the trailing columns of
    Q are not unique (as in JAX)."""
    from fx.numpy import concatenate, eye, matmul, real, tril
    (a,), (t,) = primals, tangents
    m, n = a.shape[-2:]
    if mode == "complete" and m > n:
        raise NotImplementedError(
            f"forward-mode differentiation of qr(mode='complete') of a tall matrix (shape "
            f"{a.shape}) is not implemented: the last m - n columns of Q are not unique; "
            "use mode='reduced'")
    q, r = qr_p.bind(a, mode=mode)
    wide = m < n
    r1, t1 = (r[..., :m], t[..., :m]) if wide else (r, t)
    t_rinv = triangular_solve_p.bind(r1, t1, left_side=False, lower=False, transpose_a=False)
    c = matmul(_h(q), t_rinv)
    low = tril(c, -1)
    omega = low - _h(low)
    if a.dtype.kind == "c":
        omega = omega + eye(c.shape[-1], dtype=a.dtype) * (c - real(c).astype(a.dtype))
    dq = matmul(q, omega - c) + t_rinv
    dr = matmul(c - omega, r1)
    if wide:
        dr = concatenate([dr, matmul(_h(dq), a[..., m:]) + matmul(_h(q), t[..., m:])], axis=-1)
    return [q, r], [dq, dr]


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    """With ``dS = U^H dA V``: ``ds = Re diag(dS)``, and for ``F_ij = 1 / (s_j^2 - s_i^2)``
    (0 on the diagonal) ``dU = U (F * (dS S + S dS^H) + D) + (I - U U^H) dA V S^-1``,
    ``dV = V (F * (S dS + dS^H S)) + (I - V V^H) dA^H U S^-1``, ``D = i Im(diag dS) / s``
    (complex input: the phase that keeps ``u_i^H du_i`` imaginary only).

    The factors' tangents need distinct singular values (non-zero ones for the projections
    of non-square input). ``full_matrices=True`` of a non-square matrix has no rule: the
    extra singular vectors are not unique (as in JAX). Without ``compute_uv`` the values
    come from the same decomposition as U and V."""
    from fx.numpy import diagonal, expand_dims, eye, matmul, where
    (a,), (t,) = primals, tangents
    m, n = a.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            f"forward-mode differentiation of svd(full_matrices=True) of a non-square matrix "
            f"(shape {a.shape}) is not implemented: the extra singular vectors are not unique; "
            "use full_matrices=False")
    u, s, vh = svd_p.bind(a, full_matrices=full_matrices and compute_uv, compute_uv=True)
    v = _h(vh)
    ds_mat = matmul(matmul(_h(u), t), v)
    ds = diagonal(ds_mat, axis1=-2, axis2=-1).real.astype(s.dtype)
    if not compute_uv:
        return [s], [ds]
    k = s.shape[-1]
    s_row, s_col = expand_dims(s, -2), expand_dims(s, -1)  # s_j, s_i at [i, j]
    eye_k = eye(k, dtype=s.dtype)
    f = (1 / ((s_row + s_col) * (s_row - s_col) + eye_k) - eye_k).astype(a.dtype)
    s_row_a, s_col_a = s_row.astype(a.dtype), s_col.astype(a.dtype)
    ds_s, s_ds = ds_mat * s_row_a, s_col_a * ds_mat
    du_inner = f * (ds_s + _h(ds_s))
    if a.dtype.kind == "c":
        s_inv = where(s == 0, 0, 1 / where(s == 0, 1, s)).astype(a.dtype)
        du_inner = du_inner + 0.5 * (ds_mat - _h(ds_mat)) * (eye_k.astype(a.dtype)
                                                              * expand_dims(s_inv, -2))
    du = matmul(u, du_inner)
    dv = matmul(v, f * (s_ds + _h(s_ds)))
    if m > n:  # the part of dA V outside the span of U
        t_v = matmul(t, v)
        du = du + (t_v - matmul(u, matmul(_h(u), t_v))) / s_row_a
    if n > m:
        t_u = matmul(_h(t), u)
        dv = dv + (t_u - matmul(v, matmul(vh, t_u))) / s_row_a
    return [u, s, vh], [du, ds, _h(dv)]


qr_p.jvp, svd_p.jvp = _qr_jvp, _svd_jvp


# --- batching ------------------------------------------------------------------------------
for _p in (qr_p, svd_p, eigh_p):
    _p.batch = leading_batch(_p)
