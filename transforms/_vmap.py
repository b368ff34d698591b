"""Automatic batching: the batch trace and ``vmap``.

Each traced value is the whole batch as one array plus the position of its batch axis
(``bdim``; None for a value that is the same for every example). A primitive applied
to batched values runs once, through its ``batch`` rule, on the whole batch: no loop.
``custom_jvp`` / ``custom_vjp`` functions stay custom: their functions and rules are
batched with the same machinery, so differentiation below the batch level uses them.

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import vmap
    >>> vmap(lambda row: fnp.sum(row ** 2))(fnp.ones((3, 2)))
    Array([2., 2., 2.], dtype=float32)
"""
from __future__ import annotations

from typing import NamedTuple

from fx import tree
from fx.core.aval import aval_of
from fx.core.batching import at_front, move_to
from fx.core.trace import Trace, Tracer, check_alive, new_main
from fx.creation import asarray


class AxisData(NamedTuple):
    """What a batch level knows of its axis: the batch size and the name collectives use."""
    size: int
    name: object = None


class BatchTracer(Tracer):
    """A batch of values: ``val`` holds them all, stacked along axis ``bdim``."""

    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self):
        aval = aval_of(self.val)
        if self.bdim is None:
            return aval
        return aval.update(shape=aval.shape[:self.bdim] + aval.shape[self.bdim + 1:])

    def full_lower(self):
        return self.val if self.bdim is None else self


class BatchTrace(Trace):
    name = "vmap"

    def pure(self, val):
        return BatchTracer(self, val, None)

    @property
    def axis(self) -> AxisData:
        return self.main.global_data

    def process_primitive(self, prim, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.bdim for t in tracers]
        if getattr(prim.batch, "needs_axis", False):  # collectives (and loops) ask our axis
            out, out_dims = prim.batch(vals, dims, axis=self.axis, **params)
            if prim.multiple_results:
                return [BatchTracer(self, o, d) for o, d in zip(out, out_dims)]
            return BatchTracer(self, out, out_dims)
        if all(d is None for d in dims):
            out = prim.bind(*vals, **params)
            return [self.pure(o) for o in out] if prim.multiple_results else self.pure(out)
        if prim.batch is None:
            raise NotImplementedError(f"vmap of {prim.name} is not implemented (it has no "
                                      "batching rule)")
        out, out_dims = prim.batch(vals, dims, **params)
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dims)]
        return BatchTracer(self, out, out_dims)

    def process_custom_jvp(self, fn, args):
        from transforms.custom import custom_jvp
        vals, dims, in_tree = self._unpack(args)
        rule = custom_jvp(self._batched(lambda *xs: fn.fun(*tree.unflatten(in_tree, xs)), dims))
        jvp = self._batched(lambda ps, ts: fn.jvp(tree.unflatten(in_tree, ps),
                                                  tree.unflatten(in_tree, ts)), (dims, dims))
        rule.defjvp(lambda primals, tangents: jvp(list(primals), list(tangents)))
        return self._whole_batch(rule(*vals))

    def process_custom_vjp(self, fn, args):
        from transforms.custom import custom_vjp
        vals, dims, in_tree = self._unpack(args)
        rule = custom_vjp(self._batched(lambda *xs: fn.fun(*tree.unflatten(in_tree, xs)), dims),
                          warn_forward=fn.warn_forward)
        fwd = self._batched(lambda *xs: fn.fwd(*tree.unflatten(in_tree, xs)), dims)
        bwd = self._batched(fn.bwd, 0)

        def whole_batch_bwd(res, ct):  # per-example cotangents back into each input's layout
            return _cotangent_layout(bwd(res, ct), in_tree, dims)
        rule.defvjp(fwd, whole_batch_bwd)
        return self._whole_batch(rule(*vals))

    def _unpack(self, args):
        flat, in_tree = tree.flatten(args)
        tracers = [self.full_raise(x) for x in flat]
        return [t.val for t in tracers], [t.bdim for t in tracers], in_tree

    def _batched(self, f, in_dims):
        """``f`` as a function of whole-batch values batched along ``in_dims`` (a prefix
        of its arguments), returning whole-batch outputs batched along axis 0."""
        return lambda *args: batch_call(f, args, {}, in_dims, 0, self.axis)

    def _whole_batch(self, out):
        return tree.map(lambda o: BatchTracer(self, o, 0), out)


def _cotangent_layout(cts, in_tree, dims):
    """The user's per-argument cotangents (batched at 0) as one cotangent per leaf, in
    that leaf's own batch layout: the batched custom rule takes the flat leaves. The
    cotangent of a leaf shared by every example is the sum over the batch."""
    from fx.prims.reductions import reduce_sum_p
    flat = []
    for arg_tree, ct in zip(in_tree.children(), cts):
        flat.extend([None] * arg_tree.num_leaves if ct is None else tree.leaves(ct))
    return tuple(c if c is None else reduce_sum_p.bind(c, axes=(0,)) if d is None
                 else move_to(c, 0, d) for c, d in zip(flat, dims))


def batch_call(f, args, kwargs, in_axes, out_axes, axis: AxisData | None, name="vmap"):
    """Call ``f`` batched: ``args`` batched along ``in_axes`` (a prefix pytree of ints /
    None), keyword arguments along axis 0; outputs batched along ``out_axes``.

    ``axis`` gives the batch size (None: from the arguments) and the axis name.
    """
    leaves, in_tree = tree.flatten((args, kwargs))
    leaves, dims = _leaf_axes(in_axes, leaves, args, kwargs, name)
    size = _batch_size(leaves, dims, in_tree, axis, name)
    with new_main(BatchTrace, AxisData(size, None if axis is None else axis.name)) as main:
        tracers = [x if d is None else BatchTracer(main.trace, x, d)
                   for x, d in zip(leaves, dims)]
        call_args, call_kwargs = tree.unflatten(in_tree, tracers)
        out = f(*call_args, **call_kwargs)
        out_leaves, out_tree = tree.flatten(out)
        try:
            out_dims = tree.broadcast_prefix(out_axes, out)
        except ValueError as e:
            raise ValueError(f"{name}: out_axes {out_axes!r} do not match the outputs: "
                             f"{e}") from None
        return tree.unflatten(out_tree, [_output(main, o, d, size, name)
                                         for o, d in zip(out_leaves, out_dims)])


def _leaf_axes(in_axes, leaves, args, kwargs, name):
    """The leaves (the batched ones as arrays) and the batch axis of each, normalised;
    clear errors for bad in_axes.

    ``in_axes`` is an int or None (every positional leaf), or a tuple with one entry per
    positional argument, each a pytree prefix of that argument.
    """
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(f"{name}: in_axes has {len(in_axes)} entries but the function was "
                             f"called with {len(args)} positional arguments")
        try:
            dims = tree.broadcast_prefix(tuple(in_axes), args)
        except ValueError as e:
            raise ValueError(f"{name}: in_axes {in_axes!r} do not match the arguments: "
                             f"{e}") from None
    elif _is_leaf_axis(in_axes):
        dims = [in_axes] * len(tree.leaves(args))
    else:
        raise TypeError(f"{name}: in_axes must be an int, None, or a tuple with one entry per "
                        f"positional argument, got {type(in_axes).__name__}")
    dims += [0] * len(tree.leaves(kwargs))  # keyword arguments: batched along axis 0
    where = lambda i: _describe_path(tree.structure((args, kwargs)).paths()[i])  # noqa: E731
    out_leaves, out_dims = [], []
    for i, (x, d) in enumerate(zip(leaves, dims)):
        if isinstance(x, Tracer):
            check_alive(x)  # a value leaked from a finished transform
        if d is None:
            out_leaves.append(x)
            out_dims.append(None)
            continue
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"{name}: in_axes entries must be ints or None, got {d!r}")
        try:
            x = asarray(x)
        except TypeError:
            raise TypeError(f"{name}: {where(i)} is a {type(x).__name__}, "
                            "which cannot be batched (give it in_axes None)") from None
        if not -x.ndim <= d < x.ndim:
            raise ValueError(f"{name}: in_axes {d} is out of range for {where(i)} of shape "
                             f"{x.shape}")
        out_leaves.append(x)
        out_dims.append(d % x.ndim)
    return out_leaves, out_dims


def _is_leaf_axis(prefix) -> bool:
    return prefix is None or isinstance(prefix, int)


def _describe_path(path) -> str:
    """``argument 1['w']`` or ``keyword argument 'scale'`` for a leaf of (args, kwargs)."""
    head = f"keyword argument {path[1]!r}" if path[0] == 1 else f"argument {path[1]}"
    return head + "".join(f"[{p!r}]" for p in path[2:])


def _batch_size(leaves, dims, in_tree, axis, name) -> int:
    sizes = {i: aval_of(x).shape[d] for i, (x, d) in enumerate(zip(leaves, dims))
             if d is not None}
    if axis is not None and axis.size is not None:
        expected = axis.size
    elif sizes:
        expected = next(iter(sizes.values()))
    else:
        raise ValueError(f"{name}: no argument is batched (every in_axes is None); give "
                         "axis_size")
    if any(s != expected for s in sizes.values()):
        paths = in_tree.paths()
        listing = ", ".join(f"{_describe_path(paths[i])}: {s}" for i, s in sizes.items())
        if axis is not None and axis.size is not None:
            listing += f"; axis_size={axis.size}"
        raise ValueError(f"{name}: the batched arguments have different sizes along their "
                         f"batch axes ({listing})")
    return expected


def _output(main, out, out_axis, size, name):
    """An output leaf as a whole-batch array batched at ``out_axis`` (an output that does
    not depend on the batch is broadcast, as in JAX)."""
    if isinstance(out, BatchTracer) and out._trace.main is main:
        val, dim = out.val, out.bdim
    else:
        if isinstance(out, Tracer):
            check_alive(out)
        val, dim = out, None
    if out_axis is None:
        if dim is not None:
            raise ValueError(f"{name}: an output that depends on the batch has out_axes=None")
        return val
    if dim is None:
        val, dim = at_front(val, None, size), 0
    ndim = aval_of(val).ndim
    if not isinstance(out_axis, int) or not -ndim <= out_axis < ndim:
        raise ValueError(f"{name}: out_axes {out_axis!r} is out of range for an output with "
                         f"{ndim - 1} dimensions per example")
    return move_to(val, dim, out_axis % ndim)


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, chunk_size=None):
    """Vectorise ``fun`` over a batch axis of its arguments.

    Args:
        fun: function of arrays / pytrees, written for one example.
        in_axes: batch axis of each argument: an int (negative allowed) or None (the same
            for every example), or a tuple with one entry per positional argument, each a
            pytree prefix of that argument. Keyword arguments are batched along axis 0.
        out_axes: where the batch axis goes in each output (int or prefix pytree); an
            output that does not depend on the batch is broadcast along it.
        axis_name: a name for the batch axis, for collectives (``lax.psum`` and friends).
        axis_size: the batch size, needed when no argument is batched.
        chunk_size: process the batch in chunks of at most this many examples (bounded
            memory, identical results; not with collectives).

    Raises:
        ValueError: for batched arguments of different sizes (each is listed), in_axes
            out of range or not matching the arguments, chunk_size with axis_name.

    Example:
        >>> vmap(fnp.dot, in_axes=(0, None))(fnp.ones((4, 3)), fnp.ones(3)).shape
        (4,)
    """
    check_chunk_size(chunk_size, "vmap")
    if chunk_size is not None and axis_name is not None:
        raise ValueError("vmap: chunk_size cannot be combined with axis_name (collectives "
                         "would see one chunk instead of the whole batch)")
    axis = AxisData(axis_size, axis_name)

    def vmapped(*args, **kwargs):
        if chunk_size is None:
            return batch_call(fun, args, kwargs, in_axes, out_axes, axis)
        return _in_chunks(fun, args, kwargs, in_axes, out_axes, axis, chunk_size)
    return vmapped


def check_chunk_size(chunk_size, name: str) -> None:
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"{name}: chunk_size must be a positive int, got {chunk_size!r}")


def _in_chunks(fun, args, kwargs, in_axes, out_axes, axis, chunk_size):
    """``batch_call`` over consecutive chunks of the batch, outputs concatenated."""
    from fx.numpy import concatenate
    leaves, in_tree = tree.flatten((args, kwargs))
    leaves, dims = _leaf_axes(in_axes, leaves, args, kwargs, "vmap")
    size = _batch_size(leaves, dims, in_tree, axis, "vmap")
    if size == 0:
        return batch_call(fun, args, kwargs, in_axes, out_axes, axis)
    chunks = []
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        part = [x if d is None else x[(slice(None),) * d + (slice(start, stop),)]
                for x, d in zip(leaves, dims)]
        chunk_args, chunk_kwargs = tree.unflatten(in_tree, part)
        chunks.append(batch_call(fun, chunk_args, chunk_kwargs, tuple(_arg_axes(in_axes, args)),
                                 out_axes, AxisData(stop - start, None)))
    out_leaves, out_tree = tree.flatten(chunks[0])
    out_dims = tree.broadcast_prefix(out_axes, chunks[0])
    pieces = zip(*[tree.leaves(c) for c in chunks])
    return tree.unflatten(out_tree, [first if d is None else concatenate(list(ps), axis=d)
                                     for first, d, ps in zip(out_leaves, out_dims, pieces)])


def _arg_axes(in_axes, args):
    """in_axes as a tuple with one entry per positional argument."""
    return tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
