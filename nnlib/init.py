"""Parameter initialisers with ``torch.nn.init``'s conventions and explicit keys.

Every initialiser is ``fn(key, shape, dtype=None, ...)`` and returns a new array
(``dtype`` defaults to ``fx.config.default_float``). Fans follow PyTorch for weights in
``(out, in, *kernel)`` layout: ``fan_in = in * prod(kernel)``, ``fan_out = out *
prod(kernel)``. ``gain`` / ``a`` / ``mode`` / ``nonlinearity`` mean what they mean in
``torch.nn.init``; ``glorot_*`` and ``he_*`` are aliases of ``xavier_*`` and ``kaiming_*``.

PyTorch's default for ``Linear`` and ``Conv`` weights and biases is uniform in
``±default_bound(fan_in)`` = ``±1/sqrt(fan_in)`` (``default_uniform``).

Example:
    >>> import fx
    >>> from nnlib import init
    >>> w = init.kaiming_uniform(fx.random.key(0), (16, 8, 3, 3))
    >>> init.fans(w.shape), w.dtype
    ((72, 144), dtype('float32'))
    >>> b = init.default_uniform(fx.random.key(1), (16,), fan_in=72)
    >>> bool((abs(b) <= init.default_bound(72)).all())
    True
"""
from __future__ import annotations

import math

import numpy as np

import fx.numpy as fnp
from fx import dtypes, random
from fx.config import config

__all__ = [
    "fans", "calculate_gain", "default_bound", "default_uniform",
    "zeros", "ones", "constant", "normal", "uniform", "truncated_normal",
    "xavier_uniform", "xavier_normal", "glorot_uniform", "glorot_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal", "variance_scaling", "orthogonal",
]


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _dtype(dtype, *, float_only: bool = True) -> np.dtype:
    dtype = config.default_float if dtype is None else dtypes.canonicalize(dtype)
    if float_only and dtype.kind != "f":
        raise TypeError(f"nnlib.init: a random initialiser needs a float dtype, got {dtype}")
    return dtype


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` in ``(out, in, *kernel)`` layout.

    Example:
        >>> from nnlib import init
        >>> init.fans((10, 4)), init.fans((8, 3, 5, 5))
        ((4, 10), (75, 200))
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError("nnlib.init: fan in and fan out need a weight of at least 2 "
                         f"dimensions (out, in, *kernel), got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode: str) -> int:
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"nnlib.init: mode must be 'fan_in', 'fan_out' or 'fan_avg', "
                         f"got {mode!r}")
    fan_in, fan_out = fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Example:
        >>> from nnlib import init
        >>> init.calculate_gain("relu"), init.calculate_gain("tanh")
        (1.4142135623730951, 1.6666666666666667)
    """
    linear = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"nnlib.init: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nnlib.init: unsupported nonlinearity {nonlinearity!r}")


def default_bound(fan_in) -> float:
    """PyTorch's default bound for Linear/Conv weights and biases: ``1/sqrt(fan_in)``
    (0 for an empty fan).

    Example:
        >>> from nnlib import init
        >>> init.default_bound(16)
        0.25
    """
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def default_uniform(key, shape, dtype=None, *, fan_in):
    """Uniform in ``±default_bound(fan_in)``: PyTorch's Linear/Conv weight and bias default.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.default_uniform(fx.random.key(0), (3,), fan_in=4).shape
        (3,)
    """
    bound = default_bound(fan_in)
    return uniform(key, shape, dtype, -bound, bound)


def zeros(key, shape, dtype=None):
    """Zeros (``key`` is ignored; any dtype).

    Example:
        >>> from nnlib import init
        >>> init.zeros(None, (2,))
        Array([0., 0.], dtype=float32)
    """
    return fnp.zeros(_shape(shape), _dtype(dtype, float_only=False))


def ones(key, shape, dtype=None):
    """Ones (``key`` is ignored; any dtype).

    Example:
        >>> from nnlib import init
        >>> init.ones(None, (2,))
        Array([1., 1.], dtype=float32)
    """
    return fnp.ones(_shape(shape), _dtype(dtype, float_only=False))


def constant(key, shape, dtype=None, val=0.0):
    """Every entry ``val`` (``key`` is ignored; any dtype).

    Example:
        >>> from nnlib import init
        >>> init.constant(None, (2,), val=0.5)
        Array([0.5, 0.5], dtype=float32)
    """
    return fnp.full(_shape(shape), val, _dtype(dtype, float_only=False))


def normal(key, shape, dtype=None, mean=0.0, std=1.0):
    """Normal with ``mean`` and ``std``.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.normal(fx.random.key(0), (2, 3), std=0.02).shape
        (2, 3)
    """
    return random.normal(key, _shape(shape), _dtype(dtype)) * std + mean


def uniform(key, shape, dtype=None, a=0.0, b=1.0):
    """Uniform in ``[a, b)``.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> x = init.uniform(fx.random.key(0), (100,), a=-1.0, b=1.0)
        >>> bool((x >= -1).all() and (x < 1).all())
        True
    """
    return random.uniform(key, _shape(shape), _dtype(dtype), minval=a, maxval=b)


def truncated_normal(key, shape, dtype=None, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Normal with ``mean`` and ``std`` conditioned on ``a <= x <= b`` (absolute bounds, as
    ``torch.nn.init.trunc_normal_``).

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> x = init.truncated_normal(fx.random.key(0), (100,), std=0.5, a=-1.0, b=1.0)
        >>> bool((x >= -1).all() and (x <= 1).all())
        True
    """
    if not std > 0:
        raise ValueError(f"nnlib.init.truncated_normal: std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"nnlib.init.truncated_normal: need a < b, got a={a}, b={b}")
    dtype = _dtype(dtype)
    z = random.truncated_normal(key, (a - mean) / std, (b - mean) / std, _shape(shape), dtype)
    return fnp.clip(z * std + mean, a, b)


def xavier_uniform(key, shape, dtype=None, gain=1.0):
    """Glorot uniform: bound ``gain * sqrt(6 / (fan_in + fan_out))``.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.xavier_uniform(fx.random.key(0), (4, 6)).shape
        (4, 6)
    """
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(key, shape, dtype, -bound, bound)


def xavier_normal(key, shape, dtype=None, gain=1.0):
    """Glorot normal: std ``gain * sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.xavier_normal(fx.random.key(0), (4, 6)).shape
        (4, 6)
    """
    fan_in, fan_out = fans(shape)
    return normal(key, shape, dtype, std=gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform(key, shape, dtype=None, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: bound ``gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity,
    a)``. ``a=math.sqrt(5)`` gives PyTorch's Linear/Conv weight default.

    Example:
        >>> import math, fx
        >>> from nnlib import init
        >>> w = init.kaiming_uniform(fx.random.key(0), (3, 4), a=math.sqrt(5))
        >>> bool((abs(w) <= 0.5).all())
        True
    """
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(shape, mode))
    return uniform(key, shape, dtype, -bound, bound)


def kaiming_normal(key, shape, dtype=None, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: std ``gain / sqrt(fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.kaiming_normal(fx.random.key(0), (8, 4, 3), mode="fan_out").shape
        (8, 4, 3)
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))
    return normal(key, shape, dtype, std=std)


# Standard deviation of the standard normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


def variance_scaling(key, shape, dtype=None, scale=1.0, mode="fan_in",
                     distribution="truncated_normal"):
    """Variance ``scale / fan`` (JAX's ``variance_scaling``), drawn from a normal truncated
    to ±2 std (rescaled so the variance is exact), a normal or a uniform distribution.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.variance_scaling(fx.random.key(0), (4, 5), scale=2.0, mode="fan_avg").shape
        (4, 5)
    """
    std = math.sqrt(scale / _fan(shape, mode))
    if distribution == "truncated_normal":
        std = std / _TRUNC_STD
        return truncated_normal(key, shape, dtype, std=std, a=-2 * std, b=2 * std)
    if distribution == "normal":
        return normal(key, shape, dtype, std=std)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return uniform(key, shape, dtype, -bound, bound)
    raise ValueError("nnlib.init.variance_scaling: distribution must be 'truncated_normal', "
                     f"'normal' or 'uniform', got {distribution!r}")


def lecun_uniform(key, shape, dtype=None):
    """LeCun uniform: bound ``sqrt(3 / fan_in)`` (variance ``1 / fan_in``).

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.lecun_uniform(fx.random.key(0), (4, 9)).shape
        (4, 9)
    """
    return variance_scaling(key, shape, dtype, 1.0, "fan_in", "uniform")


def lecun_normal(key, shape, dtype=None):
    """LeCun normal as JAX: variance ``1 / fan_in`` from a normal truncated to ±2 std.

    Example:
        >>> import fx
        >>> from nnlib import init
        >>> init.lecun_normal(fx.random.key(0), (4, 9)).shape
        (4, 9)
    """
    return variance_scaling(key, shape, dtype, 1.0, "fan_in", "truncated_normal")


def orthogonal(key, shape, dtype=None, gain=1.0):
    """A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``: the
    weight is viewed as ``(shape[0], prod(shape[1:]))``; its rows (or columns, whichever
    are fewer) are orthonormal. Q of the QR decomposition of a normal draw, with the signs
    of R's diagonal folded in so the result is uniform over orthogonal matrices.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from nnlib import init
        >>> q = init.orthogonal(fx.random.key(0), (3, 5), fx.float64)
        >>> bool((abs(q @ q.T - fnp.eye(3)) < 1e-12).all())
        True
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"nnlib.init.orthogonal: needs at least 2 dimensions, got {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    dtype = _dtype(dtype)
    work = np.float32 if dtype.itemsize < 4 else dtype  # linalg has no half precision
    flat = random.normal(key, (max(rows, cols), min(rows, cols)), work)
    q, r = fnp.linalg.qr(flat)
    q = q * fnp.where(fnp.diagonal(r) < 0, -1.0, 1.0).astype(q.dtype)
    if rows < cols:
        q = q.T
    return (fnp.reshape(q, shape) * gain).astype(dtype)


glorot_uniform, glorot_normal = xavier_uniform, xavier_normal
he_uniform, he_normal = kaiming_uniform, kaiming_normal
