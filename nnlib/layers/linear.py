"""Linear layers: ``Identity``, ``Linear``, ``Bilinear``, ``Embedding``.

Shapes come from the example input (``Linear(out_features)``: ``in_features`` is the
input's last dimension); weights use PyTorch's layouts and default initialisations.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> layer = nnlib.Linear(4)
    >>> params, state = layer.init(fx.random.key(0), fnp.ones((2, 3)))
    >>> params["weight"].shape, params["bias"].shape
    ((4, 3), (4,))
    >>> layer.apply(params, state, fnp.ones((2, 3)))[0].shape
    (2, 4)
"""
from __future__ import annotations

import dataclasses
import numbers

import nnlib.functional as F
from fx import random
from nnlib import init
from nnlib.module import Module

__all__ = ["Identity", "Linear", "Bilinear", "Embedding"]


def _positive(layer: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")


def _check_rank(layer: Module, x, what: str = "input") -> None:
    if x.ndim < 1:
        raise ValueError(f"{layer.name}: expected a {what} of rank >= 1 (*, features), got "
                         f"shape {tuple(x.shape)}")


def _float_dtype(x):
    return x.dtype if x.dtype.kind == "f" else None


@dataclasses.dataclass(frozen=True)
class Identity(Module):
    """Returns its input unchanged (no parameters).

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> nnlib.Identity().apply({}, {}, fnp.ones(2))[0]
        Array([1., 1.], dtype=float32)
    """

    def forward(self, params, x, *, key=None, train=False):
        return x


@dataclasses.dataclass(frozen=True)
class Linear(Module):
    """``y = x @ weight.T + bias`` over the last axis; ``weight`` is ``(out_features,
    in_features)``; weight and bias uniform in ``±1/sqrt(in_features)`` (PyTorch).

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.Linear(2, bias=False)
        >>> params, _ = layer.init(fx.random.key(0), fnp.ones(5))
        >>> sorted(params), params["weight"].shape
        (['weight'], (2, 5))
    """

    out_features: int
    bias: bool = True

    def __post_init__(self):
        _positive("Linear", "out_features", self.out_features)

    def init_params(self, key, x):
        _check_rank(self, x)
        fan_in = x.shape[-1]
        wkey, bkey = random.split(key)
        dtype = _float_dtype(x)
        params = {"weight": init.default_uniform(wkey, (self.out_features, fan_in), dtype,
                                                 fan_in=fan_in)}
        if self.bias:
            params["bias"] = init.default_uniform(bkey, (self.out_features,), dtype,
                                                  fan_in=fan_in)
        return params

    def forward(self, params, x, *, key=None, train=False):
        weight = params["weight"]
        _check_rank(self, x)
        self.check_input(x, channels=weight.shape[1], channel_axis=-1)
        return F.linear(x, weight, params.get("bias"))


@dataclasses.dataclass(frozen=True)
class Bilinear(Module):
    """``y[..., o] = x1 @ weight[o] @ x2 + bias[o]`` for two inputs of shapes ``(*, in1)``
    and ``(*, in2)``; ``weight`` is ``(out_features, in1, in2)``, initialised (with the
    bias) uniform in ``±1/sqrt(in1)`` as PyTorch.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.Bilinear(4)
        >>> x1, x2 = fnp.ones((3, 2)), fnp.ones((3, 5))
        >>> params, state = layer.init(fx.random.key(0), x1, x2)
        >>> params["weight"].shape, layer.apply(params, state, x1, x2)[0].shape
        ((4, 2, 5), (3, 4))
    """

    out_features: int
    bias: bool = True

    def __post_init__(self):
        _positive("Bilinear", "out_features", self.out_features)

    def init_params(self, key, x1, x2):
        _check_rank(self, x1, "first input")
        _check_rank(self, x2, "second input")
        in1, in2 = x1.shape[-1], x2.shape[-1]
        wkey, bkey = random.split(key)
        dtype = _float_dtype(x1)
        params = {"weight": init.default_uniform(wkey, (self.out_features, in1, in2), dtype,
                                                 fan_in=in1)}
        if self.bias:
            params["bias"] = init.default_uniform(bkey, (self.out_features,), dtype, fan_in=in1)
        return params

    def forward(self, params, x1, x2, *, key=None, train=False):
        weight = params["weight"]
        _check_rank(self, x1, "first input")
        _check_rank(self, x2, "second input")
        self.check_input(x1, channels=weight.shape[1], channel_axis=-1, what="first input")
        self.check_input(x2, channels=weight.shape[2], channel_axis=-1, what="second input")
        if x1.shape[:-1] != x2.shape[:-1]:
            raise ValueError(f"Bilinear: the inputs' leading dimensions differ: shapes "
                             f"{tuple(x1.shape)} and {tuple(x2.shape)}")
        return F.bilinear(x1, x2, weight, params.get("bias"))


@dataclasses.dataclass(frozen=True)
class Embedding(Module):
    """A lookup table: integer indices ``(*)`` to rows ``(*, embedding_dim)`` of
    ``weight`` ``(num_embeddings, embedding_dim)``, initialised standard normal (PyTorch),
    with the ``padding_idx`` row zero and never trained. ``max_norm``, ``norm_type`` and
    ``scale_grad_by_freq`` as in ``nnlib.functional.embedding``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.Embedding(10, 3, padding_idx=0)
        >>> idx = fnp.array([[0, 4], [9, 9]])
        >>> params, state = layer.init(fx.random.key(0), idx)
        >>> out, _ = layer.apply(params, state, idx)
        >>> out.shape, out[0, 0].tolist()
        ((2, 2, 3), [0.0, 0.0, 0.0])
    """

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    max_norm: float | None = None
    norm_type: float = 2.0
    scale_grad_by_freq: bool = False

    def __post_init__(self):
        _positive("Embedding", "num_embeddings", self.num_embeddings)
        _positive("Embedding", "embedding_dim", self.embedding_dim)
        if self.padding_idx is not None and not (
                isinstance(self.padding_idx, numbers.Integral)
                and -self.num_embeddings <= self.padding_idx < self.num_embeddings):
            raise ValueError(f"Embedding: padding_idx must be an int in "
                             f"[-{self.num_embeddings}, {self.num_embeddings}), got "
                             f"{self.padding_idx!r}")
        if self.max_norm is not None and not self.max_norm > 0:
            raise ValueError(f"Embedding: max_norm must be positive, got {self.max_norm!r}")

    def init_params(self, key, indices=None):
        weight = init.normal(key, (self.num_embeddings, self.embedding_dim))
        if self.padding_idx is not None:
            weight = weight.at[self.padding_idx % self.num_embeddings].set(0.0)
        return {"weight": weight}

    def forward(self, params, indices, *, key=None, train=False):
        if indices.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {indices.dtype}")
        return F.embedding(indices, params["weight"], self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq)
