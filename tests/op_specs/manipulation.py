"""Op specs: shape manipulation, joining and splitting, padding, sorting and searching."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fx.numpy as fnp
from tests.op_specs.spec import FLOATS, NUMERIC, OpSpec, arrays, axis_kwargs, elements, fixed

F32 = (np.float32,)
NONEMPTY = arrays(min_side=1)


def _kw(**strategies):
    """``kwargs`` factory whose strategies may depend on the first array's ndim."""
    def make(arrs):
        nd = arrs[0].ndim
        return st.fixed_dictionaries({k: f(nd) if callable(f) else f
                                      for k, f in strategies.items()})
    return make


def _axis(extra=0):
    return lambda nd: st.integers(-(nd + extra), nd + extra - 1)


def _joinable(n):
    """``n`` arrays with equal shapes except along ``axis`` (which is drawn too)."""
    def make(dtype):
        def draw_arrays(base_axis):
            base, axis = base_axis
            sizes = st.lists(st.integers(0, 3), min_size=n, max_size=n)
            return sizes.flatmap(lambda ls: st.tuples(*[
                hnp.arrays(np.dtype(dtype), base[:axis] + (k,) + base[axis + 1:],
                           elements=elements(dtype, -3, 3)) for k in ls]))
        shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3)
        return shapes.flatmap(lambda s: st.tuples(st.just(s), st.integers(0, len(s) - 1))) \
            .flatmap(draw_arrays)
    return make


def _concat_axis(arrs):
    """An axis along which the drawn arrays may differ."""
    nd = arrs[0].ndim
    fits = [ax for ax in range(-nd, nd)
            if len({a.shape[:ax % nd] + a.shape[ax % nd + 1:] for a in arrs}) == 1]
    return st.fixed_dictionaries({"axis": st.sampled_from(fits)})


def _squeeze_axis(arrs):
    ones = [i for i, n in enumerate(arrs[0].shape) if n == 1]
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), st.sampled_from(ones or [None]),
                                                     st.just(tuple(ones)))})


def _broadcast_target(arrs):
    shape = arrs[0].shape
    return st.fixed_dictionaries({"shape": st.sampled_from([
        shape, (2, *shape), tuple(3 if n == 1 else n for n in shape)])})


def _sorted_first(factory):
    return lambda dtype: factory(dtype).map(lambda t: (np.sort(t[0].ravel()), t[1]))


def _with_nans(factory):
    return lambda dtype: factory(dtype).map(
        lambda t: tuple(np.where(x > 1.5, np.nan, x).astype(x.dtype) for x in t))


def _as_int32(np_fn):
    return lambda *a, **kw: np.asarray(np_fn(*a, **kw)).astype(np.int32)


def _np_argsort(a, **kw):
    return np.argsort(a, kind="stable", **kw).astype(np.int32)


def _searchsorted_with_sorter(a, v, **kw):
    return fnp.searchsorted(a, v, sorter=fnp.argsort(a), **kw)


def _np_searchsorted_with_sorter(a, v, **kw):
    return np.searchsorted(a, v, sorter=np.argsort(a, kind="stable"), **kw).astype(np.int32)


def _spec(name, args, dtypes=FLOATS, kwargs=({},), **kw):
    return OpSpec(name, getattr(fnp, name), getattr(np, name), args, dtypes, kwargs, **kw)


PAD_VARIANTS = (
    {"pad_width": 2}, {"pad_width": (1, 3)}, {"pad_width": (0, 2), "constant_values": 7},
    *[{"pad_width": w, "mode": m} for m in ("edge", "reflect", "symmetric", "wrap")
      for w in (1, (0, 2), (3, 1), 7)],
)

SPECS = [
    _spec("reshape", fixed((2, 3, 4)), NUMERIC, tuple(
        {"shape": s, "order": o} for s in [(4, 6), (-1,), (2, -1, 2), (24, 1), (1, 2, 12)]
        for o in "CF")),
    _spec("reshape", arrays(), kwargs=({"shape": (-1,)}, {"shape": (1, -1)})),
    _spec("ravel", arrays(), NUMERIC, ({}, {"order": "F"})),
    OpSpec("flatten", lambda a: a.flatten(), lambda a: a.flatten(), arrays()),
    _spec("transpose", arrays(max_dims=4), NUMERIC, _kw(axes=lambda nd: st.one_of(
        st.none(), st.permutations(range(nd)).map(tuple)))),
    _spec("moveaxis", arrays(min_dims=1), kwargs=_kw(source=_axis(), destination=_axis())),
    OpSpec("moveaxis_many", fnp.moveaxis, np.moveaxis, fixed((2, 3, 4, 5)),
           kwargs=({"source": (0, 1), "destination": (-1, 0)},
                   {"source": [2], "destination": [0]})),
    _spec("swapaxes", arrays(min_dims=1), kwargs=_kw(axis1=_axis(), axis2=_axis())),
    _spec("expand_dims", arrays(), kwargs=_kw(axis=_axis(1))),
    OpSpec("expand_dims_tuple", fnp.expand_dims, np.expand_dims, fixed((2, 3)),
           kwargs=({"axis": (0, 3)}, {"axis": (-1, 1)})),
    _spec("squeeze", arrays(min_side=1, max_side=2, max_dims=4), kwargs=_squeeze_axis),
    _spec("broadcast_to", arrays(), NUMERIC, _broadcast_target),
    _spec("broadcast_arrays", arrays(3)),
    OpSpec("concatenate", lambda *xs, **kw: fnp.concatenate(xs, **kw),
           lambda *xs, **kw: np.concatenate(xs, **kw), _joinable(3), NUMERIC, _concat_axis),
    OpSpec("concatenate_flat", lambda *xs: fnp.concatenate(xs, axis=None),
           lambda *xs: np.concatenate(xs, axis=None), arrays(2)),
    OpSpec("concatenate_mixed", lambda *xs: fnp.concatenate(xs),
           lambda *xs: np.concatenate(xs), arrays(2, shapes="same", min_dims=1,
                                                  arg_dtypes=(np.int32, None))),
    OpSpec("stack", lambda *xs, **kw: fnp.stack(xs, **kw), lambda *xs, **kw: np.stack(xs, **kw),
           arrays(3, shapes="same"), NUMERIC, _kw(axis=_axis(1))),
    *[OpSpec(n, lambda *xs, f=getattr(fnp, n): f(xs), lambda *xs, f=getattr(np, n): f(xs),
             arrays(2, shapes="same", max_dims=2))
      for n in ["hstack", "vstack", "dstack", "column_stack"]],
    *[_spec(n, fixed((6, 4)), NUMERIC, (
        {"indices_or_sections": 2}, {"indices_or_sections": [1, 4]},
        {"indices_or_sections": 2, "axis": 1}, {"indices_or_sections": [-2, 10]},
        {"indices_or_sections": [3, 1], "axis": -2})) for n in ["split", "array_split"]],
    _spec("array_split", fixed((7, 5)), kwargs=(
        {"indices_or_sections": 3}, {"indices_or_sections": 4, "axis": 1},
        {"indices_or_sections": 9})),
    _spec("tile", arrays(), NUMERIC, ({"reps": 2}, {"reps": (2, 1)}, {"reps": (1, 2, 3)},
                                      {"reps": (0, 2)}, {"reps": 1})),
    _spec("repeat", arrays(min_dims=1), NUMERIC, (
        {"repeats": 2}, {"repeats": 0}, {"repeats": 3, "axis": 0}, {"repeats": 2, "axis": -1})),
    _spec("repeat", fixed((3, 4)), kwargs=(
        {"repeats": [1, 0, 2], "axis": 0}, {"repeats": np.array([1, 2, 0, 1]), "axis": 1},
        {"repeats": [2]})),
    _spec("flip", arrays(), NUMERIC, axis_kwargs(keepdims=False)),
    _spec("fliplr", arrays(min_dims=2)),
    _spec("flipud", arrays(min_dims=1)),
    _spec("roll", arrays(), NUMERIC, ({"shift": 1}, {"shift": -5}, {"shift": 0})),
    _spec("roll", arrays(min_dims=2), kwargs=(
        {"shift": (1, 2), "axis": (0, 1)}, {"shift": 3, "axis": -1},
        {"shift": (1, 1), "axis": (0, 0)}, {"shift": -2, "axis": (0, 1)})),
    _spec("rot90", arrays(min_dims=2), NUMERIC, tuple(
        {"k": k, "axes": ax} for k in (0, 1, 2, 3, -1, 5) for ax in ((0, 1), (1, 0), (-1, 0)))),
    _spec("pad", arrays(min_side=1), NUMERIC, PAD_VARIANTS),
    _spec("pad", fixed((3, 4)), kwargs=(
        {"pad_width": ((1, 2), (0, 3))},
        {"pad_width": ((1, 2), (2, 1)), "constant_values": ((1, 2), (3, 4))},
        {"pad_width": ((5, 0), (9, 9)), "mode": "reflect"},
        {"pad_width": ((2, 8), (0, 5)), "mode": "symmetric"},
        {"pad_width": ((4, 4), (9, 2)), "mode": "wrap"})),
    _spec("pad", fixed((1, 2)), kwargs=tuple({"pad_width": 3, "mode": m}
                                            for m in ("edge", "reflect", "symmetric", "wrap"))),
    _spec("sort", arrays(min_dims=1), NUMERIC, ({}, {"axis": 0}, {"axis": None},
                                                 {"axis": -1, "kind": "stable"})),
    _spec("sort", _with_nans(arrays(min_dims=1)), kwargs=({}, {"axis": None})),
    OpSpec("argsort", fnp.argsort, _np_argsort, arrays(min_dims=1, lo=-2, hi=2), NUMERIC,
           ({}, {"axis": 0}, {"axis": None})),
    OpSpec("argsort_nan", fnp.argsort, _np_argsort, _with_nans(arrays(min_dims=1)), FLOATS,
           ({}, {"axis": None})),
    OpSpec("searchsorted", fnp.searchsorted, _as_int32(np.searchsorted),
           _sorted_first(arrays(2, lo=-3, hi=3)), NUMERIC,
           ({}, {"side": "left"}, {"side": "right"})),
    OpSpec("searchsorted_nan", fnp.searchsorted, _as_int32(np.searchsorted),
           _sorted_first(_with_nans(arrays(2))), FLOATS, ({"side": "left"}, {"side": "right"})),
    OpSpec("searchsorted_sorter", _searchsorted_with_sorter, _np_searchsorted_with_sorter,
           arrays(2, min_dims=1, max_dims=1), F32, ({"side": "left"}, {"side": "right"})),
    OpSpec("meshgrid", fnp.meshgrid, np.meshgrid, fixed((3,), (4,), (2,)), FLOATS,
           tuple({"indexing": i, "sparse": s} for i in ("xy", "ij") for s in (False, True))),
    OpSpec("meshgrid_2", fnp.meshgrid, np.meshgrid, arrays(2, max_dims=1), F32,
           ({}, {"indexing": "ij"})),
    *[_spec(n, arrays(max_dims=4)) for n in ["atleast_1d", "atleast_2d", "atleast_3d"]],
    *[OpSpec(f"{n}_many", getattr(fnp, n), getattr(np, n), arrays(2), F32)
      for n in ["atleast_1d", "atleast_2d", "atleast_3d"]],
]
