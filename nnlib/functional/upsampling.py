"""Resampling: ``pixel_shuffle``, ``pixel_unshuffle`` and ``interpolate`` (alias
``upsample``) with ``torch.nn.functional``'s arguments and coordinate conventions.

``interpolate`` resamples each spatial axis on its own: ``nearest`` (and ``nearest-exact``)
gather source indices (an integer upscale is a broadcast and a reshape); ``linear``,
``bilinear``, ``trilinear`` and ``bicubic`` contract each axis with a small interpolation
matrix (one product per axis, so the gradients are products too); ``area`` is adaptive
average pooling. Source coordinates follow PyTorch: with ``scale_factor`` given the
scale is ``1 / scale_factor`` (unless ``recompute_scale_factor``), with ``size`` it is
``in / out``; ``align_corners`` maps the corner pixels' centres onto each other.

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> x = fnp.asarray([[[1.0, 2.0]]])
    >>> F.interpolate(x, scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> F.interpolate(x, size=4, mode="linear").tolist()
    [[[1.0, 1.25, 1.75, 2.0]]]
    >>> F.pixel_shuffle(fnp.arange(4.0).reshape(1, 4, 1, 1), 2)[0, 0].tolist()
    [[0.0, 1.0], [2.0, 3.0]]
"""
from __future__ import annotations

import math
import numbers

import numpy as np

import fx.numpy as fnp
from nnlib.functional.pooling import _adaptive_avg

__all__ = ["pixel_shuffle", "pixel_unshuffle", "interpolate", "upsample"]


def _factor(name: str, what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
    return int(value)


def pixel_shuffle(input, upscale_factor):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)``: channel blocks become ``r x r`` pixels.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.pixel_shuffle(fnp.ones((2, 8, 3, 3)), 2).shape
        (2, 2, 6, 6)
    """
    x, r = fnp.asarray(input), _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected (*, C * {r * r}, H, W), got shape "
                         f"{tuple(x.shape)}")
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    y = y.transpose((*range(n), n, n + 3, n + 1, n + 4, n + 2))
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """The inverse of ``pixel_shuffle``: ``(*, C, H r, W r) -> (*, C r^2, H, W)``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.pixel_unshuffle(fnp.ones((2, 2, 6, 6)), 2).shape
        (2, 8, 3, 3)
    """
    x, r = fnp.asarray(input), _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expected (*, C, H, W) with H and W divisible by "
                         f"{r}, got shape {tuple(x.shape)}")
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    n = len(lead)
    y = y.transpose((*range(n), n, n + 2, n + 4, n + 1, n + 3))
    return y.reshape(*lead, c * r * r, h // r, w // r)


_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "area", *_SPATIAL)


def _cubic(t, a=-0.75):
    """PyTorch's cubic convolution weights of taps -1, 0, 1, 2 at fraction ``t``."""
    def near(s):
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _matrix(mode: str, n: int, o: int, scale, align_corners: bool) -> np.ndarray:
    """The (o, n) interpolation matrix of one axis."""
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1) if o > 1 else 0.0)
    else:
        src = (dst + 0.5) * scale - 0.5
        if mode != "bicubic":
            src = np.maximum(src, 0.0)
    lo = np.floor(src).astype(np.int64)
    t = src - lo
    m = np.zeros((o, n))
    rows = np.arange(o)
    if mode == "bicubic":
        for j, wgt in zip(range(-1, 3), _cubic(t)):
            np.add.at(m, (rows, np.clip(lo + j, 0, n - 1)), wgt)
        return m
    np.add.at(m, (rows, np.minimum(lo, n - 1)), 1 - t)
    np.add.at(m, (rows, np.minimum(lo + 1, n - 1)), t)
    return m


def _nearest(x, axis: int, n: int, o: int, scale, exact: bool):
    dst = np.arange(o, dtype=np.float32)
    offset = np.float32(0.5) if exact else np.float32(0.0)
    src = np.minimum(np.floor((dst + offset) * np.float32(scale)).astype(np.int64), n - 1)
    if o % n == 0 and np.array_equal(src, np.repeat(np.arange(n), o // n)):
        k = o // n  # every source repeated k times: a broadcast and a reshape
        shape = list(x.shape)
        grown = fnp.broadcast_to(fnp.expand_dims(x, axis + 1),
                                 (*shape[:axis + 1], k, *shape[axis + 1:]))
        shape[axis] = o
        return grown.reshape(shape)
    return fnp.take(x, fnp.asarray(src.astype(np.int32)), axis=axis)


def _sizes(x, nd, size, scale_factor, recompute):
    name = "interpolate"
    spatial = x.shape[-nd:] if nd else ()
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * nd if isinstance(size, numbers.Integral) else tuple(size)
        if len(out) != nd or any(isinstance(o, bool) or not isinstance(o, numbers.Integral)
                                 or o <= 0 for o in out):
            raise ValueError(f"{name}: size must be a positive int or {nd} of them, got "
                             f"{size!r}")
        return tuple(int(o) for o in out), tuple(n / o for n, o in zip(spatial, out))
    sf = (scale_factor,) * nd if isinstance(scale_factor, numbers.Real) else \
        tuple(scale_factor)
    if len(sf) != nd or any(not isinstance(s, numbers.Real) or s <= 0 for s in sf):
        raise ValueError(f"{name}: scale_factor must be a positive number or {nd} of them, "
                         f"got {scale_factor!r}")
    out = tuple(int(math.floor(n * s)) for n, s in zip(spatial, sf))
    if any(o <= 0 for o in out):
        raise ValueError(f"{name}: scale_factor {scale_factor!r} gives the empty size {out}")
    scales = tuple(n / o for n, o in zip(spatial, out)) if recompute else \
        tuple(1.0 / s for s in sf)
    return out, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False, *, channels_last=False):
    """Resample the spatial axes of ``(N, C, *spatial)`` (``channels_last``: ``(N,
    *spatial, C)``) to ``size`` or by ``scale_factor`` with ``mode`` nearest,
    nearest-exact, linear (1-D), bilinear or bicubic (2-D), trilinear (3-D) or area.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> x = fnp.arange(4.0).reshape(1, 1, 2, 2)
        >>> F.interpolate(x, size=3, mode="bilinear", align_corners=True)[0, 0].tolist()
        [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]
    """
    x = fnp.asarray(input)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(map(repr, _MODES))}, "
                         f"got {mode!r}")
    if antialias:
        raise NotImplementedError("interpolate: antialias is not implemented")
    nd = x.ndim - 2
    if nd < 1 or (mode in _SPATIAL and nd != _SPATIAL[mode]):
        want = f"{_SPATIAL[mode] + 2}-D" if mode in _SPATIAL else "at least 3-D"
        raise ValueError(f"interpolate: mode {mode!r} needs a {want} input (N, C, *spatial), "
                         f"got shape {tuple(x.shape)}")
    if align_corners is not None and mode not in _SPATIAL:
        raise ValueError(f"interpolate: align_corners applies to the interpolating modes "
                         f"({', '.join(_SPATIAL)}), not {mode!r}")
    if channels_last:
        x = fnp.moveaxis(x, -1, 1)
    out, scales = _sizes(x, nd, size, scale_factor, recompute_scale_factor)
    if x.dtype.kind not in "fc" and mode not in ("nearest", "nearest-exact"):
        x = x.astype(fnp.float32)
    if mode == "area":
        y = _adaptive_avg(nd, x, out, False)
    else:
        y = x
        for i, (n, o, s) in enumerate(zip(x.shape[2:], out, scales)):
            axis = 2 + i
            if n == o and (mode.startswith("nearest") or align_corners or s == 1.0):
                continue
            if mode.startswith("nearest"):
                y = _nearest(y, axis, n, o, s, mode == "nearest-exact")
                continue
            m = _matrix(mode, n, o, s, bool(align_corners))
            y = fnp.moveaxis(fnp.tensordot(y, fnp.asarray(m.T.astype(y.dtype)),
                                           ([axis], [0])), -1, axis)
    return fnp.moveaxis(y, 1, -1) if channels_last else y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None, *,
             channels_last=False):
    """``interpolate`` under its older name (as ``torch.nn.functional.upsample``).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.upsample(fnp.ones((1, 1, 2, 2)), scale_factor=2).shape
        (1, 1, 4, 4)
    """
    return interpolate(input, size, scale_factor, mode, align_corners,
                       channels_last=channels_last)
