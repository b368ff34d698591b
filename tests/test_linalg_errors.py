"""Bad input to contractions and linear algebra raises our clear errors, naming the op."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx.core.primitive import bind
from fx.prims.linalg import dot_general_p, triangular_solve_p


def ones(*shape, dtype="float32"):
    return fnp.ones(shape, dtype=dtype)


def test_matmul_message_names_op_and_shapes():
    with pytest.raises(ValueError) as e:
        fnp.matmul(ones(3, 4), ones(5, 6))
    msg = str(e.value)
    assert msg.startswith("matmul(float32[3") and "contraction dimension 4 != 5" in msg


@pytest.mark.parametrize("a, b, match", [
    ((3, 4), (5, 6), "matmul.*contraction dimension 4 != 5"),
    ((4,), (3,), "matmul.*4 != 3"),
    ((2, 3, 4), (3, 4, 2), "matmul.*batch dimensions"),
    ((), (3,), "matmul.*at least 1-D"),
])
def test_matmul_shapes(a, b, match):
    with pytest.raises(ValueError, match=match):
        fnp.matmul(ones(*a), ones(*b))
    with pytest.raises(ValueError, match=match.split(".*")[0]):
        ones(*a) @ ones(*b)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: fnp.dot(ones(2, 3), ones(2, 3)), ValueError, r"dot\(.*3 != 2"),
    (lambda: fnp.inner(ones(2, 3), ones(2)), ValueError, r"inner\(.*3 != 2"),
    (lambda: fnp.vdot(ones(2, 3), ones(5)), ValueError, r"vdot\(.*6 and 5"),
    (lambda: fnp.tensordot(ones(2, 3), ones(3, 2)), ValueError, r"tensordot\(.*\[2, 3\] != "),
    (lambda: fnp.tensordot(ones(2), ones(2), axes=3), ValueError, r"tensordot\(.*out of range"),
    (lambda: fnp.tensordot(ones(2), ones(2), axes=([0, 0], [0])), ValueError, "tensordot"),
    (lambda: fnp.tensordot(ones(2), ones(2), axes=([5], [0])), ValueError, "tensordot.*axis 5"),
    (lambda: fnp.diagonal(ones(3)), ValueError, r"diagonal\(.*at least 2-D"),
    (lambda: fnp.diagonal(ones(3, 3), axis1=1, axis2=1), ValueError, "diagonal.*same axis"),
    (lambda: fnp.diagonal(ones(3, 3), axis2=4), ValueError, "diagonal.*out of bounds"),
    (lambda: fnp.trace(ones(3)), ValueError, "diagonal"),
    (lambda: fnp.diag(ones(2, 2, 2)), ValueError, r"diag\(.*1-D or 2-D"),
])
def test_contraction_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("subscripts, shapes, match", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "einsum.*index 'j' has sizes 3 and 4"),
    ("ij,jk", [(2, 3)], "einsum.*names 2 operands, got 1"),
    ("ij->k", [(2, 3)], "einsum.*'k' appears in no operand"),
    ("ijk", [(2, 3)], "einsum.*3 indices but the operand has 2"),
    ("i1", [(2, 3)], "einsum.*invalid subscripts"),
    ("ij->ii", [(2, 3)], "einsum.*repeat"),
    ("...ijk", [(2, 3)], "einsum.*more indices than dimensions"),
    ("...i->i", [(2, 3)], "einsum.*output 'i' has no '...'"),
])
def test_einsum_errors(subscripts, shapes, match):
    with pytest.raises(ValueError, match=match):
        fnp.einsum(subscripts, *[ones(*s) for s in shapes])


@pytest.mark.parametrize("dims, match", [
    ((((1,), (1,)), ((), ())), "contracting dimension 3 != 4"),
    ((((1,), (0, 1)), ((), ())), "differ in length"),
    ((((2,), (0,)), ((), ())), "out of range"),
    ((((1,), (0,)), ((1,), (0,))), "repeated dimension"),
    ((((1,), (0,)), ((0,), (1,))), "batch dimension 2 != 4"),
])
def test_dot_general_dimension_numbers(dims, match):
    with pytest.raises(ValueError, match="dot_general.*" + match):
        bind(dot_general_p, ones(2, 3), ones(3, 4), dimension_numbers=dims)


def test_dot_general_dtype_mismatch_under_abstract_eval():
    with pytest.raises(TypeError, match="dot_general.*share one dtype"):
        dot_general_p.abstract_eval(ones(2, 3).aval, ones(3, dtype="float64").aval,
                                    dimension_numbers=(((1,), (0,)), ((), ())))


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh"])
def test_square_only(name):
    fn = getattr(fnp.linalg, name)
    with pytest.raises(ValueError, match=rf"{name if name != 'eigvalsh' else 'eigh'}\(float32"
                                         r"\[2, 3\]\).*square.*\(2, 3\)"):
        fn(ones(2, 3))
    with pytest.raises(ValueError, match="at least 2-D"):
        fn(ones(3))


@pytest.mark.parametrize("a, b, match", [
    ((2, 3), (2,), r"solve\(.*square"),
    ((3, 3), (4,), r"solve\(.*b has 4 rows"),
    ((3, 3), (4, 2), r"solve\(.*b must have shape \(3,\) or \(\.\.\., 3, K\)"),
    ((2, 3, 3), (4, 3, 1), r"solve\(.*cannot be broadcast"),
])
def test_solve_shapes(a, b, match):
    with pytest.raises(ValueError, match=match):
        fnp.linalg.solve(ones(*a), ones(*b))


@pytest.mark.parametrize("kw, match", [
    ({"ord": "fro"}, "norm.*invalid ord='fro' for a vector norm"),
    ({"ord": "bad", "axis": (0, 1)}, "norm.*invalid ord='bad' for a matrix norm"),
    ({"ord": 3, "axis": (0, 1)}, "norm.*invalid ord=3"),
    ({"axis": (0, 0)}, "norm.*pair of distinct axes"),
    ({"axis": 5}, "norm.*out of bounds"),
])
def test_norm_bad_arguments(kw, match):
    x = ones(3) if kw.get("ord") == "fro" else ones(3, 3)
    with pytest.raises(ValueError, match=match):
        fnp.linalg.norm(x, **kw)


def test_norm_needs_axis_for_3d_ord():
    with pytest.raises(ValueError, match="norm: ord=1 needs a 1-D or 2-D input"):
        fnp.linalg.norm(ones(2, 2, 2), 1)


def test_other_linalg_errors():
    with pytest.raises(ValueError, match="qr: mode"):
        fnp.linalg.qr(ones(3, 3), mode="raw")
    with pytest.raises(ValueError, match="matrix_power.*square"):
        fnp.linalg.matrix_power(ones(2, 3), 2)
    with pytest.raises(ValueError, match="eigh.*UPLO"):
        fnp.linalg.eigh(ones(2, 2), UPLO="X")
    with pytest.raises(ValueError, match=r"triangular_solve\(.*b has 2 rows, a is 3x3"):
        bind(triangular_solve_p, ones(3, 3), ones(2, 2), left_side=True, lower=True,
             transpose_a=False)
    with pytest.raises(NotImplementedError, match="fx.numpy.linalg.eig "):
        fnp.linalg.eig(ones(2, 2))


def test_singular_matrix_names_op():
    with pytest.raises(np.linalg.LinAlgError, match=r"inv\(float32\[2, 2\]\)"):
        fnp.linalg.inv(fnp.zeros((2, 2)))


def test_integer_inputs_promote_to_float32():
    a = fx.asarray(np.eye(3, dtype=np.int32) * 2)
    assert fnp.linalg.inv(a).dtype == np.float32
    assert fnp.linalg.det(a).dtype == np.float32
    assert fnp.linalg.norm(a).dtype == np.float32
    assert fnp.linalg.solve(a, fx.asarray([1, 2, 3])).dtype == np.float32
    assert fnp.linalg.inv(fx.asarray(np.eye(2))).dtype == np.float64


def test_slogdet_is_a_named_pair():
    sign, logabsdet = out = fnp.linalg.slogdet(fnp.eye(2) * 3)
    assert out.sign is sign and out.logabsdet is logabsdet
    np.testing.assert_allclose(np.asarray(logabsdet), np.log(9.0), rtol=1e-6)
