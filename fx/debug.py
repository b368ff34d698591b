"""Debugging aids: ``fx.debug.print`` and the NaN checks of ``fx.config.debug_nans``.

``print(fmt, *args, **kwargs)`` formats with ``str.format`` and prints the *values* of
its arguments when the computation runs: eagerly, at every call of a ``jit``-compiled
function (never while tracing), once per example under ``vmap`` (as JAX does), and with
primal values under ``grad`` / ``jvp``, where it contributes nothing to derivatives.

With ``fx.config.debug_nans = True`` (or ``FX_DEBUG_NANS=1``), the first primitive whose
*output* holds a NaN raises ``FloatingPointError`` naming the primitive and the user's
line. Only outputs are checked, as in JAX: a NaN made by an earlier primitive has already
raised there, and one that comes from outside (an input array) raises at the first
primitive it flows through. In a backward pass the message names the forward operation
whose pullback produced the NaN (under ``jit``, the generated code checks each result and
names the line where the function was traced; for a staged backward pass that is the line
of the ``grad`` call). While the flag is on, every eager op takes the general path.

Example:
    >>> import fx, fx.numpy as fnp
    >>> from transforms import jit
    >>> @jit
    ... def f(x):
    ...     fx.debug.print("x = {} sum = {s:.1f}", x, s=x.sum())
    ...     return x * 2.0
    >>> y = f(fx.asarray([1.0, 2.0]))
    x = [1. 2.] sum = 3.0
    >>> fx.config.debug_nans = True
    >>> fnp.log(fx.asarray(-1.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FloatingPointError: NaN produced by log at ...
    >>> fx.config.debug_nans = False
"""
from __future__ import annotations

import builtins
import sys
import threading

import numpy as np

from fx import backend, tree
from fx.array import Array, wrap
from fx.config import config
from fx.core import primitive as _primitive
from fx.core import trace as _trace
from fx.core.batching import batch_size, move_to_front
from fx.core.primitive import Primitive
from fx.core.rule_kit import emitter
from fx.core.staging import user_source
from fx.prims.indexing import gather_p

__all__ = ["print", "check_nans"]


# --- print -----------------------------------------------------------------------------------
def print(fmt: str, *args, **kwargs) -> None:  # noqa: A001 (jax.debug.print's name)
    """Print ``fmt.format(*args, **kwargs)`` with the run-time values of the arrays.

    Array leaves of ``args`` / ``kwargs`` (pytrees) are operands of the primitive, so
    every transform sees them; other leaves (strings, numbers) are kept as they are.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from transforms import grad, vmap
        >>> def f(x):
        ...     fx.debug.print("x={x}", x=x)
        ...     return fnp.sin(x)
        >>> vmap(f)(fx.asarray([1.0, 2.0])).shape
        x=1.0
        x=2.0
        (2,)
        >>> grad(f)(fx.asarray(0.0))
        x=0.0
        Array(1., dtype=float32)
    """
    if not isinstance(fmt, str):
        raise TypeError(f"fx.debug.print: the format must be a str, got {type(fmt).__name__}")
    leaves, treedef = tree.flatten((args, kwargs))
    operands, statics = [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, Array) or backend.is_buffer(leaf):
            operands.append(leaf)
        else:
            statics.append((i, leaf))
    debug_print_p.bind(*operands, fmt=fmt, tree=treedef, statics=tuple(statics))


def format_values(fmt: str, spec, *bufs) -> str:
    """The text ``print`` writes, given backend buffers; ``spec = (treedef, statics)``."""
    treedef, statics = spec
    values = iter(wrap(b) if backend.is_buffer(b) else b for b in bufs)  # print as fx.Arrays
    fixed = dict(statics)
    leaves = [fixed[i] if i in fixed else next(values) for i in range(treedef.num_leaves)]
    args, kwargs = tree.unflatten(treedef, leaves)
    return fmt.format(*args, **kwargs)


def _print_values(fmt: str, spec, *bufs) -> None:
    builtins.print(format_values(fmt, spec, *bufs), file=sys.stdout)


def _impl(*bufs, fmt, tree, statics):
    _print_values(fmt, (tree, statics), *bufs)
    return []


def _jvp(primals, tangents, **params):
    debug_print_p.bind(*primals, **params)  # primal values; no tangent to give
    return [], []


def _vjp(cts, outs, primals, marks, **params):
    return [None] * len(primals)  # printing contributes nothing to any cotangent


def _batch(vals, dims, **params):
    """One print per example, in order (as ``jax.debug.print`` under ``vmap``)."""
    front = [v if d is None else move_to_front(v, d) for v, d in zip(vals, dims)]
    for i in range(batch_size(vals, dims)):
        debug_print_p.bind(*[v if d is None else gather_p.bind(v, spec=(i,))
                             for v, d in zip(front, dims)], **params)
    return [], []


@emitter()
def _emit(ctx, eqn, args, out=None):
    """A bare call: ``debug_print('x = {}', spec, a)`` (no result)."""
    fn = ctx.ref(_print_values, "debug_print")
    spec = ctx.ref((eqn.params["tree"], eqn.params["statics"]), "print_spec")
    return f"{fn}({eqn.params['fmt']!r}, {', '.join([spec, *args])})"


debug_print_p = Primitive("debug_print", impl=_impl, abstract_eval=lambda *avals, **params: [],
                          multiple_results=True, effect=True)
debug_print_p.jvp, debug_print_p.vjp, debug_print_p.batch = _jvp, _vjp, _batch
debug_print_p.emit = _emit


# --- debug_nans ------------------------------------------------------------------------------
_pulling = threading.local()  # .entry: (forward op, its user line) while its pullback runs
_checking = False


def _has_nan(x) -> bool:
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind is None:  # a Python number
        return x != x
    return kind in "fc" and bool(np.isnan(x).any())  # CuPy arrays dispatch np.isnan too


def _where_backward() -> str | None:
    entry = getattr(_pulling, "entry", None)
    return None if entry is None else f" in the backward pass of {entry[0]} at {entry[1]}"


def check_nans(value, primitive: str, source: str | None) -> None:
    """Raise ``FloatingPointError`` if the buffer ``value`` (a result of ``primitive``,
    staged at the user's line ``source``) holds a NaN. Called by ``jit``-generated code.

    Example:
        >>> check_nans(np.array([1.0, np.nan]), "div", "model.py:3 (loss)")
        Traceback (most recent call last):
        FloatingPointError: NaN produced by div at model.py:3 (loss) (under jit)
    """
    if _has_nan(value):
        where = _where_backward() or f" at {source or 'an unknown line'}"
        raise FloatingPointError(f"NaN produced by {primitive}{where} (under jit)")


def _check_eager(prim, out) -> None:
    """``fx.core.primitive.eager``'s check, installed while ``debug_nans`` is on."""
    for o in out if prim.multiple_results else (out,):
        if _has_nan(o):
            where = _where_backward() or f" at {user_source(1) or 'an unknown line'}"
            raise FloatingPointError(f"NaN produced by {prim.name}{where}")


def named_pullback(pull, name: str):
    """``pull`` that, while it runs, tells the NaN checks they are in the backward pass of
    the operation ``name`` at the user's current line (reverse mode records its tape
    entries through this only while ``debug_nans`` is on). Inside another pullback (grad of
    grad) the line stays that of the outer forward operation."""
    outer = getattr(_pulling, "entry", None)
    entry = (name, outer[1] if outer is not None else user_source(1) or "an unknown line")

    def pull_named(ct):
        previous = getattr(_pulling, "entry", None)
        _pulling.entry = entry
        try:
            return pull(ct)
        finally:
            _pulling.entry = previous
    return pull_named


def set_nan_checking(on: bool) -> None:
    """Install or remove the eager NaN check (``fx.config.debug_nans``'s setter calls it).

    While on, the ``dynamic_active`` counter of ``fx.core.trace`` is raised by one, so the
    eager fast paths of ``fx.numpy`` (which test only that counter) take ``bind``, where
    ``eager`` checks results; with the flag off nothing on the fast path changes.
    """
    global _checking
    on = bool(on)
    with _trace._active_lock:
        if on == _checking:
            return
        _checking = on
        _trace.dynamic_active += 1 if on else -1
        _primitive.nan_check = _check_eager if on else None


if config.debug_nans:  # FX_DEBUG_NANS=1 at import
    set_nan_checking(True)
