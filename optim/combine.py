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
