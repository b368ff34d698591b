"""Threefry-2x32 keys: ``key``, ``split``, ``fold_in`` and raw ``bits``.

A key is a ``uint32[2]`` array. Random numbers are a pure function of the key and the
position of each element (JAX's "partitionable" Threefry scheme, its default since
0.5): element ``i`` of a draw of shape ``s`` hashes the 64-bit counter ``i`` with the
key. The hash uses only fx's uint32 primitives, which wrap around as in C, so the same
key gives the same bits on every backend and transforms can trace through it.

Example:
    >>> from fx import random
    >>> random.split(random.key(0))
    Array([[1797259609, 2579123966],
           [ 928981903, 3453687069]], dtype=uint32)
"""
from __future__ import annotations

import operator

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.array import Array
from fx.core.elementwise import as_operand
from fx.core.trace import Tracer
from fx.errors import op_error

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA  # the key-schedule constant of Threefry
_MASK = 0xFFFFFFFF
UINT_DTYPES = {bits: np.dtype(f"uint{bits}") for bits in (8, 16, 32, 64)}


def _rotate_left(v, r: int):
    return (v << r) | (v >> (32 - r))


def threefry2x32(k1, k2, x0, x1):
    """Threefry-2x32 with 20 rounds (Random123): hash counters ``(x0, x1)`` under key
    ``(k1, k2)``; all uint32, broadcasting together. Returns the two output words."""
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + (i + 1)
    return x0, x1


def device_of(x):
    """Where constants combined with ``x`` must live (None: the default, for traced values)."""
    return None if isinstance(x, Tracer) else x.device


def check_key(op: str, key) -> Array:
    """``key`` as an Array, or a TypeError naming ``op`` unless it is a ``uint32[2]`` key."""
    if not isinstance(key, Array):
        if not hasattr(key, "shape"):
            raise TypeError(f"{op}: key must be a uint32[2] array made by fx.random.key(seed), "
                            f"got {type(key).__name__}")
        key = as_operand(key)
    if key.dtype != np.uint32 or key.shape != (2,):
        raise op_error(TypeError, op, "key must be a uint32[2] array made by "
                       "fx.random.key(seed) or fx.random.split", key)
    return key


def check_shape(op: str, shape, *params) -> tuple[int, ...]:
    """``shape`` as a tuple of ints into which each of ``params`` broadcasts."""
    try:
        dims = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be an int or a sequence of ints, "
                        f"got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{op}: negative dimensions are not allowed: {dims}")
    for p in params:
        if not _broadcasts_to(getattr(p, "shape", ()), dims):
            raise op_error(ValueError, op, f"parameter of shape {tuple(p.shape)} does not "
                           f"broadcast to the requested shape {dims}", *params)
    return dims


def _broadcasts_to(shape, dims) -> bool:
    try:
        return np.broadcast_shapes(shape, dims) == dims
    except ValueError:
        return False


def counters(shape: tuple[int, ...], device):
    """The high and low words of each element's 64-bit position in an array of ``shape``."""
    size = int(np.prod(shape, dtype=np.int64))
    if size < 2 ** 32:
        return (fnp.zeros((), np.uint32, device=device),
                fnp.arange(size, dtype=np.uint32, device=device).reshape(shape))
    index = fnp.arange(size, dtype=np.uint64, device=device).reshape(shape)
    return (index >> 32).astype(np.uint32), index.astype(np.uint32)


def _hash(key, shape: tuple[int, ...]):
    hi, lo = counters(shape, device_of(key))
    return threefry2x32(key[0], key[1], hi, lo)


def random_bits(key, nbits: int, shape: tuple[int, ...]):
    """Unsigned integers of ``nbits`` bits (8, 16, 32 or 64) and ``shape`` from ``key``."""
    y0, y1 = _hash(key, shape)
    if nbits == 64:
        return (y0.astype(np.uint64) << 32) | y1.astype(np.uint64)
    out = y0 ^ y1
    return out if nbits == 32 else out.astype(UINT_DTYPES[nbits])


def _integer_scalar(op: str, x, what: str) -> Array:
    """A non-Python integer scalar argument (an Array, tracer or buffer), checked."""
    if dtypes.is_weak_scalar(x):
        raise TypeError(f"{op}: {what} must be an integer, got {x!r}")
    x = as_operand(x)
    if x.shape != () or x.dtype.kind not in "iu":
        raise op_error(TypeError, op, f"{what} must be an integer scalar", x)
    return x


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def key(seed) -> Array:
    """A new random key (``uint32[2]``) from an integer seed, as JAX's ``PRNGKey``.

    Seeds in the int32 range give ``[0, seed mod 2**32]`` (JAX's default); larger Python
    ints and int64 arrays put their high 32 bits in the first word. The seed may be a
    traced integer scalar (``vmap`` over seeds).

    Raises:
        TypeError: if ``seed`` is not an integer scalar.
        OverflowError: for Python ints outside the 64-bit range.

    Example:
        >>> key(42)
        Array([ 0, 42], dtype=uint32)
    """
    if _is_int(seed):
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise OverflowError(f"random.key: seed {seed} does not fit in 64 bits")
        hi = 0 if -2 ** 31 <= seed < 2 ** 31 else (seed >> 32) & _MASK
        return fnp.asarray([hi, seed & _MASK], dtype=np.uint32)
    seed = _integer_scalar("random.key", seed, "seed")
    lo = seed.astype(np.uint32)  # wraps modulo 2**32, as a C cast
    if seed.dtype.itemsize < 8:
        return fnp.stack([fnp.zeros_like(lo), lo])
    return fnp.stack([(seed.astype(np.uint64) >> 32).astype(np.uint32), lo])


PRNGKey = key


def split(key, num=2) -> Array:
    """``num`` new independent keys (shape ``(num, 2)``; a tuple ``num`` gives ``(*num, 2)``).

    Example:
        >>> k1, k2 = split(key(0))
    """
    key = check_key("random.split", key)
    shape = check_shape("random.split", num)
    y0, y1 = _hash(key, shape)
    return fnp.stack([y0, y1], axis=-1)


def fold_in(key, data) -> Array:
    """A new key that depends on ``key`` and the integer ``data`` (e.g. a step number).

    Example:
        >>> fold_in(key(0), 1)
        Array([ 928981903, 3453687069], dtype=uint32)
    """
    key = check_key("random.fold_in", key)
    if _is_int(data):
        data = fnp.asarray(int(data) & _MASK, dtype=np.uint32, device=device_of(key))
    else:
        data = _integer_scalar("random.fold_in", data, "data").astype(np.uint32)
    y0, y1 = threefry2x32(key[0], key[1], fnp.zeros((), np.uint32, device=device_of(key)), data)
    return fnp.stack([y0, y1])


def bits(key, shape=(), dtype=None) -> Array:
    """Uniformly random unsigned integers (``dtype`` uint8/16/32/64, default uint32).

    Example:
        >>> bits(key(0), (2,))
        Array([4070199207, 4202968722], dtype=uint32)
    """
    key = check_key("random.bits", key)
    dtype = np.dtype(np.uint32 if dtype is None else dtypes.canonicalize(dtype))
    if dtype.kind != "u":
        raise TypeError(f"random.bits: dtype must be an unsigned integer dtype, got {dtype}")
    return random_bits(key, dtype.itemsize * 8, check_shape("random.bits", shape))
