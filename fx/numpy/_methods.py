"""Attach NumPy-style operators and methods to ``fx.Array`` (and so to every tracer).

Operators point straight at the ``fx.numpy`` functions so ``a + b`` costs no more
than ``fnp.add(a, b)``.
"""
from __future__ import annotations

import fx.numpy as fnp
from fx import dtypes
from fx.array import Array
from fx.core.primitive import bind
from fx.prims.elementwise import convert_element_type_p

# operator -> fx.numpy function; reflected operators swap their operands
_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
    "floordiv": "floor_divide", "mod": "mod", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "left_shift", "rshift": "right_shift", "divmod": "divmod",
}
_COMPARE = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
            "gt": "greater", "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "abs", "invert": "invert"}

# method name -> fx.numpy function called as fn(self, *args, **kwargs)
_METHODS = ["sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "any",
            "all", "cumsum", "cumprod", "ptp", "squeeze", "ravel", "swapaxes", "repeat",
            "take", "sort", "argsort", "diagonal", "trace", "dot", "conj", "conjugate",
            "clip", "round", "nonzero", "searchsorted", "flatten"]


def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    method.__name__ = f"r{fn.__name__}"
    return method


def _method(fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


def _shape_args(args):
    """``a.reshape(2, 3)`` and ``a.reshape((2, 3))`` both mean shape (2, 3)."""
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def reshape(self, *shape, order="C"):
    """Same data in a new shape (see ``fx.numpy.reshape``)."""
    return fnp.reshape(self, _shape_args(shape), order=order)


def transpose(self, *axes):
    """Permute axes (reversed by default); ``a.transpose(1, 0)`` or ``a.transpose((1, 0))``."""
    return fnp.transpose(self, _shape_args(axes) or None)


def astype(self, dtype, copy=True):
    """Copy converted to ``dtype``."""
    dtype = dtypes.canonicalize(dtype)
    if self.dtype == dtype:
        return self
    return bind(convert_element_type_p, self, new_dtype=dtype)


def attach() -> None:
    for op, name in _BINARY.items():
        fn = getattr(fnp, name)
        setattr(Array, f"__{op}__", fn)
        setattr(Array, f"__r{op}__", _reflected(fn))
    for op, name in _COMPARE.items():
        setattr(Array, f"__{op}__", getattr(fnp, name))
    for op, name in _UNARY.items():
        setattr(Array, f"__{op}__", getattr(fnp, name))
    for name in _METHODS:
        setattr(Array, name, _method(getattr(fnp, name)))
    Array.reshape, Array.transpose, Array.astype = reshape, transpose, astype
    Array.copy = lambda self: self
    Array.T = property(lambda self: fnp.transpose(self), doc="Axes reversed.")
    Array.mT = property(lambda self: fnp.swapaxes(self, -1, -2), doc="Last two axes swapped.")
    Array.real = property(fnp.real, doc="Real part.")
    Array.imag = property(fnp.imag, doc="Imaginary part.")
    Array.__getitem__ = fnp.getitem


attach()
