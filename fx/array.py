"""``fx.Array``: an immutable array living on one device.

An Array wraps a backend buffer (NumPy on the CPU, CuPy on a GPU) that fx never
mutates. Arithmetic, comparison and NumPy-style methods are attached by
``fx.numpy._methods`` once the functions they call exist; this file holds what an
array *is*: its buffer, shape, dtype, device, conversions and printing.

Example:
    >>> import fx, fx.numpy as fnp
    >>> a = fnp.arange(3.0)
    >>> a.at[1].set(7.0)
    Array([0., 7., 2.], dtype=float32)
    >>> a[1] = 7.0
    Traceback (most recent call last):
    TypeError: fx arrays are immutable; use the functional form a.at[1].set(7.0) ...
"""
from __future__ import annotations

import numpy as np

from fx import backend
from fx.core.aval import ShapedArray


class Array:
    """Immutable n-dimensional array. Create with ``fx.asarray`` or ``fx.numpy`` functions."""

    __slots__ = ("_v",)
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Array -> Array
    __array_priority__ = 100
    __hash__ = None  # mutable-looking containers of data are unhashable, as in NumPy

    def __init__(self, *args, **kwargs):
        raise TypeError("create arrays with fx.asarray(...) or fx.numpy functions, "
                        "not fx.Array(...)")

    def _buffer(self):
        """The backend buffer (never to be mutated)."""
        return self._v

    # --- metadata --------------------------------------------------------------------
    shape = property(lambda self: self._v.shape, doc="Tuple of dimension sizes.")
    dtype = property(lambda self: self._v.dtype, doc="NumPy dtype of the elements.")
    ndim = property(lambda self: self._v.ndim, doc="Number of dimensions.")
    size = property(lambda self: self._v.size, doc="Number of elements.")

    @property
    def device(self) -> backend.Device:
        """Device holding the data."""
        return backend.device_of(self._buffer())

    @property
    def aval(self):
        """Abstract value (shape, dtype) used by transforms."""
        v = self._v
        return ShapedArray.of(v.shape, v.dtype)

    @property
    def at(self):
        """Functional updates: ``a.at[idx].set(v)``, ``.add``, ``.multiply``, ``.get``, ..."""
        from fx.numpy.indexing import IndexUpdateHelper
        return IndexUpdateHelper(self)

    # --- immutability ------------------------------------------------------------------
    def __setitem__(self, index, value):
        raise TypeError(
            f"fx arrays are immutable; use the functional form "
            f"a.at[{_show_index(index)}].set({value!r}) which returns an updated copy")

    def __delitem__(self, index):
        raise TypeError("fx arrays are immutable; they do not support item deletion")

    # --- Python protocols ----------------------------------------------------------------
    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        return bool(self._buffer())

    def __int__(self) -> int:
        return int(self._buffer())

    def __float__(self) -> float:
        return float(self._buffer())

    def __complex__(self) -> complex:
        return complex(self._buffer())

    def __index__(self) -> int:
        if self.dtype.kind not in "biu":
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(self._buffer())

    def item(self, *args):
        """The value as a Python scalar (the array must have one element, or pass an index)."""
        return backend.to_numpy(self._buffer()).item(*args)

    def tolist(self):
        """Nested Python lists of Python scalars."""
        return backend.to_numpy(self._buffer()).tolist()

    # --- interop -----------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        """A read-only NumPy view (or a writeable copy with ``copy=True``)."""
        out = np.asarray(backend.to_numpy(self._buffer()), dtype=dtype)
        if copy:
            return out.copy()
        out = out.view()
        out.flags.writeable = False
        return out

    def __dlpack__(self, **kwargs):
        buf = self._buffer()
        if isinstance(buf, np.generic):
            buf = np.asarray(buf)
        return buf.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        buf = self._buffer()
        return np.asarray(buf).__dlpack_device__() if isinstance(buf, np.generic) \
            else buf.__dlpack_device__()

    def __repr__(self) -> str:
        host = backend.to_numpy(self._buffer())
        body = np.array2string(np.asarray(host), separator=", ", prefix="Array(")
        where = "" if self.device == backend.CPU else f", device={self.device}"
        return f"Array({body}, dtype={self.dtype}{where})"

    def __str__(self) -> str:
        return str(backend.to_numpy(self._buffer()))

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return format(backend.to_numpy(self._buffer()).item() if self.ndim == 0 else self, spec)

    def __reduce__(self):
        return (_rebuild, (backend.to_numpy(self._buffer()),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


_new = object.__new__


def wrap(buf) -> Array:
    """Make an Array around a backend buffer that nobody else will mutate."""
    a = _new(Array)
    a._v = buf
    return a


def _rebuild(host: np.ndarray) -> Array:
    return wrap(np.array(host))


def _show_index(index) -> str:
    if isinstance(index, tuple):
        return ", ".join(_show_index(i) for i in index)
    if isinstance(index, slice):
        parts = ["" if v is None else str(v) for v in (index.start, index.stop, index.step)]
        return ":".join(parts[:2] if index.step is None else parts)
    if index is Ellipsis:
        return "..."
    return repr(index)
