"""``pad`` with ``torch.nn.functional.pad``'s conventions.

``pad`` is a flat tuple of ``(before, after)`` pairs, **last axis first**: ``(1, 2)`` pads
the last axis, ``(1, 2, 3, 4)`` the last by 1 and 2 and the one before it by 3 and 4.
Modes: ``"constant"`` (``value``, default 0; negative amounts crop), ``"reflect"`` (the
edge not repeated; each amount below the axis size), ``"replicate"`` (the edge repeated)
and ``"circular"`` (wrap around; amounts at most the axis size).

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> x = fnp.arange(3.0)
    >>> F.pad(x, (1, 2)).tolist()
    [0.0, 0.0, 1.0, 2.0, 0.0, 0.0]
    >>> F.pad(x, (2, 1), mode="reflect").tolist()
    [2.0, 1.0, 0.0, 1.0, 2.0, 1.0]
    >>> F.pad(x, (1, 1), mode="replicate").tolist(), F.pad(x, (1, 1), mode="circular").tolist()
    ([0.0, 0.0, 1.0, 2.0, 2.0], [2.0, 0.0, 1.0, 2.0, 0.0])
"""
from __future__ import annotations

import numbers

import numpy as np

import fx.numpy as fnp
from fx.prims.shape import pad_p

__all__ = ["pad"]

_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
          "circular": "wrap"}


def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` by ``pad`` (pairs, last axis first) with one of the modes constant,
    reflect, replicate or circular (see the module docstring).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.pad(fnp.ones((1, 2, 2)), (1, 1, 0, 1), value=5.0)[0].tolist()
        [[5.0, 1.0, 1.0, 5.0], [5.0, 1.0, 1.0, 5.0], [5.0, 5.0, 5.0, 5.0]]
        >>> F.pad(fnp.arange(5.0), (-1, -2)).tolist()
        [1.0, 2.0]
    """
    x = fnp.asarray(input)
    amounts = tuple(pad)
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim or any(
            isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in amounts):
        raise ValueError(f"pad: pad must hold an even number of ints, at most two per axis "
                         f"of the input of shape {tuple(x.shape)}, got {pad!r}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _MODES))}, got "
                         f"{mode!r}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(amounts) // 2):
        widths[x.ndim - 1 - i] = (int(amounts[2 * i]), int(amounts[2 * i + 1]))
    if mode == "constant":
        fill = 0 if value is None else value
        config = tuple((lo, hi, 0) for lo, hi in widths)
        if all(c == (0, 0, 0) for c in config):
            return x
        for n, (lo, hi) in zip(x.shape, widths):
            if n + lo + hi < 0:
                raise ValueError(f"pad: {pad!r} crops an axis of size {n} below zero "
                                 f"(input shape {tuple(x.shape)})")
        return pad_p.bind(x, np.asarray(fill, x.dtype), padding_config=config)
    if value is not None and value != 0:
        raise ValueError(f"pad: value applies to mode 'constant' only, not {mode!r}")
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape, widths)):
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: mode {mode!r} needs non-negative amounts, got {pad!r}")
        if (lo or hi) and (n == 0 or (mode == "reflect" and max(lo, hi) >= n)
                           or (mode == "circular" and max(lo, hi) > n)):
            bound = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(f"pad: mode {mode!r} needs amounts {bound} the axis size; axis "
                             f"{axis} of shape {tuple(x.shape)} has {n}, pad {pad!r}")
    if all(w == (0, 0) for w in widths):
        return x
    return fnp.pad(x, widths, mode=_MODES[mode])
