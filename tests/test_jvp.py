"""Forward mode: registry-driven jvp vs central finite differences (float64), plus
nesting, pytrees and bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
import fx.numpy as fnp
from fx.testing import check_grads
from tests.op_specs import ALL_SPECS
from transforms import jvp

# Rows that reach a case with no forward rule, as in JAX: complete QR of a tall matrix and
# full_matrices SVD of a non-square one (the extra columns of Q, U or V are not unique).
# The other cases are checked on full-rank inputs below.
NO_RULE = {"qr_complete", "svd", "svd_batched"}
# Rows whose drawn inputs hit kinks (zero variance, sort ties, NaNs, repeated eigenvalues)
# or have integer operands; eigh is checked on distinct eigenvalues below.
NOT_SMOOTH_ON_DRAWS = {"std", "sum_dtype", "nanmax", "nanmin", "median_nan", "sort",
                       "concatenate_mixed", "eigh", "eigh_batched", "eigvalsh",
                       # rank-deficient draws (zero or constant matrices): R is singular,
                       # singular values repeat (pinv is smooth there, its SVD is not)
                       "qr", "qr_batched", "svd_values", "pinv",
                       # norms of zero vectors, |x| at 0, max/min ties
                       "norm", "norm_matrix", "norm_axis", "norm_flat", "vector_norm",
                       "matrix_norm",
                       # ties between x and the updates, as for maximum/minimum
                       "at_min", "at_max"}
SPECS = [s for s in ALL_SPECS if s.smooth and np.float64 in s.dtypes
         and s.name not in NO_RULE | NOT_SMOOTH_ON_DRAWS]


def _leaves(out):
    return [np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else [out])]


def finite_difference(f, args, tangents, eps=1e-6):
    """Central differences, output by output; zero for integer and bool outputs."""
    plus = _leaves(f(*[np.asarray(a + eps * t) for a, t in zip(args, tangents)]))
    minus = _leaves(f(*[np.asarray(a - eps * t) for a, t in zip(args, tangents)]))
    return [(p - m) / (2 * eps) if p.dtype.kind in "fc" else np.zeros(p.shape)
            for p, m in zip(plus, minus)]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_jvp_matches_finite_differences(spec):
    @settings(max_examples=10, derandomize=True, deadline=None, database=None)
    @given(st.data())
    def check(data):
        arrs = data.draw(spec.args(np.dtype(np.float64)), label="args")
        kwargs = data.draw(spec.draw_kwargs(arrs), label="kwargs")
        rng = np.random.default_rng(0)
        tangents = [rng.standard_normal(a.shape) for a in arrs]
        f = lambda *xs: spec.fx_fn(*xs, **kwargs)
        _, tangent = jvp(f, tuple(fx.asarray(a) for a in arrs),
                              tuple(fx.asarray(t) for t in tangents))
        expected = finite_difference(lambda *xs: spec.np_fn(*xs, **kwargs), arrs, tangents)
        got = _leaves(tangent)
        assert len(got) == len(expected), spec.name
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=spec.name)
    check()


def test_no_perturbation_confusion():
    """d/dx [x * d/dy (x + y)] = 1: the inner derivative must not see x's tangent."""
    f = lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    assert jvp(f, (2.0,), (1.0,))[1].item() == 1.0


def test_second_order_by_nesting():
    df = lambda x: jvp(fnp.sin, (x,), (fx.asarray(1.0, dtype="float64"),))[1]
    x = fx.asarray(0.3, dtype="float64")
    assert np.isclose(jvp(df, (x,), (fx.asarray(1.0, dtype="float64"),))[1].item(), -np.sin(0.3))


def test_max_ties_split_the_tangent_and_pytrees_pass_through():
    out, t = jvp(lambda d: {"m": fnp.maximum(d["a"], d["b"])},
                 ({"a": fx.asarray(1.0), "b": fx.asarray(1.0)},),
                 ({"a": fx.asarray(1.0), "b": fx.asarray(0.0)},))
    assert out["m"].item() == 1.0 and t["m"].item() == 0.5


def test_constant_output_has_zero_tangent_and_python_control_flow_works():
    assert jvp(lambda x: fnp.ones(2), (1.0,), (1.0,))[1].tolist() == [0.0, 0.0]
    f = lambda x: x * 2.0 if x > 0 else -x
    assert jvp(f, (3.0,), (1.0,))[1].item() == 2.0


def test_bad_input():
    with pytest.raises(TypeError, match="tuples"):
        jvp(fnp.sin, 1.0, 1.0)
    with pytest.raises(TypeError, match="tangent 0"):
        jvp(fnp.sin, (fnp.ones(2),), (fnp.ones(3),))
    with pytest.raises(TypeError, match="structures"):
        jvp(fnp.add, (1.0, 2.0), (1.0,))


def test_symbolic_zero_tangents_skip_terms():
    """d/dx mod(x, c) = 1 even where d/dc is infinite: c's zero tangent is never multiplied."""
    c = fx.asarray([0.0, 2.0], dtype="float64")
    with np.errstate(all="ignore"):
        _, t = jvp(lambda x: fnp.mod(x, c), (fx.asarray([1.0, 3.0], dtype="float64"),),
                   (fx.asarray([1.0, 1.0], dtype="float64"),))
    assert t.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_jvp_on_distinct_eigenvalues(uplo):
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = q @ np.diag([1.0, 2.0, 4.0, 7.0]) @ q.T
    t = rng.standard_normal((4, 4))

    def reconstruct(xp, m):
        w, v = xp.linalg.eigh(m, UPLO=uplo)
        return w, xp.matmul(v * w[None, :], v.T), xp.abs(v[:, 0])
    _, tangents = jvp(lambda m: reconstruct(fnp, m), (fx.asarray(a),), (fx.asarray(t),))
    expected = finite_difference(lambda m: reconstruct(np, m), [a], [t])
    for got, want in zip(tangents, expected):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-7)
    check_grads(lambda m: reconstruct(fnp, m), (fx.asarray(a),), order=2)


def _random(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return (x + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else x).astype(
        dtype)


def assert_jvp_matches(fn, args, rtol=1e-6, atol=1e-7):
    """jvp of ``fn(fnp, *args)`` against finite differences of ``fn(np, *args)``; then
    reverse mode and second derivatives through ``check_grads`` (these rows are left out
    of the registry's reverse-mode tests, whose draws are not smooth for them)."""
    check_grads(lambda *xs: fn(fnp, *xs), tuple(map(fx.asarray, args)), order=2)
    tangents = [_random(a.shape, a.dtype, seed=1 + i) for i, a in enumerate(args)]
    _, got = jvp(lambda *xs: fn(fnp, *xs), tuple(map(fx.asarray, args)),
                 tuple(map(fx.asarray, tangents)))
    expected = finite_difference(lambda *xs: fn(np, *xs), args, tangents)
    got = _leaves(got)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


SHAPES = [(4, 4), (5, 3), (3, 5), (2, 4, 3), (2, 3, 4), (1, 1), (3, 1), (1, 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("shape", SHAPES)
def test_qr_jvp_on_full_rank_matrices(shape, dtype):
    def signed_qr(xp, a, mode):  # unique once diag(R) > 0 (LAPACK keeps it real)
        q, r = xp.linalg.qr(a, mode=mode)
        d = xp.sign(xp.real(xp.diagonal(r, 0, -2, -1)))
        return q * xp.expand_dims(d, -2), r * xp.expand_dims(d, -1), xp.matmul(q, r)
    a = _random(shape, dtype)
    assert_jvp_matches(lambda xp, m: signed_qr(xp, m, "reduced"), [a])
    if shape[-2] <= shape[-1]:
        assert_jvp_matches(lambda xp, m: signed_qr(xp, m, "complete"), [a])


def test_complete_qr_of_a_tall_matrix_has_no_forward_rule():
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        jvp(lambda a: fnp.linalg.qr(a, mode="complete"), (fnp.ones((3, 2)),), (fnp.ones((3, 2)),))


@pytest.mark.parametrize("shape", SHAPES)
def test_svd_jvp_on_distinct_singular_values(shape):
    a = _random(shape)  # real factors are unique up to signs, which stay put under small steps
    assert_jvp_matches(lambda xp, m: xp.linalg.svd(m, full_matrices=False), [a])
    assert_jvp_matches(lambda xp, m: xp.linalg.svd(m, compute_uv=False), [a])
    if shape[-1] == shape[-2]:
        assert_jvp_matches(lambda xp, m: xp.linalg.svd(m), [a])


@pytest.mark.parametrize("shape", SHAPES)
def test_complex_svd_jvp_on_what_the_phases_leave_unique(shape):
    def invariants(xp, m):
        u, s, vh = xp.linalg.svd(m, full_matrices=False)
        rank_ones = xp.einsum("...ik,...kj->...kij", u, vh)  # u_k vh_k: free of the phase
        return s, rank_ones, xp.matmul(u * xp.expand_dims(s, -2).astype(u.dtype), vh)
    assert_jvp_matches(invariants, [_random(shape, np.complex128)])


def test_full_svd_of_a_non_square_matrix_has_no_forward_rule():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        jvp(fnp.linalg.svd, (fnp.ones((3, 2)),), (fnp.ones((3, 2)),))


@pytest.mark.parametrize("ord", [None, 1, 2, 3, 0.5, -1, 0, np.inf, -np.inf])
def test_vector_norm_jvp_away_from_kinks(ord):
    x = np.array([0.7, -1.9, 1.3, -0.4, 2.6])  # no zeros, distinct magnitudes
    assert_jvp_matches(lambda xp, v: xp.linalg.norm(v, ord), [x])


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norm_jvp_away_from_kinks(ord):
    a = _random((3, 4))  # distinct singular values, row and column sums; no zeros
    assert_jvp_matches(lambda xp, m: xp.linalg.norm(m, ord), [a])


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 3, 4)])
def test_pinv_jvp_on_distinct_singular_values(shape):
    assert_jvp_matches(lambda xp, m: xp.linalg.pinv(m), [_random(shape)])


@pytest.mark.parametrize("reverse", [False, True])
def test_cumprod_jvp_with_zeros_follows_the_product_rule(reverse):
    from fx.prims.reductions import cumprod_p
    x = np.array([[2.0, 0.0, 3.0, 0.0, 5.0, -1.5, 0.5], [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    t = _random(x.shape)
    _, got = jvp(lambda v: cumprod_p.bind(v, axis=1, reverse=reverse), (fx.asarray(x),),
                 (fx.asarray(t),))
    xs, ts = (x[:, ::-1], t[:, ::-1]) if reverse else (x, t)
    expected = np.zeros_like(x)  # sum_{i<=k} t_i prod_{j<=k, j != i} x_j
    for k in range(x.shape[1]):
        for i in range(k + 1):
            others = np.prod(np.delete(xs[:, :k + 1], i, axis=1), axis=1)
            expected[:, k] += ts[:, i] * others
    np.testing.assert_allclose(np.asarray(got), expected[:, ::-1] if reverse else expected,
                               rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("values, d_values, d_x", [
    ([0.0, 3.0, 5.0, 0.0], [30.0, 0.0, 0.0, 4.0], [0.0, 0.0]),  # one zero at position 0
    ([0.0, 3.0, 0.0, 7.0], [0.0, 0.0, 0.0, 4.0], [0.0, 7.0]),  # two zeros at position 0
    ([1.5, 3.0, 5.0, 7.0], [30.0, 15.0, 9.0, 4.0], [22.5, 7.0])])
def test_at_multiply_jvp_with_duplicates_and_zeros(values, d_values, d_x):
    x, index = fx.asarray([2.0, 4.0], dtype="float64"), fx.asarray([0, 0, 0, 1])
    u = fx.asarray(values, dtype="float64")
    for i, want in enumerate(d_values):
        e = fnp.zeros(4, dtype="float64").at[i].set(1.0)
        _, t = jvp(lambda v: x.at[index].multiply(v), (u,), (e,))
        assert np.asarray(t).tolist() == [want if i < 3 else 0.0, want if i == 3 else 0.0]
    _, t = jvp(lambda a: a.at[index].multiply(u), (x,), (fnp.ones(2, dtype="float64"),))
    assert np.asarray(t).tolist() == d_x


@pytest.mark.parametrize("method, ufunc", [("min", np.minimum), ("max", np.maximum)])
def test_at_min_max_jvp_without_ties(method, ufunc):
    """Any index (duplicates included), values all distinct: one value attains each extremum."""
    from hypothesis.extra import numpy as hnp

    from tests.op_specs.indexing import _as_fx_index, numpy_index

    @settings(max_examples=20, derandomize=True, deadline=None, database=None)
    @given(st.data())
    def check(data):
        shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
        index = data.draw(numpy_index(shape, masks=False))
        u_shape = np.empty(shape)[index].shape
        n = int(np.prod(shape))
        distinct = 0.5 * np.random.default_rng(0).permutation(n + int(np.prod(u_shape)))
        x, u = distinct[:n].reshape(shape), distinct[n:].reshape(u_shape)

        def at_extremum(xp, a, v):
            if xp is fnp:
                return getattr(a.at[_as_fx_index(index)], method)(v)
            out = a.copy()
            ufunc.at(out, index, v)
            return out
        assert_jvp_matches(at_extremum, [x, u])
    check()


def test_at_max_ties_split_the_tangent_evenly():
    x, index = fx.asarray([1.0, 2.0, 3.0], dtype="float64"), fx.asarray([0, 0, 1])
    u = fx.asarray([1.0, 1.0, 0.5], dtype="float64")
    _, t = jvp(lambda a, v: a.at[index].max(v), (x, u),
               (fx.asarray([3.0, 1.0, 1.0], dtype="float64"),
                fx.asarray([0.0, 6.0, 9.0], dtype="float64")))
    assert np.asarray(t).tolist() == [3.0, 1.0, 1.0]  # (3 + 0 + 6) / 3 at the tie


@pytest.mark.parametrize("part", [fnp.real, fnp.imag], ids=["real", "imag"])
def test_complex_cholesky_and_slogdet_derivatives(part):
    a = _random((3, 3), np.complex128)
    hermitian = fx.asarray(a @ a.conj().T + 3 * np.eye(3))
    check_grads(lambda m: part(fnp.sum(fnp.linalg.cholesky(m))), (hermitian,), order=2)
    check_grads(lambda m: part(fnp.linalg.slogdet(m)[0]), (fx.asarray(a),), order=2)
    check_grads(lambda m: fnp.linalg.slogdet(m)[1], (fx.asarray(a),), order=2)


def test_imag_of_a_real_operand_has_a_real_zero_cotangent():
    from fx.prims.elementwise import imag_p
    from transforms import grad
    g = grad(lambda x: imag_p.bind(x) + x)(fx.asarray(2.0, dtype="float64"))
    assert g.dtype == np.float64 and float(g) == 1.0
