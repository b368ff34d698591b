"""Creation functions without array inputs: values like NumPy, dtypes by fx's policy."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp

CASES = [
    ("zeros", ((2, 3),), {}, np.float32),
    ("ones", (4,), {"dtype": "int8"}, np.int8),
    ("full", ((2,), 1.5), {}, np.float32),
    ("empty", ((0, 2),), {}, np.float32),
    ("eye", (3,), {"M": 4, "k": 1}, np.float32),
    ("identity", (2,), {"dtype": "float64"}, np.float64),
    ("arange", (5,), {}, np.int32),
    ("arange", (1, 2, 0.25), {}, np.float32),
    ("arange", (10, 0, -3), {}, np.int32),
    ("linspace", (0, 1, 7), {}, np.float32),
    ("linspace", (2, 3, 4), {"endpoint": False}, np.float32),
    ("logspace", (0, 2, 3), {}, np.float32),
    ("tri", (3, 4), {"k": -1}, np.float32),
    ("array", ([[1, 2], [3, 4]],), {}, np.int32),
    ("array", ([1.0, 2.0],), {"ndmin": 3}, np.float32),
]


@pytest.mark.parametrize("name, args, kwargs, dtype", CASES, ids=[c[0] for c in CASES])
def test_creation_matches_numpy(name, args, kwargs, dtype):
    got = getattr(fnp, name)(*args, **kwargs)
    expected = getattr(np, name)(*args, **kwargs)
    assert isinstance(got, fx.Array) and got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_linspace_retstep_and_axis():
    out, step = fnp.linspace(fx.asarray([0.0, 1.0]), fx.asarray([1.0, 3.0]), 5, retstep=True,
                             axis=1)
    ref, ref_step = np.linspace([0.0, 1.0], [1.0, 3.0], 5, retstep=True, axis=1)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(step), ref_step, rtol=1e-6)


def test_meshgrid_and_diag():
    xs, ys = fnp.meshgrid(fnp.arange(3), fnp.arange(2))
    rx, ry = np.meshgrid(np.arange(3), np.arange(2))
    assert xs.tolist() == rx.tolist() and ys.tolist() == ry.tolist()
    assert fnp.diag(fnp.arange(1, 3), k=1).tolist() == np.diag(np.arange(1, 3), k=1).tolist()
    assert fnp.diag(fnp.eye(3) * 2).tolist() == [2.0, 2.0, 2.0]


def test_full_with_array_fill_broadcasts():
    out = fnp.full((2, 3), fx.asarray([1.0, 2.0, 3.0]))
    assert out.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_creation_on_explicit_device():
    assert fnp.zeros(2, device="cpu").device == fx.devices("cpu")[0]
