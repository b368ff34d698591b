"""Attention functions against NumPy references written here (softmax(QK^T/sqrt(d) + mask)V,
heads split and merged by column slices), derivatives in float64, vmap, jit and errors."""
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib.functional as F
from fx import random
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.normal(size=shape)


# --- NumPy references ------------------------------------------------------------------------
def ref_softmax(s):
    """Softmax over the last axis; rows that are all -inf give zeros (PyTorch's safe softmax)."""
    top = s.max(-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)
    total = e.sum(-1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def ref_sdpa(q, k, v, keep=None, add=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if add is not None:
        s = s + add
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    return ref_softmax(s) @ v


def ref_mha(query, key, value, p, heads, drop=None, average=True):
    """A loop over heads with column slices; ``drop`` (B..., L, S) bool = left out."""
    e = query.shape[-1]
    d = e // heads
    if "in_proj_weight" in p:
        w = np.asarray(p["in_proj_weight"])
        wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
    else:
        wq, wk, wv = (np.asarray(p[f"{n}_proj_weight"]) for n in "qkv")
    b = np.asarray(p["in_proj_bias"]) if "in_proj_bias" in p else np.zeros(3 * e)
    q, k, v = query @ wq.T + b[:e], key @ wk.T + b[e:2 * e], value @ wv.T + b[2 * e:]
    outs, weights = [], []
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        s = q[..., cols] @ np.swapaxes(k[..., cols], -1, -2) / math.sqrt(d)
        if drop is not None:
            s = np.where(drop, -np.inf, s)
        weights.append(ref_softmax(s))
        outs.append(weights[-1] @ v[..., cols])
    out = np.concatenate(outs, -1) @ np.asarray(p["out_proj"]["weight"]).T
    if "bias" in p["out_proj"]:
        out = out + np.asarray(p["out_proj"]["bias"])
    weights = np.stack(weights, -3)
    return out, (weights.mean(-3) if average else weights)


def mha_params(e, kdim=None, vdim=None, bias=True):
    p = {"out_proj": {"weight": f64(normal(e, e) / math.sqrt(e))}}
    if kdim is None and vdim is None:
        p["in_proj_weight"] = f64(normal(3 * e, e) / math.sqrt(e))
    else:
        p["q_proj_weight"] = f64(normal(e, e))
        p["k_proj_weight"] = f64(normal(e, kdim))
        p["v_proj_weight"] = f64(normal(e, vdim))
    if bias:
        p["in_proj_bias"] = f64(normal(3 * e))
        p["out_proj"]["bias"] = f64(normal(e))
    return p


Q, K, V = normal(2, 3, 4), normal(2, 5, 4), normal(2, 5, 6)


# --- scaled_dot_product_attention: values ----------------------------------------------------
def test_sdpa_plain_and_scaled():
    close(F.scaled_dot_product_attention(f64(Q), f64(K), f64(V)), ref_sdpa(Q, K, V))
    close(F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), scale=0.3),
          ref_sdpa(Q, K, V, scale=0.3))


def test_sdpa_masks_and_causal():
    keep = RNG.random((3, 5)) < 0.6
    keep[:, 0] = True
    close(F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), attn_mask=fx.asarray(keep)),
          ref_sdpa(Q, K, V, keep=keep))
    add = normal(2, 3, 5)
    close(F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), attn_mask=f64(add)),
          ref_sdpa(Q, K, V, add=add))
    causal = np.tril(np.ones((3, 5), bool))
    close(F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), is_causal=True),
          ref_sdpa(Q, K, V, keep=causal))
    first = F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), is_causal=True)[:, 0]
    close(first, V[:, 0])   # query 0 only sees key 0


def test_sdpa_heads_and_broadcast_batch():
    q, k, v = normal(2, 3, 4, 8), normal(1, 3, 6, 8), normal(1, 3, 6, 5)
    close(F.scaled_dot_product_attention(f64(q), f64(k), f64(v)), ref_sdpa(q, k, v))


def test_fully_masked_rows_are_zero_with_finite_gradients():
    keep = np.ones((3, 5), bool)
    keep[1] = False
    out = F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), attn_mask=fx.asarray(keep))
    close(out[:, 1], np.zeros((2, 6)))
    close(out, ref_sdpa(Q, K, V, keep=keep))
    minus_inf = np.where(keep, 0.0, -np.inf)
    f = lambda q: fnp.sum(F.scaled_dot_product_attention(q, f64(K), f64(V), f64(minus_inf)))
    g = np.asarray(grad(f)(f64(Q)))
    assert np.isfinite(g).all() and np.all(g[:, 1] == 0)


def test_sdpa_float32_stays_float32():
    out = F.scaled_dot_product_attention(fnp.ones((2, 3), "float32"), fnp.ones((4, 3)),
                                         fnp.ones((4, 2)), attn_mask=fnp.zeros((2, 4), "float64"))
    assert out.dtype == np.float32


def test_sdpa_dropout():
    q, k, v = f64(Q), f64(K), f64(V)
    with pytest.raises(ValueError, match="dropout_key"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, dropout_key=random.key(1))
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, dropout_key=random.key(1))
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, dropout_key=random.key(2))
    close(a, b)
    assert not np.allclose(np.asarray(a), np.asarray(c))
    kept = np.asarray(random.bernoulli(random.key(1), 0.5, (2, 3, 5)))
    s = Q @ np.swapaxes(K, -1, -2) / 2
    close(a, np.where(kept, ref_softmax(s) * 2, 0) @ V)
    close(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0, dropout_key=random.key(1)),
          np.zeros((2, 3, 6)))


@pytest.mark.parametrize("kwargs, err, match", [
    ({"attn_mask": np.ones((3, 5), bool), "is_causal": True}, ValueError, "not both"),
    ({"attn_mask": np.ones((4, 5), bool)}, ValueError, "does not broadcast"),
    ({"attn_mask": np.ones((3, 5), np.int32)}, TypeError, "bool or float"),
    ({"dropout_p": 1.5}, ValueError, "dropout_p"),
])
def test_sdpa_bad_arguments(kwargs, err, match):
    kwargs = {n: (fx.asarray(a) if isinstance(a, np.ndarray) else a) for n, a in kwargs.items()}
    with pytest.raises(err, match=match):
        F.scaled_dot_product_attention(f64(Q), f64(K), f64(V), **kwargs)


def test_sdpa_bad_shapes():
    with pytest.raises(ValueError, match="same feature size"):
        F.scaled_dot_product_attention(f64(Q), f64(normal(2, 5, 3)), f64(V))
    with pytest.raises(ValueError, match="key and value"):
        F.scaled_dot_product_attention(f64(Q), f64(K), f64(normal(2, 4, 6)))
    with pytest.raises(ValueError, match=r"\(\.\.\., length, features\)"):
        F.scaled_dot_product_attention(f64(np.ones(4)), f64(K), f64(V))
    with pytest.raises(ValueError, match="do not broadcast"):
        F.scaled_dot_product_attention(f64(normal(3, 3, 4)), f64(K), f64(V))


# --- scaled_dot_product_attention: transforms ------------------------------------------------
def test_sdpa_check_grads():
    keep = fx.asarray(np.array([[True, False, True], [False, True, True]]))
    add = f64(normal(2, 3))
    f = lambda q, k, v: (F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
                         + F.scaled_dot_product_attention(q, k, v, attn_mask=add, scale=0.7))
    check_grads(f, (f64(normal(2, 2)), f64(normal(3, 2)), f64(normal(3, 2))), order=2)


def test_sdpa_vmap_and_jit():
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    want = np.stack([np.asarray(f(f64(Q[i]), f64(K[i]), f64(V[i]))) for i in range(2)])
    close(vmap(f)(f64(Q), f64(K), f64(V)), want)
    close(jit(f)(f64(Q), f64(K), f64(V)), want)
    g = lambda q, key: F.scaled_dot_product_attention(q, q, q, dropout_p=0.3, dropout_key=key)
    keys = random.split(random.key(0), 2)
    want = np.stack([np.asarray(g(f64(Q[i]), keys[i])) for i in range(2)])
    close(vmap(g)(f64(Q), keys), want)
    close(jit(g)(f64(Q[0]), keys[0]), want[0])


# --- multi_head_attention --------------------------------------------------------------------
X = normal(2, 4, 6)
MEM = normal(2, 5, 6)


def test_mha_self_attention_matches_reference():
    p = mha_params(6)
    out, w = F.multi_head_attention(f64(X), f64(X), f64(X), p, 2)
    want, want_w = ref_mha(X, X, X, p, 2)
    close(out, want)
    close(w, want_w)
    out, w = F.multi_head_attention(f64(X), f64(X), f64(X), p, 3, average_attn_weights=False)
    want, want_w = ref_mha(X, X, X, p, 3, average=False)
    close(out, want)
    close(w, want_w)
    assert w.shape == (2, 3, 4, 4)


def test_mha_cross_attention_packed_and_separate_weights():
    p = mha_params(6)
    memory = f64(MEM)
    out, _ = F.multi_head_attention(f64(X), memory, memory, p, 2)
    close(out, ref_mha(X, MEM, MEM, p, 2)[0])
    value = normal(2, 5, 6)
    out, _ = F.multi_head_attention(f64(X), memory, f64(value), p, 2)
    close(out, ref_mha(X, MEM, value, p, 2)[0])
    p = mha_params(6, kdim=3, vdim=7, bias=False)
    k, v = normal(2, 5, 3), normal(2, 5, 7)
    out, w = F.multi_head_attention(f64(X), f64(k), f64(v), p, 2, need_weights=False)
    close(out, ref_mha(X, k, v, p, 2)[0])
    assert w is None


def test_mha_masks():
    p = mha_params(6)
    pad = np.zeros((2, 5), bool)
    pad[0, 3:] = True
    pad[1, 0] = True
    blocked = RNG.random((4, 5)) < 0.3
    drop = pad[:, None, :] | blocked
    out, w = F.multi_head_attention(f64(X), f64(MEM), f64(MEM), p, 2,
                                    key_padding_mask=fx.asarray(pad),
                                    attn_mask=fx.asarray(blocked))
    want, want_w = ref_mha(X, MEM, MEM, p, 2, drop=drop)
    close(out, want)
    close(w, want_w)
    float_pad = f64(np.where(pad, -np.inf, 0.0))
    float_mask = f64(np.where(blocked, -np.inf, 0.0).reshape(1, 4, 5).repeat(4, 0))  # (N*H,L,S)
    out, _ = F.multi_head_attention(f64(X), f64(MEM), f64(MEM), p, 2,
                                    key_padding_mask=float_pad, attn_mask=float_mask)
    close(out, want)
    causal_drop = ~np.tril(np.ones((4, 4), bool))
    out, _ = F.multi_head_attention(f64(X), f64(X), f64(X), p, 2, is_causal=True)
    close(out, ref_mha(X, X, X, p, 2, drop=causal_drop)[0])
    out, _ = F.multi_head_attention(f64(X), f64(X), f64(X), p, 2, is_causal=True,
                                    attn_mask=fx.asarray(causal_drop))
    close(out, ref_mha(X, X, X, p, 2, drop=causal_drop)[0])


def test_mha_unbatched_and_extra_batch_dims():
    p = mha_params(6)
    close(F.multi_head_attention(f64(X[0]), f64(X[0]), f64(X[0]), p, 2)[0],
          ref_mha(X[0], X[0], X[0], p, 2)[0])
    x = normal(2, 3, 4, 6)
    close(F.multi_head_attention(f64(x), f64(x), f64(x), p, 3)[0], ref_mha(x, x, x, p, 3)[0])


def test_mha_dropout_needs_key_and_is_seeded():
    p, x = mha_params(6), f64(X)
    with pytest.raises(ValueError, match="dropout_key"):
        F.multi_head_attention(x, x, x, p, 2, dropout_p=0.2)
    a = F.multi_head_attention(x, x, x, p, 2, dropout_p=0.2, dropout_key=random.key(3))
    b = F.multi_head_attention(x, x, x, p, 2, dropout_p=0.2, dropout_key=random.key(3))
    close(a[0], b[0])
    assert not np.allclose(np.asarray(a[0]), np.asarray(F.multi_head_attention(x, x, x, p, 2)[0]))


def test_mha_bad_input():
    p, x = mha_params(6), f64(X)
    with pytest.raises(ValueError, match="divide"):
        F.multi_head_attention(x, x, x, p, 4)
    with pytest.raises(ValueError, match="in_proj_weight must have shape"):
        F.multi_head_attention(f64(normal(2, 4, 5)), x, x, p, 1)
    with pytest.raises(ValueError, match="same batch dimensions"):
        F.multi_head_attention(x, f64(normal(3, 4, 6)), f64(normal(3, 4, 6)), p, 2)
    with pytest.raises(ValueError, match="key_padding_mask must have shape"):
        F.multi_head_attention(x, x, x, p, 2, key_padding_mask=fnp.zeros((2, 3), bool))
    with pytest.raises(ValueError, match="k_proj_weight"):
        F.multi_head_attention(x, f64(normal(2, 5, 4)), f64(normal(2, 5, 7)),
                               mha_params(6, kdim=3, vdim=7), 2)
    with pytest.raises(ValueError, match="rank|length"):
        F.multi_head_attention(f64(np.ones(6)), x, x, p, 2)


def test_mha_check_grads_vmap_jit():
    p = mha_params(4)
    x, mem = f64(normal(3, 4)), f64(normal(2, 4))
    pad = fx.asarray(np.array([False, True]))
    f = lambda p, x, m: F.multi_head_attention(x, m, m, p, 2, key_padding_mask=pad)[0]
    check_grads(f, (p, x, mem), order=1)
    check_grads(lambda x: F.multi_head_attention(x, x, x, p, 2, is_causal=True)[0], (x,),
                order=2)
    xs, ms = f64(normal(3, 3, 4)), f64(normal(3, 2, 4))
    want = np.stack([np.asarray(f(p, xs[i], ms[i])) for i in range(3)])
    close(vmap(f, in_axes=(None, 0, 0))(p, xs, ms), want)
    close(jit(f)(p, xs[1], ms[1]), want[1])
