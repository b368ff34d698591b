"""Softmax-type activations along an axis, with ``torch.nn.functional``'s names and
arguments: ``softmax``, ``log_softmax`` (the maximum is subtracted first) and ``glu``.

Example:
    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.softmax(fnp.asarray([0.0, 0.0]))
    Array([0.5, 0.5], dtype=float32)
"""
from __future__ import annotations

import functools

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.core.aval import aval_of
from nnlib.functional.activations import _rule, sigmoid

__all__ = ["softmax", "log_softmax", "glu"]


@functools.lru_cache(maxsize=256)
def _softmax(dim):
    def forward(x):
        e = fnp.exp(x - lax.stop_gradient(fnp.max(x, axis=dim, keepdims=True)))
        return e / fnp.sum(e, axis=dim, keepdims=True), None

    def tangent(t, x, y, aux):
        # the sum is negated on the reduced shape, not the full one, in both directions
        return y * (t + fnp.sum(y * t, axis=dim, keepdims=True) * -1.0)
    return _rule("softmax", forward, tangent)


def _axis(name: str, x, dim: int) -> int:
    ndim = aval_of(x).ndim
    if not isinstance(dim, (int, np.integer)) or not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{name}: dim {dim!r} is out of range for an input of shape "
                         f"{tuple(aval_of(x).shape)}")
    return int(dim) % ndim if ndim else 0


def softmax(x, dim: int = -1, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (the maximum is subtracted first). ``dtype``
    casts the input first, as in torch.

    >>> softmax(fnp.asarray([[0.0, 0.0], [0.0, 1000.0]]), dim=1)
    Array([[0.5, 0.5],
           [0. , 1. ]], dtype=float32)
    """
    x = fnp.asarray(x, dtype=dtype)
    return _softmax(_axis("softmax", x, dim) - x.ndim if x.ndim else None)(x)


def log_softmax(x, dim: int = -1, dtype=None):
    """``x - logsumexp(x)`` along ``dim``; its gradient reuses the forward's ``exp``.

    >>> log_softmax(fnp.asarray([0.0, 0.0]))
    Array([-0.6931472, -0.6931472], dtype=float32)
    """
    x = fnp.asarray(x, dtype=dtype)
    dim = _axis("log_softmax", x, dim) if x.ndim else None
    z = x - lax.stop_gradient(fnp.max(x, axis=dim, keepdims=True))
    # adding -log(sum) (negated on the reduced shape) keeps a full-size negation out of
    # the gradient
    return z + fnp.log(fnp.sum(fnp.exp(z), axis=dim, keepdims=True)) * -1.0


def glu(x, dim: int = -1):
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``x`` along ``dim``.

    >>> glu(fnp.asarray([1.0, 2.0, 0.0, 100.0]))
    Array([0.5, 2. ], dtype=float32)
    """
    shape = tuple(aval_of(x).shape)
    if not shape:
        raise ValueError("glu: the input must have at least one dimension, got a scalar")
    dim = _axis("glu", x, dim)
    if shape[dim] % 2:
        raise ValueError(f"glu: the halved dimension {dim} must have even size, got shape "
                         f"{shape}")
    a, b = fnp.split(x, 2, axis=dim)
    return a * sigmoid(b)
