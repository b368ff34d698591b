"""Array creation with NumPy names: ``zeros``, ``arange``, ``linspace``, ``eye``, ...

Without a dtype, floats default to ``fx.config.default_float`` (float32) and integers
to int32. Every function takes ``device=`` (default ``fx.config.default_device``).

Example:
    >>> import fx.numpy as fnp
    >>> fnp.linspace(0, 1, 5)
    Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
"""
from __future__ import annotations

import operator

import numpy as np

from fx import backend, dtypes
from fx.array import Array, wrap
from fx.config import config
from fx.core.trace import Tracer
from fx.creation import asarray

__all__ = ["array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "eye", "identity", "arange", "linspace", "logspace",
           "geomspace", "tri", "tril", "triu"]


def _shape(shape) -> tuple[int, ...]:
    try:
        dims = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimensions are not allowed: {dims}")
    return dims


def _create(make, dtype, device) -> Array:
    """Run ``make(xp, dtype)`` with the array module of ``device``."""
    xp = backend.array_module(backend.to_device(device))
    return wrap(make(xp, dtypes.canonicalize(dtype)))


def array(object, dtype=None, *, copy=True, ndmin=0, device=None) -> Array:
    """Like ``numpy.array``: data from nested sequences, scalars or arrays (copied)."""
    out = asarray(object, dtype=dtype, device=device, copy=copy)
    if out.ndim < ndmin:
        out = out.reshape((1,) * (ndmin - out.ndim) + out.shape)
    return out


def zeros(shape, dtype=None, *, device=None) -> Array:
    """Array of zeros (float32 unless ``dtype`` says otherwise)."""
    dims = _shape(shape)
    return _create(lambda xp, dt: xp.zeros(dims, dt), dtype or config.default_float, device)


def ones(shape, dtype=None, *, device=None) -> Array:
    """Array of ones (float32 unless ``dtype`` says otherwise)."""
    dims = _shape(shape)
    return _create(lambda xp, dt: xp.ones(dims, dt), dtype or config.default_float, device)


empty = zeros  # fx arrays are immutable: "uninitialised" memory would only be a hazard


def full(shape, fill_value, dtype=None, *, device=None) -> Array:
    """Array of ``shape`` filled with ``fill_value`` (an array value broadcasts)."""
    dims = _shape(shape)
    if isinstance(fill_value, Array) or not np.isscalar(fill_value):
        from fx.numpy import broadcast_to
        return broadcast_to(asarray(fill_value, dtype=dtype, device=device), dims)
    dtype = dtype or dtypes.result_type(fill_value)
    return _create(lambda xp, dt: xp.full(dims, fill_value, dt), dtype, device)


def _like(a, dtype, shape):
    a = asarray(a)
    device = None if isinstance(a, Tracer) else a.device
    return (a.shape if shape is None else shape), (dtype or a.dtype), device


def zeros_like(a, dtype=None, shape=None) -> Array:
    """Zeros with the shape and dtype of ``a`` (works on traced values too)."""
    shape, dtype, device = _like(a, dtype, shape)
    return zeros(shape, dtype, device=device)


def ones_like(a, dtype=None, shape=None) -> Array:
    """Ones with the shape and dtype of ``a``."""
    if type(a) is Array and dtype is None and shape is None:
        return wrap(np.ones_like(a._v))  # the common case, on a's device (array dispatch)
    shape, dtype, device = _like(a, dtype, shape)
    return ones(shape, dtype, device=device)


def full_like(a, fill_value, dtype=None, shape=None) -> Array:
    """``fill_value`` with the shape and dtype of ``a``."""
    shape, dtype, device = _like(a, dtype, shape)
    return full(shape, fill_value, dtype, device=device)


empty_like = zeros_like


def eye(N, M=None, k=0, dtype=None, *, device=None) -> Array:
    """2-D array with ones on the ``k``-th diagonal."""
    rows, cols = _shape((N, N if M is None else M))
    return _create(lambda xp, dt: xp.eye(rows, cols, k, dt), dtype or config.default_float,
                   device)


def identity(n, dtype=None, *, device=None) -> Array:
    """Square identity matrix."""
    return eye(n, dtype=dtype, device=device)


def arange(start, stop=None, step=None, dtype=None, *, device=None) -> Array:
    """Evenly spaced values in ``[start, stop)``; int32 for integer bounds, else float32."""
    bounds = [b for b in (start, stop, step) if b is not None]
    for b in bounds:
        if isinstance(b, Tracer):
            b.concrete()  # raises the concretization error: the length must be static
    bounds = [b.item() if isinstance(b, Array) else b for b in bounds]
    if step is not None and bounds[-1] == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        dtype = dtypes.result_type(*[b if dtypes.is_weak_scalar(b) else asarray(b)
                                     for b in bounds])
    return _create(lambda xp, dt: xp.arange(*bounds, dtype=dt), dtype, device)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """``num`` evenly spaced samples from ``start`` to ``stop`` (array bounds broadcast)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples must be non-negative, got {num}")
    from fx.numpy import add, expand_dims, moveaxis, multiply, subtract, where
    start, stop = asarray(start, device=device), asarray(stop, device=device)
    dt = dtypes.to_inexact(dtypes.result_type(start, stop))
    start, stop = start.astype(dt), stop.astype(dt)
    div = (num - 1) if endpoint else num
    step = subtract(stop, start) / div if div > 0 else subtract(stop, start) * np.nan
    idx = arange(num, dtype=dt, device=device).reshape((num,) + (1,) * start.ndim)
    out = add(multiply(idx, step), start)
    if endpoint and num > 1:
        out = where(expand_dims(arange(num, device=device) == num - 1,
                                tuple(range(1, out.ndim))), stop, out)
    out = moveaxis(out, 0, axis) if out.ndim > 1 else out
    out = out.astype(dtype) if dtype is not None else out
    return (out, step) if retstep else out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, *,
             device=None) -> Array:
    """``base ** linspace(start, stop)``."""
    from fx.numpy import power
    exponents = linspace(start, stop, num, endpoint, axis=axis, device=device)
    out = power(asarray(base, dtype=exponents.dtype), exponents)
    return out.astype(dtype) if dtype is not None else out


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0, *, device=None) -> Array:
    """Geometric progression from ``start`` to ``stop`` (positive bounds)."""
    from fx.numpy import exp, log
    out = exp(linspace(log(asarray(start)), log(asarray(stop)), num, endpoint, axis=axis,
                       device=device))
    return out.astype(dtype) if dtype is not None else out


def tri(N, M=None, k=0, dtype=None, *, device=None) -> Array:
    """Lower-triangular matrix of ones (at and below the ``k``-th diagonal)."""
    rows, cols = _shape((N, N if M is None else M))
    return _create(lambda xp, dt: xp.tri(rows, cols, k, dt), dtype or config.default_float,
                   device)


def _triangle(m, k, lower: bool):
    from fx.numpy import where
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'}: input must be at least 2-D, "
                         f"got shape {m.shape}")
    mask = tri(*m.shape[-2:], k=k if lower else k - 1, dtype=np.bool_)
    return where(mask if lower else ~mask, m, 0)


def tril(m, k=0) -> Array:
    """Copy of ``m`` with elements above the ``k``-th diagonal zeroed (last two axes)."""
    return _triangle(m, k, lower=True)


def triu(m, k=0) -> Array:
    """Copy of ``m`` with elements below the ``k``-th diagonal zeroed (last two axes)."""
    return _triangle(m, k, lower=False)
