"""Dropout with an explicit key: ``dropout(key, x, rate, train)`` and ``alpha_dropout``.

``rate`` is the probability of dropping an element (torch's ``p``); it must be in
``[0, 1)``. With ``train=False`` or ``rate=0`` the input comes back unchanged (no key
needed); otherwise a key is required.

Example:
    >>> import fx, fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> y = F.dropout(fx.random.key(0), fnp.ones(1000), rate=0.25)
    >>> sorted(set(y.tolist()))  # kept elements are scaled by 1 / (1 - rate)
    [0.0, 1.3333333730697632]
"""
from __future__ import annotations

import numbers

import fx.numpy as fnp
from fx import random

__all__ = ["dropout", "alpha_dropout"]

# SELU's -scale * alpha: the value alpha dropout sets dropped elements to.
_ALPHA_PRIME = 1.7580993408473766


def _check(op: str, key, rate, train) -> bool:
    """Validate ``rate``; True when randomness is needed (so a key must be given)."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{op}: rate must be a number in [0, 1), got {rate!r}")
    if not train or rate == 0:
        return False
    if key is None:
        raise ValueError(f"{op}: train=True with rate={rate} needs a PRNG key (pass key=..., "
                         "e.g. fx.random.key(0)), or use train=False")
    return True


def _keep_mask(key, x, rate):
    return random.bernoulli(key, 1.0 - rate, tuple(x.shape))


def dropout(key, x, rate=0.5, train=True):
    """Zero each element of ``x`` with probability ``rate`` and scale the others by
    ``1 / (1 - rate)``, so the expectation is unchanged.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> x = fnp.ones(4)
        >>> F.dropout(None, x, 0.5, train=False) is x
        True
    """
    if not _check("dropout", key, rate, train):
        return x
    return fnp.where(_keep_mask(key, x, rate), x * (1.0 / (1.0 - rate)), 0.0).astype(x.dtype)


def alpha_dropout(key, x, rate=0.5, train=True):
    """Dropout for SELU networks (torch's ``alpha_dropout``): dropped elements are set to
    SELU's negative saturation value and an affine correction keeps the mean and variance
    of a standard normal input.

    Example:
        >>> import fx
        >>> import nnlib.functional as F
        >>> x = fx.random.normal(fx.random.key(0), (20000,))
        >>> y = F.alpha_dropout(fx.random.key(1), x, 0.2)
        >>> abs(float(y.mean())) < 0.03 and abs(float(y.std()) - 1) < 0.03
        True
    """
    if not _check("alpha_dropout", key, rate, train):
        return x
    a = 1.0 / ((_ALPHA_PRIME ** 2 * rate + 1) * (1 - rate)) ** 0.5
    dropped = -_ALPHA_PRIME * a + _ALPHA_PRIME * a * rate
    kept = x * a + _ALPHA_PRIME * a * rate
    return fnp.where(_keep_mask(key, x, rate), kept, dropped).astype(x.dtype)
