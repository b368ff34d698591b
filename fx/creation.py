"""Turning outside data into fx arrays: ``asarray``, ``device_put``, ``from_dlpack``.

Example:
    >>> import fx, numpy as np
    >>> fx.asarray([1, 2, 3])                  # Python ints default to int32
    Array([1, 2, 3], dtype=int32)
    >>> fx.asarray(np.zeros(2))                # NumPy dtypes are kept (float64 here)
    Array([0., 0.], dtype=float64)
"""
from __future__ import annotations

import numpy as np

from fx import backend, dtypes
from fx.array import Array, wrap
from fx.core.trace import Tracer


def _contains_array(obj) -> bool:
    if isinstance(obj, Array):
        return True
    return isinstance(obj, (list, tuple)) and any(_contains_array(o) for o in obj)


def _python_dtype(host: np.ndarray, obj) -> np.dtype:
    """Default dtype for data that came from Python numbers (not from a typed array)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return host.dtype
    return dtypes.default_dtype_for_kind(host.dtype.kind) if host.dtype.kind in "biufc" \
        else host.dtype


def asarray(obj, dtype=None, device=None, copy=None) -> Array:
    """Convert ``obj`` (array, buffer, scalar, nested sequence, DLPack object) to an Array.

    Args:
        obj: the data. Python numbers default to int32 / float32 / complex64
            (``fx.config``); NumPy and CuPy arrays keep their dtype.
        dtype: the dtype to convert to.
        device: where to place the result (default ``fx.config.default_device`` for new
            data, the current device for fx arrays).
        copy: ignored for fx arrays (they are immutable); outside buffers are always
            copied so that later changes to them cannot reach the fx array.

    Raises:
        TypeError: for objects or dtypes that are not numeric arrays.
    """
    del copy
    if dtype is not None:
        dtype = dtypes.canonicalize(dtype)
    if isinstance(obj, Array):
        if dtype is not None and obj.dtype != dtype:
            obj = obj.astype(dtype)
        return obj if device is None or isinstance(obj, Tracer) else device_put(obj, device)
    if isinstance(obj, (list, tuple)) and _contains_array(obj):
        from fx.numpy import stack
        return asarray(stack([asarray(o) for o in obj]), dtype=dtype, device=device)
    target = backend.to_device(device)
    if backend.is_buffer(obj) and not isinstance(obj, (np.ndarray, np.generic)):
        buf = obj.astype(dtype) if dtype is not None else obj.copy()
        return wrap(backend.put(buf, target))
    if hasattr(obj, "__dlpack__") and not isinstance(obj, (np.ndarray, np.generic)):
        obj = backend.from_dlpack(obj)
        return asarray(backend.to_numpy(obj) if target == backend.CPU else obj, dtype, device)
    try:
        host = np.array(obj, copy=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"asarray: cannot convert {type(obj).__name__} to an array: {e}") from None
    if host.dtype.kind not in "biufc":
        raise TypeError(f"asarray: cannot make a numeric array from {type(obj).__name__} "
                        f"(NumPy sees dtype {host.dtype})")
    host = host.astype(dtype or _python_dtype(host, obj), copy=False)
    return wrap(backend.put(host, target))


def scalar_buffer(x, dtype):
    """A backend scalar of ``dtype`` holding the Python number ``x``."""
    try:
        return np.dtype(dtype).type(x)
    except OverflowError:
        raise OverflowError(f"Python integer {x} does not fit in {np.dtype(dtype)}") from None


def device_put(x, device=None) -> Array:
    """Copy ``x`` to ``device`` (``"cpu"``, ``"gpu"``, ``"gpu:1"`` or a Device)."""
    if not isinstance(x, Array):
        return asarray(x, device=device)
    if isinstance(x, Tracer):
        return x
    return wrap(backend.put(x._v, backend.to_device(device)))


def from_dlpack(obj) -> Array:
    """Import a DLPack tensor (zero-copy where the producer allows; the result is not mutated)."""
    return wrap(backend.from_dlpack(obj))
