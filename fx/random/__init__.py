"""Counter-based, splittable random numbers (JAX's ``jax.random``): ``from fx import random``.

Keys are ``uint32[2]`` arrays hashed with Threefry-2x32; nothing is stateful, so every
draw takes its key explicitly and the same key gives the same numbers on every backend,
eagerly and under transforms. Split a key (``split``) or fold data into it (``fold_in``)
to get fresh, independent streams; never reuse a key for two draws you want independent.

Example:
    >>> from fx import random
    >>> k = random.key(0)
    >>> k, sub = random.split(k)
    >>> random.uniform(sub, (3,)).shape
    (3,)
"""
from fx.random._distributions import *
from fx.random._distributions import __all__ as _dist_all
from fx.random._threefry import *
from fx.random._threefry import __all__ as _key_all

__all__ = [*_key_all, *_dist_all]
