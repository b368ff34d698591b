"""The table of every op: one ``SPECS`` list per family, gathered in ``ALL_SPECS``."""
from tests.op_specs import (
             creation,
             elementwise,
             indexing,
             linalg,
             manipulation,
             reductions,
             special,
)

ALL_SPECS = [*elementwise.SPECS, *creation.SPECS, *linalg.SPECS, *indexing.SPECS,
             *manipulation.SPECS, *reductions.SPECS, *special.SPECS]
