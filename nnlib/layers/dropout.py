"""Dropout layers: ``Dropout(rate)`` and ``AlphaDropout(rate)``.

They act only with ``train=True``, where ``apply`` needs a ``key``; in evaluation they
return the input unchanged.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> layer = nnlib.Dropout(0.5)
    >>> x = fnp.ones(6)
    >>> layer.apply({}, {}, x)[0] is x
    True
    >>> layer.apply({}, {}, x, key=fx.random.key(0), train=True)[0].shape
    (6,)
"""
from __future__ import annotations

import dataclasses
import numbers

import nnlib.functional as F
from nnlib.module import Module

__all__ = ["Dropout", "AlphaDropout"]


@dataclasses.dataclass(frozen=True)
class _DropoutBase(Module):
    rate: float = 0.5

    def __post_init__(self):
        r = self.rate
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 <= r < 1:
            raise ValueError(f"{self.name}: rate must be a number in [0, 1), got {r!r}")

    def _needs_key(self, key, train):
        if train and self.rate > 0 and key is None:
            raise ValueError(f"{self.name}: apply with train=True needs a PRNG key "
                             "(apply(..., key=fx.random.key(0), train=True)); pass "
                             "train=False to evaluate")


@dataclasses.dataclass(frozen=True)
class Dropout(_DropoutBase):
    """Zeros each element with probability ``rate`` in training and scales the rest by
    ``1 / (1 - rate)``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> y, _ = nnlib.Dropout(0.1).apply({}, {}, fnp.ones(10000), key=fx.random.key(0),
        ...                                 train=True)
        >>> abs(float(y.mean()) - 1) < 0.05
        True
    """

    def forward(self, params, x, *, key=None, train=False):
        self._needs_key(key, train)
        return F.dropout(key, x, self.rate, train)


@dataclasses.dataclass(frozen=True)
class AlphaDropout(_DropoutBase):
    """Alpha dropout for SELU networks (keeps a standard normal input's mean and
    variance); see ``nnlib.functional.alpha_dropout``.

    Example:
        >>> import fx, nnlib
        >>> x = fx.random.normal(fx.random.key(0), (3, 4))
        >>> nnlib.AlphaDropout(0.2).apply({}, {}, x, key=fx.random.key(1), train=True)[0].shape
        (3, 4)
    """

    def forward(self, params, x, *, key=None, train=False):
        self._needs_key(key, train)
        return F.alpha_dropout(key, x, self.rate, train)
