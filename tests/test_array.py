"""fx.Array: immutability, protocols, conversions, printing, typing."""
import copy
import pickle

import numpy as np
import pytest

import fx
import fx.numpy as fnp


@pytest.fixture
def x():
    return fx.asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def test_metadata(x):
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6
    assert x.dtype == np.float32 and x.device == fx.devices()[0]
    assert x.aval.shape == (2, 3)


def test_setitem_raises_with_functional_hint(x):
    with pytest.raises(TypeError, match=r"a\.at\[0, 1:\]\.set\(0\.0\)"):
        x[0, 1:] = 0.0
    with pytest.raises(TypeError, match="immutable"):
        del x[0]


def test_cannot_construct_directly():
    with pytest.raises(TypeError, match="fx.asarray"):
        fx.Array(np.zeros(3))


def test_numpy_view_is_read_only(x):
    view = np.asarray(x)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 9.0
    writable = np.array(x, copy=True)
    writable[0, 0] = 9.0
    assert float(x[0, 0]) == 1.0


def test_asarray_copies_outside_buffers():
    host = np.arange(3.0)
    a = fx.asarray(host)
    host[0] = 100.0
    assert np.asarray(a)[0] == 0.0


def test_python_protocols(x):
    assert len(x) == 2
    scalar = fx.asarray(3.5)
    assert float(scalar) == 3.5 and int(fx.asarray(3)) == 3 and bool(fx.asarray(True))
    assert complex(scalar) == 3.5 + 0j
    assert [1, 2, 3][fx.asarray(1)] == 2
    assert scalar.item() == 3.5 and x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    with pytest.raises(TypeError, match="len"):
        len(scalar)
    with pytest.raises(TypeError, match="integer"):
        [1, 2][fx.asarray(1.0)]
    with pytest.raises(TypeError):
        hash(x)


def test_repr_and_str(x):
    assert repr(fx.asarray([1, 2])) == "Array([1, 2], dtype=int32)"
    assert repr(x).startswith("Array([[1., 2., 3.],\n       [4., 5., 6.]]")
    assert str(fx.asarray([1.5])) == "[1.5]"
    assert f"{fx.asarray(2.0):.2f}" == "2.00"


def test_numpy_operands_defer_to_fx():
    out = np.ones(3, np.float32) + fx.asarray([1.0, 2.0, 3.0])
    assert isinstance(out, fx.Array) and out.tolist() == [2.0, 3.0, 4.0]
    out = np.float32(2) * fx.asarray([1.0])
    assert isinstance(out, fx.Array)


def test_operators_cover_numpy_semantics():
    a, b = fx.asarray([5, -7]), fx.asarray([3, 2])
    assert (a + b).tolist() == [8, -5] and (a - b).tolist() == [2, -9]
    assert (a * b).tolist() == [15, -14] and (a // b).tolist() == [1, -4]
    assert (a % b).tolist() == [2, 1] and (a ** 2).tolist() == [25, 49]
    assert (-a).tolist() == [-5, 7] and abs(a).tolist() == [5, 7] and (+a).tolist() == [5, -7]
    assert (a & b).tolist() == [1, 0] and (a | b).tolist() == [7, -5]
    assert (~b).tolist() == [-4, -3] and (a ^ b).tolist() == [6, -5]
    assert (b << 1).tolist() == [6, 4] and (b >> 1).tolist() == [1, 1]
    assert (a < b).tolist() == [False, True] and (a == a).tolist() == [True, True]
    assert (a != b).tolist() == [True, True] and (a >= b).tolist() == [True, False]
    assert (10 - a).tolist() == [5, 17] and (1 / fx.asarray([2.0])).tolist() == [0.5]
    q, r = divmod(a, b)
    assert q.tolist() == [1, -4] and r.tolist() == [2, 1]


def test_copy_and_pickle(x):
    assert copy.copy(x) is x and copy.deepcopy(x) is x
    back = pickle.loads(pickle.dumps(x))
    assert isinstance(back, fx.Array) and back.tolist() == x.tolist()


def test_dlpack_round_trip(x):
    host = np.from_dlpack(x)
    assert np.array_equal(host, np.asarray(x))
    again = fx.from_dlpack(host)
    assert isinstance(again, fx.Array) and again.tolist() == x.tolist()
    assert fx.from_dlpack(fx.asarray(2.0)).item() == 2.0


def test_jaxtyping_annotations_checked_with_beartype():
    beartype = pytest.importorskip("beartype").beartype
    from jaxtyping import Float, Int, TypeCheckError, jaxtyped

    @jaxtyped(typechecker=beartype)
    def affine(x: Float[fx.Array, "b d"], w: Float[fx.Array, "d k"]) -> Float[fx.Array, "b k"]:
        return x @ w

    affine(fnp.ones((2, 3)), fnp.ones((3, 4)))
    with pytest.raises(TypeCheckError, match="d"):
        affine(fnp.ones((2, 3)), fnp.ones((5, 4)))
    with pytest.raises(TypeCheckError):
        affine(fnp.ones((2, 3), dtype="int32"), fnp.ones((3, 4)))

    @jaxtyped(typechecker=beartype)
    def count(x: Int[fx.Array, " n"]) -> Int[fx.Array, ""]:
        return fnp.sum(x)

    count(fx.asarray([1, 2]))
