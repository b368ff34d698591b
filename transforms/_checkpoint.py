"""Rematerialisation: ``checkpoint(f)`` saves only ``f``'s inputs for the backward pass
and recomputes its forward there, trading compute for memory.

It is a ``custom_vjp`` whose residuals are the inputs and whose backward rule
re-linearizes ``f``; forward mode simply differentiates ``f``.

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import checkpoint, grad
    >>> grad(checkpoint(lambda x: fnp.sin(x) * x))(0.0)
    Array(0., dtype=float32)
"""
from __future__ import annotations

import functools

from fx import tree
from fx.array import Array
from transforms._vjp import vjp
from transforms.custom import custom_vjp


def checkpoint(fun, *, static_argnums=()):
    """``fun`` with the same values and derivatives, recomputed in the backward pass.

    Args:
        fun: the function to rematerialise.
        static_argnums: positions of arguments that are not arrays (flags, modes,
            Python numbers to keep weakly typed): passed through unchanged, never traced.

    Only ``fun``'s float and complex array inputs are saved; the backward pass runs
    ``fun`` again on them and pulls the cotangent back through that fresh recording.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def remat_call(*args, **kwargs):
        nums = {i % len(args) for i in static}
        fixed = {i: a for i, a in enumerate(args) if i in nums}
        dynamic = [a for i, a in enumerate(args) if i not in nums]

        @functools.wraps(fun)
        def body(*dyn):
            it = iter(dyn)
            return fun(*[fixed[i] if i in fixed else next(it) for i in range(len(args))],
                       **kwargs)
        return _remat(body)(*dynamic)
    return remat_call


def _remat(fun):
    remat = custom_vjp(fun, warn_forward=False)

    def fwd(*args):
        return fun(*args), args

    def bwd(args, ct):
        leaves, in_tree = tree.flatten(args)
        wanted = [i for i, x in enumerate(leaves) if isinstance(x, Array) and x.dtype.kind in "fc"]

        def of_wanted(*xs):  # the other leaves (integers, Python numbers) stay as they were
            full = list(leaves)
            for i, x in zip(wanted, xs):
                full[i] = x
            return fun(*tree.unflatten(in_tree, full))
        cts = dict(zip(wanted, vjp(of_wanted, *[leaves[i] for i in wanted])[1](ct)))
        flat = [cts.get(i, 0.0 if not isinstance(x, Array) else x * 0) for i, x in
                enumerate(leaves)]
        return tree.unflatten(in_tree, flat)
    remat.defvjp(fwd, bwd)
    return remat
