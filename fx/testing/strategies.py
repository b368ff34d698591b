"""Hypothesis strategies of fx arrays and pytrees, for property-based gradient tests.

Thin layers over ``hypothesis.extra.numpy`` that draw ``fx.Array`` values (not NumPy
arrays) with defaults suited to differentiation: finite, no subnormals, in a bounded range
(``[-10, 10]`` unless told otherwise), small shapes, float64 unless a dtype is given.
Needs hypothesis, a test-only dependency (``pip install 'fx[test]'``).

Example (a whole property-based gradient test)::

    from hypothesis import given, settings
    import fx.numpy as fnp
    from fx.testing import check_grads, strategies as fxst

    @settings(max_examples=20, deadline=None)
    @given(fxst.arrays(min_value=0.1, max_value=5.0))  # log is smooth on (0, inf)
    def test_log_grads(x):
        check_grads(fnp.log, (x,), order=2)

Constructing a strategy is cheap and draws nothing:

    >>> from fx.testing import strategies as fxst
    >>> params = fxst.pytrees({"w": fxst.arrays(shape=(3, 2)), "b": fxst.arrays(shape=(2,))})
    >>> from hypothesis.strategies import SearchStrategy
    >>> isinstance(params, SearchStrategy)
    True
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    from hypothesis.strategies import SearchStrategy
except ImportError as e:  # pragma: no cover - exercised only without the test extra
    raise ImportError("fx.testing.strategies needs hypothesis: pip install 'fx[test]' "
                      "(or pip install hypothesis)") from e

from fx import tree
from fx.creation import asarray

__all__ = ["array_shapes", "float_dtypes", "complex_dtypes", "arrays", "scalars",
           "broadcastable_arrays", "pytrees"]

DEFAULT_MIN_VALUE, DEFAULT_MAX_VALUE = -10.0, 10.0


def array_shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                 max_side: int = 4) -> SearchStrategy[tuple[int, ...]]:
    """Shapes (tuples of ints), small by default so that gradient checks stay fast.

    Args:
        min_dims, max_dims: number of dimensions (``0`` allows scalars).
        min_side, max_side: size of each dimension (``min_side=0`` allows empty arrays).

    Example:
        >>> from fx.testing.strategies import array_shapes
        >>> matrices = array_shapes(min_dims=2, max_dims=2, max_side=5)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def float_dtypes(sizes: Sequence[int] = (32, 64)) -> SearchStrategy[np.dtype]:
    """Native-endian real float dtypes of the given bit ``sizes`` (16, 32, 64).

    Example:
        >>> from fx.testing.strategies import arrays, float_dtypes
        >>> either_precision = arrays(dtype=float_dtypes())
    """
    return hnp.floating_dtypes(endianness="=", sizes=tuple(sizes))


def complex_dtypes(sizes: Sequence[int] = (64, 128)) -> SearchStrategy[np.dtype]:
    """Native-endian complex dtypes of the given bit ``sizes`` (64, 128).

    Example:
        >>> from fx.testing.strategies import arrays, complex_dtypes
        >>> zs = arrays(dtype=complex_dtypes(), shape=(3,))
    """
    return hnp.complex_number_dtypes(endianness="=", sizes=tuple(sizes))


def _inward(value: float, dtype: np.dtype, up: bool) -> float:
    """``value`` rounded into ``dtype`` towards the inside of the range (hypothesis needs
    bounds exactly representable in narrow floats: ``0.1`` is not a float32)."""
    v = dtype.type(value)
    if np.isfinite(v) and (float(v) < value if up else float(v) > value):
        v = np.nextafter(v, dtype.type(np.inf if up else -np.inf))
    return float(v)


def _elements(dtype: np.dtype, min_value, max_value, allow_nan, allow_infinity,
              allow_subnormal, exclude_min, exclude_max) -> SearchStrategy:
    """Scalars of ``dtype`` in range; complex ones get real and imaginary parts in range."""
    if dtype.kind not in "fc":
        raise TypeError(f"fx.testing.strategies draws float or complex arrays, got dtype "
                        f"{dtype}; for integer data use hypothesis.extra.numpy directly")
    real = np.finfo(dtype).dtype
    min_value, max_value = _inward(min_value, real, up=True), _inward(max_value, real, up=False)
    part = hnp.from_dtype(real, min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                          allow_infinity=allow_infinity, allow_subnormal=allow_subnormal,
                          exclude_min=exclude_min, exclude_max=exclude_max)
    if dtype.kind == "c":
        return st.builds(lambda re, im: dtype.type(complex(re, im)), part, part)
    return part


def arrays(dtype: Any = "float64", shape: Any = None, *, elements: Any = None,
           min_value: float | None = None, max_value: float | None = None,
           allow_nan: bool = False, allow_infinity: bool = False,
           allow_subnormal: bool = False, exclude_min: bool = False, exclude_max: bool = False,
           unique: bool = False, device: Any = None) -> SearchStrategy:
    """``fx.Array`` values drawn by ``hypothesis.extra.numpy.arrays``.

    Args:
        dtype: a float or complex dtype (``"float32"``, ``fx.float64``, ...) or a strategy
            of dtypes such as ``float_dtypes()``. Default float64, the precision in which
            finite differences are most telling.
        shape: an int, a tuple, or a strategy of shapes (default ``array_shapes()``).
        elements: a strategy of scalars (or a dict of ``from_dtype`` keyword arguments)
            replacing the defaults below; not combinable with the range arguments.
        min_value, max_value: range of the values (default ``[-10, 10]``); for complex
            dtypes, the range of the real and of the imaginary part. Choose it to stay
            inside a function's smooth domain (e.g. ``min_value=0.1`` for ``log``).
        allow_nan, allow_infinity, allow_subnormal: off by default.
        exclude_min, exclude_max: leave the bounds themselves out of the range.
        unique: all elements distinct (e.g. to avoid ties in ``max`` or ``sort``).
        device: passed to ``fx.asarray`` (default: the default device).

    Example:
        >>> from fx.testing.strategies import arrays
        >>> positive = arrays(shape=(4,), min_value=0.1, max_value=5.0)
        >>> single = arrays(dtype="float32", shape=(2, 3))
    """
    if isinstance(dtype, SearchStrategy):
        return dtype.flatmap(lambda d: arrays(
            d, shape, elements=elements, min_value=min_value, max_value=max_value,
            allow_nan=allow_nan, allow_infinity=allow_infinity, allow_subnormal=allow_subnormal,
            exclude_min=exclude_min, exclude_max=exclude_max, unique=unique, device=device))
    dtype = np.dtype(dtype)
    if elements is not None and (min_value is not None or max_value is not None):
        raise TypeError("arrays: pass either elements or min_value / max_value, not both")
    if elements is None:
        lo = DEFAULT_MIN_VALUE if min_value is None else min_value
        hi = DEFAULT_MAX_VALUE if max_value is None else max_value
        if lo > hi:
            raise ValueError(f"arrays: min_value {lo} is greater than max_value {hi}")
        elements = _elements(dtype, lo, hi, allow_nan, allow_infinity, allow_subnormal,
                             exclude_min, exclude_max)
    shape = array_shapes() if shape is None else shape
    return hnp.arrays(dtype, shape, elements=elements, unique=unique).map(
        lambda a: asarray(a, device=device))


def scalars(dtype: Any = "float64", **kwargs: Any) -> SearchStrategy:
    """0-d ``fx.Array`` values (``arrays(dtype, shape=(), **kwargs)``).

    A 0-d array rather than a Python float, so that the dtype is exactly ``dtype``
    (Python floats would become float32 by fx's default-dtype policy).

    Args:
        dtype: as for ``arrays``.
        **kwargs: any keyword argument of ``arrays`` except ``shape``.

    Example:
        >>> from fx.testing.strategies import scalars
        >>> temperatures = scalars(min_value=0.5, max_value=2.0)
    """
    return arrays(dtype, (), **kwargs)


def broadcastable_arrays(n: int = 2, dtype: Any = "float64", *, min_dims: int = 0,
                         max_dims: int = 3, min_side: int = 1, max_side: int = 4,
                         **kwargs: Any) -> SearchStrategy[tuple]:
    """Tuples of ``n`` arrays whose shapes broadcast together (for binary ops and the
    like), from ``hypothesis.extra.numpy.mutually_broadcastable_shapes``.

    Args:
        n: number of arrays.
        dtype: as for ``arrays`` (one dtype, shared by all ``n`` arrays).
        min_dims, max_dims, min_side, max_side: bounds on the shapes.
        **kwargs: any keyword argument of ``arrays`` except ``shape``.

    Example:
        >>> from fx.testing.strategies import broadcastable_arrays
        >>> pairs = broadcastable_arrays(2, min_value=-1.0, max_value=1.0)
    """
    shapes = hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims,
                                               max_dims=max_dims, min_side=min_side,
                                               max_side=max_side)
    if isinstance(dtype, SearchStrategy):
        return st.tuples(dtype, shapes).flatmap(
            lambda ds: st.tuples(*(arrays(ds[0], s, **kwargs) for s in ds[1].input_shapes)))
    return shapes.flatmap(
        lambda b: st.tuples(*(arrays(dtype, s, **kwargs) for s in b.input_shapes)))


def _is_strategy(x: Any) -> bool:
    return isinstance(x, SearchStrategy)


def pytrees(leaves: Any = None, *, max_leaves: int = 4, containers: Sequence[str] = (
        "dict", "list", "tuple"), allow_empty: bool = False) -> SearchStrategy:
    """Pytrees of arrays: either a fixed structure, or random nested containers.

    Args:
        leaves: either a *template*, a pytree (dict, list, tuple, registered dataclass)
            whose leaves are strategies (e.g. ``{"w": arrays(shape=(3, 2)), "b": ...}``),
            which draws that exact structure; or a *strategy* of leaves (default
            ``arrays()``), which draws nested ``containers`` of such leaves.
        max_leaves: for random structures, a bound on the number of leaves.
        containers: for random structures, which of ``"dict"``, ``"list"``, ``"tuple"``
            may appear.
        allow_empty: for random structures, whether containers may be empty (then a
            tree may have no leaves at all).

    Example:
        >>> from fx.testing.strategies import arrays, pytrees
        >>> params = pytrees({"w": arrays(shape=(3, 2)), "b": arrays(shape=(2,))})
        >>> nested = pytrees(arrays(dtype="float32"), max_leaves=3, containers=("dict",))
    """
    if leaves is None:
        leaves = arrays()
    if not _is_strategy(leaves):
        strategies, treedef = tree.flatten(leaves, is_leaf=_is_strategy)
        strategies = [s if _is_strategy(s) else st.just(s) for s in strategies]
        return st.tuples(*strategies).map(lambda ls: tree.unflatten(treedef, list(ls)))
    unknown = set(containers) - {"dict", "list", "tuple"}
    if unknown or not containers:
        raise TypeError(f"pytrees: containers must be a non-empty subset of ('dict', 'list', "
                        f"'tuple'), got {tuple(containers)!r}")
    lo, hi = (0 if allow_empty else 1), 3
    keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=3)

    def extend(children: SearchStrategy) -> SearchStrategy:
        options = {
            "dict": st.dictionaries(keys, children, min_size=lo, max_size=hi),
            "list": st.lists(children, min_size=lo, max_size=hi),
            "tuple": st.lists(children, min_size=lo, max_size=hi).map(tuple),
        }
        return st.one_of(*(options[c] for c in containers))

    return st.recursive(leaves, extend, max_leaves=max_leaves)
