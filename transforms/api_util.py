"""The pytree shell shared by the transforms: flattening, argnums, has_aux, input checks.

Every transform is a ``*_flat`` function over lists of arrays wrapped by its public
function; the wrapping (and the errors for bad input) lives here, written once.
"""
from __future__ import annotations

from fx import tree
from fx.array import Array
from fx.core.ad import Zero
from fx.core.aval import aval_of
from fx.creation import asarray
from fx.numpy import eye, moveaxis, zeros


def flatten_args(args, name: str):
    """Leaves of ``args`` as fx arrays (Python numbers and NumPy arrays converted)."""
    flat, treedef = tree.flatten(tuple(args))
    try:
        return [asarray(x) for x in flat], treedef
    except TypeError as e:
        raise TypeError(f"{name}: arguments must be arrays, numbers or pytrees of them: "
                        f"{e}") from None


def flat_fun(fun, in_tree, has_aux: bool = False, name: str = ""):
    """``fun`` as a function of flat leaves; with ``has_aux`` it must return a pair."""
    def flat(*leaves):
        out = fun(*tree.unflatten(in_tree, list(leaves)))
        if has_aux and not (isinstance(out, (tuple, list)) and len(out) == 2):
            got = "an array" if isinstance(out, Array) else type(out).__name__
            raise TypeError(f"{name}(has_aux=True): the function must return a pair "
                            f"(output, aux), got {got}")
        return tuple(out) if has_aux else out
    return flat


def split_aux(outs, out_tree):
    """Split the leaves of an ``(output, aux)`` result: ``(outs, out_tree, aux)``."""
    main_tree, aux_tree = out_tree.children()
    n = main_tree.num_leaves
    return outs[:n], main_tree, tree.unflatten(aux_tree, outs[n:])


def normalize_argnums(argnums, n_args: int, name: str) -> tuple[int, ...]:
    """``argnums`` (int or tuple of ints, negatives allowed) as a tuple in ``[0, n_args)``."""
    if type(argnums) is int and 0 <= argnums < n_args:
        return (argnums,)  # the common case
    many = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if many else (argnums,)
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"{name}: argnums must be an int or a non-empty tuple of ints, got "
                        f"{argnums!r}")
    for i in nums:
        if not -n_args <= i < n_args:
            raise TypeError(f"{name}: argnums={argnums!r} asks for argument {i}, but the "
                            f"function was called with {n_args} positional argument(s)")
    nums = tuple(i % n_args for i in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{name}: argnums={argnums!r} repeats an argument")
    return nums


def select_args(fun, args, kwargs, argnums):
    """``fun`` as a function of the arguments at ``argnums`` only (the others are fixed)."""
    def partial(*chosen):
        full = list(args)
        for i, v in zip(argnums, chosen):
            full[i] = v
        return fun(*full, **kwargs)
    return partial, tuple(args[i] for i in argnums)


def differentiable_args(fun, args, kwargs, argnums, has_aux: bool, name: str):
    """The shared prologue of ``grad``, ``jacfwd``, ``jacrev``: ``fun`` as a flat function
    of the float leaves of ``args[argnums]``, those leaves, and their treedef."""
    nums = normalize_argnums(argnums, len(args), name)
    partial, chosen = select_args(fun, args, kwargs, nums)
    leaves, in_tree = flatten_args(chosen, name)
    check_differentiable(leaves, in_tree, nums, name)
    return flat_fun(partial, in_tree, has_aux, name), leaves, in_tree


def check_real(leaves, name: str, what: str) -> None:
    """TypeError for complex leaves: a Jacobian of a complex function is only defined for
    holomorphic ones (JAX's ``holomorphic=True``), which these transforms do not assume."""
    for i, leaf in enumerate(leaves):
        if leaf.dtype.kind == "c":
            raise TypeError(f"{name} requires real {what}s, but {what} leaf {i} is {leaf.dtype}; "
                            "split it into real and imaginary parts, or use vjp / jvp")


def check_differentiable(leaves, in_tree, argnums, name: str) -> None:
    """TypeError naming the argument unless every leaf is a float or complex array."""
    for i, leaf in enumerate(leaves):
        if leaf.dtype.kind not in "fc":
            path = in_tree.paths()[i]  # first entry: the position among the chosen arguments
            where = f"argument {argnums[path[0]]}" + "".join(f"[{p!r}]" for p in path[1:])
            raise TypeError(f"{name} requires float or complex inputs, but {where} has dtype "
                            f"{leaf.dtype}; convert it with .astype(float) or pass it as a "
                            "non-differentiated argument (argnums)")


def check_like(values, treedef, avals, what: str) -> list:
    """Flatten ``values``; they must have ``treedef``'s structure and the given avals."""
    flat, got_tree = tree.flatten(values)
    if got_tree != treedef:
        raise TypeError(f"{what}s do not match in structures: got {got_tree}, expected "
                        f"{treedef}")
    out = []
    for i, (v, aval) in enumerate(zip(flat, avals)):
        v = asarray(v, dtype=aval.dtype) if isinstance(v, (int, float, complex)) else asarray(v)
        if v.shape != aval.shape or v.dtype != aval.dtype:
            raise TypeError(f"{what} {i} is {aval_of(v).str_short()} but must be "
                            f"{aval.str_short()} (same shape and dtype)")
        out.append(v)
    return out


def zeros_where_none(values, likes) -> list:
    """``values`` with each ``None`` / symbolic ``Zero`` replaced by zeros shaped like ``likes``."""
    return [zeros(aval_of(like).shape, aval_of(like).dtype) if v is None or type(v) is Zero
            else v for v, like in zip(values, likes)]


def basis_jacobian(linear_fn, sources, targets, out_tree, in_tree, reverse: bool,
                   chunk_size=None):
    """Jacobian assembled by applying ``linear_fn``, under ``vmap``, to every basis vector
    of ``sources`` (``chunk_size`` of them at a time, to bound memory).

    ``linear_fn`` maps flat lists shaped like ``sources`` to flat lists shaped like
    ``targets``: a pullback (``reverse``: sources are the outputs) or a pushforward
    (sources are the inputs). The result has ``out_tree``'s structure, each leaf
    ``in_tree``'s, with arrays of shape ``out.shape + in.shape`` as in JAX.
    """
    from transforms._vmap import vmap
    blocks = []  # blocks[s][t]: d target_t / d source_s, one row per source element
    for s, src in enumerate(sources):
        if not src.size:
            blocks.append([zeros((0, *tgt.shape), tgt.dtype) for tgt in targets])
            continue

        def along(vec, s=s):
            return linear_fn([vec if i == s else zeros(other.shape, other.dtype)
                              for i, other in enumerate(sources)])
        basis = eye(src.size, dtype=src.dtype).reshape((src.size, *src.shape))
        blocks.append(vmap(along, chunk_size=chunk_size)(basis))
    outs, ins = (sources, targets) if reverse else (targets, sources)

    def block(o, i):
        b = blocks[o][i] if reverse else moveaxis(blocks[i][o], 0, -1)
        return b.reshape(outs[o].shape + ins[i].shape)
    return tree.unflatten(out_tree, [tree.unflatten(in_tree, [block(o, i)
                                                              for i in range(len(ins))])
                                     for o in range(len(outs))])


def args_tree(in_tree, argnums):
    """The input structure a Jacobian reports: the tuple of arguments for tuple
    ``argnums``, the single argument's own structure for an int."""
    return in_tree if isinstance(argnums, (tuple, list)) else in_tree.children()[0]
