"""Recurrent cells and scanned sequence layers with PyTorch's equations and weight layouts.

Cells take ``params = {"weight_ih": (G*H, I), "weight_hh": (G*H, H), "bias_ih": (G*H,),
"bias_hh": (G*H,)}`` (biases optional) with ``G`` = 1 (RNN), 4 (LSTM, gates i, f, g, o)
or 3 (GRU, gates r, z, n), exactly as ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``:

* RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu);
* LSTM: ``i, f, g, o = W_ih x + b_ih + W_hh h + b_hh`` split in four; ``c' = sigmoid(f) *
  c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``;
* GRU: ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)``,
  ``h' = (1 - z) * n + z * h`` where ``x_* = W_i* x + b_i*``, ``h_* = W_h* h + b_h*``.

The sequence layers ``rnn`` / ``lstm`` / ``gru`` take ``torch.nn.RNN``'s ``state_dict``
names: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, with a
``_reverse`` suffix for the backward direction. The input projection of every time step
is one matrix product; only ``h @ W_hh^T`` runs inside ``fx.lax.scan``.
"""
from __future__ import annotations

import numpy as np

import fx
import fx.numpy as fnp
from fx import lax, random

__all__ = ["rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru"]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _sigmoid(x):
    return 0.5 * fnp.tanh(0.5 * x) + 0.5


def _linear(x, weight, bias):
    y = fnp.matmul(x, weight.T)
    return y if bias is None else y + bias


def _activation(name: str, nonlinearity: str):
    if nonlinearity == "tanh":
        return fnp.tanh
    if nonlinearity == "relu":
        return lambda x: fnp.maximum(x, 0.0)
    raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


# --- one step from the input projection ``gx = W_ih x + b_ih`` ------------------------------
def _rnn_step(act, gx, h, w_hh, b_hh):
    return act(gx + _linear(h, w_hh, b_hh))


def _lstm_step(gx, hc, w_hh, b_hh):
    h, c = hc
    n = h.shape[-1]
    g = gx + _linear(h, w_hh, b_hh)
    # All four activations in one pass: sigmoid(v) = 0.5 * tanh(0.5 * v) + 0.5 on the i, f,
    # o blocks and tanh(v) on the g block, i.e. ``tanh(g * s) * s + (1 - s)`` with ``s`` 0.5
    # or 1 per block.
    s = fx.asarray(np.repeat(np.array([0.5, 0.5, 1.0, 0.5], np.dtype(g.dtype)), n))
    a = fnp.tanh(g * s) * s + (1.0 - s)
    c = a[..., n:2 * n] * c + a[..., :n] * a[..., 2 * n:3 * n]
    return a[..., 3 * n:] * fnp.tanh(c), c


def _gru_step(gx, h, w_hh, b_hh):
    n = h.shape[-1]
    gh = _linear(h, w_hh, b_hh)
    rz = _sigmoid(gx[..., :2 * n] + gh[..., :2 * n])
    r, z = rz[..., :n], rz[..., n:]
    new = fnp.tanh(gx[..., 2 * n:] + r * gh[..., 2 * n:])
    return new + z * (h - new)


# --- cells -----------------------------------------------------------------------------------
def _cell_weights(name, kind, x, h, params):
    x = fnp.asarray(x)
    w_ih, w_hh = params["weight_ih"], params["weight_hh"]
    hidden = w_hh.shape[-1]
    g = _GATES[kind]
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: expected an input of rank 1 or 2 ((batch,) input_size), "
                         f"got shape {tuple(x.shape)}")
    if tuple(w_ih.shape) != (g * hidden, x.shape[-1]) or tuple(w_hh.shape) != (g * hidden,
                                                                                  hidden):
        raise ValueError(f"{name}: expected weight_ih {(g * hidden, x.shape[-1])} and weight_hh "
                         f"{(g * hidden, hidden)} for input {tuple(x.shape)}, got "
                         f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    want = tuple(x.shape[:-1]) + (hidden,)
    if h is None:
        h = fnp.zeros(want, x.dtype)
    elif tuple(h.shape) != want:
        raise ValueError(f"{name}: expected a hidden state of shape {want} for input "
                         f"{tuple(x.shape)}, got {tuple(h.shape)}")
    return x, h, _linear(x, w_ih, params.get("bias_ih"))


def rnn_cell(x, h, params, nonlinearity="tanh"):
    """One Elman RNN step, ``tanh(W_ih x + b_ih + W_hh h + b_hh)`` (``torch.nn.RNNCell``).

    ``x`` is ``(N, I)`` or ``(I,)``; ``h`` is ``(N, H)`` / ``(H,)`` or None (zeros).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih": fnp.ones((3, 2)), "weight_hh": fnp.eye(3)}
        >>> F.rnn_cell(fnp.zeros((4, 2)), None, p).shape
        (4, 3)
    """
    act = _activation("rnn_cell", nonlinearity)
    x, h, gx = _cell_weights("rnn_cell", "rnn", x, h, params)
    return _rnn_step(act, gx, h, params["weight_hh"], params.get("bias_hh"))


def lstm_cell(x, hc, params):
    """One LSTM step (``torch.nn.LSTMCell``, gates i, f, g, o): returns ``(h', c')``.

    ``hc`` is ``(h, c)`` (each ``(N, H)`` or ``(H,)``) or None (zeros).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih": fnp.ones((12, 2)), "weight_hh": fnp.ones((12, 3))}
        >>> h, c = F.lstm_cell(fnp.ones((4, 2)), None, p)
        >>> h.shape, c.shape
        ((4, 3), (4, 3))
    """
    h, c = (None, None) if hc is None else hc
    x, h, gx = _cell_weights("lstm_cell", "lstm", x, h, params)
    c = fnp.zeros_like(h) if c is None else c
    if tuple(c.shape) != tuple(h.shape):
        raise ValueError(f"lstm_cell: the cell state must have shape {tuple(h.shape)}, got "
                         f"{tuple(c.shape)}")
    return _lstm_step(gx, (h, c), params["weight_hh"], params.get("bias_hh"))


def gru_cell(x, h, params):
    """One GRU step (``torch.nn.GRUCell``, gates r, z, n).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih": fnp.ones((9, 2)), "weight_hh": fnp.ones((9, 3))}
        >>> F.gru_cell(fnp.ones(2), fnp.zeros(3), p).shape
        (3,)
    """
    x, h, gx = _cell_weights("gru_cell", "gru", x, h, params)
    return _gru_step(gx, h, params["weight_hh"], params.get("bias_hh"))


# --- sequences -------------------------------------------------------------------------------
def _layer_params(name, params, layer, direction, gates, hidden, in_size):
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    try:
        w_ih, w_hh = params["weight_ih" + suffix], params["weight_hh" + suffix]
    except KeyError as e:
        raise ValueError(f"{name}: params has no {e.args[0]!r} (expected torch's names "
                         f"weight_ih_l{{k}}, weight_hh_l{{k}}[, _reverse])") from None
    if tuple(w_ih.shape) != (gates * hidden, in_size) or tuple(w_hh.shape) != (gates * hidden,
                                                                                  hidden):
        raise ValueError(f"{name}: expected weight_ih{suffix} {(gates * hidden, in_size)} and "
                         f"weight_hh{suffix} {(gates * hidden, hidden)}, got "
                         f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    return w_ih, w_hh, params.get("bias_ih" + suffix), params.get("bias_hh" + suffix)


def _initial(name, what, h0, shape, dtype):
    if h0 is None:
        return fnp.zeros(shape, dtype)
    h0 = fnp.asarray(h0)
    if tuple(h0.shape) != shape:
        raise ValueError(f"{name}: expected {what} of shape {shape}, got {tuple(h0.shape)}")
    return h0


def _scan_direction(kind, act, gx, init, w_hh, b_hh, reverse):
    """Run one layer in one direction over precomputed input projections ``gx``."""
    def step(carry, g):
        if kind == "lstm":
            out = _lstm_step(g, carry, w_hh, b_hh)
            return out, out[0]
        out = _gru_step(g, carry, w_hh, b_hh) if kind == "gru" else _rnn_step(act, g, carry,
                                                                               w_hh, b_hh)
        return out, out
    return lax.scan(step, init, gx, reverse=reverse)


def _sequence(name, kind, x, h0, params, num_layers, bidirectional, batch_first, dropout, key,
              nonlinearity="tanh"):
    x = fnp.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an input of rank 2 (unbatched (L, input_size)) or "
                         f"3, got shape {tuple(x.shape)}")
    if num_layers < 1:
        raise ValueError(f"{name}: num_layers must be positive, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
    if dropout > 0.0 and num_layers > 1 and key is None:
        raise ValueError(f"{name}: dropout={dropout} between layers needs a PRNG key (key=...);"
                         " pass dropout=0.0 in evaluation")
    unbatched = x.ndim == 2
    seq = x[:, None] if unbatched else (fnp.swapaxes(x, 0, 1) if batch_first else x)
    if "weight_hh_l0" not in params:
        raise ValueError(f"{name}: params has no 'weight_hh_l0' (expected torch's names)")
    gates, hidden = _GATES[kind], params["weight_hh_l0"].shape[-1]
    dirs = 2 if bidirectional else 1
    state_shape = (num_layers * dirs, seq.shape[1], hidden)
    if unbatched:
        fix = lambda s: None if s is None else fnp.asarray(s)[:, None]
        h0 = fix(h0) if kind != "lstm" else (None if h0 is None else tuple(map(fix, h0)))
    if kind == "lstm":
        h0, c0 = (None, None) if h0 is None else h0
        carry0 = (_initial(name, "h_0", h0, state_shape, seq.dtype),
                  _initial(name, "c_0", c0, state_shape, seq.dtype))
    else:
        carry0 = _initial(name, "h_0", h0, state_shape, seq.dtype)
    act = _activation(name, nonlinearity)
    keys = random.split(key, num_layers) if dropout > 0.0 and num_layers > 1 else None
    finals = []
    for layer in range(num_layers):
        if layer and keys is not None:
            keep = random.bernoulli(keys[layer], 1.0 - dropout, tuple(seq.shape))
            seq = fnp.where(keep, seq * (1.0 / (1.0 - dropout)), 0.0)
        outs = []
        for d in range(dirs):
            w_ih, w_hh, b_ih, b_hh = _layer_params(name, params, layer, d, gates, hidden,
                                                   seq.shape[-1])
            if kind != "gru" and b_hh is not None:   # GRU's b_hn sits inside r * (...)
                b_ih, b_hh = b_hh if b_ih is None else b_ih + b_hh, None
            gx = _linear(seq, w_ih, b_ih)   # every time step in one product
            i = layer * dirs + d
            init = (carry0[0][i], carry0[1][i]) if kind == "lstm" else carry0[i]
            final, ys = _scan_direction(kind, act, gx, init, w_hh, b_hh, bool(d))
            finals.append(final)
            outs.append(ys)
        seq = outs[0] if dirs == 1 else fnp.concatenate(outs, axis=-1)
    if kind == "lstm":
        state = (fnp.stack([f[0] for f in finals]), fnp.stack([f[1] for f in finals]))
    else:
        state = fnp.stack(finals)
    if unbatched:
        seq = seq[:, 0]
        state = tuple(s[:, 0] for s in state) if kind == "lstm" else state[:, 0]
    elif batch_first:
        seq = fnp.swapaxes(seq, 0, 1)
    return seq, state


def rnn(x, h0, params, num_layers=1, bidirectional=False, batch_first=False, dropout=0.0,
        key=None, nonlinearity="tanh"):
    """A multi-layer Elman RNN over a sequence (``torch.nn.RNN``): ``(output, h_n)``.

    Args:
        x: ``(L, N, I)`` (``(N, L, I)`` with ``batch_first``) or unbatched ``(L, I)``.
        h0: ``(num_layers * D, N, H)`` (``(num_layers * D, H)`` unbatched) or None (zeros),
            ``D`` = 2 if bidirectional else 1; always batch second, as PyTorch.
        params: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``
            (plus ``..._reverse`` when bidirectional); biases optional.
        dropout: dropout on each layer's output except the last's (needs ``key``); pass 0.0
            in evaluation.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Returns:
        ``output`` ``(L, N, D * H)`` (the last layer's states, both directions concatenated)
        and ``h_n`` ``(num_layers * D, N, H)`` (final states, layer-major, forward first).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih_l0": fnp.ones((3, 2)) / 4, "weight_hh_l0": fnp.eye(3) / 2}
        >>> out, h_n = F.rnn(fnp.ones((5, 4, 2)), None, p)
        >>> out.shape, h_n.shape
        ((5, 4, 3), (1, 4, 3))
    """
    return _sequence("rnn", "rnn", x, h0, params, num_layers, bidirectional, batch_first,
                     dropout, key, nonlinearity)


def lstm(x, h0, params, num_layers=1, bidirectional=False, batch_first=False, dropout=0.0,
         key=None):
    """A multi-layer LSTM (``torch.nn.LSTM``): ``(output, (h_n, c_n))``; ``h0`` is ``(h_0,
    c_0)`` or None. Shapes and params as ``rnn`` with four gates (i, f, g, o).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih_l0": fnp.ones((12, 2)), "weight_hh_l0": fnp.ones((12, 3))}
        >>> out, (h_n, c_n) = F.lstm(fnp.ones((4, 5, 2)), None, p, batch_first=True)
        >>> out.shape, h_n.shape, c_n.shape
        ((4, 5, 3), (1, 4, 3), (1, 4, 3))
    """
    return _sequence("lstm", "lstm", x, h0, params, num_layers, bidirectional, batch_first,
                     dropout, key)


def gru(x, h0, params, num_layers=1, bidirectional=False, batch_first=False, dropout=0.0,
        key=None):
    """A multi-layer GRU (``torch.nn.GRU``): ``(output, h_n)``. Shapes and params as ``rnn``
    with three gates (r, z, n).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> p = {"weight_ih_l0": fnp.ones((9, 2)), "weight_hh_l0": fnp.ones((9, 3)),
        ...      "weight_ih_l0_reverse": fnp.ones((9, 2)),
        ...      "weight_hh_l0_reverse": fnp.ones((9, 3))}
        >>> out, h_n = F.gru(fnp.ones((5, 2)), None, p, bidirectional=True)
        >>> out.shape, h_n.shape
        ((5, 6), (2, 3))
    """
    return _sequence("gru", "gru", x, h0, params, num_layers, bidirectional, batch_first,
                     dropout, key)
