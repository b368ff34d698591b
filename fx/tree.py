"""Pytrees: nested containers of arrays, handled by **optree** in the namespace ``"fx"``.

Lists, tuples, dicts (leaves in sorted-key order; rebuilt dicts keep their key order),
namedtuples, ``OrderedDict`` and ``defaultdict`` are internal nodes; ``None`` is an empty
subtree; everything else, ``fx.Array`` included, is a leaf. Register your own types with
``register_dataclass`` or ``register_node``. This module is the only place that names the
namespace.

Example:
    >>> from fx import tree
    >>> tree.map(lambda x: x * 10, {"b": 2, "a": (1, None)})
    {'b': 20, 'a': (10, None)}
    >>> leaves, treedef = tree.flatten({"b": 2, "a": (1, None)})
    >>> leaves
    [1, 2]
    >>> tree.unflatten(treedef, [5, 6])
    {'b': 6, 'a': (5, None)}
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import optree

__all__ = ["PyTreeSpec", "map", "leaves", "structure", "flatten", "unflatten", "all", "any",
           "reduce", "broadcast_prefix", "register_dataclass", "register_node"]

_optree = optree.pytree.reexport(namespace="fx", module="fx._optree")

PyTreeSpec = optree.PyTreeSpec
_builtin_all, _builtin_any = all, any


def map(f: Callable, tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None):
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of each of ``rest``).

    Args:
        f: called as ``f(leaf, *matching_leaves_of_rest)``.
        tree: the pytree whose structure the result keeps.
        rest: pytrees with the same structure as ``tree`` (or ``tree`` as a prefix).
        is_leaf: predicate that stops the recursion early (the subtree becomes a leaf).

    Raises:
        ValueError: if a tree in ``rest`` does not match the structure of ``tree``.

    Example:
        >>> map(lambda x, y: x + y, [1, {"a": 2}], [10, {"a": 20}])
        [11, {'a': 22}]
    """
    return _optree.map(f, tree, *rest, is_leaf=is_leaf)


def leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of ``tree``, left to right (dict children in sorted-key order).

    Example:
        >>> leaves({"b": [2, 3], "a": 1, "c": None})
        [1, 2, 3]
    """
    return _optree.leaves(tree, is_leaf=is_leaf)


def structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeSpec:
    """The treedef of ``tree`` (its shape without the leaves); comparable with ``==``.

    Example:
        >>> structure((1, {"a": 2})) == structure((3, {"a": 4}))
        True
    """
    return _optree.structure(tree, is_leaf=is_leaf)


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeSpec]:
    """``(leaves, treedef)``: ``unflatten(treedef, leaves)`` rebuilds ``tree``.

    Example:
        >>> flatten([1, (2, 3)])
        ([1, 2, 3], PyTreeSpec([*, (*, *)]))
    """
    return _optree.flatten(tree, is_leaf=is_leaf)


def unflatten(treedef: PyTreeSpec, leaves: Any) -> Any:
    """Rebuild a pytree of structure ``treedef`` from an iterable of leaves.

    Raises:
        ValueError: if the number of leaves does not match ``treedef``.

    Example:
        >>> unflatten(structure({"x": 0, "y": (0, 0)}), [1, 2, 3])
        {'x': 1, 'y': (2, 3)}
    """
    return _optree.unflatten(treedef, leaves)


def broadcast_prefix(prefix: Any, tree: Any) -> list:
    """One entry of ``prefix`` per leaf of ``tree``: each leaf of the prefix tree (``None``
    included, as a leaf) stands for the whole subtree of ``tree`` at its position, as
    ``vmap``'s ``in_axes`` do.

    Raises:
        ValueError: if ``prefix`` is not a prefix of ``tree``'s structure.

    Example:
        >>> broadcast_prefix((0, None), ([1, 2], {"a": 3}))
        [0, 0, None]
    """
    spec = _optree.structure(prefix, none_is_leaf=True)
    try:
        subtrees = spec.flatten_up_to(tree)
    except ValueError as e:
        raise ValueError(f"{prefix!r} is not a prefix of the tree structure "
                         f"{structure(tree)}: {e}") from None
    return [p for p, sub in zip(spec.flatten_up_to(prefix), subtrees)
            for _ in range(structure(sub).num_leaves)]


def all(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every leaf is truthy (True for a tree without leaves).

    Example:
        >>> all({"a": True, "b": [1, 2]})
        True
    """
    return _builtin_all(leaves(tree, is_leaf=is_leaf))


def any(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if some leaf is truthy.

    Example:
        >>> any([0, (False, 3)])
        True
    """
    return _builtin_any(leaves(tree, is_leaf=is_leaf))


def reduce(f: Callable, tree: Any, initializer: Any = ..., *,
           is_leaf: Callable[[Any], bool] | None = None):
    """Fold the leaves with ``f`` (like ``functools.reduce``).

    Example:
        >>> reduce(lambda a, b: a + b, {"a": 1, "b": (2, 3)}, 0)
        6
    """
    items = leaves(tree, is_leaf=is_leaf)
    return functools.reduce(f, items) if initializer is ... else \
        functools.reduce(f, items, initializer)


def register_node(cls: type, flatten: Callable, unflatten: Callable) -> type:
    """Make instances of ``cls`` internal pytree nodes.

    Args:
        cls: the type to register.
        flatten: ``obj -> (children, aux_data)``; ``aux_data`` must be hashable and
            comparable (it is part of the treedef).
        unflatten: ``(aux_data, children) -> obj``.

    Returns:
        ``cls``.

    Example:
        >>> class Pair:
        ...     def __init__(self, a, b): self.a, self.b = a, b
        >>> _ = register_node(Pair, lambda p: ((p.a, p.b), None),
        ...                   lambda _, children: Pair(*children))
        >>> leaves(Pair(1, [2, 3]))
        [1, 2, 3]
    """
    _optree.register_node(cls, flatten, unflatten)
    return cls


def register_dataclass(cls: type | None = None, data_fields=None, meta_fields=None):
    """Register a dataclass as a pytree node (also usable as a decorator).

    Data fields are children (arrays, sub-trees); meta fields are static, hashable values
    stored in the treedef (hyperparameters, names). Fields not listed in ``meta_fields``
    are data; with ``data_fields`` alone, the fields not listed are meta. Rebuilding does
    not call ``__init__`` (so ``__post_init__`` never sees traced values), which also works
    for frozen dataclasses.

    Raises:
        TypeError: if ``cls`` is not a dataclass.
        ValueError: if the listed fields are not exactly the dataclass's fields.

    Example:
        >>> @register_dataclass(meta_fields=["activation"])
        ... @dataclasses.dataclass(frozen=True)
        ... class Layer:
        ...     weight: Any
        ...     activation: str = "relu"
        >>> flatten(Layer(weight=[1.0, 2.0]))[0]
        [1.0, 2.0]
    """
    if cls is None:
        return functools.partial(register_dataclass, data_fields=data_fields,
                                 meta_fields=meta_fields)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"register_dataclass: {cls.__name__} is not a dataclass")
    names = [f.name for f in dataclasses.fields(cls)]
    meta = tuple(meta_fields or ())
    data = tuple(data_fields) if data_fields is not None else \
        tuple(n for n in names if n not in meta)
    if meta_fields is None:
        meta = tuple(n for n in names if n not in data)
    if sorted(data + meta) != sorted(names):
        raise ValueError(f"register_dataclass: data_fields {list(data)} and meta_fields "
                         f"{list(meta)} must together list each field of {cls.__name__} "
                         f"once: {names}")

    def flatten_node(obj):
        return ([getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta), data)

    def unflatten_node(meta_values, children):
        obj = object.__new__(cls)
        for n, v in zip(data + meta, (*children, *meta_values)):
            object.__setattr__(obj, n, v)
        return obj

    _optree.register_node(cls, flatten_node, unflatten_node, path_entry_type=optree.GetAttrEntry)
    return cls
