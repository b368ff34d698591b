"""Sliding windows over spatial axes, shared by convolution and pooling (private).

A ``Window`` describes windows of ``kernel`` taps, ``dilation`` apart, every ``stride``
elements of a spatial extent ``size`` padded by ``pads`` (``(lo, hi)`` per axis), with
``out`` windows per axis. Three operations, all made of fx's static shape primitives
(no Python loop over pixels: one strided slice per kernel tap):

* ``pad_spatial``: the padded input (one ``pad``);
* ``taps``: one strided view per kernel tap (``prod(kernel)`` slices of the padded input;
  tap ``i`` of window ``o`` is element ``o * stride + i * dilation``);
* ``place``: the adjoint of ``taps`` (the col2im of a convolution's input gradient, the
  scatter of a pooling gradient): the sum of every tap's array put back where that tap
  read. Taps whose offsets share ``offset // stride`` cover disjoint, interleaved
  positions, so they are interleaved by a stack and a reshape, and each such group costs
  one ``pad`` and one add: non-overlapping pooling windows take one group, a stride-1
  convolution one group per tap.

``window_max`` and ``window_sum`` reduce over the taps (an elementwise maximum or sum),
with hand-written reverse rules built on ``place``; ``first_max_index`` gives pooling's
``return_indices``. Arrays may have any layout: ``axes`` names the spatial axes
(consecutive).

Example:
    >>> import fx.numpy as fnp
    >>> from nnlib.functional._window import Window, taps, place
    >>> win = Window.make((4,), (2,), (2,), (1,), ((0, 0),))
    >>> x = fnp.arange(4.0)
    >>> [t.tolist() for t in taps(x, win, (0,))]
    [[0.0, 2.0], [1.0, 3.0]]
    >>> place([fnp.ones(2), None], win, (0,)).tolist()
    [1.0, 0.0, 1.0, 0.0]
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.prims.shape import pad_p
from transforms import custom_vjp


class Window(NamedTuple):
    size: tuple      # spatial extent of the (unpadded) input, per axis
    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple      # ((lo, hi), ...): zeros (or -inf) added before the windows slide
    out: tuple       # windows per axis

    @staticmethod
    def make(size, kernel, stride, dilation, pads, out=None) -> Window:
        """A window; ``out`` defaults to every window that fits in the padded extent."""
        size, kernel, stride, dilation = (tuple(int(v) for v in t)
                                          for t in (size, kernel, stride, dilation))
        pads = tuple((int(lo), int(hi)) for lo, hi in pads)
        if out is None:
            out = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, k, s, d, (lo, hi)
                        in zip(size, kernel, stride, dilation, pads))
        return Window(size, kernel, stride, dilation, pads, tuple(int(o) for o in out))

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    def offsets(self):
        """Each tap's offset inside its window (row-major over the kernel)."""
        return [tuple(i * d for i, d in zip(idx, self.dilation))
                for idx in itertools.product(*(range(k) for k in self.kernel))]


def _config(ndim: int, axes, per_axis):
    config = [(0, 0, 0)] * ndim
    for a, c in zip(axes, per_axis):
        config[a] = c
    return tuple(config)


def row_major(x):
    """``x`` in row-major memory order: a copy when (and only when) its buffer is a
    non-contiguous view (a reshape to 1-D copies just then; the full-range slice in
    between keeps jit's optimiser from folding the two reshapes into none). Strided taps
    of a row-major array copy far faster than taps of a transposed one."""
    flat = x.reshape(-1)
    return lax.slice(flat, (0,), (flat.shape[0],)).reshape(x.shape)


def pad_spatial(x, win: Window, axes, value=0.0):
    """``x`` padded by ``win.pads`` on ``axes`` with ``value`` (no-op without padding)."""
    if all(p == (0, 0) for p in win.pads):
        return x
    config = _config(x.ndim, axes, [(lo, hi, 0) for lo, hi in win.pads])
    return pad_p.bind(x, np.asarray(value, x.dtype), padding_config=config)


def taps(xp, win: Window, axes) -> list:
    """One strided view of the padded ``xp`` per kernel tap, each with ``win.out`` on
    ``axes``."""
    views = []
    for off in win.offsets():
        start, limit, strides = [0] * xp.ndim, list(xp.shape), [1] * xp.ndim
        for a, o, n, s in zip(axes, off, win.out, win.stride):
            start[a], limit[a], strides[a] = o, o + (n - 1) * s + 1, s
        if start == [0] * xp.ndim and limit == list(xp.shape):
            views.append(xp)
        else:
            views.append(lax.slice(xp, start, limit, strides))
    return views


def _interleave(members: dict, stride, axes, like):
    """One array from the taps of a group: ``members[r]`` goes to positions ``o * stride
    + r``; absent ``r`` are zeros. Returns an array with ``out * stride`` on ``axes``."""
    for t in reversed(range(len(axes))):
        s, a = stride[t], axes[t]
        if s == 1:
            members = {r[:t]: v for r, v in members.items()}
            continue
        merged = {}
        for head in {r[:t] for r in members}:
            row = [members.get(head + (j,)) for j in range(s)]
            row = [fnp.zeros_like(like) if v is None else v for v in row]
            stacked = fnp.stack(row, axis=a + 1)
            shape = list(stacked.shape)
            shape[a:a + 2] = [shape[a] * s]
            merged[head] = stacked.reshape(shape)
        members = merged
        like = next(iter(members.values()))
    return members[()]


def place(parts, win: Window, axes, like=None):
    """The adjoint of ``taps`` followed by the crop of the padding: ``sum_k`` of
    ``parts[k]`` put where tap ``k`` read, as an unpadded input (``None`` parts are zero).
    ``like`` gives shape and dtype when every part is ``None``."""
    groups: dict = {}
    for off, part in zip(win.offsets(), parts):
        if part is not None:
            q = tuple(o // s for o, s in zip(off, win.stride))
            r = tuple(o % s for o, s in zip(off, win.stride))
            groups.setdefault(q, {})[r] = part
    total = None
    for q, members in groups.items():
        template = next(iter(members.values()))
        block = _interleave(members, win.stride, axes, template)
        per_axis = []
        for a, qq, s, n, (lo, _) in zip(axes, q, win.stride, win.size, win.pads):
            start = qq * s - lo
            per_axis.append((start, n - start - block.shape[a], 0))
        if any(c != (0, 0, 0) for c in per_axis):
            config = _config(block.ndim, axes, per_axis)
            block = pad_p.bind(block, np.zeros((), block.dtype), padding_config=config)
        total = block if total is None else total + block
    if total is None:
        shape = list(like.shape)
        for a, n in zip(axes, win.size):
            shape[a] = n
        return fnp.zeros(tuple(shape), like.dtype)
    return total


# --- the internal layout ---------------------------------------------------------------------
# Convolutions and pools run on one of two views of their input: batch innermost (C, *S, N)
# for batches of BATCH_LAST_FROM or more (the strided copies of im2col, col2im and pooling
# then move long contiguous runs; measured fastest for training batches), channels
# innermost (N, *S, C) for smaller ones. The view depends on the batch size only, not on
# the layout of the arguments (``channels_last``), so a network's activations stay in one
# memory layout from layer to layer and the views cost nothing.
BATCH_LAST_FROM = 8


def to_internal(x, nd: int, channels_last: bool):
    """``(view, unbatched, batch_last, back)``: ``x`` (batched if needed) as ``(C, *S, N)``
    (``batch_last``) or ``(N, *S, C)``; ``back`` is the permutation that undoes the view."""
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = fnp.expand_dims(x, 0)
    spatial = tuple(range(1, nd + 1)) if channels_last else tuple(range(2, nd + 2))
    channel = nd + 1 if channels_last else 1
    batch_last = x.shape[0] >= BATCH_LAST_FROM
    perm = (channel, *spatial, 0) if batch_last else (0, *spatial, channel)
    back = tuple(int(i) for i in np.argsort(perm))
    if perm != tuple(range(x.ndim)):
        x = x.transpose(perm)
    return x, unbatched, batch_last, back


def from_internal(out, unbatched: bool, back: tuple):
    """The inverse of ``to_internal`` for a result in the same view."""
    if back != tuple(range(out.ndim)):
        out = out.transpose(back)
    return out[0] if unbatched else out


# --- reductions over windows, with their reverse rules ----------------------------------------
def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min if dtype.kind in "iu" else False


def _first_max_parts(views, out, ct):
    """``ct`` routed to the first tap that attains the maximum in each window (masks are
    multiplied in: NumPy's ``where`` is many times slower than a product with a bool)."""
    parts, remaining = [], ct
    for v in views[:-1]:
        part = remaining * (v >= out)
        parts.append(part)
        remaining = remaining - part
    return parts + [remaining]


@functools.lru_cache(maxsize=256)
def window_max(win: Window, axes: tuple):
    """The maximum over each window (padding counts as the dtype's lowest value) as a
    function of x, whose gradient goes to the first maximal tap of each window."""
    def pool(x):
        return _max_of(taps(pad_spatial(x, win, axes, _lowest(x.dtype)), win, axes))

    def fwd(x):
        xp = pad_spatial(x, win, axes, _lowest(x.dtype))
        out = _max_of(taps(xp, win, axes))
        return out, (xp, out)

    def bwd(res, ct):
        xp, out = res
        return (place(_first_max_parts(taps(xp, win, axes), out, ct), win, axes),)

    f = custom_vjp(pool, warn_forward=False)
    f.defvjp(fwd, bwd)
    return f


def _max_of(views):
    out = views[0]
    for v in views[1:]:
        out = fnp.maximum(out, v)
    return out


def first_max_index(x, win: Window, axes, out):
    """Flat index (into the unpadded spatial plane) of each window's first maximum."""
    xp = pad_spatial(lax.stop_gradient(x), win, axes, _lowest(x.dtype))
    views = taps(xp, win, axes)
    grids = np.meshgrid(*(np.arange(o) * s - lo for o, s, (lo, _) in
                          zip(win.out, win.stride, win.pads)), indexing="ij")
    strides = np.cumprod((1,) + win.size[:0:-1])[::-1]
    index = None
    for v, off in reversed(list(zip(views, win.offsets()))):
        flat = sum((g + o) * st for g, o, st in zip(grids, off, strides)).astype(np.int32)
        flat = fnp.asarray(flat.reshape(flat.shape + (1,) * (x.ndim - axes[-1] - 1)))
        index = fnp.broadcast_to(flat, out.shape) if index is None else \
            fnp.where(v >= out, flat, index)  # the taps the gradient picks, too
    return index


@functools.lru_cache(maxsize=256)
def window_sum(win: Window, axes: tuple):
    """The sum over each (zero-padded) window as a function of x; its gradient spreads
    the cotangent back with ``place``."""
    def window_sum(x):
        views = taps(pad_spatial(x, win, axes), win, axes)
        out = views[0]
        for v in views[1:]:
            out = out + v
        return out

    f = custom_vjp(window_sum, warn_forward=False)
    f.defvjp(lambda x: (window_sum(x), None), lambda res, ct: (place([ct] * win.taps, win,
                                                                      axes),))
    return f
