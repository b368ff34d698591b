"""Low-level slicing with JAX's ``lax`` semantics: static slices and dynamic windows.

``dynamic_slice`` and ``dynamic_update_slice`` take start indices that may be traced.
As in JAX and XLA, a negative start counts from the end, and starts are then **clamped**
so that the whole window fits in the operand: ``dynamic_slice(x, [5], [2])`` on a
length-4 ``x`` returns ``x[2:4]``. This differs on purpose from ``x[i]`` / ``x.at[i]``,
which raise ``IndexError`` for out-of-range indices.

Example:
    >>> import fx.numpy as fnp
    >>> from fx import lax
    >>> lax.dynamic_slice(fnp.arange(5), [3], [2])
    Array([3, 4], dtype=int32)
    >>> lax.dynamic_slice(fnp.arange(5), [4], [2])      # clamped to start 3
    Array([3, 4], dtype=int32)
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from fx.array import Array
from fx.core.elementwise import as_operand
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.errors import op_error
from fx.numpy import math as fm
from fx.prims import shape as sp
from fx.prims.indexing import dynamic_slice_p, dynamic_update_slice_p

__all__ = ["slice", "slice_in_dim", "index_in_dim", "dynamic_slice", "dynamic_slice_in_dim",
           "dynamic_index_in_dim", "dynamic_update_slice", "dynamic_update_slice_in_dim",
           "dynamic_update_index_in_dim"]


def slice(operand, start_indices, limit_indices, strides=None):
    """``operand[start:limit:stride]`` on every axis, static and in range (positive strides).

    Example:
        >>> import fx.numpy as fnp
        >>> from fx import lax
        >>> lax.slice(fnp.arange(6), [1], [6], [2])
        Array([1, 3, 5], dtype=int32)
    """
    operand = as_operand(operand)
    strides = (1,) * operand.ndim if strides is None else strides
    return bind(sp.slice_p, operand, start_indices=tuple(map(operator.index, start_indices)),
                limit_indices=tuple(map(operator.index, limit_indices)),
                strides=tuple(map(operator.index, strides)))


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """``lax.slice`` along one ``axis``; None and negative bounds as in Python slicing."""
    operand = as_operand(operand)
    axis = normalize_axis("slice_in_dim", axis, operand.ndim)
    start, limit, _ = builtins.slice(start_index, limit_index).indices(operand.shape[axis])
    starts, limits, strides = [0] * operand.ndim, list(operand.shape), [1] * operand.ndim
    starts[axis], limits[axis], strides[axis] = start, max(start, limit), stride
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """Element ``index`` (static; negative counts from the end) along ``axis``."""
    operand = as_operand(operand)
    axis = normalize_axis("index_in_dim", axis, operand.ndim)
    n = operand.shape[axis]
    index = operator.index(index)
    if not -n <= index < n:
        raise op_error(IndexError, "index_in_dim", f"index {index} is out of bounds for axis "
                       f"{axis} with size {n}", operand)
    out = slice_in_dim(operand, index % n, index % n + 1, axis=axis)
    return out if keepdims else _drop_axis(out, axis)


def _drop_axis(x, axis: int):
    return bind(sp.reshape_p, x, new_sizes=x.shape[:axis] + x.shape[axis + 1:])


def _starts(op: str, operand, start_indices) -> list:
    """Scalar start operands, one per axis, with negative starts counted from the end."""
    if isinstance(start_indices, Array):
        if start_indices.ndim != 1:
            raise op_error(TypeError, op, "start_indices must be a sequence of scalars or a "
                           "1-d array", operand, start_indices)
        start_indices = [start_indices[i] for i in range(start_indices.shape[0])]
    starts = [as_operand(s) for s in start_indices]
    if len(starts) != operand.ndim:
        raise op_error(ValueError, op, f"needs one start index per axis of shape "
                       f"{operand.shape}, got {len(starts)}", operand)
    out = []
    for s, n in zip(starts, operand.shape):
        if isinstance(s, int):
            out.append(s + n if s < 0 else s)
        elif isinstance(s, Array) and s.dtype.kind == "i":
            if np.iinfo(s.dtype).max < n:  # a narrow start (int8) on a longer axis
                s = s.astype(np.int32 if n < 2 ** 31 else np.int64)
            out.append(fm.where(fm.less(s, 0), fm.add(s, n), s))
        else:
            out.append(s)  # the primitive's shape rule reports a bad dtype
    return out


def dynamic_slice(operand, start_indices, slice_sizes):
    """The window of static ``slice_sizes`` at (possibly traced) ``start_indices``.

    Starts are clamped so that the window fits (see the module docstring).
    """
    operand = as_operand(operand)
    starts = _starts("dynamic_slice", operand, start_indices)
    return bind(dynamic_slice_p, operand, *starts,
                slice_sizes=tuple(map(operator.index, slice_sizes)))


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0):
    """``dynamic_slice`` along one ``axis`` (the other axes whole)."""
    operand = as_operand(operand)
    axis = normalize_axis("dynamic_slice_in_dim", axis, operand.ndim)
    starts = [0] * operand.ndim
    sizes = list(operand.shape)
    starts[axis], sizes[axis] = start_index, slice_size
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True):
    """Element ``index`` (possibly traced, clamped into range) along ``axis``."""
    operand = as_operand(operand)
    axis = normalize_axis("dynamic_index_in_dim", axis, operand.ndim)
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else _drop_axis(out, axis)


def dynamic_update_slice(operand, update, start_indices):
    """Copy of ``operand`` with ``update`` written at (possibly traced) ``start_indices``.

    ``update`` must have the operand's rank and dtype; starts are clamped so it fits.

    Example:
        >>> import fx.numpy as fnp
        >>> from fx import lax
        >>> lax.dynamic_update_slice(fnp.zeros(4), fnp.ones(2), [1])
        Array([0., 1., 1., 0.], dtype=float32)
    """
    operand, update = as_operand(operand), as_operand(update)
    starts = _starts("dynamic_update_slice", operand, start_indices)
    return bind(dynamic_update_slice_p, operand, update, *starts)


def dynamic_update_slice_in_dim(operand, update, start_index, axis):
    """``dynamic_update_slice`` along one ``axis`` (starts 0 elsewhere)."""
    operand = as_operand(operand)
    axis = normalize_axis("dynamic_update_slice_in_dim", axis, operand.ndim)
    starts = [0] * operand.ndim
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis):
    """Write ``update`` at ``index`` along ``axis`` (``update`` may lack that axis)."""
    operand, update = as_operand(operand), as_operand(update)
    axis = normalize_axis("dynamic_update_index_in_dim", axis, operand.ndim)
    if update.ndim == operand.ndim - 1:
        update = bind(sp.reshape_p, update,
                      new_sizes=update.shape[:axis] + (1,) + update.shape[axis:])
    return dynamic_update_slice_in_dim(operand, update, index, axis)
