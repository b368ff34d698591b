"""Distances and similarities with ``torch.nn.functional``'s names and arguments:
``cosine_similarity``, ``pairwise_distance`` and ``cdist`` (``torch.cdist``).

Example:
    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.pairwise_distance(fnp.asarray([[0.0, 0.0]]), fnp.asarray([[3.0, 4.0]]), eps=0.0)
    Array([5.], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp

__all__ = ["cosine_similarity", "pairwise_distance", "cdist"]


def _broadcast_shape(name: str, a, b) -> tuple:
    try:
        return tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    except ValueError:
        raise ValueError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                         "broadcast") from None


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``x1 . x2 / (max(|x1|, eps) max(|x2|, eps))`` along ``dim`` (the inputs broadcast).

    Computed from three sums of products (only they touch the full-size inputs); a zero
    vector has similarity 0 and a finite gradient.

    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.cosine_similarity(fnp.asarray([[1.0, 0.0], [1.0, 1.0]]), fnp.asarray([[2.0, 0.0]]))
    Array([1.        , 0.70710677], dtype=float32)
    """
    x1, x2 = fnp.asarray(x1), fnp.asarray(x2)
    shape = _broadcast_shape("cosine_similarity", x1, x2)
    if not -len(shape) <= dim < max(len(shape), 1):
        raise ValueError(f"cosine_similarity: dim {dim} is out of range for the broadcast "
                         f"shape {shape}")
    floor = eps * eps  # max(sqrt(s), eps) == sqrt(max(s, eps^2)), and its gradient is safe
    s1 = fnp.maximum(fnp.sum(x1 * x1, axis=dim), floor)
    s2 = fnp.maximum(fnp.sum(x2 * x2, axis=dim), floor)
    return fnp.sum(x1 * x2, axis=dim) / fnp.sqrt(s1 * s2)


def _norm(d, p: float, axis, keepdims: bool = False):
    if p == 2:
        return fnp.sqrt(fnp.sum(d * d, axis=axis, keepdims=keepdims))
    if p == 1:
        return fnp.sum(fnp.abs(d), axis=axis, keepdims=keepdims)
    if math.isinf(p):
        return fnp.max(fnp.abs(d), axis=axis, keepdims=keepdims)
    if p == 0:
        return fnp.sum((d != 0).astype(d.dtype), axis=axis, keepdims=keepdims)
    return fnp.sum(fnp.abs(d) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _check_p(name: str, p) -> float:
    p = float(p)
    if p < 0 or math.isnan(p):
        raise ValueError(f"{name}: p must be non-negative, got {p}")
    return p


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` along the last dimension (the inputs broadcast), as torch's.

    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.pairwise_distance(fnp.asarray([[1.0, 1.0]]), fnp.zeros((1, 2)), p=1.0, eps=0.0)
    Array([2.], dtype=float32)
    """
    x1, x2 = fnp.asarray(x1), fnp.asarray(x2)
    _broadcast_shape("pairwise_distance", x1, x2)
    p = _check_p("pairwise_distance", p)
    d = x1 - x2 + eps if eps else x1 - x2
    if d.ndim == 0:
        return fnp.abs(d) if p else (d != 0).astype(d.dtype)
    return _norm(d, p, -1, keepdim)


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"):
    """Distances between the rows of ``x1`` ``(..., P, M)`` and of ``x2`` ``(..., R, M)``:
    shape ``(..., P, R)``, as ``torch.cdist``.

    For ``p = 2`` and more than 25 rows on either side (or ``compute_mode=
    "use_mm_for_euclid_dist"``) it uses one matrix product, ``|a|^2 + |b|^2 - 2 a.b``
    (faster, less accurate for nearby points); otherwise the differences directly. The
    gradient at a zero distance is 0.

    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.cdist(fnp.asarray([[0.0, 0.0], [1.0, 0.0]]), fnp.asarray([[0.0, 3.0]]))
    Array([[3.       ],
           [3.1622777]], dtype=float32)
    """
    x1, x2 = fnp.asarray(x1), fnp.asarray(x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected inputs of shape (..., P, M) and (..., R, M), got "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"cdist: compute_mode must be one of {modes}, got {compute_mode!r}")
    p = _check_p("cdist", p)
    use_mm = p == 2 and (compute_mode == modes[1] or (
        compute_mode == modes[0] and (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    if use_mm:
        sq = (fnp.sum(x1 * x1, axis=-1)[..., :, None] + fnp.sum(x2 * x2, axis=-1)[..., None, :]
              - 2.0 * fnp.matmul(x1, fnp.swapaxes(x2, -1, -2)))
        sq = fnp.maximum(sq, 0.0)
    elif p == 2:
        d = x1[..., :, None, :] - x2[..., None, :, :]
        sq = fnp.sum(d * d, axis=-1)
    else:
        return _norm(x1[..., :, None, :] - x2[..., None, :, :], p, -1)
    positive = sq > 0  # sqrt'(0) is infinite: give zero distances a zero gradient
    return fnp.where(positive, fnp.sqrt(fnp.where(positive, sq, 1.0)), 0.0)
