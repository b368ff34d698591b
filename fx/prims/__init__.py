"""Primitive declarations, one family per file. Importing this package registers them all."""
from fx.prims import (  # noqa: F401
    collectives,
    cond,
    decompositions,
    elementwise,
    indexing,
    linalg,
    random_bits,
    reductions,
    scan,
    shape,
    special,
    while_loop,
)
