"""Op specs: contractions (``dot_general`` through matmul/dot/tensordot/einsum) and linalg.

Decompositions whose factors are not unique are compared through what is unique:
reconstructions, orthogonality products and sign-normalised factors, computed the same
way on the fx result (with ``fx.numpy``) and on NumPy's.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fx.numpy as fnp
from fx.core.primitive import bind
from fx.prims.linalg import triangular_solve_p
from tests.op_specs.spec import FLOATS, NUMERIC, OpSpec, elements

LOOSE = {"rtol": {"float32": 1e-4, "float64": 1e-9}, "atol": {"float32": 1e-4, "float64": 1e-9}}


def indexed(*subscripts, lo=-2.0, hi=2.0, min_side=1, max_side=4):
    """Strategy factory: one array per subscript string; a letter is one drawn size."""
    letters = sorted({c for s in subscripts for c in s})

    def make(dtype):
        sizes = st.fixed_dictionaries({c: st.integers(min_side, max_side) for c in letters})
        return sizes.flatmap(lambda d: st.tuples(*[
            hnp.arrays(np.dtype(dtype), tuple(d[c] for c in s), elements=elements(dtype, lo, hi))
            for s in subscripts]))
    return make


def shapes(*shape_tuple, lo=-2.0, hi=2.0):
    """Strategy factory: arrays of exactly these shapes."""
    def make(dtype):
        return st.tuples(*[hnp.arrays(np.dtype(dtype), s, elements=elements(dtype, lo, hi))
                           for s in shape_tuple])
    return make


def well_conditioned(*batch_shapes, n=None, rhs=None, spd=False):
    """Strategy factory: diagonally dominant ``a + (n+1) I`` (or SPD ``a a^T + (n+1) I``)."""
    def make(dtype):
        def build(args):
            a, *rest = args
            m = a.shape[-1]
            eye = np.eye(m, dtype=a.dtype)
            a = (a @ np.swapaxes(a, -1, -2) if spd else a) + (m + 1) * eye  # diagonally dominant
            return (a, *rest)
        sizes = st.integers(1, 4) if n is None else st.just(n)
        return sizes.flatmap(lambda m: st.tuples(*[
            hnp.arrays(np.dtype(dtype), s + (m, m), elements=elements(dtype, -1, 1))
            for s in batch_shapes], *([] if rhs is None else [
                hnp.arrays(np.dtype(dtype), rhs(m), elements=elements(dtype, -2, 2))]))
        ).map(build)
    return make


def low_rank(dtype):
    """Strategy: a stack of (n, n) matrices of rank at most r, with r < n."""
    return indexed("bnr", "brn", lo=-1, hi=1, min_side=1)(dtype).filter(
        lambda t: t[0].shape[2] < t[0].shape[1]).map(lambda t: (t[0] @ t[1],))


def _einsum(subscripts, shapes_):
    return OpSpec(f"einsum_{subscripts}", lambda *ops: fnp.einsum(subscripts, *ops),
                  lambda *ops: np.einsum(subscripts, *ops), shapes_, FLOATS, **LOOSE)


EINSUMS = [
    ("ij,jk->ik", indexed("ij", "jk")), ("ij,jk", indexed("ij", "jk")),
    ("bij,bjk->bik", indexed("bij", "bjk")), ("ii->i", indexed("ii")), ("ii", indexed("ii")),
    ("ii->", indexed("ii")), ("iij->j", indexed("iij")), ("iii->i", indexed("iii")),
    ("ij->ji", indexed("ij")), ("ij->", indexed("ij")), ("ijk->kj", indexed("ijk")),
    ("i,i", indexed("i", "i")), ("i,j->ij", indexed("i", "j")), ("i,j", indexed("i", "j")),
    ("ij,ij->i", indexed("ij", "ij")), ("ij,ij->ij", indexed("ij", "ij")),
    ("ijk,jl->ikl", indexed("ijk", "jl")), ("ijk,kj", indexed("ijk", "kj")),
    ("abc,cd,bd->a", indexed("abc", "cd", "bd")), ("ij,jk,kl->il", indexed("ij", "jk", "kl")),
    ("ij,kl->", indexed("ij", "kl")), ("ij,jk->", indexed("ij", "jk")),
    ("bhqd,bhkd->bhqk", indexed("bhqd", "bhkd", max_side=3)),
    ("...ij,...jk", shapes((2, 3, 4), (1, 4, 5))),
    ("...ij,...jk->...ik", shapes((3, 4), (2, 4, 2))),
    ("...i,...i->...", shapes((2, 3), (3,))), ("i...->...", shapes((3, 2, 2))),
    ("ij...,jk...->ik...", shapes((2, 3, 4), (3, 2, 4))),
]


def _qr_signed(xp):
    """Reduced QR with the signs fixed so that ``diag(R) >= 0`` (then it is unique)."""
    def fn(a):
        q, r = xp.linalg.qr(a)
        d = xp.sign(xp.diagonal(r, 0, -2, -1))
        return q * xp.expand_dims(d, -2), r * xp.expand_dims(d, -1)
    return fn


def _qr_complete(xp):
    def fn(a):
        q, r = xp.linalg.qr(a, mode="complete")
        return xp.matmul(q, r), xp.matmul(xp.swapaxes(q, -1, -2), q)
    return fn


def _svd_checks(xp):
    """Reconstruction (reduced), singular values, and orthogonality of the full factors."""
    def fn(a):
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        uf, _, vhf = xp.linalg.svd(a)
        gram = xp.matmul(uf, xp.swapaxes(uf, -1, -2)), xp.matmul(xp.swapaxes(vhf, -1, -2), vhf)
        return (xp.matmul(u * xp.expand_dims(s, -2), vh), s, *gram)
    return fn


def _eigh_checks(xp):
    def fn(a):
        w, v = xp.linalg.eigh(a)
        return w, xp.matmul(v * xp.expand_dims(w, -2), xp.swapaxes(v, -1, -2))
    return fn


def _both(name, make, args, dtypes=FLOATS, **kw):
    return OpSpec(name, make(fnp), make(np), args, dtypes, **{**LOOSE, **kw})


def _lin(name, args, kwargs=({},), suffix="", **kw):
    return OpSpec(name + suffix, getattr(fnp.linalg, name), getattr(np.linalg, name), args,
                  FLOATS, kwargs, **{**LOOSE, **kw})


MATRIX_ORDS = [{"ord": o} for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)]
VECTOR_ORDS = [{"ord": o} for o in (None, 1, 2, 3, 0.5, -1, 0, np.inf, -np.inf)]

SPECS = [
    OpSpec("matmul", fnp.matmul, np.matmul, indexed("ij", "jk"), NUMERIC, **LOOSE),
    *[OpSpec(f"matmul_{sa}_{sb}", fnp.matmul, np.matmul, shapes(sa, sb), NUMERIC, **LOOSE)
      for sa, sb in [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,)),
                     ((3,), (4, 3, 2)), ((4, 2, 3), (3, 5)), ((2, 3), (4, 3, 5)),
                     ((2, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]],
    OpSpec("dot", fnp.dot, np.dot, indexed("ij", "jk"), NUMERIC, **LOOSE),
    *[OpSpec(f"dot_{sa}_{sb}", fnp.dot, np.dot, shapes(sa, sb), NUMERIC, **LOOSE)
      for sa, sb in [((3,), (3,)), ((), (2, 3)), ((2, 3, 4), (4,)), ((2, 3), (4, 3, 2)),
                     ((3,), (2, 3, 4))]],
    OpSpec("vdot", fnp.vdot, np.vdot, shapes((2, 3), (6,)), NUMERIC, **LOOSE),
    OpSpec("inner", fnp.inner, np.inner, shapes((2, 3), (4, 3)), NUMERIC, **LOOSE),
    OpSpec("inner_scalar", fnp.inner, np.inner, shapes((), (4, 3)), NUMERIC, **LOOSE),
    OpSpec("outer", fnp.outer, np.outer, shapes((2, 3), (4,)), NUMERIC, **LOOSE),
    OpSpec("kron", fnp.kron, np.kron, shapes((2, 3), (3, 2)), NUMERIC, **LOOSE),
    OpSpec("kron_nd", fnp.kron, np.kron, shapes((2,), (3, 2, 2)), NUMERIC, **LOOSE),
    OpSpec("tensordot", fnp.tensordot, np.tensordot, shapes((2, 3, 4), (3, 4, 5)), NUMERIC,
           ({}, {"axes": 0}, {"axes": ([1, 2], [0, 1])}, {"axes": ([-1], [1])}), **LOOSE),
    OpSpec("tensordot_1", fnp.tensordot, np.tensordot, indexed("ij", "jk"), NUMERIC,
           ({"axes": 1},), **LOOSE),
    OpSpec("tensordot_swapped", fnp.tensordot, np.tensordot, shapes((2, 3, 4), (4, 2)),
           NUMERIC, ({"axes": ([0, 2], [1, 0])}, {"axes": (2, 0)}), **LOOSE),
    OpSpec("diagonal", fnp.diagonal, np.diagonal, shapes((3, 4, 2)), NUMERIC,
           ({}, {"offset": 1}, {"offset": -2}, {"offset": 5}, {"axis1": 1, "axis2": 2},
            {"offset": 1, "axis1": -1, "axis2": 0})),
    OpSpec("trace", fnp.trace, np.trace, shapes((3, 4, 2)), FLOATS,
           ({}, {"offset": 1}, {"offset": -1, "axis1": 1, "axis2": 2}), **LOOSE),
    OpSpec("diag", fnp.diag, np.diag, indexed("i"), NUMERIC, ({}, {"k": 1}, {"k": -2})),
    OpSpec("diag_2d", fnp.diag, np.diag, indexed("ij"), NUMERIC, ({}, {"k": 1}, {"k": -1})),
    *[_einsum(s, a) for s, a in EINSUMS],
    # --- fx.numpy.linalg ----------------------------------------------------------------
    _lin("inv", well_conditioned(())),
    _lin("inv", well_conditioned((2, 3)), suffix="_batched"),
    _lin("det", well_conditioned((2,))),
    _lin("slogdet", well_conditioned(())),
    _lin("slogdet", well_conditioned((2,)), suffix="_batched"),
    _lin("solve", well_conditioned((), rhs=lambda m: (m,))),
    _lin("solve", well_conditioned((), rhs=lambda m: (m, 2)), suffix="_matrix"),
    _lin("solve", well_conditioned((3,), rhs=lambda m: (m,)), suffix="_batched_vector"),
    _lin("solve", well_conditioned((3,), rhs=lambda m: (2, 1, m, 2)), suffix="_broadcast"),
    _lin("cholesky", well_conditioned((), spd=True), ({}, {"upper": True})),
    _lin("cholesky", well_conditioned((2,), spd=True), suffix="_batched"),
    _lin("eigvalsh", well_conditioned((2,), spd=True), ({}, {"UPLO": "U"})),
    _both("eigh", _eigh_checks, well_conditioned((), spd=True)),
    _both("eigh_batched", _eigh_checks, well_conditioned((2, 2), spd=True)),
    _both("qr", _qr_signed, indexed("mn", lo=-1, hi=1)),
    _both("qr_batched", _qr_signed, indexed("bmn", lo=-1, hi=1)),
    _both("qr_complete", _qr_complete, indexed("bmn", lo=-1, hi=1)),
    _both("svd", _svd_checks, indexed("mn", lo=-1, hi=1)),
    _both("svd_batched", _svd_checks, indexed("bmn", lo=-1, hi=1)),
    _lin("svd", indexed("bmn", lo=-1, hi=1), ({"compute_uv": False},), suffix="_values"),
    _lin("norm", indexed("i"), VECTOR_ORDS),
    _lin("norm", indexed("ij"), MATRIX_ORDS, suffix="_matrix"),
    _lin("norm", indexed("ijk"), [{"axis": ax, "keepdims": kd, **o} for ax in (-1, (2, 0))
                                  for kd in (False, True) for o in
                                  (MATRIX_ORDS if isinstance(ax, tuple) else VECTOR_ORDS)],
         suffix="_axis"),
    _lin("norm", indexed("ijk"), ({}, {"keepdims": True}), suffix="_flat"),
    _lin("vector_norm", indexed("ijk"), [{"axis": ax, "keepdims": kd, "ord": o}
                                         for ax in (None, 1, (0, 2)) for kd in (False, True)
                                         for o in (2, 1, np.inf, 0.5)]),
    _lin("matrix_norm", indexed("ijk"), [{"keepdims": kd, **o} for kd in (False, True)
                                         for o in MATRIX_ORDS if o["ord"] is not None]),
    _lin("diagonal", shapes((2, 3, 4)), ({}, {"offset": 1}, {"offset": -2})),
    _lin("trace", shapes((2, 3, 4)), ({}, {"offset": 1}, {"offset": -2})),
    _lin("matrix_power", well_conditioned((2,)), [{"n": n} for n in (0, 1, 2, 3, 5, -1, -2)]),
    _lin("pinv", well_conditioned((2,))),
    _lin("matrix_rank", well_conditioned((2,)), check_dtype=False),
    _lin("matrix_rank", low_rank, check_dtype=False, suffix="_deficient"),
    OpSpec("triangular_solve", lambda a, b, **kw: bind(triangular_solve_p, a, b, **kw),
           lambda a, b, *, left_side, lower, transpose_a: _np_triangular_solve(
               a, b, left_side, lower, transpose_a),
           well_conditioned((2,), rhs=lambda m: (m, m)), FLOATS,
           [{"left_side": s, "lower": lo, "transpose_a": t} for s in (True, False)
            for lo in (True, False) for t in (True, False)], **LOOSE),
]


def _np_triangular_solve(a, b, left_side, lower, transpose_a):
    t = np.tril(a) if lower else np.triu(a)
    t = np.swapaxes(t, -1, -2) if transpose_a else t
    return np.linalg.solve(t, b) if left_side else b @ np.linalg.inv(t)
