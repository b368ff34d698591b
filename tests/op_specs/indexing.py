"""Op specs: NumPy indexing, ``.at`` updates, take / take_along_axis, lax dynamic slices.

Index strategies draw an index that fits a drawn shape: a mix of integers, slices with
any step, ``None``, ``...``, broadcasting integer arrays (duplicates included) and
boolean masks; the reference is NumPy's own ``x[idx]`` (or ``ufunc.at`` on a copy).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fx
import fx.numpy as fnp
from fx import lax
from tests.op_specs.spec import NUMERIC, OpSpec, arrays, elements

ANY_SHAPE = arrays(1, min_dims=0, max_dims=3, min_side=0, max_side=4)
NONEMPTY = arrays(1, min_dims=1, max_dims=3, min_side=1, max_side=4)


def _as_fx_index(index):
    """The same index with every NumPy array turned into an fx array."""
    if isinstance(index, tuple):
        return tuple(_as_fx_index(i) for i in index)
    return fx.asarray(index) if isinstance(index, np.ndarray) else index


@st.composite
def _axis_entry(draw, n: int, adv_shape, allow_mask: bool):
    kinds = ["slice"] + (["int", "array"] if n else []) + (["mask"] if allow_mask else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "array":
        shape = adv_shape[draw(st.integers(0, len(adv_shape))):]
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(-n, n - 1)))
    if kind == "mask":
        return draw(hnp.arrays(np.bool_, (n,)))
    bound = st.none() | st.integers(-n - 2, n + 2)
    step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
    return slice(draw(bound), draw(bound), step)


@st.composite
def numpy_index(draw, shape, masks: bool = True):
    """An index for an array of ``shape``: ints, slices, None, ..., int arrays, masks."""
    ndim = len(shape)
    adv_shape = draw(st.sampled_from([(), (2,), (3,), (2, 1), (1, 3)]))
    ellipsis = draw(st.booleans())
    n_front = draw(st.integers(0, ndim))
    n_back = draw(st.integers(0, ndim - n_front)) if ellipsis else 0
    axes = list(range(n_front)) + list(range(ndim - n_back, ndim))
    use_mask = masks and draw(st.booleans())
    entries = []
    for k, axis in enumerate(axes):
        entry = draw(_axis_entry(shape[axis], adv_shape, use_mask))
        if isinstance(entry, np.ndarray) and entry.dtype == np.bool_:
            # one mask and no other arrays, so the advanced indices always broadcast
            entries = [e if not isinstance(e, np.ndarray) else 0 for e in entries]
            entries.append(entry)
            rest = [draw(_axis_entry(shape[a], (), False)) for a in axes[k + 1:]]
            entries += [e if not isinstance(e, np.ndarray) else 0 for e in rest]
            break
        entries.append(entry)
    if ellipsis:
        entries.insert(n_front, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        entries.insert(draw(st.integers(0, len(entries))), None)
    if len(entries) == 1 and draw(st.booleans()):
        return entries[0]
    return tuple(entries)


def index_kwargs(masks: bool = True):
    def make(arrs):
        return st.fixed_dictionaries({"index": numpy_index(arrs[0].shape, masks)})
    return make


@st.composite
def _update_args(draw, x, unique: bool):
    index = draw(numpy_index(x.shape, masks=False))
    shape = x[index].shape
    lo, hi = (0.5, 2.0) if unique else (-3.0, 3.0)
    values = draw(hnp.arrays(x.dtype, shape, elements=elements(x.dtype, lo, hi)))
    return {"index": index, "values": values}


def update_kwargs(unique: bool = False):
    return lambda arrs: _update_args(arrs[0], unique)


def _at_reference(ufunc):
    def ref(x, index, values):
        out = x.copy()
        if ufunc is None:
            out[index] = values
        else:
            ufunc.at(out, index, values)
        return out
    return ref


def _at(method):
    return lambda x, index, values: getattr(x.at[_as_fx_index(index)], method)(values)


@st.composite
def _take_kwargs(draw, x, mode):
    axis = draw(st.none() | st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None
    n = x.size if axis is None else x.shape[axis]
    lo, hi = (-n, n - 1) if mode is None else (-3 * n, 3 * n)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    indices = draw(hnp.arrays(np.int32, shape, elements=st.integers(lo, hi)))
    return {"indices": indices, "axis": axis, "mode": mode}


def take_kwargs(mode=None):
    return lambda arrs: _take_kwargs(arrs[0], mode)


@st.composite
def _along_kwargs(draw, x):
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    shape = list(x.shape)
    shape[axis] = draw(st.integers(0, 4))
    n = x.shape[axis]
    indices = draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(-n, n - 1)))
    return {"indices": indices, "axis": axis}


@st.composite
def _window_kwargs(draw, x, update: bool):
    sizes = tuple(draw(st.integers(0, n)) for n in x.shape)
    starts = tuple(draw(st.integers(-n - 2, n + 2)) for n in x.shape)
    kw = {"starts": starts, "sizes": sizes}
    if update:
        kw["update"] = draw(hnp.arrays(x.dtype, sizes, elements=elements(x.dtype, -3, 3)))
    return kw


def _clamped(x, starts, sizes):
    """NumPy reference of lax's window rule: negatives from the end, then clamp to fit."""
    return tuple(slice(s, s + k) for s, k in (
        (min(max(s + n if s < 0 else s, 0), n - k), k) for s, k, n in zip(starts, sizes, x.shape)))


def _np_dynamic_update_slice(x, starts, sizes, update):
    out = x.copy()
    out[_clamped(x, starts, sizes)] = update
    return out


SPECS = [
    OpSpec("getitem", lambda x, index: x[_as_fx_index(index)], lambda x, index: x[index],
           ANY_SHAPE, NUMERIC + (np.bool_,), kwargs=index_kwargs()),
    OpSpec("getitem_numpy_index", lambda x, index: x[index], lambda x, index: x[index],
           ANY_SHAPE, (np.float32,), kwargs=index_kwargs()),
    OpSpec("at_get", lambda x, index: x.at[index].get(), lambda x, index: x[index],
           ANY_SHAPE, (np.float32,), kwargs=index_kwargs(masks=False)),
    OpSpec("at_set", _at("set"), _at_reference(None), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("at_add", _at("add"), _at_reference(np.add), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("at_subtract", _at("subtract"), _at_reference(np.subtract), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("at_multiply", _at("multiply"), _at_reference(np.multiply), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("at_divide", _at("divide"), _at_reference(np.divide), ANY_SHAPE, (np.float64,),
           kwargs=update_kwargs(unique=True)),
    OpSpec("at_min", _at("min"), _at_reference(np.minimum), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("at_max", _at("max"), _at_reference(np.maximum), ANY_SHAPE, NUMERIC,
           kwargs=update_kwargs()),
    OpSpec("take", lambda x, indices, axis, mode: fnp.take(x, indices, axis, mode=mode),
           lambda x, indices, axis, mode: np.take(x, indices, axis, mode=mode or "raise"),
           NONEMPTY, NUMERIC, kwargs=take_kwargs()),
    *[OpSpec(f"take_{mode}", lambda x, indices, axis, mode: fnp.take(x, indices, axis, mode=mode),
             lambda x, indices, axis, mode: np.take(x, indices, axis, mode=mode),
             NONEMPTY, (np.float32, np.int32), kwargs=take_kwargs(mode))
      for mode in ("clip", "wrap")],
    OpSpec("take_along_axis", fnp.take_along_axis, np.take_along_axis, NONEMPTY, NUMERIC,
           kwargs=lambda arrs: _along_kwargs(arrs[0])),
    OpSpec("dynamic_slice", lambda x, starts, sizes: lax.dynamic_slice(x, starts, sizes),
           lambda x, starts, sizes: x[_clamped(x, starts, sizes)], ANY_SHAPE, NUMERIC,
           kwargs=lambda arrs: _window_kwargs(arrs[0], False)),
    OpSpec("dynamic_update_slice",
           lambda x, starts, sizes, update: lax.dynamic_update_slice(x, update, starts),
           _np_dynamic_update_slice, ANY_SHAPE, NUMERIC,
           kwargs=lambda arrs: _window_kwargs(arrs[0], True)),
]
