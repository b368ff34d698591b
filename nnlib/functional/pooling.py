"""Pooling with ``torch.nn.functional``'s names and arguments: ``max_pool1d/2d/3d``,
``avg_pool1d/2d/3d``, ``adaptive_max_pool*d``, ``adaptive_avg_pool*d``, ``max_unpool*d``,
and ``global_avg_pool`` / ``global_max_pool`` (over every spatial axis).

Inputs are ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; ``channels_last=True``
takes ``(N, *spatial, C)`` (or ``(*spatial, C)``). Windows are one strided view per
kernel tap and an elementwise ``maximum`` / sum over them (general, and under NumPy
faster even for non-overlapping windows than a reshape and a reduction over small axes).
The reverse rules are written by hand: a max pool's gradient goes to the first maximal
element of each window (as PyTorch, whose ``return_indices`` name the same elements),
gathered per tap and put back by interleaving the taps (one stack per spatial axis for
non-overlapping windows) rather than by one pad per tap. They work on the same views as
the convolutions (batch innermost for batches of 8 or more, see ``conv``), so the memory
layout carries through.

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> x = fnp.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2)[0, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> F.avg_pool2d(x, 2)[0, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
"""
from __future__ import annotations

import functools

import numpy as np

import fx.numpy as fnp
from fx import lax
from nnlib.functional._window import (
    Window,
    first_max_index,
    from_internal,
    to_internal,
    window_max,
    window_sum,
)
from nnlib.functional.conv import _ints

__all__ = [f"{kind}_pool{n}d" for kind in ("max", "avg", "adaptive_max", "adaptive_avg")
           for n in (1, 2, 3)] + [f"max_unpool{n}d" for n in (1, 2, 3)] + [
    "global_avg_pool", "global_max_pool"]


def _spatial(x, nd: int, cl: bool) -> tuple:
    return tuple(range(1, 1 + nd))  # of the internal view, (N, *S, C) or (C, *S, N)


def _check_input(name: str, x, nd: int, cl: bool):
    x = fnp.asarray(x)
    if x.ndim not in (nd + 1, nd + 2):
        layout = "(N, *spatial, C)" if cl else "(N, C, *spatial)"
        raise ValueError(f"{name}: expected an input of rank {nd + 2} {layout} or {nd + 1} "
                         f"(unbatched), got shape {tuple(x.shape)}")
    return x


def _canonical(x, nd: int, cl: bool):
    """``x`` as the internal view (see ``_window.to_internal``) and how to undo it."""
    xc, unbatched, _, back = to_internal(x, nd, cl)
    return xc, (unbatched, back)


def _restore(out, view):
    return from_internal(out, *view)


def _window(name, x, nd, cl, kernel_size, stride, padding, dilation, ceil_mode) -> Window:
    kernel = _ints(name, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None or stride == () else _ints(name, "stride", stride, nd, 1)
    padding = _ints(name, "padding", padding, nd, 0)
    dilation = _ints(name, "dilation", dilation, nd, 1)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")
    size = tuple(x.shape[a] for a in _spatial(x, nd, cl))
    out, pads = [], []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{name}: the window {kernel} (dilation {dilation}) does not fit "
                             f"the padded input of spatial shape {size} (padding {padding})")
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:  # the last window must start in the input
            o -= 1
        out.append(o)
        pads.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)))
    return Window.make(size, kernel, stride, dilation, pads, out)


# --- max pooling -----------------------------------------------------------------------------
def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              cl):
    name = f"max_pool{nd}d"
    x = _check_input(name, input, nd, cl)
    xc, view = _canonical(x, nd, cl)
    axes = _spatial(xc, nd, cl)
    win = _window(name, xc, nd, cl, kernel_size, stride, padding, dilation, ceil_mode)
    out = window_max(win, axes)(xc)
    if not return_indices:
        return _restore(out, view)
    indices = first_max_index(xc, win, axes, out)
    return _restore(out, view), _restore(indices, view)


# --- average pooling ---------------------------------------------------------------------------
def _divisor(win: Window, padding, count_include_pad: bool):
    """Per-window element counts (PyTorch's): the padding counts unless excluded, the
    ceil-mode overhang never does."""
    counts = []
    for o, k, s, p, n in zip(win.out, win.kernel, win.stride, padding, win.size):
        start = np.arange(o) * s
        end = np.minimum(start + k, n + 2 * p)
        if not count_include_pad:
            start, end = np.maximum(start, p), np.minimum(end, n + p)
        counts.append(end - start)
    return functools.reduce(np.multiply.outer, counts)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, cl):
    name = f"avg_pool{nd}d"
    x = _check_input(name, input, nd, cl)
    if x.dtype.kind not in "fc":
        x = x.astype(fnp.float32)
    xc, view = _canonical(x, nd, cl)
    axes = _spatial(xc, nd, cl)
    win = _window(name, xc, nd, cl, kernel_size, stride, padding, 1, ceil_mode)
    total = window_sum(win, axes)(xc)
    if divisor_override is not None:
        out = total / divisor_override
    else:
        div = _divisor(win, _ints(name, "padding", padding, nd, 0), count_include_pad)
        if np.all(div == div.flat[0]):
            out = total / float(div.flat[0])
        else:
            div = div.reshape(div.shape + (1,) * (xc.ndim - axes[-1] - 1))
            out = total / fnp.asarray(div.astype(x.dtype))
    return _restore(out, view)


# --- adaptive pooling: PyTorch's windows [floor(i n / o), ceil((i + 1) n / o)) ---------------
def _adaptive_bounds(n: int, o: int):
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _output_size(name, output_size, x, nd, cl):
    size = tuple(x.shape[a] for a in _spatial(x, nd, cl))
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{name}: output_size must be an int or {nd} of them, got "
                         f"{output_size!r}")
    out = tuple(n if o is None else o for o, n in zip(output_size, size))
    if any(isinstance(o, bool) or not isinstance(o, int) or o <= 0 for o in out):
        raise ValueError(f"{name}: output_size must be positive ints (or None to keep a "
                         f"size), got {output_size!r}")
    return size, out


def _adaptive_avg(nd, input, output_size, cl):
    name = f"adaptive_avg_pool{nd}d"
    x = _check_input(name, input, nd, cl)
    if x.dtype.kind not in "fc":
        x = x.astype(fnp.float32)
    xc, view = _canonical(x, nd, cl)
    size, out = _output_size(name, output_size, xc, nd, cl)
    axes = _spatial(xc, nd, cl)
    if all(n % o == 0 for n, o in zip(size, out)):  # regular windows
        k = tuple(n // o for n, o in zip(size, out))
        win = Window.make(size, k, k, (1,) * nd, ((0, 0),) * nd)
        y = window_sum(win, axes)(xc) / float(np.prod(k))
        return _restore(y, view)
    y = xc
    for a, n, o in zip(axes, size, out):  # separable: one averaging matrix per axis
        lo, hi = _adaptive_bounds(n, o)
        cols = np.arange(n)
        m = ((cols >= lo[:, None]) & (cols < hi[:, None])) / (hi - lo)[:, None]
        y = fnp.moveaxis(fnp.tensordot(y, fnp.asarray(m.T.astype(y.dtype)), ([a], [0])),
                         -1, a)
    return _restore(y, view)


def _adaptive_max(nd, input, output_size, return_indices, cl):
    name = f"adaptive_max_pool{nd}d"
    x = _check_input(name, input, nd, cl)
    xc, view = _canonical(x, nd, cl)
    size, out = _output_size(name, output_size, xc, nd, cl)
    axes = _spatial(xc, nd, cl)
    if all(n % o == 0 for n, o in zip(size, out)):
        k = tuple(n // o for n, o in zip(size, out))
        win = Window.make(size, k, k, (1,) * nd, ((0, 0),) * nd)
        y = window_max(win, axes)(xc)
        if not return_indices:
            return _restore(y, view)
        idx = first_max_index(xc, win, axes, y)
        return _restore(y, view), _restore(idx, view)
    # irregular windows: per axis, gather every window (padded by repeating its last
    # element) and take the maximum; the indices follow the argmax of each axis
    y, coords = xc, []
    for a, n, o in zip(axes, size, out):
        lo, hi = _adaptive_bounds(n, o)
        width = int((hi - lo).max())
        gather = np.minimum(lo[:, None] + np.arange(width), hi[:, None] - 1)  # (o, width)
        g = fnp.take(y, fnp.asarray(gather.reshape(-1).astype(np.int32)), axis=a)
        g = g.reshape(*g.shape[:a], o, width, *g.shape[a + 1:])
        arg = fnp.argmax(lax.stop_gradient(g), axis=a + 1)
        y = fnp.max(g, axis=a + 1)
        if return_indices:
            pos = fnp.asarray(gather.astype(np.int32).reshape(
                (o, width) + (1,) * (g.ndim - a - 2)))
            here = fnp.take_along_axis(fnp.broadcast_to(pos, g.shape),
                                       fnp.expand_dims(arg, a + 1), axis=a + 1)
            coords = [_gather_axis(c, arg, a, gather) for c in coords] + [here.squeeze(a + 1)]
    if not return_indices:
        return _restore(y, view)
    flat = coords[0]
    for c, n in zip(coords[1:], size[1:]):
        flat = flat * n + c
    return _restore(y, view), _restore(flat.astype(fnp.int32), view)


def _gather_axis(c, arg, a, gather):
    """Earlier axes' argmax coordinates ``c`` along axis ``a`` picked by this axis's ``arg``."""
    o, width = gather.shape
    g = fnp.take(c, fnp.asarray(gather.reshape(-1).astype(np.int32)), axis=a)
    g = g.reshape(*g.shape[:a], o, width, *g.shape[a + 1:])
    return fnp.take_along_axis(g, fnp.expand_dims(arg, a + 1), axis=a + 1).squeeze(a + 1)


# --- unpooling and global pooling --------------------------------------------------------------
def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size, cl):
    name = f"max_unpool{nd}d"
    x = _check_input(name, input, nd, cl)
    idx = fnp.asarray(indices)
    if idx.shape != x.shape or idx.dtype.kind not in "iu":
        raise ValueError(f"{name}: indices must be integers of the input's shape "
                         f"{tuple(x.shape)}, got {idx.dtype} {tuple(idx.shape)}")
    xc, view = _canonical(x, nd, cl)
    ic, _ = _canonical(idx, nd, cl)
    axes = _spatial(xc, nd, cl)
    given = tuple(xc.shape[a] for a in axes)
    kernel = _ints(name, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None else _ints(name, "stride", stride, nd, 1)
    padding = _ints(name, "padding", padding, nd, 0)
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(given, stride, padding, kernel))
    size = default if output_size is None else tuple(output_size)[-nd:]
    if len(size) != nd or any(not isinstance(n, int) or n <= 0 for n in size):
        raise ValueError(f"{name}: output_size must give {nd} positive sizes, got "
                         f"{output_size!r}")
    plane = int(np.prod(size))
    xs = fnp.moveaxis(xc, -1, 1)  # (N, *S, C) or (C, *S, N) -> two leading axes, then S
    ids = fnp.moveaxis(ic, -1, 1)
    lead = xs.shape[:2]
    rows = int(np.prod(lead))
    xs, ids = xs.reshape(rows, -1), ids.reshape(rows, -1)
    flat = fnp.zeros((rows, plane), xs.dtype).at[
        fnp.arange(rows)[:, None], ids].set(xs)
    out = fnp.moveaxis(flat.reshape(*lead, *size), 1, -1)
    return _restore(out, view)


def global_avg_pool(input, *, channels_last=False, keepdims=False):
    """The mean over every spatial axis: ``(N, C, *spatial) -> (N, C)`` (``keepdims``:
    spatial axes of size one), ``channels_last``: ``(N, *spatial, C) -> (N, C)``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.global_avg_pool(fnp.ones((2, 3, 4, 4))).shape
        (2, 3)
    """
    x = fnp.asarray(input)
    axes = tuple(range(1, x.ndim - 1)) if channels_last else tuple(range(2, x.ndim))
    return fnp.mean(x, axis=axes, keepdims=keepdims)


def global_max_pool(input, *, channels_last=False, keepdims=False):
    """The maximum over every spatial axis (see ``global_avg_pool``).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.global_max_pool(fnp.arange(8.0).reshape(1, 2, 4), keepdims=True).tolist()
        [[[3.0], [7.0]]]
    """
    x = fnp.asarray(input)
    axes = tuple(range(1, x.ndim - 1)) if channels_last else tuple(range(2, x.ndim))
    return fnp.max(x, axis=axes, keepdims=keepdims)


# --- public functions ----------------------------------------------------------------------
def _example(nd: int, call: str, shape: str) -> str:
    dims = ", 4" * nd
    return (f"""
    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> x = fnp.arange({4 ** nd * 2}.0).reshape(1, 2{dims})
        >>> F.{call}.shape
        {shape}
    """)


def _named(fn, name: str, doc: str):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _make(nd: int):
    out2 = "(1, 2" + ", 2" * nd + ")"

    def max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 return_indices=False, *, channels_last=False):
        return _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices, channels_last)

    def avg_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, *, channels_last=False):
        return _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                         divisor_override, channels_last)

    def adaptive_max_pool(input, output_size, return_indices=False, *, channels_last=False):
        return _adaptive_max(nd, input, output_size, return_indices, channels_last)

    def adaptive_avg_pool(input, output_size, *, channels_last=False):
        return _adaptive_avg(nd, input, output_size, channels_last)

    def max_unpool(input, indices, kernel_size, stride=None, padding=0, output_size=None, *,
                   channels_last=False):
        return _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size,
                           channels_last)

    return (
        _named(max_pool, f"max_pool{nd}d", f"""{nd}-D max pooling over ``kernel_size`` windows
    (``stride`` defaults to the kernel; ``padding`` counts as -inf and is at most half the
    kernel; ``ceil_mode`` keeps partial windows that start inside the input).
    ``return_indices`` also gives each maximum's flat index into the input's spatial
    plane (int32; for ``max_unpool{nd}d``). The gradient goes to the first maximum of each
    window.""" + _example(nd, f"max_pool{nd}d(x, 2)", out2)),
        _named(avg_pool, f"avg_pool{nd}d", f"""{nd}-D average pooling (PyTorch's divisors:
    ``count_include_pad`` counts the zero padding, never the ``ceil_mode`` overhang;
    ``divisor_override`` replaces them). Integer inputs are averaged as float32."""
               + _example(nd, f"avg_pool{nd}d(x, 3, stride=1, padding=1)",
                          "(1, 2" + ", 4" * nd + ")")),
        _named(adaptive_max_pool, f"adaptive_max_pool{nd}d", f"""{nd}-D max pooling to a
    fixed ``output_size`` (an int, or one per axis; None keeps that axis): window ``i`` of
    an axis of ``n`` is ``[floor(i n / out), ceil((i + 1) n / out))``, as PyTorch.
    ``return_indices`` as ``max_pool{nd}d``.""" + _example(
            nd, f"adaptive_max_pool{nd}d(x, 2)", out2)),
        _named(adaptive_avg_pool, f"adaptive_avg_pool{nd}d", f"""{nd}-D average pooling to a
    fixed ``output_size`` (windows as ``adaptive_max_pool{nd}d``; uneven windows average by
    one small matrix product per axis).""" + _example(
            nd, f"adaptive_avg_pool{nd}d(x, 3)", "(1, 2" + ", 3" * nd + ")")),
        _named(max_unpool, f"max_unpool{nd}d", f"""The partial inverse of ``max_pool{nd}d``:
    zeros except the pooled values, put back at their ``indices`` (from ``return_indices``).
    The output size is ``(n - 1) * stride - 2 * padding + kernel_size`` unless
    ``output_size`` is given.""" + _example(
            nd, f"max_unpool{nd}d(*F.max_pool{nd}d(x, 2, return_indices=True), 2)",
            "(1, 2" + ", 4" * nd + ")")),
    )


(max_pool1d, avg_pool1d, adaptive_max_pool1d, adaptive_avg_pool1d, max_unpool1d) = _make(1)
(max_pool2d, avg_pool2d, adaptive_max_pool2d, adaptive_avg_pool2d, max_unpool2d) = _make(2)
(max_pool3d, avg_pool3d, adaptive_max_pool3d, adaptive_avg_pool3d, max_unpool3d) = _make(3)
