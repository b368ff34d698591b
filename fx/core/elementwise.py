"""NumPy-style elementwise functions over primitives, with the eager fast path.

``unary(prim)`` / ``binary(prim)`` build the user-facing function (``fnp.add``,
``Array.__add__``). When no transform is active and the operands are plain arrays,
the function calls the backend directly: one check of a global, one backend call,
one wrap. Anything else (Python scalars, lists, tracers, mixed dtypes for float-only
ops, backend errors) takes the general path: convert, promote, ``bind``.

Example:
    >>> import fx.numpy as fnp
    >>> fnp.add(fnp.ones(2, dtype="int32"), 1.5)     # weak float lifts int32 to float32
    Array([2.5, 2.5], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from fx import dtypes
from fx.array import Array, wrap
from fx.core import trace as _trace
from fx.core.primitive import bind
from fx.creation import asarray, scalar_buffer
from fx.prims.elementwise import convert_element_type_p


def as_operand(x):
    """Arrays, tracers and Python scalars pass; lists, tuples and buffers become Arrays."""
    if isinstance(x, Array) or dtypes.is_weak_scalar(x):
        return x
    return asarray(x)


def cast(x, dtype):
    """``x`` with dtype ``dtype``: Python scalars become backend scalars, arrays convert."""
    if dtypes.is_weak_scalar(x):
        return scalar_buffer(x, dtype)
    if x.dtype == dtype:
        return x
    return bind(convert_element_type_p, x, new_dtype=dtype)


# Python scalar type -> array dtype kinds that absorb it unchanged (weak typing).
_ABSORBS = {int: "iufc", float: "fc"}


def promote(args, inexact: bool = False):
    """Operands converted to their common dtype (float-only ops lift ints to floats)."""
    first = args[0]
    if isinstance(first, Array):  # the common cases first: no promotion needed
        dtype = first.dtype
        if not inexact or dtype.kind in "fc":
            if all(isinstance(a, Array) and a.dtype == dtype for a in args):
                return args
            if len(args) == 2 and dtype.kind in _ABSORBS.get(type(args[1]), ""):
                return [first, scalar_buffer(args[1], dtype)]  # x * 2.0 keeps x's dtype
    args = [as_operand(a) for a in args]
    dtype = dtypes.result_type(*args)
    if inexact:
        dtype = dtypes.to_inexact(dtype)
    return [cast(a, dtype) for a in args]


def _fast_kinds(prim, inexact: bool) -> str:
    """dtype kinds the fast path may hand to the backend unchanged: those the primitive
    accepts (its shape rule's ``kinds``), and only floats for float-only functions."""
    return "".join(k for k in prim.abstract_eval.kinds if not inexact or k in "fc")


def unary(prim, inexact: bool = False, doc: str = ""):
    """The user-facing function of a one-operand elementwise primitive."""
    impl = prim.impl
    kinds = _fast_kinds(prim, inexact)

    def fn(x, /):
        if type(x) is Array:
            if not _trace.dynamic_active and x._v.dtype.kind in kinds:
                try:
                    return wrap(impl(x._v))
                except Exception:
                    pass  # the general path below raises the clear error
        elif isinstance(x, Array) and x.dtype.kind in kinds:  # a tracer that needs no cast
            return bind(prim, x)
        return bind(prim, *promote((x,), inexact))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc or f"Elementwise ``{prim.name}`` (NumPy semantics)."
    return fn


# Python scalar type -> array dtype kinds for which NumPy 2's weak-scalar rule (NEP 50)
# already gives fx's result dtype, so the scalar can go to the backend untouched.
_WEAK_FAST = {float: "fc", int: "iufc"}


def binary(prim, inexact: bool = False, doc: str = ""):
    """The user-facing function of a two-operand broadcasting elementwise primitive."""
    impl = prim.impl
    kinds = _fast_kinds(prim, inexact)
    weak = {t: "".join(k for k in ks if k in kinds) for t, ks in _WEAK_FAST.items()}

    def fn(x, y, /):
        if not _trace.dynamic_active:
            tx, ty = type(x), type(y)
            if tx is Array:
                if ty is Array:
                    fast = x._v.dtype.kind in kinds
                elif isinstance(y, np.generic):  # a backend scalar: typed, as in NumPy
                    fast = x._v.dtype.kind in kinds and y.dtype.kind in kinds
                else:
                    fast = x._v.dtype.kind in weak.get(ty, "")
            elif ty is Array:
                fast = y._v.dtype.kind in weak.get(tx, "") or (
                    isinstance(x, np.generic) and x.dtype.kind in kinds
                    and y._v.dtype.kind in kinds)
            else:
                fast = False
            if fast:
                try:
                    return wrap(impl(x._v if tx is Array else x, y._v if ty is Array else y))
                except Exception:
                    pass  # the general path below raises the clear error
        return bind(prim, *promote((x, y), inexact))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc or f"Elementwise ``{prim.name}`` with broadcasting (NumPy semantics)."
    return fn
