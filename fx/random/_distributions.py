"""Samplers over Threefry keys: continuous and discrete distributions, permutations.

Each follows JAX's algorithm (so the numbers match JAX's up to floating-point rounding
in ``erf_inv``/``log``): uniform floats from the top mantissa bits, normals by the
inverse error function, integers by a double-width remainder, permutations by sorting
random keys, categorical draws by the Gumbel-max trick.

Example:
    >>> from fx import random
    >>> random.randint(random.key(0), (5,), 0, 10).dtype
    dtype('int32')
"""
from __future__ import annotations

import math
import operator

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.config import config
from fx.core.elementwise import as_operand
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.errors import op_error
from fx.lax.special import erf, erf_inv
from fx.prims.random_bits import bitcast_convert_type_p
from fx.random._threefry import UINT_DTYPES, check_key, check_shape, device_of, random_bits, split

__all__ = ["uniform", "normal", "truncated_normal", "bernoulli", "randint", "permutation",
           "choice", "categorical", "gumbel", "exponential"]


def _float_dtype(op: str, dtype) -> np.dtype:
    dtype = config.default_float if dtype is None else dtypes.canonicalize(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be a float dtype, got {dtype}")
    return dtype


def _param(x, dtype):
    """A distribution parameter in ``dtype`` (Python numbers stay weak)."""
    x = as_operand(x)
    return x if dtypes.is_weak_scalar(x) else x.astype(dtype)


def _uniform(key, shape, dtype, minval, maxval):
    info = np.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    one_bits = int(np.array(1.0, dtype).view(UINT_DTYPES[nbits]))
    float_bits = (random_bits(key, nbits, shape) >> (nbits - nmant)) | one_bits
    floats = bind(bitcast_convert_type_p, float_bits, new_dtype=dtype) - 1.0  # in [0, 1)
    return fnp.maximum(minval, floats * (maxval - minval) + minval)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in ``[minval, maxval)`` (bounds broadcast to ``shape``).

    Example:
        >>> from fx import random
        >>> x = random.uniform(random.key(0), (1000,), minval=-1.0, maxval=1.0)
        >>> bool((x >= -1).all() and (x < 1).all())
        True
    """
    op = "random.uniform"
    key = check_key(op, key)
    dtype = _float_dtype(op, dtype)
    minval, maxval = _param(minval, dtype), _param(maxval, dtype)
    return _uniform(key, check_shape(op, shape, minval, maxval), dtype, minval, maxval)


def normal(key, shape=(), dtype=None):
    """Standard normal floats (``sqrt(2) * erf_inv(u)`` for ``u`` uniform in ``(-1, 1)``).

    Example:
        >>> from fx import random
        >>> random.normal(random.key(0), (2, 3)).shape
        (2, 3)
    """
    op = "random.normal"
    key = check_key(op, key)
    dtype = _float_dtype(op, dtype)
    lo = float(np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype)))
    u = _uniform(key, check_shape(op, shape), dtype, lo, 1.0)
    return erf_inv(u) * math.sqrt(2.0)


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal floats conditioned on ``lower <= x <= upper`` (bounds broadcast).

    ``shape`` defaults to the broadcast shape of ``lower`` and ``upper``.

    Example:
        >>> from fx import random
        >>> x = random.truncated_normal(random.key(0), -1.0, 2.0, (1000,))
        >>> bool((x >= -1).all() and (x <= 2).all())
        True
    """
    op = "random.truncated_normal"
    key = check_key(op, key)
    dtype = _float_dtype(op, dtype)
    lower, upper = _param(lower, dtype), _param(upper, dtype)
    if shape is None:
        shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
    shape = check_shape(op, shape, lower, upper)
    sqrt2 = math.sqrt(2.0)
    a, b = (erf(fnp.asarray(bound, dtype=dtype) / sqrt2) for bound in (lower, upper))
    out = erf_inv(_uniform(key, shape, dtype, a, b)) * sqrt2
    return fnp.clip(out, lower, upper)


def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability ``p`` (``shape`` defaults to ``p``'s shape).

    Example:
        >>> from fx import random
        >>> random.bernoulli(random.key(0), 0.3, (4,)).dtype
        dtype('bool')
    """
    op = "random.bernoulli"
    key = check_key(op, key)
    p = as_operand(p)
    dtype = dtypes.to_inexact(dtypes.result_type(p))
    if dtype.kind != "f":
        raise op_error(TypeError, op, f"p must be real, got {dtype}", p)
    p = _param(p, dtype)
    shape = check_shape(op, np.shape(p) if shape is None else shape, p)
    return _uniform(key, shape, dtype, 0.0, 1.0) < p


def _clip_to(x, dtype):
    """Integer array ``x`` clipped to the range of ``dtype``, then converted."""
    src, dst = np.iinfo(x.dtype), np.iinfo(dtype)
    return fnp.clip(x, max(src.min, dst.min), min(src.max, dst.max)).astype(dtype)


def _int_bound(x, device):
    if isinstance(x, int) and not isinstance(x, bool):
        return fnp.asarray(x, dtype=np.int64 if x < 2 ** 63 else np.uint64, device=device)
    x = as_operand(x)
    return x if x.dtype.kind in "iu" else x.astype(np.int64)


def _rem(a, span):
    """``a % span`` with ``a % 0 == a`` (unsigned, as XLA), so a full-range span of 0 works."""
    zero = span == 0
    return fnp.where(zero, a, a % fnp.where(zero, 1, span))


def randint(key, shape, minval, maxval, dtype=None):
    """Integers uniform in ``[minval, maxval)`` (bounds clipped to ``dtype``; ``minval``
    wherever ``maxval <= minval``, as in JAX).

    Example:
        >>> from fx import random
        >>> x = random.randint(random.key(0), (1000,), 3, 7)
        >>> sorted(set(x.tolist()))
        [3, 4, 5, 6]
    """
    op = "random.randint"
    key = check_key(op, key)
    dtype = config.default_int if dtype is None else dtypes.canonicalize(dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"{op}: dtype must be an integer dtype, got {dtype}")
    device = device_of(key)
    minval, maxval = _int_bound(minval, device), _int_bound(maxval, device)
    shape = check_shape(op, shape, minval, maxval)
    info = np.iinfo(dtype)
    too_big = maxval > min(info.max, np.iinfo(maxval.dtype).max)
    minval, maxval = _clip_to(minval, dtype), _clip_to(maxval, dtype)
    nbits = info.bits
    k1, k2 = split(key)
    higher, lower = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    span = (maxval - minval).astype(UINT_DTYPES[nbits])
    span = fnp.where(maxval <= minval, 1, span)
    span = fnp.where(too_big & (maxval > minval), span + 1, span)  # a span of 2**nbits wraps to 0
    # Reduce the 2*nbits-bit number higher * 2**nbits + lower modulo span, without overflow.
    multiplier = _rem(fnp.full((), 2 ** (nbits // 2), UINT_DTYPES[nbits], device=device), span)
    multiplier = _rem(multiplier * multiplier, span)
    offset = _rem(_rem(higher, span) * multiplier + _rem(lower, span), span)
    return minval + offset.astype(dtype)


def _shuffle(key, x, axis: int):
    """``x`` permuted along ``axis`` by sorting on random 32-bit keys (a few rounds for
    large arrays, so that ties in the sort keys stay improbable)."""
    rounds = math.ceil(3 * math.log(max(1, x.size)) / math.log(2 ** 32 - 1))
    for _ in range(rounds):
        key, subkey = split(key)
        order = fnp.argsort(random_bits(subkey, 32, x.shape), axis=axis)
        x = fnp.take_along_axis(x, order, axis)
    return x


def _population(op: str, x):
    """An integer scalar ``x`` as a Python int (the static size of ``arange(x)``), or
    None when ``x`` is an array population."""
    if (x.ndim if hasattr(x, "ndim") else np.ndim(x)) > 0:
        return None
    if isinstance(x, bool) or dtypes.result_type(x).kind not in "iu":
        raise TypeError(f"{op}: x must be an integer or an array of at least 1 dimension, "
                        f"got {x!r}")
    return operator.index(x)


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (int ``x``) or of ``x`` along ``axis``.

    ``independent=True`` permutes each slice along ``axis`` separately.

    Example:
        >>> from fx import random
        >>> sorted(random.permutation(random.key(0), 5).tolist())
        [0, 1, 2, 3, 4]
    """
    op = "random.permutation"
    key = check_key(op, key)
    n = _population(op, x)
    if n is not None:
        return _shuffle(key, fnp.arange(n, device=device_of(key)), 0)
    x = as_operand(x)
    axis = normalize_axis(op, axis, x.ndim, x)
    if independent or x.ndim == 1:
        return _shuffle(key, x, axis)
    order = _shuffle(key, fnp.arange(x.shape[axis], device=device_of(key)), 0)
    return fnp.take(x, order, axis=axis)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Random samples from ``arange(a)`` (int ``a``) or from ``a`` along ``axis``.

    Args:
        replace: draw with replacement (without: every element at most once).
        p: probabilities of the ``n`` candidates (need not be normalised).

    Raises:
        ValueError: for an empty population, more draws than candidates without
            replacement, or ``p`` of the wrong shape.

    Example:
        >>> from fx import random
        >>> sorted(random.choice(random.key(0), 10, (10,), replace=False).tolist())
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    op = "random.choice"
    key = check_key(op, key)
    shape = check_shape(op, shape)
    n = _population(op, a)
    arr = None if n is not None else as_operand(a)
    if arr is not None:
        axis = normalize_axis(op, axis, arr.ndim, arr)
        n = arr.shape[axis]
    out_shape = shape if arr is None else arr.shape[:axis] + shape + arr.shape[axis + 1:]
    draws = math.prod(shape)
    if draws == 0:
        return fnp.zeros(out_shape, config.default_int if arr is None else arr.dtype,
                         device=device_of(key))
    if n <= 0:
        raise ValueError(f"{op}: a must be greater than 0 unless no samples are taken")
    if not replace and draws > n:
        raise ValueError(f"{op}: cannot take a larger sample ({draws}) than the population "
                         f"({n}) with replace=False")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n)
        else:
            ind = permutation(key, n)[:draws]
    else:
        p = as_operand(p)
        p = p.astype(dtypes.to_inexact(p.dtype))
        if p.shape != (n,):
            raise op_error(ValueError, op, f"p must have shape ({n},) to match the population",
                           p)
        if replace:
            cdf = fnp.cumsum(p)
            r = cdf[-1] * (1 - _uniform(key, shape, p.dtype, 0.0, 1.0))
            ind = fnp.searchsorted(cdf, r)
        else:  # Gumbel top-k: the k largest of log p + Gumbel noise
            with np.errstate(divide="ignore"):  # p == 0: log p = -inf, never chosen
                noisy = gumbel(key, (n,), p.dtype) + fnp.log(p)
            ind = fnp.argsort(-noisy)[:draws]
    ind = ind.reshape(shape)
    return ind if arr is None else fnp.take(arr, ind, axis=axis)


def categorical(key, logits, axis=-1, shape=None):
    """Category indices drawn with probabilities ``softmax(logits)`` along ``axis``.

    ``shape`` defaults to the batch shape (``logits.shape`` without ``axis``) and may
    add leading dimensions for more draws.

    Example:
        >>> from fx import random
        >>> random.categorical(random.key(0), fnp.zeros((2, 5))).shape
        (2,)
    """
    op = "random.categorical"
    key = check_key(op, key)
    logits = as_operand(logits)
    logits = logits.astype(dtypes.to_inexact(logits.dtype))
    axis = normalize_axis(op, axis, logits.ndim, logits)
    batch = logits.shape[:axis] + logits.shape[axis + 1:]
    shape = batch if shape is None else check_shape(op, shape)
    if shape[len(shape) - len(batch):] != batch:
        raise op_error(ValueError, op, f"shape {shape} must end with the batch shape {batch}",
                       logits)
    prefix = shape[:len(shape) - len(batch)]
    noise = gumbel(key, prefix + logits.shape, logits.dtype)
    winner = fnp.argmax(noise + logits, axis=len(prefix) + axis)
    return winner.astype(config.default_int)


def gumbel(key, shape=(), dtype=None):
    """Standard Gumbel floats ``-log(-log(u))``.

    Example:
        >>> from fx import random
        >>> random.gumbel(random.key(0), (3,)).shape
        (3,)
    """
    op = "random.gumbel"
    key = check_key(op, key)
    dtype = _float_dtype(op, dtype)
    u = _uniform(key, check_shape(op, shape), dtype, float(np.finfo(dtype).tiny), 1.0)
    return -fnp.log(-fnp.log(u))


def exponential(key, shape=(), dtype=None):
    """Standard exponential floats ``-log(1 - u)``.

    Example:
        >>> from fx import random
        >>> bool((random.exponential(random.key(0), (100,)) >= 0).all())
        True
    """
    op = "random.exponential"
    key = check_key(op, key)
    dtype = _float_dtype(op, dtype)
    return -fnp.log1p(-_uniform(key, check_shape(op, shape), dtype, 0.0, 1.0))
