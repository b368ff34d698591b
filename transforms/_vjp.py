"""Reverse mode: ``vjp``, ``grad``, ``value_and_grad``, ``jacrev``, ``hessian``.

The function runs once under the tape trace (``transforms.tape``), which records a
pullback per operation; ``backward_pass`` pulls cotangents back through the tape.
Because the backward pass is made of fx operations, every function here composes
with every transform, to any depth (grad of grad, jvp of grad, ...).

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import grad
    >>> grad(lambda x: fnp.sum(x ** 2))(fx.asarray([1.0, 2.0]))
    Array([2., 4.], dtype=float32)
"""
from __future__ import annotations

from fx import tree
from fx.core.aval import aval_of
from fx.numpy import ones_like
from transforms import api_util
from transforms.tape import vjp_flat
from transforms.transpose import backward_pass


def vjp(fun, *primals, has_aux: bool = False):
    """``fun(*primals)`` and its pullback ``vjp_fn(ct) -> tuple of input cotangents``.

    Args:
        fun: function of arrays / pytrees, returning arrays / pytrees.
        primals: the point to differentiate at.
        has_aux: ``fun`` returns ``(output, aux)``; aux is returned, not differentiated.

    Returns:
        ``(out, vjp_fn)`` or ``(out, vjp_fn, aux)``. ``vjp_fn`` takes a cotangent with
        the structure, shapes and dtypes of ``out`` and returns one cotangent per primal.
    """
    p_flat, in_tree = api_util.flatten_args(primals, "vjp")
    outs, out_tree, tape = vjp_flat(api_util.flat_fun(fun, in_tree, has_aux, "vjp"), p_flat)
    if has_aux:
        outs, out_tree, aux = api_util.split_aux(outs, out_tree)
    out_avals = [aval_of(o) for o in outs]

    def vjp_fn(ct):
        cts = api_util.check_like(ct, out_tree, out_avals, "vjp: cotangent")
        in_cts = api_util.zeros_where_none(backward_pass(tape, cts), p_flat)
        return tree.unflatten(in_tree, in_cts)
    out = tree.unflatten(out_tree, outs)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def value_and_grad(fun, argnums=0, has_aux: bool = False):
    """Function returning ``(fun(*args), gradient)``; see ``grad``."""
    def value_and_grad_fn(*args, **kwargs):
        flat, p_flat, in_tree = api_util.differentiable_args(fun, args, kwargs, argnums,
                                                             has_aux, "grad")
        outs, out_tree, tape = vjp_flat(flat, p_flat)
        if has_aux:
            outs, out_tree, aux = api_util.split_aux(outs, out_tree)
        value = _scalar_output(outs, out_tree)
        in_cts = backward_pass(tape, [ones_like(value)])  # d value / d value
        grads = tree.unflatten(in_tree, api_util.zeros_where_none(in_cts, p_flat))
        grads = grads if isinstance(argnums, (tuple, list)) else grads[0]
        return ((value, aux) if has_aux else value), grads
    return value_and_grad_fn


def grad(fun, argnums=0, has_aux: bool = False):
    """The gradient of a real scalar-valued ``fun`` with respect to ``args[argnums]``.

    Args:
        fun: function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
        argnums: which positional argument(s) to differentiate: an int gives that
            argument's gradient, a tuple gives a tuple of gradients.
        has_aux: ``fun`` returns ``(output, aux)``; the gradient function then returns
            ``(gradient, aux)``.

    Raises:
        TypeError: for a non-scalar or complex output, integer inputs, or bad argnums.

    Example:
        >>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
        (Array(3., dtype=float32), Array(2., dtype=float32))
    """
    value_and_grad_fn = value_and_grad(fun, argnums, has_aux)

    def grad_fn(*args, **kwargs):
        value, grads = value_and_grad_fn(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return grad_fn


def _scalar_output(outs, out_tree):
    if not out_tree.is_leaf() or outs[0].shape != ():
        shapes = outs[0].aval.str_short() if out_tree.is_leaf() else f"a pytree {out_tree}"
        raise TypeError(f"grad requires a scalar output, got {shapes}; use vjp or jacrev "
                        "for non-scalar outputs")
    if outs[0].dtype.kind != "f":
        raise TypeError(f"grad requires a real float output, got {outs[0].dtype}; use vjp "
                        "for complex or integer outputs")
    return outs[0]


def jacrev(fun, argnums=0, has_aux: bool = False, chunk_size=None):
    """Jacobian by reverse mode: the pullback of one recorded tape, vmapped over the
    basis of the outputs (``chunk_size`` rows at a time when given).

    The result has shape ``out.shape + arg.shape`` (pytrees: nested accordingly).
    """
    from transforms._vmap import check_chunk_size
    check_chunk_size(chunk_size, "jacrev")

    def jacrev_fn(*args, **kwargs):
        flat, p_flat, in_tree = api_util.differentiable_args(fun, args, kwargs, argnums,
                                                             has_aux, "jacrev")
        outs, out_tree, tape = vjp_flat(flat, p_flat)
        if has_aux:
            outs, out_tree, aux = api_util.split_aux(outs, out_tree)
        api_util.check_real(outs, "jacrev", "output")
        pullback = lambda cts: api_util.zeros_where_none(backward_pass(tape, cts), p_flat)  # noqa: E731
        jac = api_util.basis_jacobian(pullback, outs, p_flat, out_tree,
                                      api_util.args_tree(in_tree, argnums), reverse=True,
                                      chunk_size=chunk_size)
        return (jac, aux) if has_aux else jac
    return jacrev_fn


def hessian(fun, argnums=0, has_aux: bool = False):
    """Matrix of second derivatives: forward-over-reverse, ``jacfwd(jacrev(fun))``.

    With ``has_aux`` the function returns ``(output, aux)`` and so does the result.
    """
    from transforms._jvp import jacfwd
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)
