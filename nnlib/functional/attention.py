"""Attention with ``torch.nn.functional``'s semantics: scaled dot-product attention and
multi-head attention over ``(..., L, E)`` layouts (any leading batch dimensions).

Masks follow PyTorch, whose two functions disagree on what a boolean ``True`` means:

* ``scaled_dot_product_attention``: a boolean ``attn_mask`` is True where a query/key
  pair *takes part*; a float mask is *added* to the scores.
* ``multi_head_attention`` (like ``nn.MultiheadAttention``): a boolean ``attn_mask`` or
  ``key_padding_mask`` is True where a pair is *left out* (padding); float masks are
  added.

A query row whose keys are all left out gets zero weights and a zero output (PyTorch's
math kernel's "safe softmax"), not NaN, so its gradients stay finite.
"""
from __future__ import annotations

import math

import numpy as np

import fx
import fx.numpy as fnp
from fx import lax, random

__all__ = ["scaled_dot_product_attention", "multi_head_attention"]


# --- helpers ---------------------------------------------------------------------------------
def _is_bool(x) -> bool:
    return np.dtype(x.dtype) == np.bool_


def _check_mask_dtype(name: str, what: str, mask):
    kind = np.dtype(mask.dtype).kind
    if kind not in "bf":
        raise TypeError(f"{name}: {what} must be a bool or float array, got dtype {mask.dtype}")


def _broadcastable(name: str, what: str, shape, target) -> None:
    try:
        full = np.broadcast_shapes(tuple(shape), tuple(target))
    except ValueError:
        full = None
    if full != tuple(target):
        raise ValueError(f"{name}: {what} of shape {tuple(shape)} does not broadcast to the "
                         f"scores' shape {tuple(target)}")


def _causal(q_len: int, k_len: int):
    """True on and below the diagonal (top-left aligned, as PyTorch's ``is_causal``)."""
    return fx.asarray(np.tri(q_len, k_len, dtype=bool))


def _safe_softmax(scores):
    """Softmax over the last axis; rows that are all ``-inf`` give zeros instead of NaN."""
    top = lax.stop_gradient(fnp.max(scores, axis=-1, keepdims=True))
    top = fnp.where(fnp.isfinite(top), top, 0.0)
    e = fnp.exp(scores - top)
    total = fnp.sum(e, axis=-1, keepdims=True)
    return e / fnp.where(total == 0, 1.0, total)


def _check_dropout(name: str, p, key) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout_p must be in [0, 1], got {p}")
    if p > 0.0 and key is None:
        raise ValueError(f"{name}: dropout_p={p} needs a dropout_key (randomness takes an "
                         "explicit key); pass dropout_p=0.0 for no dropout")
    return p


def _dropout(x, p: float, key):
    if p == 1.0:
        return fnp.zeros_like(x)
    keep = random.bernoulli(key, 1.0 - p, tuple(x.shape))
    return fnp.where(keep, x * (1.0 / (1.0 - p)), 0.0)


def _attend(q, k, v, keep, bias, scale, dropout_p, dropout_key):
    """``(softmax(q k^T * scale + bias, masked where not keep) @ v, weights)``."""
    scores = fnp.matmul(q * scale, fnp.swapaxes(k, -1, -2))
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = fnp.where(keep, scores, -fnp.inf)
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, dropout_key)
    return fnp.matmul(weights, v), weights


def _check_qkv(name: str, query, key, value) -> None:
    for what, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim < 2:
            raise ValueError(f"{name}: {what} must have shape (..., length, features), got "
                             f"shape {tuple(x.shape)}")
    if key.shape[:-1] != value.shape[:-1]:
        raise ValueError(f"{name}: key and value must agree on all but their last axis, got "
                         f"shapes {tuple(key.shape)} and {tuple(value.shape)}")


# --- scaled dot-product attention ------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, dropout_key=None):
    """``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's function.

    Args:
        query: ``(..., L, E)``.
        key: ``(..., S, E)`` (leading dimensions broadcast against the query's).
        value: ``(..., S, Ev)``.
        attn_mask: broadcastable to ``(..., L, S)``: bool (True = the pair takes part) or
            float (added to the scores, e.g. ``-inf`` to exclude).
        dropout_p: dropout rate on the attention weights (applied whenever > 0, as in
            PyTorch; pass 0.0 in evaluation).
        is_causal: query ``i`` attends to keys ``0..i`` (top-left aligned); exclusive with
            ``attn_mask``.
        scale: score scale, default ``1/sqrt(E)``.
        dropout_key: PRNG key, required when ``dropout_p > 0``.

    Returns:
        ``(..., L, Ev)``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> q = k = v = fnp.ones((2, 4, 8))
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 8)
    """
    name = "scaled_dot_product_attention"
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    _check_qkv(name, query, key, value)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{name}: query and key must have the same feature size, got shapes "
                         f"{tuple(query.shape)} and {tuple(key.shape)}")
    dropout_p = _check_dropout(name, dropout_p, dropout_key)
    try:
        batch = np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
    except ValueError:
        raise ValueError(f"{name}: the batch dimensions of query {tuple(query.shape)} and key "
                         f"{tuple(key.shape)} do not broadcast") from None
    q_len, k_len = query.shape[-2], key.shape[-2]
    keep = bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{name}: pass either attn_mask or is_causal=True, not both")
        keep = _causal(q_len, k_len)
    elif attn_mask is not None:
        attn_mask = fnp.asarray(attn_mask)
        _check_mask_dtype(name, "attn_mask", attn_mask)
        _broadcastable(name, "attn_mask", attn_mask.shape, tuple(batch) + (q_len, k_len))
        if _is_bool(attn_mask):
            keep = attn_mask
        else:
            bias = attn_mask.astype(query.dtype)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return _attend(query, key, value, keep, bias, scale, dropout_p, dropout_key)[0]


# --- multi-head attention --------------------------------------------------------------------
def _linear(x, weight, bias):
    y = fnp.matmul(x, weight.T)
    return y if bias is None else y + bias


def _projections(name, query, key, value, params, embed_dim):
    """``q, k, v`` from the packed ``in_proj_weight`` or separate ``q/k/v_proj_weight``."""
    e = embed_dim
    packed = "in_proj_weight" in params
    if packed:
        w = params["in_proj_weight"]
        if tuple(w.shape) != (3 * e, e) or key.shape[-1] != e or value.shape[-1] != e:
            raise ValueError(f"{name}: in_proj_weight must have shape {(3 * e, e)} with query, "
                             f"key and value of {e} features; got weight {tuple(w.shape)}, "
                             f"query {tuple(query.shape)}, key {tuple(key.shape)}, value "
                             f"{tuple(value.shape)}")
    bias = params.get("in_proj_bias")
    if bias is not None and tuple(bias.shape) != (3 * e,):
        raise ValueError(f"{name}: in_proj_bias must have shape {(3 * e,)}, got "
                         f"{tuple(bias.shape)}")
    bq, bk, bv = (None,) * 3 if bias is None else (bias[:e], bias[e:2 * e], bias[2 * e:])
    if packed:
        if query is key and key is value:   # self-attention: one matmul
            qkv = _linear(query, w, bias)
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        q = _linear(query, w[:e], bq)
        if key is value:
            kv = _linear(key, w[e:], None if bias is None else bias[e:])
            return q, kv[..., :e], kv[..., e:]
        return q, _linear(key, w[e:2 * e], bk), _linear(value, w[2 * e:], bv)
    out = []
    for what, x, b in (("q", query, bq), ("k", key, bk), ("v", value, bv)):
        w = params[f"{what}_proj_weight"]
        if tuple(w.shape) != (e, x.shape[-1]):
            raise ValueError(f"{name}: {what}_proj_weight must have shape {(e, x.shape[-1])}, "
                             f"got {tuple(w.shape)}")
        out.append(_linear(x, w, b))
    return tuple(out)


def _mha_masks(name, key_padding_mask, attn_mask, is_causal, batch, heads, q_len, k_len):
    """The boolean keep mask and additive float mask, shaped to ``batch + (H, L, S)``."""
    keep = bias = None
    if key_padding_mask is not None:
        kpm = fnp.asarray(key_padding_mask)
        _check_mask_dtype(name, "key_padding_mask", kpm)
        if tuple(kpm.shape) != tuple(batch) + (k_len,):
            raise ValueError(f"{name}: key_padding_mask must have shape "
                             f"{tuple(batch) + (k_len,)}, got {tuple(kpm.shape)}")
        kpm = kpm[..., None, None, :]
        keep, bias = (~kpm, None) if _is_bool(kpm) else (None, kpm)
    if attn_mask is None and is_causal:
        attn_mask = ~_causal(q_len, k_len)
    if attn_mask is not None:
        mask = fnp.asarray(attn_mask)
        _check_mask_dtype(name, "attn_mask", mask)
        target = tuple(batch) + (heads, q_len, k_len)
        if mask.ndim == 3 and mask.shape[0] == math.prod(batch) * heads and mask.shape[0] > 1:
            mask = mask.reshape(target)          # PyTorch's (N * num_heads, L, S)
        _broadcastable(name, "attn_mask", mask.shape, target)
        if _is_bool(mask):
            keep = ~mask if keep is None else keep & ~mask
        else:
            bias = mask if bias is None else bias + mask
    return keep, bias


def multi_head_attention(query, key, value, params, num_heads, key_padding_mask=None,
                         attn_mask=None, need_weights=True, dropout_p=0.0, dropout_key=None,
                         is_causal=False, average_attn_weights=True):
    """Multi-head attention as ``nn.MultiheadAttention``, over ``(..., L, E)`` inputs.

    ``params`` has PyTorch's ``state_dict`` layout (``E`` = embed_dim = query features):

    * ``"in_proj_weight"`` ``(3E, E)`` (rows: query, key, value projections) when key and
      value have ``E`` features, or ``"q_proj_weight"`` ``(E, E)``, ``"k_proj_weight"``
      ``(E, kdim)``, ``"v_proj_weight"`` ``(E, vdim)``;
    * ``"in_proj_bias"`` ``(3E,)`` (absent without bias);
    * ``"out_proj"``: ``{"weight": (E, E), "bias": (E,)}`` (no ``"bias"`` without bias).

    Args:
        query: ``(..., L, E)``; key ``(..., S, kdim)``, value ``(..., S, vdim)`` with the
            same leading dimensions.
        num_heads: heads; must divide ``E``.
        key_padding_mask: ``(..., S)``; bool True = padding (left out), or float (added).
        attn_mask: ``(L, S)``, PyTorch's ``(N * num_heads, L, S)``, or broadcastable to
            ``(..., num_heads, L, S)``; bool True = left out, or float (added).
        need_weights: also return the attention weights (after dropout, as PyTorch).
        dropout_p: dropout on the attention weights when > 0 (needs ``dropout_key``).
        is_causal: without ``attn_mask``, a causal mask (query ``i`` sees keys ``0..i``);
            with one, a hint as in PyTorch (the given mask is used).
        average_attn_weights: average the returned weights over heads.

    Returns:
        ``(output (..., L, E), weights)``; weights are ``(..., L, S)`` averaged, ``(...,
        num_heads, L, S)`` per head, or None when ``need_weights`` is False.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"in_proj_weight": fnp.ones((12, 4)) / 4, "in_proj_bias": fnp.zeros(12),
        ...      "out_proj": {"weight": fnp.eye(4), "bias": fnp.zeros(4)}}
        >>> x = fnp.ones((2, 5, 4))
        >>> out, w = F.multi_head_attention(x, x, x, p, num_heads=2)
        >>> out.shape, w.shape
        ((2, 5, 4), (2, 5, 5))
    """
    name = "multi_head_attention"
    query, key, value = fnp.asarray(query), fnp.asarray(key), fnp.asarray(value)
    if query.ndim < 2:
        raise ValueError(f"{name}: query must have shape (..., length, embed_dim), got shape "
                         f"{tuple(query.shape)}")
    _check_qkv(name, query, key, value)
    if query.shape[:-2] != key.shape[:-2]:
        raise ValueError(f"{name}: query and key must have the same batch dimensions, got "
                         f"shapes {tuple(query.shape)} and {tuple(key.shape)}")
    num_heads = int(num_heads)
    e = query.shape[-1]
    if num_heads < 1 or e % num_heads:
        raise ValueError(f"{name}: num_heads={num_heads} must be positive and divide the "
                         f"embedding size {e}")
    dropout_p = _check_dropout(name, dropout_p, dropout_key)
    batch, q_len, k_len, head = tuple(query.shape[:-2]), query.shape[-2], key.shape[-2], \
        e // num_heads
    q, k, v = _projections(name, query, key, value, params, e)
    split = lambda t, n: fnp.swapaxes(t.reshape(batch + (n, num_heads, head)), -2, -3)
    keep, bias = _mha_masks(name, key_padding_mask, attn_mask, is_causal, batch, num_heads,
                            q_len, k_len)
    if bias is not None:
        bias = bias.astype(q.dtype)
    out, weights = _attend(split(q, q_len), split(k, k_len), split(v, k_len), keep, bias,
                           1.0 / math.sqrt(head), dropout_p, dropout_key)
    out = fnp.swapaxes(out, -2, -3).reshape(batch + (q_len, e))
    proj = params["out_proj"]
    if tuple(proj["weight"].shape) != (e, e):
        raise ValueError(f"{name}: out_proj weight must have shape {(e, e)}, got "
                         f"{tuple(proj['weight'].shape)}")
    out = _linear(out, proj["weight"], proj.get("bias"))
    if not need_weights:
        return out, None
    return out, (fnp.mean(weights, axis=-3) if average_attn_weights else weights)
