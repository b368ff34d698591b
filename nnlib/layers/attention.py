"""Attention layers: ``MultiHeadAttention`` and the Transformer encoder and decoder layers,
as ``torch.nn``'s with the embedding size inferred from the example input.

Parameters have PyTorch's ``state_dict`` names (``in_proj_weight``, ``out_proj.weight``
as ``{"out_proj": {"weight"}}``, ``self_attn``, ``linear1``, ``norm1``, ...) and
initialisations (Xavier-uniform input projections, zero projection biases, Linear's
default elsewhere, LayerNorm ones and zeros). Masks follow ``nn.MultiheadAttention``: a
boolean True leaves a position out, a float mask is added to the scores. Masks and
options are keyword arguments of ``apply``.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> layer = nnlib.TransformerEncoderLayer(nhead=2, dim_feedforward=16, batch_first=True)
    >>> x = fnp.ones((3, 5, 8))                       # (batch, sequence, d_model)
    >>> params, state = layer.init(fx.random.key(0), x)
    >>> out, _ = layer.apply(params, state, x, is_causal=True)
    >>> out.shape, params["self_attn"]["in_proj_weight"].shape
    ((3, 5, 8), (24, 8))
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import fx.numpy as fnp
import nnlib.functional as F
from fx import lax, random
from nnlib import init
from nnlib.module import Module

__all__ = ["MultiHeadAttention", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _positive(layer: str, name: str, value, optional=False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def _rate(layer: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{layer}: dropout must be a number in [0, 1), got {value!r}")


def _float_dtype(x):
    return x.dtype if x.dtype.kind == "f" else None


def _needs_key(layer: Module, rate, key, train) -> bool:
    if not train or rate == 0:
        return False
    if key is None:
        raise ValueError(f"{layer.name}: train=True with dropout={rate} needs a PRNG key "
                         "(apply(..., key=...)), or use train=False")
    return True


class _KeywordInputs(Module):
    """``init`` / ``apply`` pass keyword options (masks, flags) on to ``forward``."""

    def init(self, key, *inputs, **options):
        return self.init_params(key, *inputs), {}

    def apply(self, params, state, *inputs, key=None, train: bool = False, **options):
        return self.forward(params, *inputs, key=key, train=train, **options), state


def _linear_params(key, out_features, in_features, dtype, bias=True):
    wkey, bkey = random.split(key)
    p = {"weight": init.default_uniform(wkey, (out_features, in_features), dtype,
                                        fan_in=in_features)}
    if bias:
        p["bias"] = init.default_uniform(bkey, (out_features,), dtype, fan_in=in_features)
    return p


def _mha_params(key, embed_dim, kdim, vdim, dtype, bias=True):
    """``nn.MultiheadAttention._reset_parameters``: Xavier-uniform projections, zero biases,
    the output projection's weight as Linear's default."""
    e = embed_dim
    k_in, k_q, k_k, k_v, k_out = random.split(key, 5)
    if kdim == e and vdim == e:
        p = {"in_proj_weight": init.xavier_uniform(k_in, (3 * e, e), dtype)}
    else:
        p = {"q_proj_weight": init.xavier_uniform(k_q, (e, e), dtype),
             "k_proj_weight": init.xavier_uniform(k_k, (e, kdim), dtype),
             "v_proj_weight": init.xavier_uniform(k_v, (e, vdim), dtype)}
    if bias:
        p["in_proj_bias"] = init.zeros(None, (3 * e,), dtype)
    p["out_proj"] = _linear_params(k_out, e, e, dtype, bias=False)
    if bias:
        p["out_proj"]["bias"] = init.zeros(None, (e,), dtype)
    return p


@dataclasses.dataclass(frozen=True)
class MultiHeadAttention(_KeywordInputs):
    """Multi-head attention, as ``nn.MultiheadAttention`` (``embed_dim`` inferred from the
    query; ``kdim`` / ``vdim`` from the key and value).

    ``apply(params, state, query, key_input=None, value_input=None, *, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False,
    key=None, train=False)`` gives ``((output, weights), state)``; the key and value
    default to the query (self-attention). Inputs are ``(L, N, E)``, ``(N, L, E)`` with
    ``batch_first``, or unbatched ``(L, E)``; ``key_padding_mask`` is ``(N, S)``;
    ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``; weights ``(N, L, S)`` (``(N,
    num_heads, L, S)`` without averaging) or None. ``dropout`` acts on the attention weights
    in training (needs ``key``).

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> mha = nnlib.MultiHeadAttention(num_heads=2)
        >>> q, kv = fnp.ones((4, 3, 8)), fnp.ones((6, 3, 5))      # (L, N, E), (S, N, kdim)
        >>> params, state = mha.init(fx.random.key(0), q, kv, kv)
        >>> (out, w), _ = mha.apply(params, state, q, kv, kv)
        >>> out.shape, w.shape, params["k_proj_weight"].shape
        ((4, 3, 8), (3, 4, 6), (8, 5))
    """

    num_heads: int
    embed_dim: int | None = None
    dropout: float = 0.0
    bias: bool = True
    batch_first: bool = False

    def __post_init__(self):
        _positive(self.name, "num_heads", self.num_heads)
        _positive(self.name, "embed_dim", self.embed_dim, optional=True)
        _rate(self.name, self.dropout)
        if self.embed_dim is not None and self.embed_dim % self.num_heads:
            raise ValueError(f"{self.name}: num_heads={self.num_heads} must divide "
                             f"embed_dim={self.embed_dim}")

    def _check(self, query, key_input, value_input, embed_dim):
        for what, x in (("query", query), ("key", key_input), ("value", value_input)):
            self.check_input(x, ndim=(2, 3), what=what)
        if not query.ndim == key_input.ndim == value_input.ndim:
            raise ValueError(f"{self.name}: query, key and value must all be batched or all "
                             f"unbatched, got shapes {tuple(query.shape)}, "
                             f"{tuple(key_input.shape)}, {tuple(value_input.shape)}")
        self.check_input(query, channels=embed_dim, channel_axis=-1, what="query")

    def init_params(self, key, query, key_input=None, value_input=None):
        key_input = query if key_input is None else key_input
        value_input = key_input if value_input is None else value_input
        e = query.shape[-1] if self.embed_dim is None else self.embed_dim
        self._check(query, key_input, value_input, e)
        if e % self.num_heads:
            raise ValueError(f"{self.name}: num_heads={self.num_heads} must divide the "
                             f"query's embedding size {e} (query shape {tuple(query.shape)})")
        return _mha_params(key, e, key_input.shape[-1], value_input.shape[-1],
                           _float_dtype(query), self.bias)

    def forward(self, params, query, key_input=None, value_input=None, *,
                key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False, key=None, train=False):
        key_input = query if key_input is None else key_input
        value_input = key_input if value_input is None else value_input
        self._check(query, key_input, value_input, params["out_proj"]["weight"].shape[0])
        drop = _needs_key(self, self.dropout, key, train)
        seq_first = query.ndim == 3 and not self.batch_first
        swap = (lambda t: fnp.swapaxes(t, 0, 1)) if seq_first else (lambda t: t)
        q = swap(query)
        k = q if key_input is query else swap(key_input)
        v = k if value_input is key_input else swap(value_input)
        out, weights = F.multi_head_attention(
            q, k, v, params, self.num_heads, key_padding_mask=key_padding_mask,
            attn_mask=attn_mask, need_weights=need_weights,
            dropout_p=self.dropout if drop else 0.0, dropout_key=key if drop else None,
            is_causal=is_causal, average_attn_weights=average_attn_weights)
        return swap(out), weights


MultiheadAttention = MultiHeadAttention   # PyTorch's spelling


def _activation(name: str, activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return lambda x: fnp.maximum(x, 0.0)
    if activation == "gelu":   # exact (erf) GELU, PyTorch's default
        return lambda x: 0.5 * x * (1.0 + lax.erf(x * (1.0 / math.sqrt(2.0))))
    raise ValueError(f"{name}: activation must be 'relu', 'gelu' or a callable, got "
                     f"{activation!r}")


class _TransformerLayer(_KeywordInputs):
    """Shared hyperparameter checks, feed-forward block and norms."""

    _norms = 2

    def __post_init__(self):
        _positive(self.name, "nhead", self.nhead)
        _positive(self.name, "dim_feedforward", self.dim_feedforward)
        _positive(self.name, "d_model", self.d_model, optional=True)
        _rate(self.name, self.dropout)
        _activation(self.name, self.activation)
        if self.layer_norm_eps <= 0:
            raise ValueError(f"{self.name}: layer_norm_eps must be positive, got "
                             f"{self.layer_norm_eps}")
        if self.d_model is not None and self.d_model % self.nhead:
            raise ValueError(f"{self.name}: nhead={self.nhead} must divide "
                             f"d_model={self.d_model}")

    def _attention(self):
        return MultiHeadAttention(self.nhead, dropout=self.dropout, bias=self.bias,
                                  batch_first=True)

    def _common_params(self, key, x, attention_names):
        self.check_input(x, ndim=(2, 3))
        e = x.shape[-1] if self.d_model is None else self.d_model
        self.check_input(x, channels=e, channel_axis=-1)
        if e % self.nhead:
            raise ValueError(f"{self.name}: nhead={self.nhead} must divide the input's "
                             f"d_model {e} (input shape {tuple(x.shape)})")
        dtype = _float_dtype(x)
        keys = random.split(key, len(attention_names) + 2)
        p = {n: _mha_params(k, e, e, e, dtype, self.bias)
             for n, k in zip(attention_names, keys)}
        p["linear1"] = _linear_params(keys[-2], self.dim_feedforward, e, dtype, self.bias)
        p["linear2"] = _linear_params(keys[-1], e, self.dim_feedforward, dtype, self.bias)
        for i in range(1, self._norms + 1):
            p[f"norm{i}"] = {"weight": init.ones(None, (e,), dtype)}
            if self.bias:
                p[f"norm{i}"]["bias"] = init.zeros(None, (e,), dtype)
        return p

    def _keys(self, key, train, n):
        if _needs_key(self, self.dropout, key, train):
            return list(random.split(key, n)), True
        return [None] * n, False

    def _drop(self, key, x, train):
        return F.dropout(key, x, self.dropout, train=train)

    def _norm(self, p, x):
        return F.layer_norm(x, (x.shape[-1],), p["weight"], p.get("bias"),
                            self.layer_norm_eps)

    def _feed_forward(self, p, x, keys, train):
        act = _activation(self.name, self.activation)
        h = act(F.linear(x, p["linear1"]["weight"], p["linear1"].get("bias")))
        h = self._drop(keys[0], h, train)
        return self._drop(keys[1], F.linear(h, p["linear2"]["weight"],
                                            p["linear2"].get("bias")), train)

    def _attend(self, p, q, kv, mask, padding, causal, key, train):
        (out, _), _ = self._attention().apply(p, {}, q, kv, kv, key_padding_mask=padding,
                                              attn_mask=mask, need_weights=False,
                                              is_causal=causal, key=key, train=train)
        return out

    def _to_batch_first(self, x):
        return fnp.swapaxes(x, 0, 1) if x.ndim == 3 and not self.batch_first else x


@dataclasses.dataclass(frozen=True)
class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block with residuals and LayerNorms, as
    ``nn.TransformerEncoderLayer`` (``d_model`` inferred from the input).

    Post-norm (default): ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``; with
    ``norm_first``: ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``. ``apply(params, state,
    src, *, src_mask=None, src_key_padding_mask=None, is_causal=False, key=None,
    train=False)``; ``src`` is ``(S, N, E)``, ``(N, S, E)`` with ``batch_first``, or
    ``(S, E)``. Dropout (attention weights, after attention, inside and after the
    feed-forward block) acts in training and needs ``key``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.TransformerEncoderLayer(4, dim_feedforward=32, norm_first=True,
        ...                                       activation="gelu")
        >>> x = fnp.ones((6, 2, 16))
        >>> params, state = layer.init(fx.random.key(0), x)
        >>> out, _ = layer.apply(params, state, x, key=fx.random.key(1), train=True)
        >>> out.shape, sorted(params)
        ((6, 2, 16), ['linear1', 'linear2', 'norm1', 'norm2', 'self_attn'])
    """

    nhead: int
    dim_feedforward: int = 2048
    dropout: float = 0.1
    activation: object = "relu"
    layer_norm_eps: float = 1e-5
    batch_first: bool = False
    norm_first: bool = False
    bias: bool = True
    d_model: int | None = None

    def init_params(self, key, src):
        return self._common_params(key, src, ("self_attn",))

    def forward(self, params, src, *, src_mask=None, src_key_padding_mask=None,
                is_causal=False, key=None, train=False):
        self.check_input(src, ndim=(2, 3))
        self.check_input(src, channels=params["norm1"]["weight"].shape[0], channel_axis=-1)
        keys, train = self._keys(key, train, 5)
        x = self._to_batch_first(src)

        def sa(y):
            y = self._attend(params["self_attn"], y, y, src_mask, src_key_padding_mask,
                             is_causal, keys[0], train)
            return self._drop(keys[1], y, train)

        ff = lambda y: self._feed_forward(params, y, keys[2:4], train)
        if self.norm_first:
            x = x + sa(self._norm(params["norm1"], x))
            x = x + ff(self._norm(params["norm2"], x))
        else:
            x = self._norm(params["norm1"], x + sa(x))
            x = self._norm(params["norm2"], x + ff(x))
        return self._to_batch_first(x)


@dataclasses.dataclass(frozen=True)
class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over ``memory`` and a feed-forward block with residuals
    and LayerNorms, as ``nn.TransformerDecoderLayer``.

    ``apply(params, state, tgt, memory, *, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False, key=None, train=False)``; ``tgt`` ``(T, N, E)`` and
    ``memory`` ``(S, N, E)`` (batch first with ``batch_first``; or unbatched).

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.TransformerDecoderLayer(2, dim_feedforward=16, batch_first=True)
        >>> tgt, memory = fnp.ones((2, 3, 8)), fnp.ones((2, 7, 8))
        >>> params, state = layer.init(fx.random.key(0), tgt, memory)
        >>> layer.apply(params, state, tgt, memory, tgt_is_causal=True)[0].shape
        (2, 3, 8)
    """

    nhead: int
    dim_feedforward: int = 2048
    dropout: float = 0.1
    activation: object = "relu"
    layer_norm_eps: float = 1e-5
    batch_first: bool = False
    norm_first: bool = False
    bias: bool = True
    d_model: int | None = None
    _norms = 3

    def _check_memory(self, tgt, memory):
        self.check_input(memory, ndim=(tgt.ndim,), what="memory")
        self.check_input(memory, channels=tgt.shape[-1], channel_axis=-1, what="memory")

    def init_params(self, key, tgt, memory):
        params = self._common_params(key, tgt, ("self_attn", "multihead_attn"))
        self._check_memory(tgt, memory)
        return params

    def forward(self, params, tgt, memory, *, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
                memory_is_causal=False, key=None, train=False):
        self.check_input(tgt, ndim=(2, 3), what="tgt")
        self.check_input(tgt, channels=params["norm1"]["weight"].shape[0], channel_axis=-1,
                         what="tgt")
        self._check_memory(tgt, memory)
        keys, train = self._keys(key, train, 7)
        x, mem = self._to_batch_first(tgt), self._to_batch_first(memory)

        def sa(y):
            y = self._attend(params["self_attn"], y, y, tgt_mask, tgt_key_padding_mask,
                             tgt_is_causal, keys[0], train)
            return self._drop(keys[1], y, train)

        def mha(y):
            y = self._attend(params["multihead_attn"], y, mem, memory_mask,
                             memory_key_padding_mask, memory_is_causal, keys[2], train)
            return self._drop(keys[3], y, train)

        ff = lambda y: self._feed_forward(params, y, keys[4:6], train)
        if self.norm_first:
            x = x + sa(self._norm(params["norm1"], x))
            x = x + mha(self._norm(params["norm2"], x))
            x = x + ff(self._norm(params["norm3"], x))
        else:
            x = self._norm(params["norm1"], x + sa(x))
            x = self._norm(params["norm2"], x + mha(x))
            x = self._norm(params["norm3"], x + ff(x))
        return self._to_batch_first(x)
