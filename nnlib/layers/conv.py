"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``.

Hyperparameters as PyTorch's (without ``in_channels``: it comes from the example input
given to ``init``); weights in PyTorch's layouts (``(out, in / groups, *kernel)``,
transposed: ``(in, out / groups, *kernel)``), weight and bias uniform in
``±1/sqrt(fan_in)`` (PyTorch's default). ``channels_last=True`` takes and returns ``(N,
*spatial, C)`` arrays with the same parameters.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> layer = nnlib.Conv2d(8, 3, padding=1)
    >>> params, state = layer.init(fx.random.key(0), fnp.ones((2, 3, 5, 5)))
    >>> params["weight"].shape, layer.apply(params, state, fnp.ones((2, 3, 5, 5)))[0].shape
    ((8, 3, 3, 3), (2, 8, 5, 5))
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import nnlib.functional as F
from fx import random
from nnlib import init
from nnlib.module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ints(layer: str, what: str, value, nd: int, minimum: int) -> tuple:
    vals = (value,) * nd if isinstance(value, numbers.Integral) else tuple(value)
    if len(vals) != nd or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                              or v < minimum for v in vals):
        bound = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{layer}: {what} must be a {bound} int or {nd} of them, got "
                         f"{value!r}")
    return tuple(int(v) for v in vals)


class _ConvBase(Module):
    nd = 0

    def _check_common(self):
        name = self.name
        _ints(name, "out_channels", self.out_channels, 1, 1)
        _ints(name, "kernel_size", self.kernel_size, self.nd, 1)
        _ints(name, "stride", self.stride, self.nd, 1)
        _ints(name, "dilation", self.dilation, self.nd, 1)
        _ints(name, "groups", self.groups, 1, 1)
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: groups ({self.groups}) must divide out_channels "
                             f"({self.out_channels})")

    def _in_channels(self, x) -> int:
        self.check_input(x, ndim=(self.nd + 1, self.nd + 2))
        c = x.shape[-1] if self.channels_last else x.shape[-self.nd - 1]
        if c % self.groups:
            raise ValueError(f"{self.name}: groups ({self.groups}) must divide the {c} input "
                             f"channels of the input of shape {tuple(x.shape)}")
        return c

    def _check_apply(self, x, channels: int):
        self.check_input(x, ndim=(self.nd + 1, self.nd + 2))
        axis = x.ndim - 1 if self.channels_last else x.ndim - self.nd - 1
        self.check_input(x, channels=channels, channel_axis=axis)

    def _init(self, key, x, shape, fan_in):
        dtype = x.dtype if x.dtype.kind == "f" else None
        wkey, bkey = random.split(key)
        params = {"weight": init.default_uniform(wkey, shape, dtype, fan_in=fan_in)}
        if self.bias:
            params["bias"] = init.default_uniform(bkey, (self.out_channels,), dtype,
                                                  fan_in=fan_in)
        return params


def _conv_class(nd: int):
    @dataclasses.dataclass(frozen=True)
    class Conv(_ConvBase):
        out_channels: int
        kernel_size: int | tuple
        stride: int | tuple = 1
        padding: int | tuple | str = 0
        dilation: int | tuple = 1
        groups: int = 1
        bias: bool = True
        padding_mode: str = "zeros"
        channels_last: bool = False

        def __post_init__(self):
            self._check_common()
            name = self.name
            if isinstance(self.padding, str):
                if self.padding not in ("same", "valid"):
                    raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or "
                                     f"'valid', got {self.padding!r}")
                if self.padding == "same" and _ints(name, "stride", self.stride, nd, 1) != \
                        (1,) * nd:
                    raise ValueError(f"{name}: padding='same' needs stride 1, got "
                                     f"{self.stride!r}")
            else:
                _ints(name, "padding", self.padding, nd, 0)
            if self.padding_mode not in _PADDING_MODES:
                raise ValueError(f"{name}: padding_mode must be one of "
                                 f"{', '.join(map(repr, _PADDING_MODES))}, got "
                                 f"{self.padding_mode!r}")

        def init_params(self, key, x):
            c = self._in_channels(x)
            kernel = _ints(self.name, "kernel_size", self.kernel_size, nd, 1)
            fan_in = c // self.groups * math.prod(kernel)
            return self._init(key, x, (self.out_channels, c // self.groups, *kernel), fan_in)

        def _explicit_padding(self):
            if self.padding == "valid":
                return (0,) * nd * 2
            kernel = _ints(self.name, "kernel_size", self.kernel_size, nd, 1)
            if self.padding == "same":
                dil = _ints(self.name, "dilation", self.dilation, nd, 1)
                totals = [d * (k - 1) for d, k in zip(dil, kernel)]
                pairs = [(t // 2, t - t // 2) for t in totals]
            else:
                pairs = [(p, p) for p in _ints(self.name, "padding", self.padding, nd, 0)]
            return tuple(v for pair in reversed(pairs) for v in pair)  # last axis first

        def forward(self, params, x, *, key=None, train=False):
            w = params["weight"]
            self._check_apply(x, w.shape[1] * self.groups)
            padding = self.padding
            if self.padding_mode != "zeros" and padding != "valid" and padding != 0:
                amounts = self._explicit_padding()
                if self.channels_last:  # pad the spatial axes, which come before C
                    amounts = (0, 0) + amounts
                x = F.pad(x, amounts, mode=self.padding_mode)
                padding = 0
            conv = getattr(F, f"conv{nd}d")
            return conv(x, w, params.get("bias"), self.stride, padding, self.dilation,
                        self.groups, channels_last=self.channels_last)

    Conv.nd = nd
    Conv.__name__ = Conv.__qualname__ = f"Conv{nd}d"
    Conv.__doc__ = f"""{nd}-D convolution layer (``nnlib.functional.conv{nd}d``); ``in_channels``
    comes from the example input; ``padding_mode`` zeros, reflect, replicate or circular.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.Conv{nd}d(4, 3, stride=2)
        >>> x = fnp.ones((2, 3{", 9" * nd}))
        >>> params, state = layer.init(fx.random.key(0), x)
        >>> layer.apply(params, state, x)[0].shape
        (2, 4{", 4" * nd})
    """
    return Conv


def _conv_t_class(nd: int):
    @dataclasses.dataclass(frozen=True)
    class ConvTranspose(_ConvBase):
        out_channels: int
        kernel_size: int | tuple
        stride: int | tuple = 1
        padding: int | tuple = 0
        output_padding: int | tuple = 0
        groups: int = 1
        bias: bool = True
        dilation: int | tuple = 1
        channels_last: bool = False

        def __post_init__(self):
            self._check_common()
            name = self.name
            _ints(name, "padding", self.padding, nd, 0)
            op = _ints(name, "output_padding", self.output_padding, nd, 0)
            stride = _ints(name, "stride", self.stride, nd, 1)
            dilation = _ints(name, "dilation", self.dilation, nd, 1)
            if any(o >= max(s, d) for o, s, d in zip(op, stride, dilation)):
                raise ValueError(f"{name}: output_padding {self.output_padding!r} must be "
                                 f"smaller than the stride or the dilation")

        def init_params(self, key, x):
            c = self._in_channels(x)
            kernel = _ints(self.name, "kernel_size", self.kernel_size, nd, 1)
            og = self.out_channels // self.groups
            return self._init(key, x, (c, og, *kernel), og * math.prod(kernel))

        def forward(self, params, x, *, key=None, train=False):
            w = params["weight"]
            self._check_apply(x, w.shape[0])
            conv_t = getattr(F, f"conv_transpose{nd}d")
            return conv_t(x, w, params.get("bias"), self.stride, self.padding,
                          self.output_padding, self.groups, self.dilation,
                          channels_last=self.channels_last)

    ConvTranspose.nd = nd
    ConvTranspose.__name__ = ConvTranspose.__qualname__ = f"ConvTranspose{nd}d"
    ConvTranspose.__doc__ = f"""{nd}-D transposed convolution layer
    (``nnlib.functional.conv_transpose{nd}d``); weight ``(in, out / groups, *kernel)``.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> layer = nnlib.ConvTranspose{nd}d(4, 3, stride=2, padding=1, output_padding=1)
        >>> x = fnp.ones((2, 3{", 5" * nd}))
        >>> params, state = layer.init(fx.random.key(0), x)
        >>> layer.apply(params, state, x)[0].shape
        (2, 4{", 10" * nd})
    """
    return ConvTranspose


Conv1d, Conv2d, Conv3d = (_conv_class(n) for n in (1, 2, 3))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (_conv_t_class(n) for n in (1, 2, 3))
