"""The op-spec table format read by every registry-driven test.

One ``OpSpec`` row describes how to call one fx function, its NumPy reference, and a
hypothesis strategy for its inputs. Adding an op to fx = adding a row here; the value,
dtype and shape checks (and later the gradient, vmap and jit checks) read the table.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64)
NUMERIC = FLOATS + INTS


@dataclass(frozen=True)
class OpSpec:
    """One row: ``fx_fn(*args, **kw)`` must match ``np_fn(*args, **kw)`` on drawn inputs.

    Attributes:
        name: test id.
        fx_fn / np_fn: the function under test and its NumPy reference.
        args: ``dtype -> strategy of tuples of numpy arrays`` (the positional inputs).
        dtypes: input dtypes to test.
        kwargs: keyword arguments: a tuple of fixed variants (each example draws one), or
            ``arrays -> strategy of dicts`` for keywords that depend on the inputs (axis).
        rtol / atol: tolerances keyed by dtype name (defaults: tight, per precision).
        check_dtype: compare result dtypes with the reference's.
        smooth: differentiable on the drawn inputs, so finite differences can check its
            derivatives (False for piecewise-constant ops, kinks and integer outputs).
    """
    name: str
    fx_fn: Callable
    np_fn: Callable
    args: Callable[[np.dtype], st.SearchStrategy]
    dtypes: tuple = FLOATS
    kwargs: tuple = ({},)
    rtol: dict = field(default_factory=dict)
    atol: dict = field(default_factory=dict)
    check_dtype: bool = True
    smooth: bool = True

    def draw_kwargs(self, arrs) -> st.SearchStrategy:
        if callable(self.kwargs):
            return self.kwargs(arrs)
        return st.sampled_from(self.kwargs)

    def tolerance(self, dtype) -> tuple[float, float]:
        name = np.dtype(dtype).name
        default = {"float32": (2e-5, 2e-6), "float16": (1e-2, 1e-3)}.get(name, (1e-11, 1e-12))
        return self.rtol.get(name, default[0]), self.atol.get(name, default[1])


def elements(dtype, lo: float, hi: float):
    """Hypothesis elements of ``dtype`` in ``[lo, hi]`` (no NaN/inf)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(int(max(lo, np.iinfo(dtype).min)), int(min(hi, np.iinfo(dtype).max)))
    width = 32 if dtype == np.float32 else 64
    lo, hi = (float(np.float32(v)) if width == 32 else float(v) for v in (lo, hi))
    return st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False)


def arrays(n: int = 1, *, lo: float = -3.0, hi: float = 3.0, shapes: str = "broadcast",
           min_dims: int = 0, max_dims: int = 3, min_side: int = 0, max_side: int = 4,
           arg_dtypes: tuple | None = None):
    """Strategy factory: ``n`` arrays with values in ``[lo, hi]``.

    ``shapes="broadcast"`` draws mutually broadcastable shapes, ``"same"`` one shared
    shape. ``arg_dtypes`` fixes the dtype of individual arguments (None = the tested one).
    """
    def make(dtype):
        if shapes == "broadcast":
            shape_st = hnp.mutually_broadcastable_shapes(
                num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                max_side=max_side).map(lambda s: s.input_shapes)
        else:
            shape_st = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                        max_side=max_side).map(lambda s: (s,) * n)

        def draw_all(shapes_):
            kinds = arg_dtypes or (None,) * n
            return st.tuples(*[
                hnp.arrays(np.dtype(k or dtype), s, elements=elements(k or dtype, lo, hi))
                for s, k in zip(shapes_, kinds)])
        return shape_st.flatmap(draw_all)
    return make


def fixed(*shapes, lo: float = -3.0, hi: float = 3.0):
    """Strategy factory: arrays of exactly these shapes."""
    def make(dtype):
        return st.tuples(*[hnp.arrays(np.dtype(dtype), s, elements=elements(dtype, lo, hi))
                           for s in shapes])
    return make


def axis_kwargs(*, keepdims: bool = True, multi: bool = True, none: bool = True, **extra):
    """``kwargs`` factory drawing an ``axis`` that fits the first array (and ``keepdims``).

    ``extra`` adds more keyword strategies, e.g. ``ddof=st.integers(0, 1)``.
    """
    def make(arrs):
        nd = arrs[0].ndim
        choices = [st.integers(-nd, nd - 1)] if nd else []
        if multi and nd:
            choices.append(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd).map(tuple))
        if none or not nd:
            choices.append(st.none())
        kw = {"axis": st.one_of(*choices), **extra}
        if keepdims:
            kw["keepdims"] = st.booleans()
        return st.fixed_dictionaries(kw)
    return make
