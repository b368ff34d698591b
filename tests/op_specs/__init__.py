"""The table of every op: one ``SPECS`` list per family, gathered in ``ALL_SPECS``."""
from tests.op_specs import creation, elementwise

ALL_SPECS = [*elementwise.SPECS, *creation.SPECS]
