"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (scanned sequences) and ``RNNCell``,
``LSTMCell``, ``GRUCell`` (one step), as ``torch.nn``'s with the input size inferred.

Parameters have PyTorch's ``state_dict`` names and layouts (``weight_ih_l0`` ``(G*H, I)``,
``weight_hh_l0`` ``(G*H, H)``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``; cells drop
the ``_l0``) and PyTorch's initialisation: every entry uniform in ``±1/sqrt(hidden_size)``.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> lstm = nnlib.LSTM(8, num_layers=2, batch_first=True)
    >>> x = fnp.ones((4, 10, 3))                      # (batch, time, features)
    >>> params, state = lstm.init(fx.random.key(0), x)
    >>> (out, (h_n, c_n)), _ = lstm.apply(params, state, x)
    >>> out.shape, h_n.shape, params["weight_ih_l1"].shape
    ((4, 10, 8), (2, 4, 8), (32, 8))
"""
from __future__ import annotations

import dataclasses
import numbers

import nnlib.functional as F
from fx import random
from nnlib import init
from nnlib.module import Module

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _positive(layer: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def _float_dtype(x):
    return x.dtype if x.dtype.kind == "f" else None


def _uniform_params(key, shapes: dict, hidden: int, dtype) -> dict:
    """PyTorch's recurrent default: every tensor uniform in ``±1/sqrt(hidden_size)``."""
    keys = random.split(key, len(shapes))
    return {name: init.default_uniform(k, shape, dtype, fan_in=hidden)
            for k, (name, shape) in zip(keys, shapes.items())}


def _check_nonlinearity(layer: str, nonlinearity: str) -> None:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{layer}: nonlinearity must be 'tanh' or 'relu', got "
                         f"{nonlinearity!r}")


class _Sequence(Module):
    """Shared init/forward of RNN, LSTM and GRU (``_kind`` picks the equations)."""

    _kind = "rnn"

    def __post_init__(self):
        _positive(self.name, "hidden_size", self.hidden_size)
        _positive(self.name, "num_layers", self.num_layers)
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real)
                or not 0 <= self.dropout < 1):
            raise ValueError(f"{self.name}: dropout must be a number in [0, 1), got "
                             f"{self.dropout!r}")
        _check_nonlinearity(self.name, getattr(self, "nonlinearity", "tanh"))

    def init_params(self, key, x, hx=None):
        self.check_input(x, ndim=(2, 3))
        gates, hidden = _GATES[self._kind] * self.hidden_size, self.hidden_size
        dirs = 2 if self.bidirectional else 1
        shapes = {}
        for layer in range(self.num_layers):
            in_size = x.shape[-1] if layer == 0 else dirs * hidden
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes["weight_ih" + sfx] = (gates, in_size)
                shapes["weight_hh" + sfx] = (gates, hidden)
                if self.bias:
                    shapes["bias_ih" + sfx] = (gates,)
                    shapes["bias_hh" + sfx] = (gates,)
        return _uniform_params(key, shapes, hidden, _float_dtype(x))

    def forward(self, params, x, hx=None, *, key=None, train=False):
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``); ``hx`` None means zeros."""
        self.check_input(x, ndim=(2, 3), channels=params["weight_ih_l0"].shape[1],
                         channel_axis=-1)
        dropout = self.dropout if train and self.num_layers > 1 else 0.0
        if dropout > 0 and key is None:
            raise ValueError(f"{self.name}: train=True with dropout={self.dropout} needs a PRNG "
                             "key (apply(..., key=...)), or use train=False")
        extra = {"nonlinearity": self.nonlinearity} if self._kind == "rnn" else {}
        fn = {"rnn": F.rnn, "lstm": F.lstm, "gru": F.gru}[self._kind]
        return fn(x, hx, params, self.num_layers, self.bidirectional, self.batch_first,
                  dropout, key, **extra)


@dataclasses.dataclass(frozen=True)
class RNN(_Sequence):
    """A multi-layer Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or
    relu), as ``torch.nn.RNN``. ``apply(params, state, x, h_0=None)`` gives ``((output,
    h_n), state)``: ``x`` is ``(L, N, I)`` (``(N, L, I)`` with ``batch_first``) or ``(L,
    I)``; ``output`` ``(L, N, D * H)``; ``h_n`` ``(num_layers * D, N, H)``. ``dropout``
    applies between layers in training (needs ``key``).

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> rnn = nnlib.RNN(5, bidirectional=True)
        >>> x = fnp.ones((7, 2, 3))
        >>> params, state = rnn.init(fx.random.key(0), x)
        >>> (out, h_n), _ = rnn.apply(params, state, x)
        >>> out.shape, h_n.shape
        ((7, 2, 10), (2, 2, 5))
    """

    hidden_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    _kind = "rnn"


@dataclasses.dataclass(frozen=True)
class LSTM(_Sequence):
    """A multi-layer LSTM (gates i, f, g, o), as ``torch.nn.LSTM``: ``apply(params, state,
    x, (h_0, c_0)=None)`` gives ``((output, (h_n, c_n)), state)``; shapes as ``RNN``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> lstm = nnlib.LSTM(4)
        >>> x = fnp.ones((6, 3))                          # unbatched (L, I)
        >>> params, state = lstm.init(fx.random.key(0), x)
        >>> (out, (h_n, c_n)), _ = lstm.apply(params, state, x)
        >>> out.shape, h_n.shape, c_n.shape
        ((6, 4), (1, 4), (1, 4))
    """

    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    _kind = "lstm"


@dataclasses.dataclass(frozen=True)
class GRU(_Sequence):
    """A multi-layer GRU (gates r, z, n), as ``torch.nn.GRU``: ``((output, h_n), state)``;
    shapes as ``RNN``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> gru = nnlib.GRU(4, num_layers=3, dropout=0.2)
        >>> x = fnp.ones((6, 2, 3))
        >>> params, state = gru.init(fx.random.key(0), x)
        >>> (out, h_n), _ = gru.apply(params, state, x, key=fx.random.key(1), train=True)
        >>> out.shape, h_n.shape
        ((6, 2, 4), (3, 2, 4))
    """

    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    _kind = "gru"


class _Cell(Module):
    _kind = "rnn"

    def __post_init__(self):
        _positive(self.name, "hidden_size", self.hidden_size)
        _check_nonlinearity(self.name, getattr(self, "nonlinearity", "tanh"))

    def init_params(self, key, x, hx=None):
        self.check_input(x, ndim=(1, 2))
        gates, hidden = _GATES[self._kind] * self.hidden_size, self.hidden_size
        shapes = {"weight_ih": (gates, x.shape[-1]), "weight_hh": (gates, hidden)}
        if self.bias:
            shapes.update(bias_ih=(gates,), bias_hh=(gates,))
        return _uniform_params(key, shapes, hidden, _float_dtype(x))

    def forward(self, params, x, hx=None, *, key=None, train=False):
        self.check_input(x, ndim=(1, 2), channels=params["weight_ih"].shape[1],
                         channel_axis=-1)
        if self._kind == "rnn":
            return F.rnn_cell(x, hx, params, self.nonlinearity)
        return (F.lstm_cell if self._kind == "lstm" else F.gru_cell)(x, hx, params)


@dataclasses.dataclass(frozen=True)
class RNNCell(_Cell):
    """One Elman RNN step, as ``torch.nn.RNNCell``: ``apply(params, state, x, h=None)``
    gives ``(h', state)``; ``x`` is ``(N, I)`` or ``(I,)``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> cell = nnlib.RNNCell(4, nonlinearity="relu")
        >>> params, state = cell.init(fx.random.key(0), fnp.ones((2, 3)))
        >>> cell.apply(params, state, fnp.ones((2, 3)))[0].shape
        (2, 4)
    """

    hidden_size: int
    bias: bool = True
    nonlinearity: str = "tanh"
    _kind = "rnn"


@dataclasses.dataclass(frozen=True)
class LSTMCell(_Cell):
    """One LSTM step, as ``torch.nn.LSTMCell``: ``apply(params, state, x, (h, c)=None)``
    gives ``((h', c'), state)``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> cell = nnlib.LSTMCell(4)
        >>> params, state = cell.init(fx.random.key(0), fnp.ones(3))
        >>> (h, c), _ = cell.apply(params, state, fnp.ones(3))
        >>> h.shape, c.shape, params["weight_hh"].shape
        ((4,), (4,), (16, 4))
    """

    hidden_size: int
    bias: bool = True
    _kind = "lstm"


@dataclasses.dataclass(frozen=True)
class GRUCell(_Cell):
    """One GRU step, as ``torch.nn.GRUCell``: ``apply(params, state, x, h=None)`` gives
    ``(h', state)``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> cell = nnlib.GRUCell(4, bias=False)
        >>> params, state = cell.init(fx.random.key(0), fnp.ones((2, 3)))
        >>> sorted(params)
        ['weight_hh', 'weight_ih']
    """

    hidden_size: int
    bias: bool = True
    _kind = "gru"
