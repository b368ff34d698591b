"""Modules: frozen dataclasses of hyperparameters; parameters and state live in pytrees.

A module holds no arrays. ``params, state = m.init(key, *example_inputs)`` creates its
parameters (shapes inferred from the example) and its state (non-trainable buffers such
as BatchNorm's running statistics; ``{}`` for most layers); ``out, state = m.apply(params,
state, *inputs, key=None, train=False)`` runs it. Both are pure, so they go through
``grad``, ``vmap`` and ``jit`` like any function.

A stateless layer defines ``init_params(key, *inputs) -> params`` and ``forward(params,
*inputs, key=None, train=False) -> out``; a stateful one overrides ``init`` and ``apply``.

Example:
    >>> import fx, fx.numpy as fnp
    >>> from nnlib.module import Module, Sequential
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Scale(Module):
    ...     factor: float = 2.0
    ...     def forward(self, params, x, *, key=None, train=False):
    ...         return x * self.factor
    >>> model = Sequential(Scale(), Scale(3.0))
    >>> params, state = model.init(fx.random.key(0), fnp.ones(2))
    >>> model.apply(params, state, fnp.ones(2))[0]
    Array([6., 6.], dtype=float32)
"""
from __future__ import annotations

import dataclasses

from fx import random, tree


class Module:
    """Base class of layers and models (subclass it as a frozen dataclass)."""

    def init(self, key, *inputs):
        """``(params, state)`` for inputs like ``inputs``."""
        return self.init_params(key, *inputs), {}

    def apply(self, params, state, *inputs, key=None, train: bool = False):
        """``(output, new_state)``; ``key`` feeds randomness (dropout) in training."""
        return self.forward(params, *inputs, key=key, train=train), state

    def init_params(self, key, *inputs):
        """The parameters of a stateless layer (none by default)."""
        return {}

    def forward(self, params, *inputs, key=None, train: bool = False):
        raise NotImplementedError(f"{type(self).__name__} defines neither forward nor apply")

    @property
    def name(self) -> str:
        return type(self).__name__

    def check_input(self, x, *, ndim=None, channels=None, channel_axis: int = 1, what="input"):
        """Raise ``ValueError`` naming this layer, the expected and the actual shape."""
        shape = tuple(x.shape)
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if ranks is not None and len(shape) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(f"{self.name}: expected a {what} of rank {want}, got shape {shape}")
        if channels is not None and shape[channel_axis] != channels:
            raise ValueError(f"{self.name}: expected {channels} channels along axis "
                             f"{channel_axis} of the {what}, got shape {shape}")


@dataclasses.dataclass(frozen=True, init=False)
class Sequential(Module):
    """Layers applied in order. ``Sequential(a, b, c)`` names them ``"0"``, ``"1"``, ...;
    ``Sequential({"encoder": a, "head": b})`` by the given names. Parameters and state
    are dicts keyed by those names.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from nnlib.module import Sequential
        >>> Sequential().apply({}, {}, fnp.ones(2))[0]
        Array([1., 1.], dtype=float32)
    """

    names: tuple
    layers: tuple

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], dict):
            names, layers = tuple(layers[0]), tuple(layers[0].values())
        else:
            names = tuple(str(i) for i in range(len(layers)))
        for n, layer in zip(names, layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {n!r} is a {type(layer).__name__}, not a "
                                "Module")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "layers", tuple(layers))

    def _keys(self, key):
        if key is None:
            return [None] * len(self.layers)
        return list(random.split(key, len(self.layers))) if self.layers else []

    def init(self, key, *inputs):
        params, state = {}, {}
        for name, layer, k in zip(self.names, self.layers, self._keys(key)):
            params[name], layer_state = layer.init(k, *inputs)
            inputs = (layer.apply(params[name], layer_state, *inputs)[0],)
            if layer_state:  # stateless layers leave no entry: {} for a stateless model
                state[name] = layer_state
        return params, state

    def apply(self, params, state, *inputs, key=None, train: bool = False):
        new_state = {}
        for name, layer, k in zip(self.names, self.layers, self._keys(key)):
            out, layer_state = layer.apply(params[name], state.get(name, {}), *inputs, key=k,
                                           train=train)
            if layer_state:
                new_state[name] = layer_state
            inputs = (out,)
        return (inputs[0] if len(inputs) == 1 else inputs), new_state

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name):
        return self.layers[name] if isinstance(name, int) else self.layers[self.names.index(name)]


def count_params(params) -> int:
    """The number of scalars in a parameter pytree."""
    return sum(int(leaf.size) for leaf in tree.leaves(params))


def summary(model: Module, key, *inputs) -> str:
    """A table of the model's layers: name, type, output shape and parameter count.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from nnlib.module import Sequential, summary
        >>> print(summary(Sequential(), fx.random.key(0), fnp.ones((2, 3))))
        layer      type    output shape    params
        (input)            (2, 3)               0
        total                                   0
    """
    params, state = model.init(key, *inputs)
    rows = [("(input)", "", str(tuple(inputs[0].shape)) if inputs else "", 0)]
    if isinstance(model, Sequential):
        for name, layer in zip(model.names, model.layers):
            inputs = (layer.apply(params[name], state.get(name, {}), *inputs)[0],)
            rows.append((name, layer.name, _shape_of(inputs[0]), count_params(params[name])))
    else:
        out, _ = model.apply(params, state, *inputs)
        rows.append(("", model.name, _shape_of(out), count_params(params)))
    rows.append(("total", "", "", count_params(params)))
    widths = [max(len(str(r[i])) for r in rows + [("layer", "type", "output shape", "")])
              for i in range(3)]
    head = f"{'layer':{widths[0]}s}    {'type':{widths[1]}s}    {'output shape':{widths[2]}s}"
    lines = [f"{head}    params"]
    for name, kind, shape, n in rows:
        lines.append(f"{name:{widths[0]}s}    {kind:{widths[1]}s}    {shape:{widths[2]}s}"
                     f"    {n:6d}")
    return "\n".join(line.rstrip() for line in lines)


def _shape_of(out) -> str:
    shapes = [tuple(leaf.shape) for leaf in tree.leaves(out)]
    return str(shapes[0]) if len(shapes) == 1 else ", ".join(map(str, shapes))
