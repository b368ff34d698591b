"""Normalisation with ``torch.nn.functional``'s names and arguments: ``batch_norm``,
``instance_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``, ``normalize``.

Running statistics are returned, not mutated: in training ``batch_norm`` gives ``(out,
new_running_mean, new_running_var)``, with torch's convention ``new = (1 - momentum) *
old + momentum * batch`` and the unbiased batch variance in the running update (the
biased one normalises).

Example:
    >>> import fx.numpy as fnp
    >>> import nnlib.functional as F
    >>> x = fnp.arange(8.0).reshape(4, 2)
    >>> out, mean, var = F.batch_norm(x, fnp.zeros(2), fnp.ones(2), training=True)
    >>> mean
    Array([0.3, 0.4], dtype=float32)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

import fx.numpy as fnp
from fx.lax import stop_gradient

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "normalize"]


def _channel_shape(x) -> tuple:
    """Shape that broadcasts a per-channel vector against ``x`` of shape ``(N, C, *)``."""
    return (x.shape[1],) + (1,) * (x.ndim - 2)


def _affine(out, weight, bias, shape, inv_std=None):
    """``out * inv_std * weight + bias`` with the per-channel factors multiplied first."""
    scale = inv_std
    if weight is not None:
        w = fnp.reshape(weight, shape)
        scale = w if scale is None else scale * w
    if scale is not None:
        out = out * scale
    if bias is not None:
        out = out + fnp.reshape(bias, shape)
    return out


def _moments(x, axes):
    mean = fnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    return centred, mean, fnp.mean(centred * centred, axis=axes, keepdims=True)


def _check_channels(op, x, *vectors):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got {tuple(x.shape)}")
    for name, v in vectors:
        if v is not None and tuple(v.shape) != (x.shape[1],):
            raise ValueError(f"{op}: {name} of shape {tuple(v.shape)} does not match the "
                             f"{x.shape[1]} channels of an input of shape {tuple(x.shape)}")


def _update(running, batch, momentum):
    batch = stop_gradient(batch).astype(running.dtype)
    return (1 - momentum) * running + momentum * batch


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of ``input`` ``(N, C, *)`` per channel.

    ``training=False``: normalises with the running statistics and returns ``out``.
    ``training=True``: normalises with the batch statistics (biased variance) and returns
    ``(out, new_running_mean, new_running_var)``; the new statistics are ``None`` when
    ``running_mean``/``running_var`` are ``None`` (no tracking). ``momentum`` may be an
    array (e.g. ``1 / num_batches`` for a cumulative average).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> x = fnp.ones((3, 2, 4))
        >>> F.batch_norm(x, fnp.zeros(2), fnp.ones(2)).shape
        (3, 2, 4)
    """
    op = "batch_norm"
    _check_channels(op, input, ("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias))
    shape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: training=False needs running_mean and running_var")
        inv_std = 1 / fnp.sqrt(fnp.reshape(running_var, shape) + eps)
        return _affine(input - fnp.reshape(running_mean, shape), weight, bias, shape, inv_std)
    axes = (0,) + tuple(range(2, input.ndim))
    n = input.size // input.shape[1]
    if n <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                         f"input of shape {tuple(input.shape)}")
    centred, mean, var = _moments(input, axes)
    out = _affine(centred, weight, bias, shape, 1 / fnp.sqrt(var + eps))
    if running_mean is None or running_var is None:
        return out, None, None
    new_mean = _update(running_mean, fnp.reshape(mean, (-1,)), momentum)
    new_var = _update(running_var, fnp.reshape(var, (-1,)) * (n / (n - 1)), momentum)
    return out, new_mean, new_var


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation: each ``(n, c)`` slice of ``input`` ``(N, C, *)`` is
    normalised over its spatial positions.

    With running statistics and ``use_input_stats=True`` it returns ``(out, new_mean,
    new_var)`` (the batch averages of the per-instance statistics, unbiased variance);
    ``use_input_stats=False`` normalises with the running statistics. Otherwise ``out``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.instance_norm(fnp.arange(12.0).reshape(1, 2, 6)).shape
        (1, 2, 6)
    """
    op = "instance_norm"
    _check_channels(op, input, ("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias))
    shape = _channel_shape(input)
    tracked = running_mean is not None and running_var is not None
    if not use_input_stats:
        if not tracked:
            raise ValueError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(input, running_mean, running_var, weight, bias, False, eps=eps)
    axes = tuple(range(2, input.ndim))
    n = math.prod(input.shape[2:])
    if n <= 1:
        raise ValueError(f"{op}: expected more than 1 spatial element, got input of shape "
                         f"{tuple(input.shape)}")
    centred, mean, var = _moments(input, axes)
    out = _affine(centred, weight, bias, shape, 1 / fnp.sqrt(var + eps))
    if not tracked:
        return out
    batch_mean = fnp.mean(fnp.reshape(mean, input.shape[:2]), axis=0)
    batch_var = fnp.mean(fnp.reshape(var, input.shape[:2]), axis=0) * (n / (n - 1))
    return (out, _update(running_mean, batch_mean, momentum),
            _update(running_var, batch_var, momentum))


def _normalized_axes(op, input, normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ValueError(f"{op}: normalized_shape {list(normalized_shape)} does not match the "
                         f"trailing dimensions of an input of shape {tuple(input.shape)}")
    return normalized_shape, tuple(range(input.ndim - k, input.ndim))


def _check_param(op, name, p, normalized_shape):
    if p is not None and tuple(p.shape) != normalized_shape:
        raise ValueError(f"{op}: {name} of shape {tuple(p.shape)} does not match "
                         f"normalized_shape {list(normalized_shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dimensions, then scale by
    ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.layer_norm(fnp.array([[1.0, 3.0]]), (2,))
        Array([[-0.999995,  0.999995]], dtype=float32)
    """
    op = "layer_norm"
    normalized_shape, axes = _normalized_axes(op, input, normalized_shape)
    _check_param(op, "weight", weight, normalized_shape)
    _check_param(op, "bias", bias, normalized_shape)
    centred, _, var = _moments(input, axes)
    out = centred * (1 / fnp.sqrt(var + eps))
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: the channels of ``input`` ``(N, C, *)`` are split into
    ``num_groups`` groups, each normalised over its channels and spatial positions; then
    a per-channel ``weight`` and ``bias``.

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.group_norm(fnp.arange(24.0).reshape(2, 4, 3), 2).shape
        (2, 4, 3)
    """
    op = "group_norm"
    _check_channels(op, input, ("weight", weight), ("bias", bias))
    c = input.shape[1]
    if not isinstance(num_groups, numbers.Integral) or num_groups <= 0 or c % num_groups:
        raise ValueError(f"{op}: num_groups {num_groups!r} must be a positive divisor of the "
                         f"{c} channels of an input of shape {tuple(input.shape)}")
    g = input.reshape(input.shape[0], int(num_groups), -1)
    centred, _, var = _moments(g, (2,))
    out = fnp.reshape(centred / fnp.sqrt(var + eps), input.shape)
    return _affine(out, weight, bias, _channel_shape(input))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dimensions:
    ``input / sqrt(mean(input**2) + eps) * weight``; ``eps`` defaults to the machine
    epsilon of ``input``'s dtype (as torch).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.rms_norm(fnp.array([[3.0, 4.0]], dtype=fnp.float64), (2,))
        Array([[0.84852814, 1.13137085]], dtype=float64)
    """
    op = "rms_norm"
    normalized_shape, axes = _normalized_axes(op, input, normalized_shape)
    _check_param(op, "weight", weight, normalized_shape)
    if eps is None:
        eps = float(np.finfo(input.dtype).eps) if input.dtype.kind == "f" else 1e-6
    out = input / fnp.sqrt(fnp.mean(input * input, axis=axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(||input||_p, eps)`` along ``dim`` (the gradient at a zero vector is
    finite: the clamped norm is constant there).

    Example:
        >>> import fx.numpy as fnp
        >>> import nnlib.functional as F
        >>> F.normalize(fnp.array([[3.0, 4.0]]))
        Array([[0.6, 0.8]], dtype=float32)
    """
    a = fnp.abs(input)
    if p == float("inf"):
        norm = fnp.max(a, axis=dim, keepdims=True)
    elif p == 2:
        s = fnp.sum(input * input, axis=dim, keepdims=True)
        norm = fnp.where(s > 0, fnp.sqrt(fnp.where(s > 0, s, 1.0)), 0.0)
    else:
        if not p > 0:
            raise ValueError(f"normalize: p must be positive, got {p}")
        s = fnp.sum(a ** p, axis=dim, keepdims=True)
        norm = fnp.where(s > 0, fnp.where(s > 0, s, 1.0) ** (1.0 / p), 0.0)
    return input / fnp.maximum(norm, eps)
