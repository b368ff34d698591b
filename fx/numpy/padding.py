"""``fx.numpy.pad``: constant, edge, reflect, symmetric and wrap padding.

Constant padding is the ``pad`` primitive; the other modes join slices of the array
(``slice``, ``rev``, ``concatenate``, ``broadcast_in_dim``) one axis at a time, so pad
widths are static. Widths larger than the axis repeat the pattern, as in NumPy.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.pad(fnp.asarray([1, 2, 3]), 2, mode="reflect").tolist()
    [3, 2, 1, 2, 3, 2, 1]
"""
from __future__ import annotations

import numpy as np

from fx.core.elementwise import cast
from fx.core.primitive import bind
from fx.errors import op_error
from fx.numpy.manipulation import as_array, broadcast_to, flip, slice_axis
from fx.prims import shape as sp

__all__ = ["pad"]

_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _as_pairs(op: str, value, ndim: int, a, what: str, integral: bool = True) -> list:
    """NumPy's pad-width broadcasting: a scalar, a (before, after) pair, or one pair per axis."""
    arr = np.asarray(value)
    if integral and arr.dtype.kind not in "iu":
        raise op_error(TypeError, op, f"{what} must be integers, got {value!r}", a)
    try:
        pairs = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise op_error(ValueError, op, f"{what} {value!r} does not fit an array of shape "
                       f"{a.shape}: give a scalar, a (before, after) pair or one pair per axis",
                       a) from None
    if integral and (pairs < 0).any():
        raise op_error(ValueError, op, f"{what} {value!r} must be non-negative", a)
    return pairs.tolist()


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array (NumPy's ``pad``) with one of the modes constant (``constant_values``),
    edge, reflect, symmetric or wrap.

    Example:
        >>> fnp.pad(fnp.asarray([1, 2]), (1, 2), constant_values=9).tolist()
        [9, 1, 2, 9, 9]
    """
    a = as_array(array)
    widths = _as_pairs("pad", pad_width, a.ndim, a, "pad_width")
    if mode not in _MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented; use one of "
                                  f"{', '.join(_MODES)}")
    allowed = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
               "symmetric": {"reflect_type"}}.get(mode, set())
    if set(kwargs) - allowed:
        raise TypeError(f"pad: unexpected keyword arguments {sorted(set(kwargs) - allowed)} "
                        f"for mode {mode!r}")
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError("pad: only reflect_type='even' is implemented")
    if mode == "constant":
        return _pad_constant(a, widths, kwargs.get("constant_values", 0))
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            if a.shape[axis] == 0:
                raise op_error(ValueError, "pad", f"cannot extend the empty axis {axis} with "
                               f"mode {mode!r}", a)
            a = _edge(a, axis, lo, hi) if mode == "edge" else _periodic(a, axis, lo, hi, mode)
    return a


def _pad_constant(a, widths, values):
    if np.ndim(values) == 0:
        config = tuple((lo, hi, 0) for lo, hi in widths)
        return bind(sp.pad_p, a, cast(as_array(values), a.dtype), padding_config=config)
    pairs = _as_pairs("pad", values, a.ndim, a, "constant_values", integral=False)
    for axis, ((lo, hi), (before, after)) in enumerate(zip(widths, pairs)):
        for width, value, side in ((lo, before, 0), (hi, after, 1)):
            if width:
                config = tuple((width * (side == 0), width * (side == 1), 0) if i == axis
                               else (0, 0, 0) for i in range(a.ndim))
                value = cast(as_array(value), a.dtype)
                a = bind(sp.pad_p, a, value, padding_config=config)
    return a


def _edge(a, axis: int, lo: int, hi: int):
    n = a.shape[axis]
    parts = []
    for width, start in ((lo, 0), (None, None), (hi, n - 1)):
        if width is None:
            parts.append(a)
        elif width:
            shape = tuple(width if i == axis else s for i, s in enumerate(a.shape))
            parts.append(broadcast_to(slice_axis(a, axis, start, start + 1), shape))
    return bind(sp.concatenate_p, *parts, dimension=axis)


def _periodic(a, axis: int, lo: int, hi: int, mode: str):
    """Reflect, symmetric and wrap padding all index one periodic extension of the axis."""
    n = a.shape[axis]
    if mode == "wrap" or (mode == "reflect" and n <= 2):
        base = [a]
    elif mode == "reflect":  # a, then a reversed without its two ends: period 2n - 2
        base = [a, flip(slice_axis(a, axis, 1, n - 1), axis)]
    else:
        base = [a, flip(a, axis)]
    period = sum(b.shape[axis] for b in base)
    start, total = -lo % period, lo + n + hi
    copies = -(-(start + total) // period)
    extended = bind(sp.concatenate_p, *(base * copies), dimension=axis)
    return slice_axis(extended, axis, start, start + total)
