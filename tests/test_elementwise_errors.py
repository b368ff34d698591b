"""Bad input to elementwise functions and creation: our errors, naming the op and shapes."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add\(float32\[3\], float32\[4\]\).*\(3,\) and \(4,\)"):
        fnp.ones(3) + fnp.ones(4)
    with pytest.raises(ValueError, match=r"select"):
        fnp.where(fnp.ones(3) > 0, fnp.ones(2), fnp.ones(3))


def test_wrong_dtype_is_type_error_naming_op():
    with pytest.raises(TypeError, match=r"and\(float32\[2\], float32\[2\]\).*float32"):
        fnp.bitwise_and(fnp.ones(2), fnp.ones(2))
    with pytest.raises(TypeError, match="shift_left"):
        fnp.left_shift(fnp.ones(2), 1)
    with pytest.raises(TypeError, match=r"floor\(complex64\[1\]\)"):
        fnp.floor(fx.asarray([1j]))


def test_non_numeric_inputs():
    with pytest.raises(TypeError, match="asarray"):
        fnp.sin("hello")
    with pytest.raises(TypeError, match="asarray"):
        fnp.add(fnp.ones(2), object())


def test_lists_and_numpy_inputs_are_accepted():
    assert fnp.add([1, 2], [3, 4]).tolist() == [4, 6]
    assert fnp.multiply(np.ones(2, np.float64), 2).dtype == np.float64


def test_unsupported_numpy_name_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="fx.numpy.busday_count"):
        fnp.busday_count(None)
    assert not hasattr(fnp, "busday_count")  # hasattr stays usable for feature detection
    with pytest.raises(AttributeError, match="no_such_thing"):
        fnp.no_such_thing(None)


def test_clip_and_where_arguments():
    with pytest.raises(ValueError, match="clip"):
        fnp.clip(fnp.ones(2))
    with pytest.raises(ValueError, match="where"):
        fnp.where(fnp.ones(2) > 0, fnp.ones(2))


def test_creation_bad_shapes():
    with pytest.raises(ValueError, match="negative"):
        fnp.zeros((2, -1))
    with pytest.raises(TypeError, match="shape"):
        fnp.ones((2.5,))
    with pytest.raises(ValueError, match="step"):
        fnp.arange(0, 3, 0)
    with pytest.raises(ValueError, match="linspace"):
        fnp.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="2-D"):
        fnp.tril(fnp.ones(3))


def test_results_are_fresh_and_inputs_untouched():
    a = fnp.arange(3.0)
    b = fnp.exp(a)
    assert a.tolist() == [0.0, 1.0, 2.0] and b is not a
