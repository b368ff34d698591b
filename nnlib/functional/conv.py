"""Convolutions: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` (``torch.nn.functional``'s
names, arguments and weight layouts).

``conv*d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)``: input
``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``), weight ``(out, C / groups,
*kernel)``; ``padding`` is an int, one int per spatial axis, ``"valid"`` or ``"same"``.
``conv_transpose*d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
groups=1, dilation=1)``: weight ``(C, out / groups, *kernel)``; it is the adjoint (the
input gradient) of the convolution with the same weight and geometry.

Layout: ``channels_last=True`` takes and returns ``(N, *spatial, C)`` arrays (weights keep
PyTorch's layout). Whatever the argument layout, the work runs on a view chosen by batch
size: ``(C, *spatial, N)`` (batch innermost) for batches of 8 or more, which makes the
strided copies of the im2col, the col2im and the pools long and contiguous (the fastest
layout for training batches), ``(N, *spatial, C)`` for smaller ones. Results come back as
views in the argument layout, so a network keeps its activations in one memory layout
from layer to layer and every convolution is one matrix product per group.

How: the im2col matrix comes from one strided slice per kernel tap and one stack, then a
single matrix product (per group). The derivatives are written by hand (``custom_vjp``):
the input gradient is the transposed convolution (one product, then the taps put back
with a pad each: the col2im), the weight gradient one product with the saved im2col
matrix. A transposed convolution is that col2im, so it does no work on inserted zeros.
Both rules are built of these same functions, so second derivatives work; forward mode
differentiates the definitions.

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> x, w = fnp.ones((1, 2, 5, 5)), fnp.ones((4, 2, 3, 3))
    >>> F.conv2d(x, w, padding=1).shape
    (1, 4, 5, 5)
    >>> F.conv2d(x, w)[0, 0].tolist()
    [[18.0, 18.0, 18.0], [18.0, 18.0, 18.0], [18.0, 18.0, 18.0]]
    >>> F.conv_transpose2d(fnp.ones((1, 4, 3, 3)), w, stride=2).shape
    (1, 2, 7, 7)
"""
from __future__ import annotations

import functools
import math
import numbers

import fx.numpy as fnp
from fx import lax
from fx.numpy.contractions import dot_general
from nnlib.functional._window import (
    Window,
    from_internal,
    pad_spatial,
    place,
    row_major,
    taps,
    to_internal,
)
from transforms import custom_vjp

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


# --- the im2col matrix and the three products, in two canonical layouts ------------------
# channels-first: x is (C, *S, N); im2col (groups, taps * C/g [+ 1], prod(So) * N)
# channels-last:  x is (N, *S, C); im2col (N * prod(So), groups, taps * C/g [+ 1])
# Rows/columns run tap-major; the optional last one is ones, for the bias, so that the
# bias is added by the product and its gradient comes out of the weight gradient's.
def _axes(win: Window, cl: bool):
    return tuple(range(1, 1 + len(win.size)))


def _mm(a, b, ca: int, cb: int, groups: int, ga: int = 0, gb: int = 0):
    """Contract axis ``ca`` of ``a`` with ``cb`` of ``b``, batched over the group axes
    ``ga``/``gb`` (result: group, free of ``a``, free of ``b``); one 2-D product (group axes
    dropped) when there is one group."""
    if groups > 1:
        return dot_general(a, b, ((ca,), (cb,)), ((ga,), (gb,)))
    a2 = a.reshape(tuple(n for i, n in enumerate(a.shape) if i != ga))
    b2 = b.reshape(tuple(n for i, n in enumerate(b.shape) if i != gb))
    return dot_general(a2, b2, ((ca - (ca > ga),), (cb - (cb > gb),)))[None]


def _im2col(x, win: Window, groups: int, cl: bool, ones: bool):
    axes = _axes(win, cl)
    if win.taps > 1:
        x = row_major(x)  # an argument seen through a transposed view: one copy, not k
    views = taps(pad_spatial(x, win, axes), win, axes)
    rows = math.prod(win.out) * (x.shape[0] if cl else x.shape[-1])
    if cl:
        lead, c = x.shape[0], x.shape[-1]
        views = [v.reshape(lead, *win.out, groups, c // groups) for v in views]
        if ones:
            views.append(fnp.ones((lead, *win.out, groups, 1), x.dtype))
        p = fnp.concatenate(views, axis=-1) if len(views) > 1 else views[0]
        return p.reshape(rows, groups, p.shape[-1])
    c, n = x.shape[0], x.shape[-1]
    views = [v.reshape(groups, c // groups, *win.out, n) for v in views]
    if ones:
        views.append(fnp.ones((groups, 1, *win.out, n), x.dtype))
    p = fnp.concatenate(views, axis=1) if len(views) > 1 else views[0]
    return p.reshape(groups, p.shape[1], rows)


def _weight_matrix(w, b, groups: int, cl: bool):
    """CF: (groups, out/g, taps * in/g [+ 1]); CL: (groups, taps * in/g [+ 1], out/g)."""
    o, cg, k = w.shape[0], w.shape[1], math.prod(w.shape[2:])
    og = o // groups
    if cl:
        wm = w.reshape(groups, og, cg, k).transpose((0, 3, 2, 1)).reshape(groups, k * cg, og)
        return wm if b is None else fnp.concatenate([wm, b.reshape(groups, 1, og)], axis=1)
    wm = w.reshape(groups, og, cg, k).transpose((0, 1, 3, 2)).reshape(groups, og, k * cg)
    return wm if b is None else fnp.concatenate([wm, b.reshape(groups, og, 1)], axis=2)


def _out_matrix(y, groups: int, cl: bool):
    """``y`` (output side, canonical) as the products' layout: CF (groups, out/g, rows), CL
    (rows, groups, out/g)."""
    o = y.shape[-1] if cl else y.shape[0]
    return y.reshape(-1, groups, o // groups) if cl else y.reshape(groups, o // groups, -1)


def _forward(x, w, b, win, groups, cl):
    p = _im2col(x, win, groups, cl, b is not None)
    wm = _weight_matrix(w, b, groups, cl)
    o = w.shape[0]
    if cl:
        out = _mm(p, wm, 2, 1, groups, 1, 0)  # (g, rows, o/g)
        out = out.transpose((1, 0, 2)) if groups > 1 else out
        return out.reshape(x.shape[0], *win.out, o), p
    return _mm(wm, p, 2, 1, groups).reshape(o, *win.out, x.shape[-1]), p


def _weight_grad(y, p, w_shape, groups, cl, bias: bool):
    """d<conv(x, w) + b, y>/d(w, b) from the im2col matrix ``p`` of x (b: None if absent)."""
    ym = _out_matrix(y, groups, cl)
    o, cg, k = w_shape[0], w_shape[1], math.prod(w_shape[2:])
    og = o // groups
    if cl:
        g = _mm(p, ym, 0, 0, groups, 1, 1)  # (g, taps * cg [+ 1], o/g)
        dw = g[:, :k * cg] if bias else g
        dw = dw.reshape(groups, k, cg, og).transpose((0, 3, 2, 1))
        db = g[:, k * cg].reshape(o) if bias else None
    else:
        g = _mm(ym, p, 2, 2, groups)  # (g, o/g, taps * cg [+ 1])
        dw = g[:, :, :k * cg] if bias else g
        dw = dw.reshape(groups, og, k, cg).transpose((0, 1, 3, 2))
        db = g[:, :, k * cg].reshape(o) if bias else None
    return dw.reshape(w_shape), db


def _transpose(y, w, win, groups, cl):
    """The adjoint of ``_forward`` in x: one product, then the col2im."""
    ym, wm = _out_matrix(y, groups, cl), _weight_matrix(w, None, groups, cl)
    k, cg = win.taps, w.shape[1]
    if cl:  # parts (n, *out, g, cg), spatial axes 1..
        n = y.shape[0]
        d = _mm(ym, wm, 2, 2, groups, 1, 0).reshape(groups, n, *win.out, k, cg)
        perm = (*range(1, d.ndim - 2), 0, d.ndim - 2)
        parts = [lax.index_in_dim(d, i, d.ndim - 2, keepdims=False) for i in range(k)]
        parts = [v.transpose(perm) if groups > 1 else v[0][..., None, :] for v in parts]
        out = place(parts, win, _axes(win, True))
        return out.reshape(*out.shape[:-2], groups * cg)
    n = y.shape[-1]  # parts (g, cg, *out, n), spatial axes 2..
    d = _mm(wm, ym, 1, 1, groups).reshape(groups, k, cg, *win.out, n)
    parts = [lax.index_in_dim(d, i, 1, keepdims=False) for i in range(k)]
    out = place(parts, win, tuple(a + 1 for a in _axes(win, False)))
    return out.reshape(groups * cg, *out.shape[2:])


@functools.lru_cache(maxsize=512)
def _conv_fn(win: Window, groups: int, cl: bool, bias: bool):
    """``conv(x, w[, b])`` for one geometry, with its hand-written reverse rule."""
    def conv(x, w, *b):
        return _forward(x, w, b[0] if bias else None, win, groups, cl)[0]

    def fwd(x, w, *b):
        out, p = _forward(x, w, b[0] if bias else None, win, groups, cl)
        return out, (p, w)

    def bwd(res, ct):
        p, w = res
        dw, db = _weight_grad(ct, p, w.shape, groups, cl, bias)
        return (_conv_t_fn(win, groups, cl)(ct, w), dw) + ((db,) if bias else ())

    f = custom_vjp(conv, warn_forward=False)
    f.defvjp(fwd, bwd)
    return f


@functools.lru_cache(maxsize=512)
def _conv_t_fn(win: Window, groups: int, cl: bool):
    """``conv_transpose(y, w)``: the adjoint of ``_conv_fn(win)`` in its input."""
    def conv_t(y, w):
        return _transpose(y, w, win, groups, cl)

    def bwd(res, ct):
        y, w = res
        dy, p = _forward(ct, w, None, win, groups, cl)
        return dy, _weight_grad(y, p, w.shape, groups, cl, False)[0]

    f = custom_vjp(conv_t, warn_forward=False)
    f.defvjp(lambda y, w: (conv_t(y, w), (y, w)), bwd)
    return f


# --- argument handling -----------------------------------------------------------------
def _ints(name: str, what: str, value, nd: int, minimum: int) -> tuple:
    vals = (value,) * nd if isinstance(value, numbers.Integral) else tuple(value)
    if len(vals) != nd or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                              or v < minimum for v in vals):
        bound = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{name}: {what} must be a {bound} int or {nd} of them, got {value!r}")
    return tuple(int(v) for v in vals)


def _check(name: str, x, w, nd: int, cl: bool):
    if w.ndim != nd + 2:
        raise ValueError(f"{name}: expected a weight of rank {nd + 2} (out, in/groups, "
                         f"*kernel), got shape {tuple(w.shape)}")
    if x.ndim not in (nd + 1, nd + 2):
        layout = "(N, *spatial, C)" if cl else "(N, C, *spatial)"
        raise ValueError(f"{name}: expected an input of rank {nd + 2} {layout} or {nd + 1} "
                         f"(unbatched), got shape {tuple(x.shape)}")


def _restore(out, bias, unbatched: bool, cl: bool, back):
    if bias is not None:
        out = out + (bias if cl else bias.reshape(-1, *([1] * (out.ndim - 1))))
    return from_internal(out, unbatched, back)


def _promote(x, w, bias):
    x, w = fnp.asarray(x), fnp.asarray(w)
    dt = fnp.result_type(x, w) if bias is None else fnp.result_type(x, w, bias)
    return x.astype(dt), w.astype(dt), None if bias is None else fnp.asarray(bias).astype(dt)


def _convolution(name, nd, x, w, bias, stride, padding, dilation, groups, cl):
    x, w, bias = _promote(x, w, bias)
    _check(name, x, w, nd, cl)
    stride = _ints(name, "stride", stride, nd, 1)
    dilation = _ints(name, "dilation", dilation, nd, 1)
    groups = _ints(name, "groups", groups, 1, 1)[0]
    c = x.shape[-1] if cl else x.shape[-nd - 1]
    o, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    if cg * groups != c or o % groups:
        raise ValueError(f"{name}: input of shape {tuple(x.shape)} has {c} channels; weight "
                         f"of shape {tuple(w.shape)} expects {cg} * groups ({groups}) = "
                         f"{cg * groups}" + (f" and out channels {o} divisible by groups"
                                              if o % groups else ""))
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        if padding == "same" and stride != (1,) * nd:
            raise ValueError(f"{name}: padding='same' needs stride 1, got {stride}")
        total = [d * (k - 1) if padding == "same" else 0 for d, k in zip(dilation, kernel)]
        pads = tuple((t // 2, t - t // 2) for t in total)
    else:
        pads = tuple((p, p) for p in _ints(name, "padding", padding, nd, 0))
    xc, unbatched, batch_last, back = to_internal(x, nd, cl)
    size = xc.shape[1:-1]
    win = Window.make(size, kernel, stride, dilation, pads)
    if any(n <= 0 for n in win.out):
        raise ValueError(f"{name}: the kernel {tuple(kernel)} (dilation {dilation}) is larger "
                         f"than the padded input of spatial shape "
                         f"{tuple(n + lo + hi for n, (lo, hi) in zip(size, pads))}")
    args = (xc, w) if bias is None else (xc, w, bias)
    out = _conv_fn(win, groups, not batch_last, bias is not None)(*args)
    return _restore(out, None, unbatched, not batch_last, back)


def _convolution_t(name, nd, y, w, bias, stride, padding, output_padding, groups, dilation,
                   cl):
    y, w, bias = _promote(y, w, bias)
    _check(name, y, w, nd, cl)
    stride = _ints(name, "stride", stride, nd, 1)
    dilation = _ints(name, "dilation", dilation, nd, 1)
    padding = _ints(name, "padding", padding, nd, 0)
    output_padding = _ints(name, "output_padding", output_padding, nd, 0)
    groups = _ints(name, "groups", groups, 1, 1)[0]
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{name}: output_padding {output_padding} must be smaller than the "
                         f"stride {stride} or the dilation {dilation}")
    c = y.shape[-1] if cl else y.shape[-nd - 1]
    if w.shape[0] != c or c % groups:
        raise ValueError(f"{name}: input of shape {tuple(y.shape)} has {c} channels; weight "
                         f"of shape {tuple(w.shape)} (in, out/groups, *kernel) expects "
                         f"{w.shape[0]}, divisible by groups ({groups})")
    yc, unbatched, batch_last, back = to_internal(y, nd, cl)
    given = yc.shape[1:-1]
    kernel = w.shape[2:]
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                 zip(given, stride, padding, dilation, kernel, output_padding))
    if any(n <= 0 for n in size):
        raise ValueError(f"{name}: input of shape {tuple(y.shape)} with padding {padding} "
                         f"gives the non-positive output size {size}")
    win = Window.make(size, kernel, stride, dilation, [(p, p) for p in padding], out=given)
    out = _conv_t_fn(win, groups, not batch_last)(yc, w)
    return _restore(out, bias, unbatched, not batch_last, back)


# --- public functions ----------------------------------------------------------------------
def _make_conv(nd: int):
    name = f"conv{nd}d"

    def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
             channels_last=False):
        return _convolution(name, nd, input, weight, bias, stride, padding, dilation, groups,
                            channels_last)
    conv.__name__ = conv.__qualname__ = name
    conv.__doc__ = (
        f"""{nd}-D convolution (cross-correlation, as PyTorch): input ``(N, C, *{nd} spatial)``
    or unbatched; weight ``(out, C / groups, *kernel)``; bias ``(out,)``.
    ``padding``: int, tuple, ``"valid"`` or ``"same"`` (stride 1; the odd extra on the
    high side, as PyTorch). ``channels_last=True``: input and output ``(N, *spatial, C)``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> x = fnp.ones((2, 3{", 8" * nd}))
        >>> F.{name}(x, fnp.ones((4, 3{", 3" * nd})), padding="same").shape
        (2, 4{", 8" * nd})
    """)
    return conv


def _make_conv_t(nd: int):
    name = f"conv_transpose{nd}d"

    def conv_t(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
               dilation=1, *, channels_last=False):
        return _convolution_t(name, nd, input, weight, bias, stride, padding, output_padding,
                              groups, dilation, channels_last)
    conv_t.__name__ = conv_t.__qualname__ = name
    conv_t.__doc__ = (
        f"""{nd}-D transposed convolution (the input gradient of ``conv{nd}d``): weight
    ``(C, out / groups, *kernel)``; output size ``(n - 1) * stride - 2 * padding +
    dilation * (kernel - 1) + output_padding + 1``. ``channels_last`` as ``conv{nd}d``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> y = fnp.ones((2, 4{", 5" * nd}))
        >>> F.{name}(y, fnp.ones((4, 3{", 3" * nd})), stride=2, padding=1,
        ...     output_padding=1).shape
        (2, 3{", 10" * nd})
    """)
    return conv_t


conv1d, conv2d, conv3d = (_make_conv(n) for n in (1, 2, 3))
conv_transpose1d, conv_transpose2d, conv_transpose3d = (_make_conv_t(n) for n in (1, 2, 3))
