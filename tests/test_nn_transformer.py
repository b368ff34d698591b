"""MultiHeadAttention and the Transformer encoder/decoder layers: init names, shapes and
distributions (PyTorch's), values against NumPy references (pre- and post-norm, masks,
layouts), train/eval and dropout keys, derivatives, vmap, jit and bad-input errors."""
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx import random
from fx.testing import check_grads
from tests.helpers import close, f64
from tests.test_nn_attention import ref_mha
from transforms import jit, vmap

RNG = np.random.default_rng(1)


def normal(*shape):
    return RNG.normal(size=shape)


def np_tree(p):
    return {n: (np_tree(a) if isinstance(a, dict) else np.asarray(a)) for n, a in p.items()}


def ref_norm(x, p, eps=1e-5):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p["weight"] + p.get("bias", 0.0)


def ref_ff(x, p, act):
    h = act(x @ p["linear1"]["weight"].T + p["linear1"]["bias"])
    return h @ p["linear2"]["weight"].T + p["linear2"]["bias"]


RELU = lambda x: np.maximum(x, 0)
GELU = lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def ref_encoder(x, p, heads, norm_first=False, drop=None, act=RELU):
    """``x`` (N, S, E) batch first; ``drop`` (N, S, S) bool = left out."""
    p = np_tree(p)
    sa = lambda y: ref_mha(y, y, y, p["self_attn"], heads, drop)[0]
    if norm_first:
        x = x + sa(ref_norm(x, p["norm1"]))
        return x + ref_ff(ref_norm(x, p["norm2"]), p, act)
    x = ref_norm(x + sa(x), p["norm1"])
    return ref_norm(x + ref_ff(x, p, act), p["norm2"])


def ref_decoder(x, mem, p, heads, norm_first=False, self_drop=None, mem_drop=None):
    p = np_tree(p)
    sa = lambda y: ref_mha(y, y, y, p["self_attn"], heads, self_drop)[0]
    ca = lambda y: ref_mha(y, mem, mem, p["multihead_attn"], heads, mem_drop)[0]
    if norm_first:
        x = x + sa(ref_norm(x, p["norm1"]))
        x = x + ca(ref_norm(x, p["norm2"]))
        return x + ref_ff(ref_norm(x, p["norm3"]), p, RELU)
    x = ref_norm(x + sa(x), p["norm1"])
    x = ref_norm(x + ca(x), p["norm2"])
    return ref_norm(x + ref_ff(x, p, RELU), p["norm3"])


def randomise(params):
    """Replace every leaf by random values (zero biases and unit norms test little)."""
    return fx.tree.map(lambda a: f64(RNG.normal(size=a.shape) * 0.5), params)


# --- MultiHeadAttention ----------------------------------------------------------------------
def test_mha_init_follows_torch():
    mha = nnlib.MultiHeadAttention(num_heads=2)
    params, state = mha.init(random.key(0), fnp.ones((5, 3, 8)))
    assert state == {}
    assert {n: (a.shape if n != "out_proj" else {m: b.shape for m, b in a.items()})
            for n, a in params.items()} == {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                                            "out_proj": {"weight": (8, 8), "bias": (8,)}}
    w = np.asarray(params["in_proj_weight"])
    assert np.abs(w).max() <= math.sqrt(6 / 32) and w.std() > 0.5 * math.sqrt(2 / 32)
    assert np.abs(np.asarray(params["out_proj"]["weight"])).max() <= 1 / math.sqrt(8)
    assert not np.asarray(params["in_proj_bias"]).any()
    assert not np.asarray(params["out_proj"]["bias"]).any()
    sep, _ = nnlib.MultiheadAttention(2, bias=False).init(random.key(0), f64(np.ones((5, 8))),
                                                          f64(np.ones((4, 3))),
                                                          f64(np.ones((4, 6))))
    assert sorted(sep) == ["k_proj_weight", "out_proj", "q_proj_weight", "v_proj_weight"]
    assert sep["k_proj_weight"].shape == (8, 3) and sep["v_proj_weight"].dtype == np.float64
    assert list(sep["out_proj"]) == ["weight"]


def test_mha_apply_layouts_match_reference():
    x, mem = normal(3, 4, 6), normal(3, 5, 6)      # (N, L, E)
    p = randomise(nnlib.MultiHeadAttention(3).init(random.key(0), f64(x))[0])
    want, want_w = ref_mha(x, mem, mem, np_tree(p), 3)
    first = nnlib.MultiHeadAttention(3, batch_first=True)
    (out, w), _ = first.apply(p, {}, f64(x), f64(mem), f64(mem))
    close(out, want)
    close(w, want_w)
    seq = nnlib.MultiHeadAttention(3)                 # torch's default (L, N, E)
    (out, w), _ = seq.apply(p, {}, f64(x.swapaxes(0, 1)), f64(mem.swapaxes(0, 1)),
                            f64(mem.swapaxes(0, 1)))
    close(out, want.swapaxes(0, 1))
    close(w, want_w)
    (out, w), _ = seq.apply(p, {}, f64(x[1]), need_weights=False)   # unbatched, self
    close(out, ref_mha(x[1], x[1], x[1], np_tree(p), 3)[0])
    assert w is None
    pad = np.zeros((3, 5), bool)
    pad[:, -1] = True
    (out, w), _ = first.apply(p, {}, f64(x), f64(mem), f64(mem), average_attn_weights=False,
                              key_padding_mask=fx.asarray(pad))
    want, want_w = ref_mha(x, mem, mem, np_tree(p), 3, drop=pad[:, None, :], average=False)
    close(out, want)
    assert w.shape == (3, 3, 4, 5)
    close(w, want_w)


def test_mha_dropout_train_eval():
    mha = nnlib.MultiHeadAttention(2, dropout=0.5, batch_first=True)
    x = f64(normal(2, 4, 6))
    params, state = mha.init(random.key(0), x)
    (ev, _), _ = mha.apply(params, state, x)
    close(ev, F.multi_head_attention(x, x, x, params, 2)[0])
    with pytest.raises(ValueError, match="MultiHeadAttention: train=True with dropout=0.5"):
        mha.apply(params, state, x, train=True)
    (a, _), _ = mha.apply(params, state, x, key=random.key(1), train=True)
    (b, _), _ = mha.apply(params, state, x, key=random.key(1), train=True)
    close(a, b, rtol=0, atol=0)
    assert not np.allclose(np.asarray(a), np.asarray(ev))


def test_mha_bad_input_and_hyperparameters():
    with pytest.raises(ValueError, match="num_heads=3 must divide embed_dim=8"):
        nnlib.MultiHeadAttention(3, embed_dim=8)
    for kwargs in ({"num_heads": 0}, {"num_heads": 2, "dropout": -0.1},
                   {"num_heads": 2, "embed_dim": 0}):
        with pytest.raises(ValueError, match="MultiHeadAttention"):
            nnlib.MultiHeadAttention(**kwargs)
    with pytest.raises(ValueError, match="must divide the query's embedding size 5"):
        nnlib.MultiHeadAttention(2).init(random.key(0), fnp.ones((3, 5)))
    mha = nnlib.MultiHeadAttention(2, embed_dim=8)
    with pytest.raises(ValueError, match=r"expected 8 channels along axis -1 of the query"):
        mha.init(random.key(0), fnp.ones((3, 6)))
    params, state = mha.init(random.key(0), fnp.ones((3, 8)))
    with pytest.raises(ValueError, match=r"MultiHeadAttention: expected 8 channels.*\(3, 6\)"):
        mha.apply(params, state, fnp.ones((3, 6)))
    with pytest.raises(ValueError, match="MultiHeadAttention: expected a query of rank 2 or 3"):
        mha.apply(params, state, fnp.ones((1, 2, 3, 8)))
    with pytest.raises(ValueError, match="all be batched or all unbatched"):
        mha.apply(params, state, fnp.ones((3, 8)), fnp.ones((3, 1, 8)), fnp.ones((3, 1, 8)))


# --- Transformer layers ----------------------------------------------------------------------
def test_encoder_init_names_and_shapes():
    layer = nnlib.TransformerEncoderLayer(2, dim_feedforward=12)
    params, state = layer.init(random.key(0), fnp.ones((5, 3, 8)))
    shapes = fx.tree.map(lambda a: a.shape, params)
    assert state == {} and shapes == {
        "self_attn": {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                      "out_proj": {"weight": (8, 8), "bias": (8,)}},
        "linear1": {"weight": (12, 8), "bias": (12,)},
        "linear2": {"weight": (8, 12), "bias": (8,)},
        "norm1": {"weight": (8,), "bias": (8,)}, "norm2": {"weight": (8,), "bias": (8,)}}
    assert np.all(np.asarray(params["norm1"]["weight"]) == 1)
    assert np.abs(np.asarray(params["linear2"]["weight"])).max() <= 1 / math.sqrt(12)
    nobias, _ = nnlib.TransformerEncoderLayer(2, 12, bias=False).init(random.key(0),
                                                                     fnp.ones((5, 8)))
    assert "bias" not in nobias["norm1"] and "in_proj_bias" not in nobias["self_attn"]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_matches_reference(norm_first, activation):
    x = normal(2, 5, 6)
    layer = nnlib.TransformerEncoderLayer(3, 10, activation=activation, norm_first=norm_first,
                                          batch_first=True)
    p = randomise(layer.init(random.key(0), f64(x))[0])
    pad = np.zeros((2, 5), bool)
    pad[1, 3:] = True
    causal = ~np.tril(np.ones((5, 5), bool))
    out, _ = layer.apply(p, {}, f64(x), src_key_padding_mask=fx.asarray(pad), is_causal=True)
    act = RELU if activation == "relu" else GELU
    want = ref_encoder(x, p, 3, norm_first, drop=pad[:, None, :] | causal, act=act)
    close(out, want, rtol=1e-10, atol=1e-10)
    seq_first = nnlib.TransformerEncoderLayer(3, 10, activation=activation,
                                              norm_first=norm_first)
    out, _ = seq_first.apply(p, {}, f64(x.swapaxes(0, 1)), src_mask=fx.asarray(causal),
                             src_key_padding_mask=fx.asarray(pad))
    close(out, want.swapaxes(0, 1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_matches_reference(norm_first):
    tgt, mem = normal(2, 4, 6), normal(2, 5, 6)
    layer = nnlib.TransformerDecoderLayer(2, 8, norm_first=norm_first, batch_first=True)
    params, _ = layer.init(random.key(0), f64(tgt), f64(mem))
    assert sorted(params) == ["linear1", "linear2", "multihead_attn", "norm1", "norm2",
                              "norm3", "self_attn"]
    p = randomise(params)
    mem_pad = np.zeros((2, 5), bool)
    mem_pad[0, :2] = True
    out, _ = layer.apply(p, {}, f64(tgt), f64(mem), tgt_is_causal=True,
                         memory_key_padding_mask=fx.asarray(mem_pad))
    want = ref_decoder(tgt, mem, p, 2, norm_first, self_drop=~np.tril(np.ones((4, 4), bool)),
                       mem_drop=mem_pad[:, None, :])
    close(out, want, rtol=1e-10, atol=1e-10)
    unbatched, _ = nnlib.TransformerDecoderLayer(2, 8, norm_first=norm_first).apply(
        p, {}, f64(tgt[1]), f64(mem[1]), tgt_is_causal=True)
    close(unbatched, ref_decoder(tgt[1:], mem[1:], p, 2, norm_first,
                                 self_drop=~np.tril(np.ones((4, 4), bool)))[0],
          rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cls, inputs", [
    (nnlib.TransformerEncoderLayer, ((4, 2, 6),)),
    (nnlib.TransformerDecoderLayer, ((4, 2, 6), (3, 2, 6)))])
def test_layers_train_eval_and_keys(cls, inputs):
    layer = cls(2, 8)    # dropout 0.1 as PyTorch
    xs = [f64(normal(*s)) for s in inputs]
    params, state = layer.init(random.key(0), *xs)
    ev, new_state = layer.apply(params, state, *xs)
    assert new_state == {} and ev.shape == inputs[0]
    close(layer.apply(params, state, *xs)[0], ev, rtol=0, atol=0)
    with pytest.raises(ValueError, match=f"{cls.__name__}: train=True with dropout=0.1"):
        layer.apply(params, state, *xs, train=True)
    a = layer.apply(params, state, *xs, key=random.key(1), train=True)[0]
    b = layer.apply(params, state, *xs, key=random.key(1), train=True)[0]
    c = layer.apply(params, state, *xs, key=random.key(2), train=True)[0]
    close(a, b, rtol=0, atol=0)
    assert not np.allclose(np.asarray(a), np.asarray(ev))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    no_drop = cls(2, 8, dropout=0.0)
    close(no_drop.apply(params, state, *xs, train=True)[0], ev)


def test_layers_bad_input_and_hyperparameters():
    for bad, match in [
            (lambda: nnlib.TransformerEncoderLayer(3, d_model=8), "nhead=3 must divide d_model"),
            (lambda: nnlib.TransformerEncoderLayer(2, 0), "dim_feedforward"),
            (lambda: nnlib.TransformerEncoderLayer(2, dropout=1.0), "dropout"),
            (lambda: nnlib.TransformerDecoderLayer(2, activation="swish"), "activation"),
            (lambda: nnlib.TransformerDecoderLayer(2, layer_norm_eps=0.0), "layer_norm_eps")]:
        with pytest.raises(ValueError, match=match):
            bad()
    enc = nnlib.TransformerEncoderLayer(2, 8)
    with pytest.raises(ValueError, match="must divide the input's d_model 5"):
        enc.init(random.key(0), fnp.ones((3, 2, 5)))
    params, state = enc.init(random.key(0), fnp.ones((3, 2, 6)))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected 6 channels"):
        enc.apply(params, state, fnp.ones((3, 2, 4)))
    with pytest.raises(ValueError, match="TransformerEncoderLayer: expected a input of rank"):
        enc.apply(params, state, fnp.ones(6))
    dec = nnlib.TransformerDecoderLayer(2, 8)
    with pytest.raises(ValueError, match=r"expected 6 channels along axis -1 of the memory"):
        dec.init(random.key(0), fnp.ones((3, 2, 6)), fnp.ones((4, 2, 5)))
    params, state = dec.init(random.key(0), fnp.ones((3, 2, 6)), fnp.ones((4, 2, 6)))
    with pytest.raises(ValueError, match="expected a memory of rank 3"):
        dec.apply(params, state, fnp.ones((3, 2, 6)), fnp.ones((4, 6)))


def test_encoder_grads_vmap_jit():
    layer = nnlib.TransformerEncoderLayer(2, 6, dropout=0.0, activation="gelu",
                                          norm_first=True)
    x = f64(normal(3, 4))                            # unbatched (S, E)
    params = randomise(layer.init(random.key(0), x)[0])
    f = lambda p, x: layer.apply(p, {}, x, is_causal=True)[0]
    check_grads(f, (params, x), order=1, modes=("rev",))
    check_grads(lambda x: f(params, x), (x,), order=2)
    xs = f64(normal(3, 3, 4))
    want = np.stack([np.asarray(f(params, xs[i])) for i in range(3)])
    close(vmap(f, in_axes=(None, 0))(params, xs), want)
    close(jit(f)(params, xs[2]), want[2])
    batch_first = nnlib.TransformerEncoderLayer(2, 6, dropout=0.0, activation="gelu",
                                                norm_first=True, batch_first=True)
    close(batch_first.apply(params, {}, xs, is_causal=True)[0], want)
