"""Linear maps and lookups: ``linear``, ``bilinear``, ``embedding``, ``one_hot``, with
``torch.nn.functional``'s arguments and weight layouts.

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> F.linear(fnp.ones((2, 3)), fnp.ones((4, 3)), fnp.zeros(4)).shape
    (2, 4)
"""
from __future__ import annotations

import numpy as np

import fx.numpy as fnp
from fx.config import config
from fx.errors import ConcretizationError
from fx.lax import stop_gradient

__all__ = ["linear", "bilinear", "embedding", "one_hot"]


def _check(op: str, cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(f"{op}: {msg}")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with ``weight`` of shape ``(out_features,
    in_features)``; ``input`` is ``(*, in_features)``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.linear(fnp.ones((2, 3)), fnp.full((1, 3), 2.0), fnp.ones(1))
        Array([[7.],
               [7.]], dtype=float32)
    """
    _check("linear", weight.ndim in (1, 2), f"weight must be (out, in) or (in,), got shape "
           f"{tuple(weight.shape)}")
    _check("linear", input.ndim >= 1 and input.shape[-1] == weight.shape[-1],
           f"input of shape {tuple(input.shape)} does not match weight of shape "
           f"{tuple(weight.shape)} (in_features = {weight.shape[-1]})")
    out = fnp.matmul(input, weight.T if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``
    with ``weight`` of shape ``(out, in1, in2)`` (one matrix product, then a contraction).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.bilinear(fnp.ones((5, 2)), fnp.ones((5, 3)), fnp.ones((4, 2, 3))).shape
        (5, 4)
    """
    _check("bilinear", weight.ndim == 3, f"weight must be (out, in1, in2), got shape "
           f"{tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    _check("bilinear", input1.ndim >= 1 and input1.shape[-1] == in1
           and input2.ndim >= 1 and input2.shape[-1] == in2
           and input1.shape[:-1] == input2.shape[:-1],
           f"inputs of shapes {tuple(input1.shape)} and {tuple(input2.shape)} do not match "
           f"weight of shape {tuple(weight.shape)}")
    w = fnp.reshape(fnp.transpose(weight, (1, 0, 2)), (in1, out_f * in2))
    t = fnp.reshape(fnp.matmul(input1, w), (*input1.shape[:-1], out_f, in2))
    out = fnp.sum(t * fnp.expand_dims(input2, -2), axis=-1)
    return out if bias is None else out + bias


def _counts_at(idx):
    """How often each entry of ``idx`` occurs in ``idx`` (a sort and two searches)."""
    flat = fnp.sort(fnp.ravel(idx))
    return (fnp.searchsorted(flat, idx, side="right")
            - fnp.searchsorted(flat, idx, side="left"))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False):
    """Rows of ``weight`` (``(num_embeddings, embedding_dim)``) at the integer indices
    ``input``: output shape ``(*input.shape, embedding_dim)``.

    ``padding_idx``: positions holding that index get no gradient (the row is not
    trained). ``max_norm``: looked-up rows whose ``norm_type``-norm exceeds it are scaled
    down to it; unlike torch, ``weight`` is not modified in place (the gradient is that of
    torch, which treats the renormalised weight as the leaf). ``scale_grad_by_freq``
    divides each position's gradient by its index's count in ``input``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> w = fnp.arange(6.0).reshape(3, 2)
        >>> F.embedding(fnp.array([2, 0]), w)
        Array([[4., 5.],
               [0., 1.]], dtype=float32)
    """
    op = "embedding"
    _check(op, weight.ndim == 2, f"weight must be (num_embeddings, embedding_dim), got shape "
           f"{tuple(weight.shape)}")
    if input.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got {input.dtype}")
    num = weight.shape[0]
    out = fnp.take(weight, input, axis=0)
    if max_norm is not None:
        norm = fnp.sum(fnp.abs(out) ** norm_type, axis=-1, keepdims=True) ** (1.0 / norm_type)
        scale = fnp.where(norm > max_norm, max_norm / (norm + 1e-7), 1.0)
        out = out + stop_gradient(out * scale - out)
    if scale_grad_by_freq:
        s = (1.0 / _counts_at(input)).astype(out.dtype)[..., None]
        out = out * s + stop_gradient(out - out * s)
    if padding_idx is not None:
        _check(op, -num <= padding_idx < num, f"padding_idx {padding_idx} is out of range "
               f"for {num} embeddings")
        pad = padding_idx % num
        out = fnp.where((input == pad)[..., None], stop_gradient(out), out)
    return out


def one_hot(tensor, num_classes=-1, dtype=None):
    """One-hot encoding: ``out[..., c] = (tensor[...] == c)``, as integers
    (``fx.config.default_int``, or ``dtype``). ``num_classes=-1`` uses ``tensor.max() + 1``
    (needs concrete values: pass ``num_classes`` under ``jit``/``vmap``).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.one_hot(fnp.array([0, 2]))
        Array([[1, 0, 0],
               [0, 0, 1]], dtype=int32)
    """
    op = "one_hot"
    tensor = fnp.asarray(tensor)
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"{op}: class values must be integers, got {tensor.dtype}")
    try:
        lo, hi = (int(fnp.min(tensor)), int(fnp.max(tensor))) if tensor.size else (0, -1)
    except ConcretizationError:
        if num_classes == -1:
            raise ValueError(f"{op}: num_classes=-1 needs concrete values; under a "
                             "transform pass num_classes explicitly") from None
        lo = hi = None
    if num_classes == -1:
        num_classes = hi + 1
    _check(op, isinstance(num_classes, (int, np.integer)) and num_classes >= 0,
           f"num_classes must be a non-negative int or -1, got {num_classes!r}")
    if lo is not None:
        _check(op, lo >= 0, "class values must be non-negative")
        _check(op, hi < num_classes, f"class values must be smaller than num_classes "
               f"({num_classes}), got {hi}")
    dtype = config.default_int if dtype is None else dtype
    classes = fnp.arange(int(num_classes), dtype=tensor.dtype)
    return (fnp.expand_dims(tensor, -1) == classes).astype(dtype)
