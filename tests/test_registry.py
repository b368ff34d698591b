"""Coverage of the registry: every required fx.numpy name exists and has an op-spec row."""
import pytest

import fx.numpy as fnp
from fx.core.primitive import PRIMITIVES
from tests.op_specs import ALL_SPECS

REQUIRED = """
array asarray zeros ones full empty zeros_like ones_like full_like eye identity arange linspace
logspace meshgrid tri tril triu diag
add subtract multiply divide power mod floor_divide negative abs sign exp exp2 expm1 log log2 log10
log1p sqrt cbrt square reciprocal sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh
arccosh arctanh maximum minimum fmax fmin clip where floor ceil round trunc logaddexp hypot isnan
isinf isfinite nan_to_num equal not_equal less less_equal greater greater_equal logical_and
logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor invert
sum prod mean var std max min amax amin argmax argmin any all cumsum cumprod median logsumexp
reshape ravel transpose moveaxis swapaxes expand_dims squeeze broadcast_to broadcast_arrays
concatenate stack hstack vstack split array_split tile repeat flip roll pad take take_along_axis
sort argsort
matmul dot vdot tensordot einsum outer inner kron trace diagonal
""".split()
REQUIRED_LINALG = "inv solve det slogdet cholesky qr svd eigh eigvalsh norm".split()
# creation functions with no array input are checked in test_creation.py instead of the table
NO_ARRAY_INPUT = {"array", "asarray", "zeros", "ones", "full", "empty", "eye", "identity",
                  "arange", "logspace", "tri"}


@pytest.mark.parametrize("name", REQUIRED)
def test_required_function_exists_and_has_a_spec(name):
    assert callable(getattr(fnp, name))
    if name not in NO_ARRAY_INPUT:
        assert any(s.name == name or s.name.startswith(name + "_") for s in ALL_SPECS), name


@pytest.mark.parametrize("name", REQUIRED_LINALG)
def test_required_linalg_function_exists_and_has_a_spec(name):
    assert callable(getattr(fnp.linalg, name))
    assert any(s.name in (name, f"linalg.{name}") or s.name.startswith(f"linalg.{name}_")
               or s.name.startswith(name + "_") for s in ALL_SPECS), name


def test_every_primitive_has_shape_rule_and_impl():
    for prim in PRIMITIVES.values():
        assert callable(prim.impl) and callable(prim.abstract_eval), prim


def test_every_primitive_has_differentiation_and_batching_rules():
    """Reverse mode uses a primitive's vjp rule, or linearizes its jvp rule: a jvp rule
    (and a batching rule for vmap) is all every primitive needs. A call primitive (a
    custom rule staged by jit) hands itself back to each trace through ``call`` instead."""
    no_jvp = [n for n, p in PRIMITIVES.items() if p.jvp is None and p.call is None]
    no_batch = [n for n, p in PRIMITIVES.items() if p.batch is None and p.call is None]
    assert not no_jvp and not no_batch, (no_jvp, no_batch)
