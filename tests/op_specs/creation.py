"""Op specs: creation functions whose array inputs come from the table's strategies."""
import numpy as np

import fx.numpy as fnp
from tests.op_specs.spec import FLOATS, NUMERIC, OpSpec, arrays, fixed

SPECS = [
    OpSpec("zeros_like", fnp.zeros_like, np.zeros_like, arrays(), NUMERIC),
    OpSpec("ones_like", fnp.ones_like, np.ones_like, arrays(), NUMERIC),
    OpSpec("full_like", lambda a: fnp.full_like(a, 7), lambda a: np.full_like(a, 7), arrays(),
           NUMERIC),
    OpSpec("tril", fnp.tril, np.tril, arrays(min_dims=2), NUMERIC,
           kwargs=({}, {"k": 1}, {"k": -1})),
    OpSpec("triu", fnp.triu, np.triu, arrays(min_dims=2), NUMERIC,
           kwargs=({}, {"k": 1}, {"k": -2})),
    OpSpec("linspace_arrays", lambda a, b: fnp.linspace(a, b, 5),
           lambda a, b: np.linspace(a, b, 5), fixed((3,), (3,)), FLOATS),
]
