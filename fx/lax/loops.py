"""Structured loops with JAX's ``lax`` semantics: ``scan``, ``fori_loop`` and ``map``.

The loop body is traced once into a graph (``fx.prims.scan.scan_p``), so a loop works
eagerly, under ``jit`` (a plain Python ``for`` loop over the body's generated code),
under ``vmap`` and under differentiation in both modes, to any order.

Example:
    >>> import fx.numpy as fnp
    >>> from fx import lax
    >>> lax.scan(lambda c, x: (c + x, c), 0.0, fnp.arange(1.0, 5.0))
    (Array(10., dtype=float32), Array([0., 1., 3., 6.], dtype=float32))
"""
from __future__ import annotations

import importlib
import operator

import numpy as np

from fx import tree
from fx.array import Array
from fx.config import config
from fx.core.aval import ShapedArray, aval_of
from fx.core.graph import Var
from fx.core.staging import make_graph_flat
from fx.core.trace import Tracer
from fx.creation import asarray
from fx.dtypes import is_weak_scalar, result_type
from fx.prims.scan import scan_p

__all__ = ["scan", "fori_loop", "map"]


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``, stacking the ``y``.

    Semantically (with ``xs`` a pytree of arrays sharing their leading axis)::

        carry, ys = init, []
        for x in xs:                    # reversed(xs) with reverse=True
            carry, y = f(carry, x)
            ys.append(y)
        return carry, stack(ys)         # ys keep their step order either way

    Args:
        f: ``f(carry, x) -> (carry, y)``; the carry keeps its tree structure, shapes and
            dtypes; ``y`` is a pytree of arrays (or None).
        init: the initial carry (pytree). A Python number takes the dtype the body gives
            it, so ``scan(lambda c, x: (c + x, c), 0.0, xs)`` works for any float ``xs``.
        xs: pytree of arrays to scan over (None: nothing, ``length`` steps).
        length: the number of steps; needed when ``xs`` is None, checked otherwise.
        reverse: run the steps from the last one.
        unroll: accepted for JAX compatibility (a positive int or bool). The generated
            loop already calls the body's compiled code directly, so it does not change
            the code or the results.

    Returns:
        ``(final carry, stacked ys)``.

    Raises:
        TypeError: the body changes the carry's structure, a leaf's shape or dtype, or does
            not return a pair.
        ValueError: the leaves of ``xs`` differ in length, or neither ``xs`` nor ``length``
            gives the number of steps.

    Example:
        >>> import fx.numpy as fnp
        >>> from fx import lax
        >>> lax.scan(lambda c, x: (c * x, None), 1.0, fnp.arange(1.0, 5.0))
        (Array(24., dtype=float32), None)
        >>> lax.scan(lambda c, _: (c + 1, c), 0, length=3, reverse=True)[1]
        Array([2, 1, 0], dtype=int32)
    """
    return _scan(f, init, xs, length, reverse, unroll, "scan")


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns ``val``.

    With Python ``int`` bounds (or concrete integer arrays) it is a ``scan`` over the
    index, so it differentiates in both modes; with traced bounds it is a
    ``while_loop`` (forward mode only). The index ``i`` is a weakly typed int32: ``x + i``
    keeps the dtype of a float ``x``.

    Example:
        >>> from fx import lax
        >>> lax.fori_loop(0, 5, lambda i, total: total + i, 0.0)
        Array(10., dtype=float32)
    """
    if not callable(body_fun):
        raise TypeError(f"fori_loop: body_fun must be callable, got {type(body_fun).__name__}")
    lo, hi = _static_int(lower, "lower"), _static_int(upper, "upper")
    if lo is not None and hi is not None:
        info = np.iinfo(config.default_int)
        dtype = config.default_int if info.min <= lo and hi <= info.max else np.int64
        index = asarray(np.arange(lo, max(lo, hi), dtype=dtype))
        carry, _ = _scan(lambda val, i: (body_fun(i, val), None), init_val, index, None,
                         False, 1, "fori_loop", weak_xs=True)
        return carry
    lax = importlib.import_module("fx.lax")
    if not hasattr(lax, "while_loop"):
        raise NotImplementedError("fori_loop with traced bounds needs fx.lax.while_loop, which "
                                  "is not available; use Python int bounds")
    dtype = result_type(lower, upper)
    weak = is_weak_scalar(lower) or getattr(lower, "weak_type", False)
    lower = lower if weak else asarray(lower, dtype)  # a weak index keeps x + i's dtype
    upper = asarray(upper, dtype)

    def cond(state):
        return state[0] < upper

    def body(state):
        i, val = state
        return i + 1, body_fun(i, val)
    return lax.while_loop(cond, body, (lower, init_val))[1]


def map(f, xs):
    """``f`` applied to each slice of ``xs`` along its leading axis, results stacked: a
    ``scan`` without carry (one step at a time, unlike ``vmap``).

    Example:
        >>> import fx.numpy as fnp
        >>> from fx import lax
        >>> lax.map(lambda row: fnp.sum(row ** 2), fnp.ones((3, 2)))
        Array([2., 2., 2.], dtype=float32)
    """
    return _scan(lambda carry, x: (carry, f(x)), (), xs, None, False, 1, "map")[1]


# --- the shared implementation ---------------------------------------------------------------
def _scan(f, init, xs, length, reverse, unroll, name, weak_xs=False):
    if not callable(f):
        raise TypeError(f"{name}: the body must be callable, got {type(f).__name__}")
    if not (isinstance(unroll, (bool, int, np.integer)) and (unroll is True or unroll >= 1)):
        raise ValueError(f"{name}: unroll must be a positive int or a bool, got {unroll!r}")
    init_flat, carry_tree = tree.flatten(init)
    carry = [_leaf(c, name, _where("init", carry_tree, k)) for k, c in enumerate(init_flat)]
    xs_flat, xs_tree = tree.flatten(xs)
    xs_flat = [_leaf(x, name, _where("xs", xs_tree, k)) for k, x in enumerate(xs_flat)]
    length = _length(xs_flat, xs_tree, length, name)
    x_avals = [ShapedArray(aval_of(x).shape[1:], aval_of(x).dtype, weak_xs) for x in xs_flat]
    avals = [aval_of(c) for c in carry]
    for attempt in range(2):
        body, consts, y_tree = _trace_body(f, carry_tree, avals, xs_tree, x_avals, name)
        retrace = False
        for k, (a, v) in enumerate(zip(avals, body.outvars)):
            o = v.aval if type(v) is Var else aval_of(v)
            if a.shape == o.shape and a.dtype == o.dtype:
                continue
            if attempt == 0 and a.weak_type and a.shape == o.shape:  # a Python number's
                avals[k] = ShapedArray(a.shape, o.dtype, o.weak_type)  # dtype: the body's
                carry[k], retrace = asarray(carry[k], o.dtype), True
                continue
            raise TypeError(f"{name}: the carry must keep its shape and dtype, but "
                            f"{_where('carry', carry_tree, k)} enters the body as "
                            f"{a.str_short()} and leaves it as {o.str_short()}")
        if not retrace:
            break
    operands = [asarray(c, a.dtype) if is_weak_scalar(c) else c for c, a in zip(carry, avals)]
    outs = scan_p.bind(*consts, *operands, *xs_flat, body=body, length=length,
                       reverse=bool(reverse), num_consts=len(consts), num_carry=len(carry))
    return (tree.unflatten(carry_tree, outs[:len(carry)]),
            tree.unflatten(y_tree, outs[len(carry):]))


def _trace_body(f, carry_tree, carry_avals, xs_tree, x_avals, name):
    """Stage ``f(carry, x)``; returns ``(body, consts, y treedef)``."""
    n, y_tree = len(carry_avals), []

    def flat(*args):
        out = f(tree.unflatten(carry_tree, list(args[:n])), tree.unflatten(xs_tree, list(args[n:])))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"{name}: the body must return a pair (carry, y), got "
                            f"{type(out).__name__}" + (f" of length {len(out)}" if
                                                       isinstance(out, (tuple, list)) else ""))
        new_flat, new_tree = tree.flatten(out[0])
        if new_tree != carry_tree:
            raise TypeError(f"{name}: the carry must keep its structure, but the body returned "
                            f"{new_tree} for an initial carry of structure {carry_tree}")
        ys, treedef = tree.flatten(out[1])
        y_tree.append(treedef)
        new_flat = [_number_as(c, a, name, _where("carry", carry_tree, k))
                    for k, (c, a) in enumerate(zip(new_flat, carry_avals))]
        return new_flat + [_number_as(y, None, name, _where("y", treedef, k))
                           for k, y in enumerate(ys)]
    body, consts, _ = make_graph_flat(flat, list(carry_avals) + x_avals)
    return body, consts, y_tree[0]


def _number_as(x, aval, name, where):
    """An output leaf as an array: a number takes the carry's dtype when it fits in it."""
    if isinstance(x, Array):
        return x
    if is_weak_scalar(x) and aval is not None and result_type(
            ShapedArray((), aval.dtype), x) == aval.dtype:
        return asarray(x, aval.dtype)
    if is_weak_scalar(x) or isinstance(x, (np.ndarray, np.generic)):
        return asarray(x)
    raise TypeError(f"{name}: {where} returned by the body is a {type(x).__name__}, not an array")


def _leaf(x, name, where):
    """An input leaf: arrays and tracers as they are, Python numbers kept weak, NumPy
    values and nested lists converted."""
    if isinstance(x, Array) or is_weak_scalar(x):
        return x
    try:
        return asarray(x)
    except TypeError:
        raise TypeError(f"{name}: {where} is a {type(x).__name__}, not an array or a "
                        "number") from None


def _length(xs_flat, xs_tree, length, name) -> int:
    if length is not None:
        try:
            length = operator.index(length)
        except TypeError:
            raise TypeError(f"{name}: length must be an int, got {type(length).__name__}") from None
        if length < 0:
            raise ValueError(f"{name}: length must be non-negative, got {length}")
    if not xs_flat:
        if length is None:
            raise ValueError(f"{name}: xs holds no arrays (it is None or an empty pytree), so "
                             "length must be given")
        return length
    for k, x in enumerate(xs_flat):
        if aval_of(x).ndim == 0:
            raise ValueError(f"{name}: {_where('xs', xs_tree, k)} is a scalar; every leaf of "
                             "xs needs a leading axis to scan over")
    lengths = [aval_of(x).shape[0] for x in xs_flat]
    if len(set(lengths)) > 1:
        listing = ", ".join(f"{_where('xs', xs_tree, k)}: {n}" for k, n in enumerate(lengths))
        raise ValueError(f"{name}: the leaves of xs must share their leading axis length, got "
                         f"{listing}")
    if length is not None and length != lengths[0]:
        raise ValueError(f"{name}: length={length} but the leaves of xs have leading axis "
                         f"length {lengths[0]}")
    return lengths[0]


def _where(prefix: str, treedef, k: int) -> str:
    """``carry[0]['h']``: the ``k``-th leaf of ``treedef`` under the name ``prefix``."""
    return prefix + "".join(f"[{p!r}]" for p in treedef.paths()[k])


def _static_int(bound, which: str):
    """A loop bound as a Python int, or None when it is traced."""
    if isinstance(bound, Tracer):
        return None
    if isinstance(bound, Array):
        bound = np.asarray(bound)
    if isinstance(bound, (bool, np.bool_)) or np.ndim(bound) != 0 or \
            not np.issubdtype(np.asarray(bound).dtype, np.integer):
        raise TypeError(f"fori_loop: {which} must be an integer scalar, got {bound!r}")
    return int(bound)
