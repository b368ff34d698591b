"""User-defined derivative rules: ``custom_jvp`` and ``custom_vjp``.

A decorated function runs as itself unless a differentiating trace sees it: the JVP
trace then applies the user's rule in place of differentiating the body, and reverse
mode's tape linearizes that rule. Under reverse mode a ``custom_vjp`` function runs its
``fwd`` and puts ``bwd`` on the tape.

Forward mode (``jvp``, ``jacfwd``, ``linearize``) of a ``custom_vjp`` function falls
back to differentiating the original function, with a warning, instead of refusing as
JAX does: the result is still the true derivative whenever ``bwd`` is. (``hessian`` is
forward-over-reverse: its forward pass differentiates ``bwd``, with no fallback needed.)

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import custom_jvp, jvp
    >>> @custom_jvp
    ... def softplus(x):
    ...     return fnp.logaddexp(x, 0.0)
    >>> @softplus.defjvp
    ... def softplus_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return softplus(x), t / (1 + fnp.exp(-x))
    >>> jvp(softplus, (0.0,), (1.0,))[1]
    Array(0.5, dtype=float32)
"""
from __future__ import annotations

import functools
import warnings

from fx import tree
from fx.array import Array, wrap
from fx.backend import is_buffer
from fx.core import trace as _trace
from fx.core.ad import instantiate
from fx.core.aval import aval_of
from fx.core.graph import Var, eval_graph
from fx.core.primitive import Primitive
from fx.core.rule_kit import emitter
from fx.core.staging import make_graph_flat
from fx.creation import asarray
from fx.dtypes import is_weak_scalar
from transforms.compiler.passes import optimize


class _CustomRule:
    """A function with a user-defined derivative rule; ``__call__`` runs the function
    itself, or, under a transform, hands the call to the top trace's ``process``."""

    process = ""   # the Trace method that applies the rule
    define = ""    # how to define the rule, for the error message

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun

    def has_rule(self) -> bool:
        raise NotImplementedError

    def __call__(self, *args):
        if not self.has_rule():
            raise TypeError(f"{type(self).__name__} function {self.__name__} has no rule: "
                            f"define one with {self.define.format(self.__name__)}")
        top = _trace.find_top_trace(tree.leaves(args)) if _trace.active else None
        if top is None:
            return self.fun(*args)
        _check_leaves(self, args)
        return getattr(top, self.process)(self, args)


class custom_jvp(_CustomRule):
    """Give ``fun`` a forward-mode rule ``jvp(primals, tangents) -> (out, out_tangent)``.

    The rule must be linear in ``tangents``; reverse mode transposes it, so one rule
    serves ``jvp``, ``grad`` and everything built on them.
    """

    process, define = "process_custom_jvp", "@{}.defjvp"

    def __init__(self, fun):
        super().__init__(fun)
        self.jvp = None

    def has_rule(self) -> bool:
        return self.jvp is not None

    def defjvp(self, jvp):
        """Set the rule (usable as a decorator); returns the rule."""
        self.jvp = jvp
        return jvp


class custom_vjp(_CustomRule):
    """Give ``fun`` a reverse-mode rule: ``fwd(*args) -> (out, residuals)`` and
    ``bwd(residuals, out_cotangent) -> tuple of one cotangent per argument`` (``None``
    for an argument that gets none). Residuals may be any pytree of arrays.
    """

    process, define = "process_custom_vjp", "{}.defvjp(fwd, bwd)"

    def __init__(self, fun, *, warn_forward: bool = True):
        super().__init__(fun)
        self.fwd, self.bwd, self.warn_forward = None, None, warn_forward

    def has_rule(self) -> bool:
        return self.fwd is not None

    def defvjp(self, fwd, bwd) -> None:
        self.fwd, self.bwd = fwd, bwd

    def warn_fallback(self) -> None:
        if self.warn_forward:
            warnings.warn(f"forward-mode differentiation of the custom_vjp function "
                          f"{self.__name__} differentiates its original definition; the custom "
                          "rule applies in reverse mode only", stacklevel=4)


# --- helpers for the traces that apply the rules ----------------------------------------------
def _check_leaves(fn, args) -> None:
    """Under a transform, every argument leaf must be an array or a number."""
    for i, leaf in enumerate(tree.leaves(args)):
        if not (isinstance(leaf, Array) or is_weak_scalar(leaf) or is_buffer(leaf)):
            raise TypeError(f"{type(fn).__name__} function {fn.__name__}: argument leaf {i} is "
                            f"a {type(leaf).__name__}; under a transform the arguments must be "
                            "arrays or numbers (close over other values, e.g. with "
                            "functools.partial, or use checkpoint's static_argnums)")


def apply_jvp_rule(fn, in_tree, primals, tangents):
    """Call a ``custom_jvp`` rule on flat primals and tangents (``Zero`` allowed).

    Returns ``(flat outputs, flat output tangents, output treedef)``.
    """
    pair = fn.jvp(tree.unflatten(in_tree, list(primals)),
                  tree.unflatten(in_tree, [instantiate(t) for t in tangents]))
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"custom_jvp {fn.__name__}: the rule must return a pair (primal_out, "
                        f"tangent_out), got {type(pair).__name__}"
                        + (f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else ""))
    out, out_t = pair
    out_flat, out_tree = tree.flatten(out)
    t_flat, t_tree = tree.flatten(out_t)
    if t_tree != out_tree:
        raise TypeError(f"custom_jvp {fn.__name__}: the rule returned tangents with structure "
                        f"{t_tree} for outputs with structure {out_tree}")
    for i, (o, t) in enumerate(zip(out_flat, t_flat)):
        if aval_of(o).shape != aval_of(t).shape or aval_of(o).dtype != aval_of(t).dtype:
            raise TypeError(f"custom_jvp {fn.__name__}: output {i} is "
                            f"{aval_of(o).str_short()} but the rule's tangent for it is "
                            f"{aval_of(t).str_short()}; they must match in shape and dtype")
    return out_flat, t_flat, out_tree


def bwd_cotangents(fn, in_tree, in_avals, out_tree, res, cts) -> list:
    """Call a ``custom_vjp`` function's ``bwd``; one flat cotangent per input (None: zero),
    each checked against its input's shape and dtype."""
    in_cts = fn.bwd(res, tree.unflatten(out_tree, [instantiate(c) for c in cts]))
    n_args = len(in_tree.children())
    if not isinstance(in_cts, (tuple, list)) or len(in_cts) != n_args:
        raise TypeError(f"custom_vjp {fn.__name__}: bwd must return a tuple with one cotangent "
                        f"per argument ({n_args}), got {type(in_cts).__name__}"
                        + (f" of length {len(in_cts)}" if isinstance(in_cts, (tuple, list))
                           else ""))
    flat = []
    for arg_tree, ct in zip(in_tree.children(), in_cts):
        if ct is None:
            flat.extend([None] * arg_tree.num_leaves)
            continue
        leaves, ct_tree = tree.flatten(ct)
        if ct_tree != arg_tree:
            raise TypeError(f"custom_vjp {fn.__name__}: bwd returned a cotangent with "
                            f"structure {ct_tree} for an argument with structure {arg_tree}")
        flat.extend(leaves)
    for i, (ct, aval) in enumerate(zip(flat, in_avals)):
        if ct is not None and not aval.weak_type and (aval_of(ct).shape != aval.shape or (
                aval_of(ct).dtype != aval.dtype and not aval_of(ct).weak_type)):
            raise TypeError(f"custom_vjp {fn.__name__}: bwd returned a {aval_of(ct).str_short()} "
                            f"cotangent for input leaf {i}, which is {aval.str_short()}; they "
                            "must match in shape and dtype")
    return [ct if ct is None or aval.weak_type or aval_of(ct).dtype == aval.dtype
            else asarray(ct, aval.dtype) for ct, aval in zip(flat, in_avals)]


# --- custom functions under jit: a call primitive that keeps the rule -----------------------------
def stage_custom(trace, fn, args):
    """Record a call of ``fn`` (a custom_jvp/custom_vjp function) in a staged graph.

    The equation carries the staged body (what the compiled code runs) and ``fn`` itself:
    when the graph is evaluated under a transform (``grad(jit(f))``), binding it hands
    ``fn`` back to that trace, which applies the user's rule.
    """
    flat, in_tree = tree.flatten(args)
    tracers = [trace.full_raise(x) for x in flat]
    body, consts, out_tree = make_graph_flat(
        lambda *xs: fn.fun(*tree.unflatten(in_tree, list(xs))), [t.aval for t in tracers])
    params = dict(fn=fn, in_tree=in_tree, out_tree=out_tree, body=body, n_consts=len(consts))
    operands = [trace.full_raise(c) for c in consts] + tracers
    return tree.unflatten(out_tree, trace.process_primitive(custom_call_p, operands, params))


def _custom_call_abstract(*avals, fn, in_tree, out_tree, body, n_consts):
    return [v.aval if isinstance(v, Var) else aval_of(v) for v in body.outvars]


def _custom_call_impl(*args, fn, in_tree, out_tree, body, n_consts):
    return [asarray(o)._buffer() for o in eval_graph(body, [wrap(a) for a in args])]


def _custom_call_under(top, args, params):
    """Under a transform the function is called again, so the trace applies its rule."""
    fn, in_tree = params["fn"], params["in_tree"]
    out = getattr(top, fn.process)(fn, tree.unflatten(in_tree, list(args[params["n_consts"]:])))
    return tree.leaves(out)


@emitter()
def _custom_call_emit(ctx, eqn, args, out=None):
    body = ctx.function(optimize(eqn.params["body"]), eqn.params["fn"].__name__)
    return f"{body}({', '.join(args)})"


custom_call_p = Primitive("custom_call", impl=_custom_call_impl,
                          abstract_eval=_custom_call_abstract, multiple_results=True)
custom_call_p.call = _custom_call_under
custom_call_p.emit = _custom_call_emit
