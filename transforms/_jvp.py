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
from fx.core.trace import Trace, Tracer, new_main
from fx.creation import asarray


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self):
        return aval_of(self.primal)

    def concrete(self):
        primal = self.primal
        return primal.concrete() if isinstance(primal, Tracer) else asarray(primal)


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


def jvp_flat(f, primals, tangents):
    """``f`` over flat lists: returns (primal outputs, tangent outputs) as lists."""
    with new_main(JVPTrace) as main:
        trace = JVPTrace(main)
        tracers = [JVPTracer(trace, asarray(p), asarray(t)) for p, t in zip(primals, tangents)]
        outs = f(*tracers)
        outs_flat, treedef = tree.flatten(outs)
        pairs = [_unpack(trace, o) for o in outs_flat]
    return [p for p, _ in pairs], [instantiate(t) for _, t in pairs], treedef


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
        TypeError: if primals and tangents differ in structure, shape or dtype.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument)")
    p_flat, p_tree = tree.flatten(tuple(primals))
    t_flat, t_tree = tree.flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(f"jvp: primals and tangents have different structures: {p_tree} vs "
                        f"{t_tree}")
    for i, (p, t) in enumerate(zip(p_flat, t_flat)):
        pa, ta = aval_of(asarray(p)), aval_of(asarray(t))
        if pa.shape != ta.shape or pa.dtype != ta.dtype:
            raise TypeError(f"jvp: tangent {i} is {ta.str_short()} but its primal is "
                            f"{pa.str_short()}; they must match in shape and dtype")

    def flat_fun(*args):
        return fun(*tree.unflatten(p_tree, list(args)))
    out_p, out_t, out_tree = jvp_flat(flat_fun, p_flat, t_flat)
    return tree.unflatten(out_tree, out_p), tree.unflatten(out_tree, out_t)
