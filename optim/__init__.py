"""Functional optimizers (Optax's names and defaults): ``import optim``."""
from optim.base import EmptyState, GradientTransformation, apply_updates, identity, stateless
from optim.combine import chain

__all__ = ["GradientTransformation", "EmptyState", "identity", "stateless", "apply_updates",
           "chain"]
