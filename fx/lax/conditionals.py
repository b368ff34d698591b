"""Structured control flow: ``cond``, ``switch`` and ``while_loop`` (JAX's semantics).

The functions given to them are traced once per call into sub-graphs (so a Python side
effect in them runs once, not once per step), and the call becomes one ``cond_p`` or
``while_p`` primitive: it works eagerly, under ``jit`` (as a Python ``if`` / ``while`` in
the generated code), under ``vmap`` (batched predicates too) and under differentiation.
Values the functions close over, traced ones included, become operands of the
primitive, so ``grad`` sees them.

Differentiation: ``cond`` and ``switch`` in both modes, to any order. ``while_loop`` in
forward mode; in reverse mode only with ``max_steps=N`` (see ``while_loop``), which JAX
does not offer.

Example:
    >>> from fx import lax
    >>> lax.cond(fx.asarray(2.0) > 1, lambda x: x * 10, lambda x: x, fx.asarray(2.0))
    Array(20., dtype=float32)
    >>> lax.while_loop(lambda c: c < 10, lambda c: c * 2, 1)
    Array(16, dtype=int32)
"""
from __future__ import annotations

import operator

from fx import tree
from fx.array import Array
from fx.core import trace as _trace
from fx.core.aval import ShapedArray, aval_of
from fx.core.elementwise import as_operand, cast
from fx.core.staging import make_graph_flat
from fx.dtypes import result_type
from fx.prims.cond import cond_p, join, out_avals
from fx.prims.while_loop import while_p

__all__ = ["cond", "switch", "while_loop"]


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one primitive.

    Under a transform (``jit``, ``grad``, ``vmap``, ...) both branches are traced (their
    outputs must agree in tree structure, shapes and dtypes; a Python number output
    adopts the other branch's dtype) and only the chosen one runs; under ``vmap`` with a
    batched ``pred`` both run and the results are selected per example, as in JAX.
    Eagerly (no transform active) the chosen branch is simply called, which is as fast
    as a Python ``if``; the other branch is then not traced, so a disagreement between
    the branches shows up under the first transform.

    Args:
        pred: a scalar bool, or a scalar number (true when non-zero); may be traced.
        true_fun, false_fun: functions of ``*operands`` (pytrees of arrays).
        operands: the arguments of the branches.

    Raises:
        TypeError: for a non-scalar or complex ``pred``, or branches whose outputs differ.

    Example:
        >>> from transforms import grad, jit
        >>> f = lambda x: lax.cond(x > 0, lambda v: v ** 2, lambda v: -v, x)
        >>> f(3.0), jit(f)(-2.0), grad(f)(3.0)
        (Array(9., dtype=float32), Array(2., dtype=float32), Array(6., dtype=float32))
    """
    index = _predicate(pred)
    return _branch_call("cond", index, (false_fun, true_fun), ("false_fun", "true_fun"),
                        operands)


def switch(index, branches, *operands):
    """``branches[index](*operands)``, with ``index`` clamped into ``[0, len(branches) - 1]``
    as in JAX; the branches' outputs must agree as in ``cond``.

    Example:
        >>> fns = [lambda x: x + 1, lambda x: x * 10, lambda x: -x]
        >>> [int(lax.switch(i, fns, fx.asarray(4))) for i in (-3, 0, 1, 2, 7)]
        [5, 5, 40, -4, -4]
    """
    branches = tuple(branches)
    if not branches:
        raise ValueError("switch: branches must be a non-empty sequence of functions")
    index = as_operand(index)
    aval = aval_of(index)
    if aval.shape != () or aval.dtype.kind not in "iu":
        raise TypeError(f"switch: index must be an integer scalar, got {aval.str_short()}")
    if len(branches) == 1:
        _check_callables("switch", branches, [f"branch {i}" for i in range(1)])
        return branches[0](*operands)
    last = len(branches) - 1
    if isinstance(index, int):
        index = min(max(index, 0), last)
    else:
        index = loaded_numpy().clip(index, 0, last)
    return _branch_call("switch", index, branches, [f"branch {i}" for i in range(len(branches))],
                        operands)


def while_loop(cond_fun, body_fun, init_val, *, max_steps=None):
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``; return the last ``val``.

    The carry ``val`` (a pytree) must keep its structure, shapes and dtypes; a Python
    number in ``init_val`` takes the dtype the body gives it (``0`` with a float body
    becomes a float). Equivalent to::

        val = init_val
        while cond_fun(val):
            val = body_fun(val)

    **Bounded loops and reverse mode.** With ``max_steps=N`` the loop also stops after N
    steps, whatever ``cond_fun`` says (it never runs more than N steps, and stops as
    soon as ``cond_fun`` is false). Such a loop is differentiable in reverse mode
    (``grad``, ``vjp``, ``jacrev``), which an unbounded one is not (as in JAX): the
    backward pass runs the loop again, storing the carry before each step (memory for N
    carries, allocated up front), then pulls the cotangent back through the body's vjp
    over the steps actually taken, last to first. The gradient is that of the unrolled
    loop. This is what JAX users write ``fori_loop`` / ``scan`` plus masking for; pick N
    as a true bound (a tight one saves memory). Reverse-of-reverse (``grad`` of ``grad``)
    stores N carries per step of the outer loop; ``hessian`` (forward over reverse)
    does not.

    Forward mode (``jvp``, ``jacfwd``) works with or without a bound. Under ``vmap`` a
    batched condition runs until every example is done, freezing finished ones.

    Args:
        cond_fun: carry -> bool scalar.
        body_fun: carry -> carry.
        init_val: the initial carry (pytree of arrays or numbers).
        max_steps: None (unbounded) or an int N >= 0, the most steps to run.

    Raises:
        TypeError: if ``body_fun`` changes the carry's structure, a leaf's shape or dtype
            (the leaf is named), or ``cond_fun`` does not return a bool scalar.
        ValueError: in reverse-mode differentiation without ``max_steps``.

    Example:
        >>> from transforms import grad
        >>> lax.while_loop(lambda c: c < 10, lambda c: c + 1, 0)
        Array(10, dtype=int32)
        >>> def poly(x):  # x ** 8 by repeated squaring, stopping early past 100
        ...     return lax.while_loop(lambda c: (c[1] < 3) & (c[0] < 100),
        ...                           lambda c: (c[0] * c[0], c[1] + 1), (x, 0),
        ...                           max_steps=3)[0]
        >>> poly(2.0), grad(poly)(2.0)        # 2 -> 4 -> 16 -> 256: d(x^8)/dx = 8 x^7
        (Array(256., dtype=float32), Array(1024., dtype=float32))
        >>> poly(20.0), grad(poly)(20.0)      # stops after one step: x ** 2
        (Array(400., dtype=float32), Array(40., dtype=float32))
    """
    max_steps = _bound(max_steps)
    _check_callables("while_loop", (cond_fun, body_fun), ("cond_fun", "body_fun"))
    init, in_tree = tree.flatten(init_val)
    init = [as_operand(x) for x in init]
    body_g, body_c, avals = _stage_body(body_fun, in_tree, [aval_of(x) for x in init])
    cond_g, cond_c, out_tree = make_graph_flat(
        lambda *xs: cond_fun(tree.unflatten(in_tree, list(xs))), avals)
    got = out_avals(cond_g)
    if not out_tree.is_leaf() or got[0].shape != () or got[0].dtype.kind != "b":
        shown = tree.unflatten(out_tree, got)
        raise TypeError(f"while_loop: cond_fun must return a bool scalar, got {shown}")
    init = [x if aval_of(x).dtype == a.dtype else cast(x, a.dtype) for x, a in zip(init, avals)]
    outs = while_p.bind(*cond_c, *body_c, *init, cond_graph=cond_g, body_graph=body_g,
                        cond_nconsts=len(cond_c), body_nconsts=len(body_c), max_steps=max_steps,
                        save=False)
    return tree.unflatten(in_tree, outs)


# --- helpers --------------------------------------------------------------------------------
def loaded_numpy():
    import fx.numpy as fnp  # fx.numpy imports fx.lax (this module) while it loads
    return fnp


def _check_callables(op, funs, names):
    for f, name in zip(funs, names):
        if not callable(f):
            raise TypeError(f"{op}: {name} must be callable, got {type(f).__name__}")


def _predicate(pred):
    """``pred`` as a bool scalar (a number is true when non-zero)."""
    pred = as_operand(pred)
    aval = aval_of(pred)
    if aval.shape != () or aval.dtype.kind not in "biuf":
        raise TypeError(f"cond: pred must be a scalar bool or number, got {aval.str_short()}"
                        + ("; for an elementwise choice use fnp.where" if aval.shape else ""))
    return pred if aval.dtype.kind == "b" else pred != 0


def _branch_call(op, index, funs, names, operands):
    _check_callables(op, funs, names)
    ops, in_tree = tree.flatten(operands)
    ops = [as_operand(x) for x in ops]
    if not _trace.active:  # nothing is traced: a plain call of the chosen branch
        out = funs[int(index)](*tree.unflatten(in_tree, ops))
        if all(type(x) is Array for x in tree.leaves(out)):
            return out  # (a Python number output takes its dtype from the other branches)
    avals = [aval_of(x) for x in ops]

    def stage(f, casts=None):
        out_tree = []

        def flat(*xs):
            leaves, t = tree.flatten(f(*tree.unflatten(in_tree, list(xs))))
            out_tree.append(t)
            return leaves if casts is None else [x if d is None else cast(x, d)
                                                 for x, d in zip(leaves, casts)]
        graph, consts, _ = make_graph_flat(flat, avals)
        return graph, consts, out_tree[0]
    staged = [stage(f) for f in funs]
    types = [tree.unflatten(t, out_avals(g)) for g, _, t in staged]
    for k, (g, _, t) in enumerate(staged[1:], 1):
        if t != staged[0][2] or any(a.shape != b.shape for a, b in
                                    zip(out_avals(g), out_avals(staged[0][0]))):
            _mismatch(op, names, types, 0, k)
    columns = list(zip(*(out_avals(g) for g, _, _ in staged)))
    targets = [result_type(*col) for col in columns]
    for k, (g, _, _) in enumerate(staged):
        casts = []
        for j, (a, target) in enumerate(zip(out_avals(g), targets)):
            if a.dtype != target and not a.weak_type:
                _mismatch(op, names, types, k, next(i for i, b in enumerate(columns[j])
                                                    if b.dtype != a.dtype))
            casts.append(None if a.dtype == target else target)
        if any(c is not None for c in casts):
            staged[k] = stage(funs[k], casts)
    graphs, consts = join([(g, c) for g, c, _ in staged])
    outs = cond_p.bind(index, *consts, *ops, branches=graphs)
    return tree.unflatten(staged[0][2], outs)


def _mismatch(op, names, types, i, k):
    i, k = (max(i, k), min(i, k)) if op == "cond" else (min(i, k), max(i, k))  # true_fun first
    raise TypeError(f"{op}: the branches must return the same tree structure, shapes and "
                    f"dtypes, but {names[i]} returned {types[i]} and {names[k]} returned "
                    f"{types[k]}")


def _bound(max_steps):
    if max_steps is None:
        return None
    if isinstance(max_steps, bool):
        raise TypeError("while_loop: max_steps must be None or an int, got a bool")
    try:
        max_steps = operator.index(max_steps)
    except TypeError:
        raise TypeError("while_loop: max_steps must be None or an int, got "
                        f"{type(max_steps).__name__}") from None
    if max_steps < 0:
        raise ValueError(f"while_loop: max_steps must be >= 0, got {max_steps}")
    return max_steps


def _leaf(in_tree, j) -> str:
    return "carry" + "".join(f"[{k!r}]" for k in in_tree.paths()[j])


def _stage_body(body_fun, in_tree, avals):
    """Stage ``body_fun`` until the carry types are stable: a weakly typed init leaf
    takes the body's dtype, a weakly typed body output is cast to the carry's; any other
    change is an error naming the leaf. Returns ``(graph, consts, carry avals)``."""
    casts = [None] * len(avals)
    for _ in range(2 * len(avals) + 2):
        def flat(*xs, casts=tuple(casts)):
            out = body_fun(tree.unflatten(in_tree, list(xs)))
            leaves, out_tree = tree.flatten(out)
            if out_tree != in_tree:
                raise TypeError(f"while_loop: body_fun must return a carry with the structure "
                                f"of init_val, {in_tree}, but returned {out_tree}")
            return [x if d is None else cast(x, d) for x, d in zip(leaves, casts)]
        graph, consts, _ = make_graph_flat(flat, avals)
        new_avals, new_casts = [], []
        for j, (a, o) in enumerate(zip(avals, out_avals(graph))):
            target = result_type(a, o)
            if a.shape != o.shape or (target != a.dtype and not a.weak_type
                                      or target != o.dtype and not o.weak_type):
                raise TypeError(f"while_loop: body_fun changed {_leaf(in_tree, j)} from "
                                f"{a.str_short()} to {o.str_short()}; the carry must keep its "
                                "shape and dtype (cast in body_fun, or give init_val that type)")
            new_avals.append(ShapedArray(a.shape, target, a.weak_type and o.weak_type))
            new_casts.append(casts[j] if o.dtype == target else target)
        if new_avals == avals and new_casts == casts:
            return graph, consts, avals
        avals, casts = new_avals, new_casts
    raise AssertionError("while_loop: the carry types did not settle")  # pragma: no cover
