"""Small helpers shared by the transform tests."""
import numpy as np

import fx


def f64(x):
    """``x`` as a float64 fx array (derivative checks compare in double precision)."""
    return fx.asarray(np.asarray(x, dtype=np.float64))


def close(got, want, rtol=1e-12, atol=1e-12):
    """``got`` (fx arrays, pytrees' leaves one at a time) equals ``want`` within tolerance."""
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=atol)


def scaled_sin(factor: float):
    """``sin`` with a ``custom_jvp`` rule claiming the derivative ``factor * cos``: a rule
    that is deliberately wrong unless ``factor == 1`` (the tests check it is really used)."""
    import fx.numpy as fnp
    from transforms import custom_jvp

    @custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), factor * fnp.cos(x) * t
    return f
