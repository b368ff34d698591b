"""L-BFGS (Optax's ``lbfgs`` and ``scale_by_lbfgs``) with a Wolfe line search.

The history of the last ``memory_size`` parameter and gradient differences lives in
fixed-size buffers (leaves of shape ``(memory_size, *param.shape)``), so the state is a
pytree of arrays. The line search needs the loss: call
``update(grads, state, params, value=loss, value_fn=loss_fn)``.

Example:
    >>> from optim.base import apply_updates
    >>> from optim.lbfgs import lbfgs
    >>> from transforms import value_and_grad
    >>> f = lambda x: fnp.sum((x - 1.0) ** 2)
    >>> opt = lbfgs()
    >>> x = fnp.zeros(2)
    >>> state = opt.init(x)
    >>> for _ in range(2):
    ...     value, grad = value_and_grad(f)(x)
    ...     updates, state = opt.update(grad, state, x, value=value, value_fn=f)
    ...     x = apply_updates(x, updates)
    >>> x
    Array([1., 1.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import fx.numpy as fnp
from fx import tree
from optim.base import GradientTransformation, check_range, check_same_structure, identity
from optim.linesearch import scale_by_zoom_linesearch
from optim.tree_math import safe_increment, tree_vdot, zero_count, zeros_like


class ScaleByLBFGSState(NamedTuple):
    """``count``: steps taken; ``params`` and ``updates``: the params and gradients of the
    last step; ``diff_params_memory`` / ``diff_updates_memory``: the last ``memory_size``
    differences ``s_i = x_{i+1} - x_i`` / ``y_i = g_{i+1} - g_i`` (slot ``i % memory_size``);
    ``weights_memory``: ``rho_i = 1 / <y_i, s_i>`` (0 for an empty slot or a pair with
    ``<y_i, s_i> <= 0``, which is thereby skipped)."""
    count: Any
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: Any


def _safe_div(num, den, default):
    ok = den > 0
    return fnp.where(ok, num / fnp.where(ok, den, 1), default)


def _precondition(updates, dws, dus, rhos, identity_scale, memory_idx, memory_size):
    """The two-loop recursion (Nocedal & Wright, Alg. 7.4): ``H_k @ updates``."""
    slots = [(memory_idx + j) % memory_size for j in range(memory_size)]  # oldest first
    q, alphas = updates, []
    for i in reversed(slots):
        dw, du = tree.map(lambda x, i=i: x[i], dws), tree.map(lambda x, i=i: x[i], dus)
        alpha = rhos[i] * tree_vdot(dw, q)
        q = tree.map(lambda v, u, alpha=alpha: v - (alpha * u).astype(v.dtype), q, du)
        alphas.append(alpha)
    r = tree.map(lambda v: (identity_scale * v).astype(v.dtype), q)
    for i, alpha in zip(slots, reversed(alphas)):
        dw, du = tree.map(lambda x, i=i: x[i], dws), tree.map(lambda x, i=i: x[i], dus)
        beta = rhos[i] * tree_vdot(du, r)
        r = tree.map(lambda v, w, c=alpha - beta: v + (c * w).astype(v.dtype), r, dw)
    return r


def scale_by_lbfgs(memory_size: int = 10,
                   scale_init_precond: bool = True) -> GradientTransformation:
    """The L-BFGS direction ``H_k g_k`` (not negated) from the last ``memory_size`` pairs.

    ``H_0 = gamma I`` with ``gamma = <s, y> / <y, y>`` of the latest pair if
    ``scale_init_precond`` (and ``min(1, 1 / ||g_0||)`` at the first step), else 1.

    Raises:
        ValueError: for ``memory_size < 1``, params without leaves (in ``init``), or
            ``update`` without params.

    Example:
        >>> t = scale_by_lbfgs(memory_size=3)
        >>> t.init(fnp.zeros(2)).diff_params_memory.shape
        (3, 2)
    """
    check_range("memory_size", memory_size, low=1)

    def init(params):
        leaves = tree.leaves(params)
        if not leaves:
            raise ValueError(f"scale_by_lbfgs (and lbfgs) need at least one parameter array; "
                             f"got a tree without leaves: {tree.structure(params)}")
        dtype = fnp.result_type(*leaves)
        memory = tree.map(lambda p: fnp.zeros((memory_size,) + p.shape, p.dtype), params)
        return ScaleByLBFGSState(count=zero_count(), params=zeros_like(params),
                                 updates=zeros_like(params), diff_params_memory=memory,
                                 diff_updates_memory=memory,
                                 weights_memory=fnp.zeros((memory_size,), dtype))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("scale_by_lbfgs needs params: call update(grads, state, params)")
        check_same_structure(grads, state.updates, "grads", "state")
        check_same_structure(params, state.params, "params", "state")
        count = state.count
        memory_idx, prev_idx = count % memory_size, (count - 1) % memory_size
        s = tree.map(lambda p, q: p - q, params, state.params)
        y = tree.map(lambda g, h: g - h, grads, state.updates)
        sy = tree_vdot(y, s)
        started = count > 0

        def store(mem, new):
            return fnp.where(started, mem.at[prev_idx].set(new), mem)
        dws = tree.map(store, state.diff_params_memory, s)
        dus = tree.map(store, state.diff_updates_memory, y)
        weight = _safe_div(fnp.ones_like(sy), sy, 0.0).astype(state.weights_memory.dtype)
        rhos = store(state.weights_memory, weight)
        if scale_init_precond:
            gamma = fnp.where(sy > 0, _safe_div(sy, tree_vdot(y, y), 1.0), 1.0)
            first = fnp.minimum(1.0, _safe_div(1.0, fnp.sqrt(tree_vdot(grads, grads)), 1.0))
            identity_scale = fnp.where(started, gamma, first)
        else:
            identity_scale = 1.0
        direction = _precondition(grads, dws, dus, rhos, identity_scale, memory_idx,
                                  memory_size)
        return direction, ScaleByLBFGSState(
            count=safe_increment(count), params=params, updates=grads,
            diff_params_memory=dws, diff_updates_memory=dus, weights_memory=rhos)
    return GradientTransformation(init, update)


_DEFAULT_LINESEARCH = scale_by_zoom_linesearch(max_linesearch_steps=20)


def lbfgs(learning_rate: float | Callable | None = None, memory_size: int = 10,
          scale_init_precond: bool = True,
          linesearch: GradientTransformation | None = _DEFAULT_LINESEARCH
          ) -> GradientTransformation:
    """L-BFGS: ``x <- x - a_k * lr * H_k g_k``, with ``a_k`` from ``linesearch``.

    The update is ``update(grads, state, params, *, value=None, grad=None, value_fn=None)``:
    ``value`` is the loss at ``params`` (``grad`` defaults to ``grads``) and ``value_fn:
    params -> loss`` lets the line search re-evaluate it (both required unless
    ``linesearch`` is None). The state is ``(ScaleByLBFGSState, linesearch state)``; it
    stores the loss and gradient at the new params, which
    ``optim.linesearch.value_and_grad_from_state`` reuses.

    Args:
        learning_rate: a number or a schedule ``count -> lr``; None means 1 (the line
            search picks the step).
        memory_size: how many past pairs approximate the inverse Hessian.
        scale_init_precond: scale the initial inverse Hessian (see ``scale_by_lbfgs``).
        linesearch: a zoom (strong Wolfe, the default: 20 evaluations at most) or
            backtracking line search from ``optim.linesearch``, or None for fixed steps.

    Raises:
        ValueError: for a negative learning rate or ``memory_size < 1`` (at construction),
            a missing ``value_fn`` or mismatched trees (in ``update``).

    Example:
        >>> opt = lbfgs(memory_size=5)
        >>> [type(s).__name__ for s in opt.init(fnp.zeros(2))]
        ['ScaleByLBFGSState', 'ScaleByZoomLinesearchState']
    """
    check_range("learning_rate", learning_rate if learning_rate is not None else 1.0, low=0)
    base = scale_by_lbfgs(memory_size, scale_init_precond)
    ls = identity() if linesearch is None else linesearch

    def init(params):
        return (base.init(params), ls.init(params))

    def update(grads, state, params=None, *, value=None, grad=None, value_fn=None):
        if not isinstance(state, tuple) or len(state) != 2:
            raise ValueError(f"lbfgs got a state that is not (ScaleByLBFGSState, linesearch "
                             f"state): {type(state).__name__}")
        lb_state, ls_state = state
        count = lb_state.count
        direction, lb_state = base.update(grads, lb_state, params)
        lr = 1.0 if learning_rate is None else (
            learning_rate(count) if callable(learning_rate) else learning_rate)
        direction = tree.map(lambda d: (-lr * d).astype(d.dtype), direction)
        if linesearch is None:
            return direction, (lb_state, ls_state)
        updates, ls_state = ls.update(direction, ls_state, params, value=value,
                                      grad=grads if grad is None else grad, value_fn=value_fn)
        return updates, (lb_state, ls_state)
    return GradientTransformation(init, update)
