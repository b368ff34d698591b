"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``InstanceNorm1d/2d/3d``, ``LayerNorm``,
``GroupNorm``, ``RMSNorm``, with PyTorch's hyperparameters and defaults.

The channel count (or normalised shape) comes from the example input. Running statistics
live in ``state`` = ``{"running_mean", "running_var", "num_batches_tracked"}``: ``apply``
with ``train=True`` normalises with the batch statistics and returns the updated state;
``train=False`` normalises with the running statistics and returns the state unchanged.
``momentum=None`` gives a cumulative average (``1 / num_batches_tracked``), as torch.

Example:
    >>> import fx, fx.numpy as fnp, nnlib
    >>> bn = nnlib.BatchNorm2d()
    >>> x = fx.random.normal(fx.random.key(0), (8, 3, 4, 4))
    >>> params, state = bn.init(fx.random.key(1), x)
    >>> sorted(params), sorted(state)
    (['bias', 'weight'], ['num_batches_tracked', 'running_mean', 'running_var'])
    >>> out, state = bn.apply(params, state, x, train=True)
    >>> int(state["num_batches_tracked"])
    1
"""
from __future__ import annotations

import dataclasses
import numbers

import fx.numpy as fnp
import nnlib.functional as F
from fx.config import config
from nnlib.module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm"]


def _float_dtype(x):
    return x.dtype if x.dtype.kind == "f" else config.default_float


def _check_eps(layer, eps, allow_none=False):
    if allow_none and eps is None:
        return
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{layer}: eps must be a non-negative number, got {eps!r}")


def _shape_tuple(layer, shape):
    if shape is None:
        return None
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not shape or any(not isinstance(s, numbers.Integral) or s <= 0 for s in shape):
        raise ValueError(f"{layer}: normalized_shape must be positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


@dataclasses.dataclass(frozen=True)
class _NormBase(Module):
    """Per-channel normalisation of ``(N, C, *)`` inputs with optional running stats."""

    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True

    ranks = ()         # accepted input ranks (class attribute)
    unbatched = None   # the rank torch treats as an unbatched (C, *) input, if any

    def __post_init__(self):
        _check_eps(self.name, self.eps)
        m = self.momentum
        if m is not None and (isinstance(m, bool) or not isinstance(m, numbers.Real)
                              or not 0 <= m <= 1):
            raise ValueError(f"{self.name}: momentum must be in [0, 1] or None, got {m!r}")

    def _batched(self, x, params, state):
        self.check_input(x, ndim=self.ranks)
        if x.ndim == self.unbatched:
            x = fnp.expand_dims(x, 0)
        ref = params.get("weight", state.get("running_mean")) if params or state else None
        if ref is not None:
            self.check_input(x, channels=ref.shape[0], channel_axis=1)
        return x

    def init(self, key, x):
        x = self._batched(x, {}, {})
        c, dtype = x.shape[1], _float_dtype(x)
        params = {"weight": fnp.ones(c, dtype), "bias": fnp.zeros(c, dtype)} if self.affine \
            else {}
        state = {"running_mean": fnp.zeros(c, dtype), "running_var": fnp.ones(c, dtype),
                 "num_batches_tracked": fnp.zeros((), config.default_int)} \
            if self.track_running_stats else {}
        return params, state

    def _momentum(self, state):
        count = state["num_batches_tracked"] + 1
        if self.momentum is not None:
            return self.momentum, count
        return 1.0 / count.astype(state["running_mean"].dtype), count

    def apply(self, params, state, x, *, key=None, train=False):
        batched = self._batched(x, params, state)
        out, state = self._normalize(batched, params.get("weight"), params.get("bias"),
                                     state, train)
        return (out[0] if batched is not x else out), state

    def _normalize(self, x, weight, bias, state, train):
        raise NotImplementedError


class _BatchNorm(_NormBase):
    def _normalize(self, x, weight, bias, state, train):
        if not self.track_running_stats:
            return F.batch_norm(x, None, None, weight, bias, True, eps=self.eps)[0], state
        mean, var = state["running_mean"], state["running_var"]
        if not train:
            return F.batch_norm(x, mean, var, weight, bias, False, eps=self.eps), state
        momentum, count = self._momentum(state)
        out, mean, var = F.batch_norm(x, mean, var, weight, bias, True, momentum, self.eps)
        return out, {"running_mean": mean, "running_var": var, "num_batches_tracked": count}


@dataclasses.dataclass(frozen=True)
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs per channel.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> x = fx.random.normal(fx.random.key(0), (16, 5))
        >>> params, state = nnlib.BatchNorm1d().init(None, x)
        >>> params["weight"].shape, state["running_var"].shape
        ((5,), (5,))
    """

    ranks = (2, 3)


@dataclasses.dataclass(frozen=True)
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs per channel.

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> bn = nnlib.BatchNorm2d(affine=False)
        >>> params, state = bn.init(None, fnp.ones((2, 3, 4, 4)))
        >>> params, state["running_mean"].shape
        ({}, (3,))
    """

    ranks = (4,)


@dataclasses.dataclass(frozen=True)
class BatchNorm3d(_BatchNorm):
    """Batch normalisation of ``(N, C, D, H, W)`` inputs per channel.

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> bn = nnlib.BatchNorm3d(track_running_stats=False)
        >>> bn.init(None, fnp.ones((2, 3, 2, 2, 2)))[1]
        {}
    """

    ranks = (5,)


@dataclasses.dataclass(frozen=True)
class _InstanceNorm(_NormBase):
    affine: bool = False
    track_running_stats: bool = False

    def _normalize(self, x, weight, bias, state, train):
        if not self.track_running_stats:
            return F.instance_norm(x, None, None, weight, bias, eps=self.eps), state
        mean, var = state["running_mean"], state["running_var"]
        if not train:
            return F.instance_norm(x, mean, var, weight, bias, False, eps=self.eps), state
        momentum, count = self._momentum(state)
        out, mean, var = F.instance_norm(x, mean, var, weight, bias, True, momentum, self.eps)
        return out, {"running_mean": mean, "running_var": var, "num_batches_tracked": count}


@dataclasses.dataclass(frozen=True)
class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of ``(N, C, L)`` (or unbatched ``(C, L)``) inputs: each
    channel of each sample over its positions. ``affine`` and ``track_running_stats``
    default to False, as torch.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> x = fx.random.normal(fx.random.key(0), (2, 3, 10))
        >>> out, _ = nnlib.InstanceNorm1d().apply({}, {}, x)
        >>> bool((abs(out.mean(axis=-1)) < 1e-5).all())
        True
    """

    ranks, unbatched = (2, 3), 2


@dataclasses.dataclass(frozen=True)
class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) inputs.

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> nnlib.InstanceNorm2d(affine=True).init(None, fnp.ones((3, 4, 4)))[0]["weight"].shape
        (3,)
    """

    ranks, unbatched = (3, 4), 3


@dataclasses.dataclass(frozen=True)
class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``).

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> nnlib.InstanceNorm3d().apply({}, {}, fnp.ones((1, 2, 2, 2, 2)))[0].shape
        (1, 2, 2, 2, 2)
    """

    ranks, unbatched = (4, 5), 4


def _trailing(layer: Module, x, shape):
    """The normalised shape for ``x`` (``shape`` or ``x``'s last dimension), checked."""
    shape = tuple(x.shape[-1:]) if shape is None else shape
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"{layer.name}: expected an input whose trailing dimensions are "
                         f"{shape}, got shape {tuple(x.shape)}")
    return shape


@dataclasses.dataclass(frozen=True)
class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions (default:
    the example input's last dimension), with ``weight`` (ones) and ``bias`` (zeros) of
    that shape.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> x = fx.random.normal(fx.random.key(0), (2, 5, 8))
        >>> params, state = nnlib.LayerNorm().init(None, x)
        >>> params["weight"].shape
        (8,)
        >>> out, _ = nnlib.LayerNorm().apply(params, state, x)
        >>> bool((abs(out.mean(axis=-1)) < 1e-5).all())
        True
    """

    normalized_shape: tuple | int | None = None
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def __post_init__(self):
        object.__setattr__(self, "normalized_shape",
                           _shape_tuple(self.name, self.normalized_shape))
        _check_eps(self.name, self.eps)

    def init_params(self, key, x):
        shape = _trailing(self, x, self.normalized_shape)
        if not self.elementwise_affine:
            return {}
        params = {"weight": fnp.ones(shape, _float_dtype(x))}
        if self.bias:
            params["bias"] = fnp.zeros(shape, _float_dtype(x))
        return params

    def forward(self, params, x, *, key=None, train=False):
        shape = tuple(params["weight"].shape) if "weight" in params else self.normalized_shape
        shape = _trailing(self, x, shape)
        return F.layer_norm(x, shape, params.get("weight"), params.get("bias"), self.eps)


@dataclasses.dataclass(frozen=True)
class GroupNorm(Module):
    """Group normalisation of ``(N, C, *)`` inputs: ``num_groups`` must divide ``C``;
    per-channel ``weight`` and ``bias`` when ``affine``.

    Example:
        >>> import fx.numpy as fnp, nnlib
        >>> gn = nnlib.GroupNorm(2)
        >>> params, state = gn.init(None, fnp.ones((2, 6, 5)))
        >>> params["weight"].shape
        (6,)
    """

    num_groups: int
    eps: float = 1e-5
    affine: bool = True

    def __post_init__(self):
        g = self.num_groups
        if isinstance(g, bool) or not isinstance(g, numbers.Integral) or g <= 0:
            raise ValueError(f"GroupNorm: num_groups must be a positive int, got {g!r}")
        _check_eps(self.name, self.eps)

    def _check(self, x, channels=None):
        if x.ndim < 2:
            raise ValueError(f"GroupNorm: expected an input of rank >= 2 (N, C, *), got "
                             f"shape {tuple(x.shape)}")
        self.check_input(x, channels=channels)
        if x.shape[1] % self.num_groups:
            raise ValueError(f"GroupNorm: num_groups={self.num_groups} does not divide the "
                             f"{x.shape[1]} channels of an input of shape {tuple(x.shape)}")

    def init_params(self, key, x):
        self._check(x)
        c, dtype = x.shape[1], _float_dtype(x)
        return {"weight": fnp.ones(c, dtype), "bias": fnp.zeros(c, dtype)} if self.affine \
            else {}

    def forward(self, params, x, *, key=None, train=False):
        self._check(x, params["weight"].shape[0] if "weight" in params else None)
        return F.group_norm(x, self.num_groups, params.get("weight"), params.get("bias"),
                            self.eps)


@dataclasses.dataclass(frozen=True)
class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dimensions
    (default: the last), with a ``weight`` (ones); ``eps=None`` uses the dtype's machine
    epsilon, as torch.

    Example:
        >>> import fx, fx.numpy as fnp, nnlib
        >>> x = fx.random.normal(fx.random.key(0), (4, 16))
        >>> params, state = nnlib.RMSNorm().init(None, x)
        >>> out, _ = nnlib.RMSNorm().apply(params, state, x)
        >>> bool((abs((out ** 2).mean(axis=-1) - 1) < 1e-4).all())
        True
    """

    normalized_shape: tuple | int | None = None
    eps: float | None = None
    elementwise_affine: bool = True

    def __post_init__(self):
        object.__setattr__(self, "normalized_shape",
                           _shape_tuple(self.name, self.normalized_shape))
        _check_eps(self.name, self.eps, allow_none=True)

    def init_params(self, key, x):
        shape = _trailing(self, x, self.normalized_shape)
        return {"weight": fnp.ones(shape, _float_dtype(x))} if self.elementwise_affine else {}

    def forward(self, params, x, *, key=None, train=False):
        shape = tuple(params["weight"].shape) if "weight" in params else self.normalized_shape
        shape = _trailing(self, x, shape)
        return F.rms_norm(x, shape, params.get("weight"), self.eps)
