"""The dtype policy of DESIGN.md: defaults, weak scalars, NumPy 2 promotion, float64."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import dtypes


def test_creation_defaults():
    assert fx.asarray([1, 2]).dtype == np.int32
    assert fx.asarray([1.0]).dtype == np.float32
    assert fx.asarray(1j).dtype == np.complex64
    assert fx.asarray([True]).dtype == np.bool_
    assert fnp.zeros(3).dtype == fnp.ones(3).dtype == fnp.eye(2).dtype == np.float32
    assert fnp.arange(3).dtype == np.int32 and fnp.arange(3.0).dtype == np.float32
    assert fnp.full(2, 7).dtype == np.int32 and fnp.full(2, 7.0).dtype == np.float32


def test_explicit_dtypes_honoured_including_float64():
    assert fx.asarray([1.0], dtype="float64").dtype == np.float64
    assert fx.asarray(np.zeros(2)).dtype == np.float64
    assert fnp.zeros(2, dtype=fx.float64).dtype == np.float64
    x = fx.asarray([1.0, 2.0], dtype="float64")
    assert (fnp.sin(x) * 2.0 + 1).dtype == np.float64


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32", "uint8"])
def test_weak_scalars_keep_array_dtype(dtype):
    x = fnp.ones(3, dtype=dtype)
    assert (x * 2).dtype == dtype and (2 + x).dtype == dtype
    if np.dtype(dtype).kind == "f":
        assert (x * 2.0).dtype == dtype and (x / 2).dtype == dtype


def test_weak_scalar_of_higher_kind_takes_its_default():
    assert (fnp.ones(2, dtype="int32") * 2.5).dtype == np.float32
    assert (fnp.ones(2, dtype="int64") / 2).dtype == np.float32
    assert (fx.asarray([True]) + 1).dtype == np.int32
    assert (fnp.ones(2, dtype="float64") * 1j).dtype == np.complex128
    assert (fnp.ones(2, dtype="float32") * 1j).dtype == np.complex64
    assert fnp.sin(fx.asarray([1, 2])).dtype == np.float32


@pytest.mark.parametrize("a, b", [("int32", "float32"), ("uint8", "int8"), ("float16", "float32"),
                                  ("int64", "float64"), ("bool", "int16"), ("uint32", "int32")])
def test_array_promotion_is_numpy2(a, b):
    got = fnp.add(fnp.ones(2, dtype=a), fnp.ones(2, dtype=b)).dtype
    assert got == np.result_type(np.dtype(a), np.dtype(b))


def test_default_float_config():
    try:
        fx.config.default_float = "float64"
        assert fnp.zeros(1).dtype == np.float64 and fx.asarray([1.0]).dtype == np.float64
        assert (fx.asarray([1]) / 2).dtype == np.float64
        assert fx.config.default_complex == np.complex128
    finally:
        fx.config.default_float = "float32"
    with pytest.raises(ValueError, match="default_float"):
        fx.config.default_float = "int32"


def test_result_type_helper():
    assert dtypes.result_type(2, 2.0) == np.float32
    assert dtypes.result_type(fnp.ones(1, dtype="int8"), 3) == np.int8
    with pytest.raises(TypeError, match="dtype"):
        dtypes.canonicalize("U3")
    with pytest.raises(TypeError, match="numeric"):
        fx.asarray(["a", "b"])


def test_int_overflow_of_weak_scalar_is_clear():
    with pytest.raises(OverflowError, match="int8"):
        fnp.ones(2, dtype="int8") + 1000
