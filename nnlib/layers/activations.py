"""Activation layers (torch's names and hyperparameters) and ``Flatten``. None has
parameters or state; each applies the function of the same name in
``nnlib.functional``.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> model = nnlib.Sequential(nnlib.Flatten(), nnlib.ReLU())
    >>> params, state = model.init(fx.random.key(0), fnp.ones((2, 1, 2)))
    >>> model.apply(params, state, fnp.asarray([[[-1.0, 2.0]]]))[0]
    Array([[0., 2.]], dtype=float32)
"""
from __future__ import annotations

import dataclasses
import numbers

import nnlib.functional as F
from nnlib.module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Softplus", "Softsign", "Softmax", "LogSoftmax", "GLU",
           "Hardsigmoid", "Hardtanh", "Hardswish", "LogSigmoid", "Flatten"]


def _real(layer, field: str, value, nonzero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (nonzero and value == 0):
        raise ValueError(f"{layer.name}: {field} must be a {'nonzero ' if nonzero else ''}"
                         f"real number, got {value!r}")


def _int(layer, field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{layer.name}: {field} must be an int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class _Activation(Module):
    """An elementwise layer: ``forward`` applies ``self.fn`` to the input."""

    def forward(self, params, x, *, key=None, train=False):
        return self.fn(x)


@dataclasses.dataclass(frozen=True)
class ReLU(_Activation):
    """``max(x, 0)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.ReLU().apply({}, {}, fnp.asarray([-1.0, 2.0]))[0]
    Array([0., 2.], dtype=float32)
    """

    fn = staticmethod(F.relu)


@dataclasses.dataclass(frozen=True)
class ReLU6(_Activation):
    """``min(max(x, 0), 6)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.ReLU6().apply({}, {}, fnp.asarray([-1.0, 7.0]))[0]
    Array([0., 6.], dtype=float32)
    """

    fn = staticmethod(F.relu6)


@dataclasses.dataclass(frozen=True)
class LeakyReLU(_Activation):
    """``x`` for positive ``x``, else ``negative_slope * x``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.LeakyReLU(0.1).apply({}, {}, fnp.asarray([-1.0, 2.0]))[0]
    Array([-0.1,  2. ], dtype=float32)
    """

    negative_slope: float = 0.01

    def __post_init__(self):
        _real(self, "negative_slope", self.negative_slope)

    def fn(self, x):
        return F.leaky_relu(x, self.negative_slope)


@dataclasses.dataclass(frozen=True)
class ELU(_Activation):
    """``x`` for positive ``x``, else ``alpha * (exp(x) - 1)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.ELU(2.0).apply({}, {}, fnp.asarray([0.0, 2.0]))[0]
    Array([0., 2.], dtype=float32)
    """

    alpha: float = 1.0

    def __post_init__(self):
        _real(self, "alpha", self.alpha)

    def fn(self, x):
        return F.elu(x, self.alpha)


@dataclasses.dataclass(frozen=True)
class SELU(_Activation):
    """Scaled ELU with the self-normalising constants.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.SELU().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    fn = staticmethod(F.selu)


@dataclasses.dataclass(frozen=True)
class CELU(_Activation):
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.CELU(0.5).apply({}, {}, fnp.asarray([3.0]))[0]
    Array([3.], dtype=float32)
    """

    alpha: float = 1.0

    def __post_init__(self):
        _real(self, "alpha", self.alpha, nonzero=True)

    def fn(self, x):
        return F.celu(x, self.alpha)


@dataclasses.dataclass(frozen=True)
class GELU(_Activation):
    """``x * Phi(x)``, or its tanh approximation with ``approximate="tanh"``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.GELU("tanh").apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    approximate: str = "none"

    def __post_init__(self):
        if self.approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"{self.approximate!r}")

    def fn(self, x):
        return F.gelu(x, self.approximate)


@dataclasses.dataclass(frozen=True)
class SiLU(_Activation):
    """``x * sigmoid(x)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.SiLU().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    fn = staticmethod(F.silu)


@dataclasses.dataclass(frozen=True)
class Mish(_Activation):
    """``x * tanh(softplus(x))``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Mish().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    fn = staticmethod(F.mish)


@dataclasses.dataclass(frozen=True)
class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Sigmoid().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.5], dtype=float32)
    """

    fn = staticmethod(F.sigmoid)


@dataclasses.dataclass(frozen=True)
class Tanh(_Activation):
    """Hyperbolic tangent.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Tanh().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    fn = staticmethod(F.tanh)


@dataclasses.dataclass(frozen=True)
class Softplus(_Activation):
    """``log(1 + exp(beta x)) / beta`` (``x`` where ``beta x > threshold``).

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Softplus(beta=2.0).apply({}, {}, fnp.asarray([30.0]))[0]
    Array([30.], dtype=float32)
    """

    beta: float = 1.0
    threshold: float = 20.0

    def __post_init__(self):
        _real(self, "beta", self.beta, nonzero=True)
        _real(self, "threshold", self.threshold)

    def fn(self, x):
        return F.softplus(x, self.beta, self.threshold)


@dataclasses.dataclass(frozen=True)
class Softsign(_Activation):
    """``x / (1 + |x|)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Softsign().apply({}, {}, fnp.asarray([1.0]))[0]
    Array([0.5], dtype=float32)
    """

    fn = staticmethod(F.softsign)


@dataclasses.dataclass(frozen=True)
class Softmax(_Activation):
    """Softmax along ``dim``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Softmax(dim=0).apply({}, {}, fnp.asarray([1.0, 1.0]))[0]
    Array([0.5, 0.5], dtype=float32)
    """

    dim: int = -1

    def __post_init__(self):
        _int(self, "dim", self.dim)

    def fn(self, x):
        return F.softmax(x, self.dim)


@dataclasses.dataclass(frozen=True)
class LogSoftmax(_Activation):
    """Log-softmax along ``dim``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.LogSoftmax().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.], dtype=float32)
    """

    dim: int = -1

    def __post_init__(self):
        _int(self, "dim", self.dim)

    def fn(self, x):
        return F.log_softmax(x, self.dim)


@dataclasses.dataclass(frozen=True)
class GLU(_Activation):
    """Gated linear unit over the halves of ``dim``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.GLU().apply({}, {}, fnp.asarray([2.0, 0.0]))[0]
    Array([1.], dtype=float32)
    """

    dim: int = -1

    def __post_init__(self):
        _int(self, "dim", self.dim)

    def fn(self, x):
        return F.glu(x, self.dim)


@dataclasses.dataclass(frozen=True)
class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Hardsigmoid().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([0.5], dtype=float32)
    """

    fn = staticmethod(F.hardsigmoid)


@dataclasses.dataclass(frozen=True)
class Hardtanh(_Activation):
    """``x`` clipped to ``[min_val, max_val]``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Hardtanh(-2.0, 2.0).apply({}, {}, fnp.asarray([-5.0, 1.0]))[0]
    Array([-2.,  1.], dtype=float32)
    """

    min_val: float = -1.0
    max_val: float = 1.0

    def __post_init__(self):
        _real(self, "min_val", self.min_val)
        _real(self, "max_val", self.max_val)
        if not self.min_val < self.max_val:
            raise ValueError(f"Hardtanh: min_val ({self.min_val}) must be less than max_val "
                             f"({self.max_val})")

    def fn(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)


@dataclasses.dataclass(frozen=True)
class Hardswish(_Activation):
    """``x * relu6(x + 3) / 6``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Hardswish().apply({}, {}, fnp.asarray([3.0]))[0]
    Array([3.], dtype=float32)
    """

    fn = staticmethod(F.hardswish)


@dataclasses.dataclass(frozen=True)
class LogSigmoid(_Activation):
    """``log(sigmoid(x))``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.LogSigmoid().apply({}, {}, fnp.asarray([0.0]))[0]
    Array([-0.6931472], dtype=float32)
    """

    fn = staticmethod(F.logsigmoid)


@dataclasses.dataclass(frozen=True)
class Flatten(Module):
    """Merges dimensions ``start_dim`` to ``end_dim`` (inclusive) into one, as torch's.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.Flatten().apply({}, {}, fnp.ones((2, 3, 4)))[0].shape
    (2, 12)
    """

    start_dim: int = 1
    end_dim: int = -1

    def __post_init__(self):
        _int(self, "start_dim", self.start_dim)
        _int(self, "end_dim", self.end_dim)

    def forward(self, params, x, *, key=None, train=False):
        shape = tuple(x.shape)
        n = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        if not (-n <= start < n and -n <= end < n) or start % n > end % n:
            raise ValueError(f"Flatten: start_dim {start} and end_dim {end} do not select a "
                             f"range of dimensions of an input of shape {shape}")
        if not shape:
            return x.reshape((1,))
        start, end = start % n, end % n
        merged = 1
        for s in shape[start:end + 1]:
            merged *= s
        return x.reshape(shape[:start] + (merged,) + shape[end + 1:])
