"""Combinators: ``chain`` (one block after another), ``masked`` (a block on some
parameters only) and ``multi_transform`` (different blocks per group of parameters).

Example:
    >>> import optim
    >>> t = optim.chain(optim.clip_by_global_norm(1.0), optim.scale(-0.1))
    >>> params = {"w": fnp.ones(2)}
    >>> t.update({"w": fnp.full(2, 10.0)}, t.init(params), params)[0]["w"]
    Array([-0.07071068, -0.07071068], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple

from fx import tree
from optim.base import GradientTransformation


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states."""
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError(f"chain of {len(transforms)} transformations got a state that is "
                             f"not a tuple of {len(transforms)} states: {type(state).__name__}")
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)
    return GradientTransformation(init, update)


class MaskedNode(NamedTuple):
    """An empty subtree standing for a parameter the inner transformation does not see."""


class MaskedState(NamedTuple):
    """The state of ``masked``: the inner state, built on the masked parameters only."""
    inner_state: Any


def _mask_tree(mask, tree_, what: str):
    mask_tree = mask(tree_) if callable(mask) else mask
    try:
        tree.broadcast_prefix(mask_tree, tree_)
    except ValueError:
        raise ValueError(f"the {what} must have the structure of (or be a prefix of) the "
                         f"params:\n  {what}: {tree.structure(mask_tree)}\n"
                         f"  params: {tree.structure(tree_)}") from None
    return mask_tree


def _apply_mask(mask_tree, tree_):
    """Keep the subtrees where ``mask_tree`` is True; replace the others by ``MaskedNode()``."""
    if tree_ is None:
        return None
    return tree.map(lambda m, sub: sub if bool(m) else MaskedNode(), mask_tree, tree_,
                    is_leaf=lambda x: x is None)


def masked(inner: GradientTransformation, mask) -> GradientTransformation:
    """Apply ``inner`` only to the parameters where ``mask`` is True (Optax's ``masked``).

    Elsewhere the updates pass through unchanged, and ``inner`` keeps state only for the
    masked-in parameters.

    Args:
        inner: the transformation to apply on the masked-in parameters.
        mask: a pytree of Python bools with the structure of (or a prefix of) the params, or
            a function ``params -> such a pytree`` (called on the updates in ``update``).

    Raises:
        ValueError: if the mask is not a prefix of the params' structure.

    Example:
        >>> from optim.base import stateless
        >>> from optim.combine import masked
        >>> double = stateless(lambda u, p: tree.map(lambda g: 2 * g, u))
        >>> t = masked(double, {"w": True, "b": False})
        >>> g = {"w": fnp.ones(2), "b": fnp.ones(2)}
        >>> t.update(g, t.init(g))[0]
        {'w': Array([2., 2.], dtype=float32), 'b': Array([1., 1.], dtype=float32)}
    """
    def init(params):
        mask_tree = _mask_tree(mask, params, "mask")
        return MaskedState(inner.init(_apply_mask(mask_tree, params)))

    def update(grads, state, params=None):
        mask_tree = _mask_tree(mask, grads, "mask")
        new_masked, inner_state = inner.update(_apply_mask(mask_tree, grads), state.inner_state,
                                               _apply_mask(mask_tree, params))
        # A masked-out subtree is a MaskedNode in new_masked: take the original one there.
        updates = tree.map(lambda m, new, old: new if bool(m) else old, mask_tree, new_masked,
                           grads, is_leaf=lambda x: isinstance(x, MaskedNode))
        return updates, MaskedState(inner_state)
    return GradientTransformation(init, update)


class MultiTransformState(NamedTuple):
    """The state of ``multi_transform``: a dict ``label -> MaskedState`` of each group."""
    inner_states: dict


def multi_transform(transforms: Mapping[Hashable, GradientTransformation],
                    param_labels) -> GradientTransformation:
    """A different transformation per group of parameters (Optax's ``multi_transform``).

    Args:
        transforms: a dict ``label -> transformation``.
        param_labels: a pytree of labels with the structure of (or a prefix of) the params,
            or a function ``params -> such a pytree``.

    Raises:
        ValueError: if a label has no transformation, or the labels do not fit the params.

    Example:
        >>> from optim.base import identity, stateless
        >>> from optim.combine import multi_transform
        >>> zero = stateless(lambda u, p: tree.map(fnp.zeros_like, u))
        >>> t = multi_transform({"train": identity(), "freeze": zero},
        ...                     {"w": "train", "b": "freeze"})
        >>> g = {"w": fnp.ones(2), "b": fnp.ones(2)}
        >>> t.update(g, t.init(g))[0]
        {'w': Array([1., 1.], dtype=float32), 'b': Array([0., 0.], dtype=float32)}
    """
    transforms = dict(transforms)

    def masks(labels):
        missing = set(tree.leaves(labels)) - set(transforms)
        if missing:
            raise ValueError(f"multi_transform: labels {sorted(map(repr, missing))} have no "
                             f"transformation (known: {sorted(map(repr, transforms))})")
        return {label: tree.map(lambda x, label=label: x == label, labels)
                for label in transforms}

    def init(params):
        labels = _mask_tree(param_labels, params, "param_labels")
        return MultiTransformState({label: masked(transforms[label], m).init(params)
                                    for label, m in masks(labels).items()})

    def update(grads, state, params=None):
        labels = _mask_tree(param_labels, grads, "param_labels")
        inner_states = {}
        for label, m in masks(labels).items():
            grads, inner_states[label] = masked(transforms[label], m).update(
                grads, state.inner_states[label], params)
        return grads, MultiTransformState(inner_states)
    return GradientTransformation(init, update)
