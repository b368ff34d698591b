"""Forward mode: the JVP trace and ``jvp``.

Each traced value carries a primal and a tangent; every primitive applies its ``jvp``
rule. Levels on the trace stack keep nested derivatives apart, so
d/dx [x * d/dy (x + y)] is 1 (no perturbation confusion).

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import jvp
    >>> jvp(fnp.sin, (0.0,), (1.0,))
    (Array(0., dtype=float32), Array(1., dtype=float32))
"""
from __future__ import annotations

from fx import tree
from fx.core.ad import Zero, instantiate
from fx.core.aval import aval_of
from fx.core.trace import PrimalTracer, Trace, new_main
from fx.creation import asarray
from transforms import api_util
from transforms.custom import apply_jvp_rule


class JVPTracer(PrimalTracer):
    """A value under forward mode: its primal and its tangent (possibly a symbolic Zero)."""

    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent


class JVPTrace(Trace):
    name = "jvp"

    def pure(self, val):
        return JVPTracer(self, val, Zero(aval_of(val)))

    def process_primitive(self, prim, tracers, params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if all(type(t) is Zero for t in tangents):
            out = prim.bind(*primals, **params)
            outs = out if prim.multiple_results else [out]
            wrapped = [JVPTracer(self, o, Zero(aval_of(o))) for o in outs]
            return wrapped if prim.multiple_results else wrapped[0]
        if prim.jvp is None:
            raise NotImplementedError(f"forward-mode differentiation of {prim.name} is not "
                                      "implemented yet")
        primal_out, tangent_out = prim.jvp(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return JVPTracer(self, primal_out, tangent_out)

    def process_custom_jvp(self, fn, args):
        flat, in_tree = tree.flatten(args)
        tracers = [self.full_raise(x) for x in flat]
        primals = [t.primal for t in tracers]
        if all(type(t.tangent) is Zero for t in tracers):
            return fn(*tree.unflatten(in_tree, primals))
        out, out_t, out_tree = apply_jvp_rule(fn, in_tree, primals, [t.tangent for t in tracers])
        return tree.unflatten(out_tree, [JVPTracer(self, p, t) for p, t in zip(out, out_t)])

    def process_custom_vjp(self, fn, args):
        """Forward mode of a ``custom_vjp`` function differentiates its body (with a warning)."""
        if any(isinstance(x, JVPTracer) and x._trace.main is self.main
               and type(x.tangent) is not Zero for x in tree.leaves(args)):
            fn.warn_fallback()
        return fn.fun(*args)


def jvp_flat(f, primals, tangents):
    """``f`` over flat lists: ``(primal outputs, tangent outputs, output treedef)``.

    Output tangents may be symbolic ``Zero``.
    """
    with new_main(JVPTrace) as main:
        trace = main.trace
        tracers = [JVPTracer(trace, asarray(p), asarray(t)) for p, t in zip(primals, tangents)]
        outs = f(*tracers)
        outs_flat, treedef = tree.flatten(outs)
        pairs = [_unpack(trace, o) for o in outs_flat]
    return [p for p, _ in pairs], [t for _, t in pairs], treedef


def _unpack(trace, out):
    if isinstance(out, JVPTracer) and out._trace.main is trace.main:
        return out.primal, out.tangent
    return out, Zero(aval_of(out))


def jvp(fun, primals, tangents):
    """Evaluate ``fun`` at ``primals`` and its directional derivative along ``tangents``.

    Args:
        fun: function of arrays (pytrees allowed) returning arrays (pytrees allowed).
        primals, tangents: tuples with one entry per argument, tangents matching the
            primals' structure, shapes and dtypes.

    Returns:
        ``(fun(*primals), J(primals) @ tangents)`` with the structure of ``fun``'s output.

    Raises:
        TypeError: if primals and tangents differ in structure, shape or dtype, or a
            primal is an integer array (integers have no tangents: close over them).
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument)")
    p_flat, p_tree = api_util.flatten_args(primals, "jvp")
    for i, p in enumerate(p_flat):
        if p.dtype.kind not in "fc":
            raise TypeError(f"jvp: primal {i} has dtype {p.dtype}; only float and complex "
                            "inputs have tangents (close over integer arguments instead)")
    t_flat = api_util.check_like(tuple(tangents), p_tree, [p.aval for p in p_flat],
                                 "jvp: tangent")

    def flat_fun(*args):
        return fun(*tree.unflatten(p_tree, list(args)))
    out_p, out_t, out_tree = jvp_flat(flat_fun, p_flat, t_flat)
    return tree.unflatten(out_tree, out_p), tree.unflatten(out_tree, list(map(instantiate, out_t)))


def jacfwd(fun, argnums=0, has_aux: bool = False, chunk_size=None):
    """Jacobian by forward mode: ``jvp`` vmapped over the basis of the inputs
    (``chunk_size`` columns at a time when given).

    The result has shape ``out.shape + arg.shape`` (pytrees: nested accordingly).
    """
    from transforms._vmap import check_chunk_size
    check_chunk_size(chunk_size, "jacfwd")

    def jacfwd_fn(*args, **kwargs):
        flat, p_flat, in_tree = api_util.differentiable_args(fun, args, kwargs, argnums,
                                                             has_aux, "jacfwd")
        api_util.check_real(p_flat, "jacfwd", "input")
        outs, out_tree = tree.flatten(flat(*p_flat))
        if has_aux:
            outs, out_tree, aux = api_util.split_aux(outs, out_tree)

        def pushforward(tangents):
            t_out = jvp_flat(flat, p_flat, tangents)[1][:len(outs)]
            return api_util.zeros_where_none(t_out, outs)
        jac = api_util.basis_jacobian(pushforward, p_flat, outs, out_tree,
                                      api_util.args_tree(in_tree, argnums), reverse=False,
                                      chunk_size=chunk_size)
        return (jac, aux) if has_aux else jac
    return jacfwd_fn
