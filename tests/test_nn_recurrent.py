"""Recurrent cells against NumPy formulas of PyTorch's equations; sequence layers against a
Python loop of NumPy cells (multi-layer, bidirectional, batch_first, unbatched); float64
derivatives through scan, vmap, jit and errors."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx import random
from fx.testing import check_grads
from tests.helpers import close, f64
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --- NumPy references of torch's equations ---------------------------------------------------
def ref_cell(kind, x, h, p, act=np.tanh):
    """One step; ``h`` is ``(h, c)`` for the LSTM; returns the new state."""
    b_ih = p.get("bias_ih", 0.0)
    b_hh = p.get("bias_hh", 0.0)
    hh = h[0] if kind == "lstm" else h
    gi = x @ np.asarray(p["weight_ih"]).T + np.asarray(b_ih)
    gh = hh @ np.asarray(p["weight_hh"]).T + np.asarray(b_hh)
    if kind == "rnn":
        return act(gi + gh)
    if kind == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * h[1] + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    r = sigmoid(gi[..., :hh.shape[-1]] + gh[..., :hh.shape[-1]])
    z = sigmoid(gi[..., hh.shape[-1]:2 * hh.shape[-1]] + gh[..., hh.shape[-1]:2 * hh.shape[-1]])
    n = np.tanh(gi[..., 2 * hh.shape[-1]:] + r * gh[..., 2 * hh.shape[-1]:])
    return (1 - z) * n + z * hh


def ref_sequence(kind, x, h0, params, num_layers, bidirectional):
    """A Python loop over layers, directions and time steps of ``ref_cell`` on (L, N, I)."""
    dirs = 2 if bidirectional else 1
    seq, finals = np.asarray(x), []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {n: np.asarray(params[n + sfx]) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh") if n + sfx in params}
            i = layer * dirs + d
            h = (h0[0][i], h0[1][i]) if kind == "lstm" else h0[i]
            ys = [None] * len(seq)
            for t in (reversed(range(len(seq))) if d else range(len(seq))):
                h = ref_cell(kind, seq[t], h, p)
                ys[t] = h[0] if kind == "lstm" else h
            outs.append(np.stack(ys))
            finals.append(h)
        seq = np.concatenate(outs, -1)
    if kind == "lstm":
        return seq, (np.stack([f[0] for f in finals]), np.stack([f[1] for f in finals]))
    return seq, np.stack(finals)


def cell_params(kind, in_size, hidden, bias=True):
    g = GATES[kind]
    p = {"weight_ih": RNG.uniform(-0.6, 0.6, (g * hidden, in_size)),
         "weight_hh": RNG.uniform(-0.6, 0.6, (g * hidden, hidden))}
    if bias:
        p["bias_ih"] = RNG.uniform(-0.6, 0.6, g * hidden)
        p["bias_hh"] = RNG.uniform(-0.6, 0.6, g * hidden)
    return {n: f64(a) for n, a in p.items()}


def seq_params(kind, in_size, hidden, num_layers=1, bidirectional=False, bias=True):
    params = {}
    for layer in range(num_layers):
        for d in range(2 if bidirectional else 1):
            size = in_size if layer == 0 else hidden * (2 if bidirectional else 1)
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            for n, a in cell_params(kind, size, hidden, bias).items():
                params[n + sfx] = a
    return params


def initial(kind, n, batch, hidden):
    h = RNG.normal(size=(n, batch, hidden))
    return (h, RNG.normal(size=(n, batch, hidden))) if kind == "lstm" else h


def as_fx(state):
    return tuple(map(f64, state)) if isinstance(state, tuple) else f64(state)


CELLS = {"rnn": F.rnn_cell, "lstm": F.lstm_cell, "gru": F.gru_cell}
SEQS = {"rnn": F.rnn, "lstm": F.lstm, "gru": F.gru}


# --- cells -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch_equations(kind, bias):
    p = cell_params(kind, 3, 4, bias)
    x = RNG.normal(size=(5, 3))
    h = initial(kind, 1, 5, 4)
    h = (h[0][0], h[1][0]) if kind == "lstm" else h[0]
    got = CELLS[kind](f64(x), as_fx(h), p)
    want = ref_cell(kind, x, h, p)
    for g, w in zip(got if kind == "lstm" else [got], want if kind == "lstm" else [want]):
        close(g, w)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_unbatched_and_zero_state(kind):
    p = cell_params(kind, 3, 4)
    x = RNG.normal(size=3)
    zero = (np.zeros(4), np.zeros(4)) if kind == "lstm" else np.zeros(4)
    got, want = CELLS[kind](f64(x), None, p), ref_cell(kind, x, zero, p)
    close(got[0] if kind == "lstm" else got, want[0] if kind == "lstm" else want)


def test_rnn_cell_relu():
    p = cell_params("rnn", 3, 4)
    x, h = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 4))
    close(F.rnn_cell(f64(x), f64(h), p, nonlinearity="relu"),
          ref_cell("rnn", x, h, p, act=lambda v: np.maximum(v, 0)))
    with pytest.raises(ValueError, match="nonlinearity"):
        F.rnn_cell(f64(x), f64(h), p, nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_check_grads(kind):
    p = cell_params(kind, 2, 3)
    x = f64(RNG.normal(size=(2, 2)))
    h = as_fx(initial(kind, 1, 2, 3))
    h = (h[0][0], h[1][0]) if kind == "lstm" else h[0]
    check_grads(lambda p, x, h: CELLS[kind](x, h, p), (p, x, h), order=2)


def test_cell_errors():
    p = cell_params("lstm", 3, 4)
    with pytest.raises(ValueError, match="weight_ih"):
        F.lstm_cell(f64(np.ones((2, 5))), None, p)
    with pytest.raises(ValueError, match="hidden state of shape"):
        F.lstm_cell(f64(np.ones((2, 3))), (f64(np.ones((3, 4))), f64(np.ones((3, 4)))), p)
    with pytest.raises(ValueError, match="cell state"):
        F.lstm_cell(f64(np.ones((2, 3))), (f64(np.ones((2, 4))), f64(np.ones((4,)))), p)
    with pytest.raises(ValueError, match="rank 1 or 2"):
        F.gru_cell(f64(np.ones((1, 2, 3))), None, cell_params("gru", 3, 4))


# --- sequences -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (1, True),
                                                        (2, True)])
def test_sequences_match_a_loop_of_cells(kind, num_layers, bidirectional):
    dirs = 2 if bidirectional else 1
    params = seq_params(kind, 3, 4, num_layers, bidirectional)
    x = RNG.normal(size=(5, 2, 3))
    h0 = initial(kind, num_layers * dirs, 2, 4)
    out, state = SEQS[kind](f64(x), as_fx(h0), params, num_layers, bidirectional)
    want_out, want_state = ref_sequence(kind, x, h0, params, num_layers, bidirectional)
    assert out.shape == (5, 2, dirs * 4)
    close(out, want_out)
    for g, w in zip(state if kind == "lstm" else [state],
                    want_state if kind == "lstm" else [want_state]):
        assert g.shape == (num_layers * dirs, 2, 4)
        close(g, w)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_zero_state_batch_first_and_unbatched(kind):
    params = seq_params(kind, 3, 4, 2, True, bias=False)
    x = RNG.normal(size=(5, 2, 3))
    zeros = np.zeros((4, 2, 4))
    want_out, want_state = ref_sequence(kind, x, (zeros, zeros) if kind == "lstm" else zeros,
                                        params, 2, True)
    out, state = SEQS[kind](f64(np.swapaxes(x, 0, 1)), None, params, 2, True, batch_first=True)
    close(out, np.swapaxes(want_out, 0, 1))
    close(state[0] if kind == "lstm" else state,
          want_state[0] if kind == "lstm" else want_state)   # h_n stays batch second
    out, state = SEQS[kind](f64(x[:, 1]), None, params, 2, True)
    close(out, want_out[:, 1])
    close(state[1] if kind == "lstm" else state,
          want_state[1][:, 1] if kind == "lstm" else want_state[:, 1])


def test_lstm_equals_a_loop_of_lstm_cell():
    params = seq_params("lstm", 3, 4)
    cell = {n[:-3]: a for n, a in params.items()}
    x = f64(RNG.normal(size=(6, 2, 3)))
    h, c = f64(np.zeros((2, 4))), f64(np.zeros((2, 4)))
    outs = []
    for t in range(6):
        h, c = F.lstm_cell(x[t], (h, c), cell)
        outs.append(h)
    out, (h_n, c_n) = F.lstm(x, None, params)
    close(out, fnp.stack(outs))
    close(h_n[0], h)
    close(c_n[0], c)


def test_dropout_between_layers():
    params = seq_params("gru", 3, 4, 2)
    x = f64(RNG.normal(size=(5, 2, 3)))
    with pytest.raises(ValueError, match="PRNG key"):
        F.gru(x, None, params, 2, dropout=0.5)
    a = F.gru(x, None, params, 2, dropout=0.5, key=random.key(0))[0]
    b = F.gru(x, None, params, 2, dropout=0.5, key=random.key(0))[0]
    c = F.gru(x, None, params, 2, dropout=0.5, key=random.key(1))[0]
    plain = F.gru(x, None, params, 2)[0]
    close(a, b)
    assert not np.allclose(np.asarray(a), np.asarray(c))
    assert not np.allclose(np.asarray(a), np.asarray(plain))
    one = seq_params("gru", 3, 4)   # one layer: nothing between layers to drop
    close(F.gru(x, None, one, dropout=0.5)[0], F.gru(x, None, one)[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="dropout must be in"):
        F.gru(x, None, params, 2, dropout=1.0, key=random.key(0))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_sequence_check_grads_through_scan(kind):
    params = seq_params(kind, 2, 2, 1, True)
    x = f64(RNG.normal(size=(3, 1, 2)))
    h0 = as_fx(initial(kind, 2, 1, 2))
    check_grads(lambda p, x, h0: SEQS[kind](x, h0, p, bidirectional=True), (params, x, h0),
                order=1, modes=("rev",))
    check_grads(lambda x: SEQS[kind](x, h0, params, bidirectional=True)[0], (x,), order=2)


def test_two_layer_gradient_matches_finite_differences():
    params = seq_params("lstm", 2, 3, 2)
    x = f64(RNG.normal(size=(4, 2, 2)))
    loss = lambda p: fnp.sum(F.lstm(x, None, p, 2)[0] ** 2)
    g = grad(loss)(params)
    name, eps = "weight_hh_l0", 1e-6
    bumped = dict(params)
    bumped[name] = params[name] + f64(np.eye(12, 3) * eps)
    fd = (float(loss(bumped)) - float(loss(params))) / eps
    np.testing.assert_allclose(float(fnp.sum(g[name] * f64(np.eye(12, 3)))), fd, rtol=1e-4)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_sequence_vmap_and_jit(kind):
    params = seq_params(kind, 3, 4, 2, True)
    xs = f64(RNG.normal(size=(3, 5, 3)))     # 3 unbatched sequences
    f = lambda x: SEQS[kind](x, None, params, 2, True)
    want = [f(xs[i]) for i in range(3)]
    got = vmap(f)(xs)
    jitted = jit(f)(xs[2])
    got_leaves, jit_leaves = fx.tree.leaves(got), fx.tree.leaves(jitted)
    for j, leaves in enumerate(zip(*[fx.tree.leaves(w) for w in want])):
        close(got_leaves[j], fnp.stack(leaves))
        close(jit_leaves[j], leaves[2])


def test_sequence_errors():
    params = seq_params("lstm", 3, 4, 1)
    x = f64(RNG.normal(size=(5, 2, 3)))
    with pytest.raises(ValueError, match="rank 2"):
        F.lstm(f64(np.ones(3)), None, params)
    with pytest.raises(ValueError, match="weight_ih_l0"):
        F.lstm(f64(np.ones((5, 2, 7))), None, params)
    with pytest.raises(ValueError, match="'weight_ih_l1'"):
        F.lstm(x, None, params, num_layers=2)
    with pytest.raises(ValueError, match="_reverse"):
        F.lstm(x, None, params, bidirectional=True)
    with pytest.raises(ValueError, match=r"h_0 of shape \(1, 2, 4\)"):
        F.lstm(x, (f64(np.zeros((1, 3, 4))), f64(np.zeros((1, 3, 4)))), params)
    with pytest.raises(ValueError, match="num_layers"):
        F.rnn(x, None, seq_params("rnn", 3, 4), num_layers=0)


# --- modules ---------------------------------------------------------------------------------
MODULES = {"rnn": nnlib.RNN, "lstm": nnlib.LSTM, "gru": nnlib.GRU}
CELL_MODULES = {"rnn": nnlib.RNNCell, "lstm": nnlib.LSTMCell, "gru": nnlib.GRUCell}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_module_init_names_shapes_bounds(kind):
    m = MODULES[kind](4, num_layers=2, bidirectional=True)
    params, state = m.init(random.key(0), f64(np.ones((5, 2, 3))))
    g = GATES[kind] * 4
    want = {}
    for layer, size in ((0, 3), (1, 8)):
        for sfx in ("", "_reverse"):
            want.update({f"weight_ih_l{layer}{sfx}": (g, size), f"weight_hh_l{layer}{sfx}": (g, 4),
                         f"bias_ih_l{layer}{sfx}": (g,), f"bias_hh_l{layer}{sfx}": (g,)})
    assert state == {} and list(params) == list(want)   # torch's state_dict order
    assert {n: tuple(a.shape) for n, a in params.items()} == want
    assert all(a.dtype == np.float64 and float(fnp.max(fnp.abs(a))) <= 0.5
               for a in params.values())
    again, _ = m.init(random.key(0), f64(np.ones((5, 2, 3))))
    other, _ = m.init(random.key(1), f64(np.ones((5, 2, 3))))
    close(again["weight_hh_l1"], params["weight_hh_l1"], rtol=0, atol=0)
    assert not np.allclose(np.asarray(other["weight_hh_l1"]), np.asarray(params["weight_hh_l1"]))
    params, _ = MODULES[kind](4, bias=False).init(random.key(0), fnp.ones((5, 3)))
    assert sorted(params) == ["weight_hh_l0", "weight_ih_l0"]
    assert params["weight_ih_l0"].dtype == np.float32


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_module_apply_matches_reference(kind):
    m = MODULES[kind](4, num_layers=2, batch_first=True)
    x = RNG.normal(size=(2, 5, 3))
    params, state = m.init(random.key(0), f64(x))
    h0 = initial(kind, 2, 2, 4)
    (out, hn), new_state = m.apply(params, state, f64(x), as_fx(h0))
    want_out, want_hn = ref_sequence(kind, np.swapaxes(x, 0, 1), h0, params, 2, False)
    assert new_state == {}
    close(out, np.swapaxes(want_out, 0, 1))
    close(hn[0] if kind == "lstm" else hn, want_hn[0] if kind == "lstm" else want_hn)
    loss = lambda p: fnp.sum(m.apply(p, state, f64(x))[0][0])
    close(jit(grad(loss))(params)["weight_hh_l0"], grad(loss)(params)["weight_hh_l0"])


def test_module_train_eval_and_dropout_key():
    m = nnlib.GRU(4, num_layers=2, dropout=0.5)
    x = f64(RNG.normal(size=(5, 2, 3)))
    params, state = m.init(random.key(0), x)
    (ev, _), _ = m.apply(params, state, x)
    close(ev, F.gru(x, None, params, 2)[0])
    with pytest.raises(ValueError, match="GRU: train=True with dropout=0.5 needs a PRNG key"):
        m.apply(params, state, x, train=True)
    (a, _), _ = m.apply(params, state, x, key=random.key(2), train=True)
    (b, _), _ = m.apply(params, state, x, key=random.key(2), train=True)
    close(a, b, rtol=0, atol=0)
    assert not np.allclose(np.asarray(a), np.asarray(ev))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_modules(kind):
    m = CELL_MODULES[kind](4)
    x = RNG.normal(size=(2, 3))
    params, state = m.init(random.key(0), f64(x))
    assert {n: tuple(a.shape) for n, a in params.items()} == {
        "weight_ih": (GATES[kind] * 4, 3), "weight_hh": (GATES[kind] * 4, 4),
        "bias_ih": (GATES[kind] * 4,), "bias_hh": (GATES[kind] * 4,)}
    h = initial(kind, 1, 2, 4)
    h = (h[0][0], h[1][0]) if kind == "lstm" else h[0]
    got, _ = m.apply(params, state, f64(x), as_fx(h))
    want = ref_cell(kind, x, h, params)
    close(got[1] if kind == "lstm" else got, want[1] if kind == "lstm" else want)
    with pytest.raises(ValueError, match=f"{m.name}: expected 3 channels"):
        m.apply(params, state, f64(np.ones((2, 5))))
    with pytest.raises(ValueError, match=f"{m.name}: expected a input of rank 1 or 2"):
        m.init(random.key(0), f64(np.ones((2, 2, 3))))


def test_module_bad_input_and_hyperparameters():
    m = nnlib.LSTM(4)
    params, state = m.init(random.key(0), fnp.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"LSTM: expected 3 channels along axis -1.*\(5, 2, 7\)"):
        m.apply(params, state, fnp.ones((5, 2, 7)))
    with pytest.raises(ValueError, match="LSTM: expected a input of rank 2 or 3"):
        m.apply(params, state, fnp.ones(3))
    for bad, match in [(lambda: nnlib.LSTM(0), "hidden_size"),
                       (lambda: nnlib.GRU(3, num_layers=0), "num_layers"),
                       (lambda: nnlib.RNN(3, dropout=1.0), "dropout"),
                       (lambda: nnlib.RNN(3, nonlinearity="gelu"), "nonlinearity"),
                       (lambda: nnlib.RNNCell(3, nonlinearity="gelu"), "nonlinearity"),
                       (lambda: nnlib.GRUCell(-1), "hidden_size")]:
        with pytest.raises(ValueError, match=match):
            bad()
