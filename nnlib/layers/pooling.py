"""Pooling and resampling layers (no parameters): ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``, ``MaxUnpool1d/2d/3d``,
``PixelShuffle``, ``PixelUnshuffle`` and ``Upsample``, with PyTorch's hyperparameters
(plus ``channels_last``, as the functions). Invalid hyperparameters raise at construction.

Example:
    >>> import fx.numpy as fnp, nnlib
    >>> pool = nnlib.MaxPool2d(2)
    >>> pool.apply({}, {}, fnp.ones((1, 3, 8, 8)))[0].shape
    (1, 3, 4, 4)
"""
from __future__ import annotations

import dataclasses
import numbers

import nnlib.functional as F
from nnlib.module import Module

__all__ = [f"{kind}{n}d" for kind in ("MaxPool", "AvgPool", "AdaptiveMaxPool",
                                      "AdaptiveAvgPool", "MaxUnpool") for n in (1, 2, 3)]
__all__ += ["PixelShuffle", "PixelUnshuffle", "Upsample"]


def _ints(layer: str, what: str, value, nd: int, minimum: int, none_ok: bool = False):
    if value is None and none_ok:
        return
    vals = (value,) * nd if isinstance(value, numbers.Integral) else tuple(value)
    if len(vals) != nd or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                              or v < minimum for v in vals if not (none_ok and v is None)):
        bound = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{layer}: {what} must be a {bound} int or {nd} of them, got "
                         f"{value!r}")


class _Pool(Module):
    nd = 0

    def _rank(self, x):
        self.check_input(x, ndim=(self.nd + 1, self.nd + 2))

    def _check_window(self, padding_ok=True):
        name = self.name
        _ints(name, "kernel_size", self.kernel_size, self.nd, 1)
        _ints(name, "stride", self.stride, self.nd, 1, none_ok=True)
        _ints(name, "padding", self.padding, self.nd, 0)
        k = (self.kernel_size,) * self.nd if isinstance(self.kernel_size, int) else \
            self.kernel_size
        p = (self.padding,) * self.nd if isinstance(self.padding, int) else self.padding
        if any(2 * pp > kk for pp, kk in zip(p, k)):
            raise ValueError(f"{name}: padding {self.padding!r} must be at most half the "
                             f"kernel size {self.kernel_size!r}")


def _doc(cls, nd: int, text: str, call: str, shape: str):
    cls.nd = nd
    cls.__name__ = cls.__qualname__ = f"{cls.__name__}{nd}d"
    cls.__doc__ = f"""{text}

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> x = fnp.ones((2, 3{", 8" * nd}))
        >>> nnlib.{cls.__name__}({call}).apply({{}}, {{}}, x)[0].shape
        {shape}
    """
    return cls


def _unpool_doc(cls, nd: int):
    _doc(cls, nd, "", "2", "")
    cls.__doc__ = f"""``apply(params, state, x, indices)``: the partial inverse of max pooling
    (``nnlib.functional.max_unpool{nd}d``), values back at their indices, zeros elsewhere.

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> x = fnp.arange({4 ** nd}.0).reshape(1, 1{", 4" * nd})
        >>> y, idx = nnlib.MaxPool{nd}d(2, return_indices=True).apply({{}}, {{}}, x)[0]
        >>> nnlib.MaxUnpool{nd}d(2).apply({{}}, {{}}, y, idx)[0].shape
        (1, 1{", 4" * nd})
    """
    return cls


def _pool_classes(nd: int):
    @dataclasses.dataclass(frozen=True)
    class MaxPool(_Pool):
        kernel_size: int | tuple
        stride: int | tuple | None = None
        padding: int | tuple = 0
        dilation: int | tuple = 1
        return_indices: bool = False
        ceil_mode: bool = False
        channels_last: bool = False

        def __post_init__(self):
            self._check_window()
            _ints(self.name, "dilation", self.dilation, nd, 1)

        def forward(self, params, x, *, key=None, train=False):
            self._rank(x)
            return getattr(F, f"max_pool{nd}d")(
                x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                self.return_indices, channels_last=self.channels_last)

    @dataclasses.dataclass(frozen=True)
    class AvgPool(_Pool):
        kernel_size: int | tuple
        stride: int | tuple | None = None
        padding: int | tuple = 0
        ceil_mode: bool = False
        count_include_pad: bool = True
        divisor_override: int | None = None
        channels_last: bool = False

        def __post_init__(self):
            self._check_window()
            if self.divisor_override is not None:
                _ints(self.name, "divisor_override", self.divisor_override, 1, 1)

        def forward(self, params, x, *, key=None, train=False):
            self._rank(x)
            return getattr(F, f"avg_pool{nd}d")(
                x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad, self.divisor_override, channels_last=self.channels_last)

    @dataclasses.dataclass(frozen=True)
    class AdaptiveMaxPool(_Pool):
        output_size: int | tuple
        return_indices: bool = False
        channels_last: bool = False

        def __post_init__(self):
            _ints(self.name, "output_size", self.output_size, nd, 1, none_ok=True)

        def forward(self, params, x, *, key=None, train=False):
            self._rank(x)
            return getattr(F, f"adaptive_max_pool{nd}d")(
                x, self.output_size, self.return_indices, channels_last=self.channels_last)

    @dataclasses.dataclass(frozen=True)
    class AdaptiveAvgPool(_Pool):
        output_size: int | tuple
        channels_last: bool = False

        def __post_init__(self):
            _ints(self.name, "output_size", self.output_size, nd, 1, none_ok=True)

        def forward(self, params, x, *, key=None, train=False):
            self._rank(x)
            return getattr(F, f"adaptive_avg_pool{nd}d")(x, self.output_size,
                                                         channels_last=self.channels_last)

    @dataclasses.dataclass(frozen=True)
    class MaxUnpool(_Pool):
        kernel_size: int | tuple
        stride: int | tuple | None = None
        padding: int | tuple = 0
        channels_last: bool = False

        def __post_init__(self):
            self._check_window()

        def forward(self, params, x, indices, output_size=None, *, key=None, train=False):
            self._rank(x)
            return getattr(F, f"max_unpool{nd}d")(
                x, indices, self.kernel_size, self.stride, self.padding, output_size,
                channels_last=self.channels_last)

    full, half = "(2, 3" + ", 8" * nd + ")", "(2, 3" + ", 4" * nd + ")"
    return (
        _doc(MaxPool, nd, f"Max pooling (``nnlib.functional.max_pool{nd}d``).", "2", half),
        _doc(AvgPool, nd, f"Average pooling (``nnlib.functional.avg_pool{nd}d``).",
             "3, stride=1, padding=1", full),
        _doc(AdaptiveMaxPool, nd, "Max pooling to a fixed output size "
             f"(``nnlib.functional.adaptive_max_pool{nd}d``).", "4", half),
        _doc(AdaptiveAvgPool, nd, "Average pooling to a fixed output size "
             f"(``nnlib.functional.adaptive_avg_pool{nd}d``).", "4", half),
        _unpool_doc(MaxUnpool, nd),
    )


MaxPool1d, AvgPool1d, AdaptiveMaxPool1d, AdaptiveAvgPool1d, MaxUnpool1d = _pool_classes(1)
MaxPool2d, AvgPool2d, AdaptiveMaxPool2d, AdaptiveAvgPool2d, MaxUnpool2d = _pool_classes(2)
MaxPool3d, AvgPool3d, AdaptiveMaxPool3d, AdaptiveAvgPool3d, MaxUnpool3d = _pool_classes(3)


@dataclasses.dataclass(frozen=True)
class PixelShuffle(Module):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)`` (``nnlib.functional.pixel_shuffle``).

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> nnlib.PixelShuffle(2).apply({}, {}, fnp.ones((1, 8, 3, 3)))[0].shape
        (1, 2, 6, 6)
    """

    upscale_factor: int

    def __post_init__(self):
        _ints("PixelShuffle", "upscale_factor", self.upscale_factor, 1, 1)

    def forward(self, params, x, *, key=None, train=False):
        return F.pixel_shuffle(x, self.upscale_factor)


@dataclasses.dataclass(frozen=True)
class PixelUnshuffle(Module):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)`` (``nnlib.functional.pixel_unshuffle``).

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> nnlib.PixelUnshuffle(2).apply({}, {}, fnp.ones((1, 2, 6, 6)))[0].shape
        (1, 8, 3, 3)
    """

    downscale_factor: int

    def __post_init__(self):
        _ints("PixelUnshuffle", "downscale_factor", self.downscale_factor, 1, 1)

    def forward(self, params, x, *, key=None, train=False):
        return F.pixel_unshuffle(x, self.downscale_factor)


@dataclasses.dataclass(frozen=True)
class Upsample(Module):
    """Resampling to ``size`` or by ``scale_factor`` (``nnlib.functional.interpolate``).

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> up = nnlib.Upsample(scale_factor=2, mode="bilinear")
        >>> up.apply({}, {}, fnp.ones((1, 3, 4, 4)))[0].shape
        (1, 3, 8, 8)
    """

    size: int | tuple | None = None
    scale_factor: float | tuple | None = None
    mode: str = "nearest"
    align_corners: bool | None = None
    channels_last: bool = False

    def __post_init__(self):
        if (self.size is None) == (self.scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        from nnlib.functional.upsampling import _MODES, _SPATIAL
        if self.mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {', '.join(map(repr, _MODES))}, "
                             f"got {self.mode!r}")
        if self.align_corners is not None and self.mode not in _SPATIAL:
            raise ValueError(f"Upsample: align_corners applies to the interpolating modes, "
                             f"not {self.mode!r}")

    def forward(self, params, x, *, key=None, train=False):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             channels_last=self.channels_last)
