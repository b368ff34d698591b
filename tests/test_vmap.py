"""vmap, registry-driven: for every row of the op table, ``vmap`` of the op over a batch
equals the op applied example by example, for batch axes at 0, at the end, and mixed
with unbatched (None) arguments."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fx
from fx import tree
from tests.op_specs import ALL_SPECS
from transforms import vmap

BATCH = 3
PATTERNS = ["all_first", "all_last", "mixed"]


def batch_axes(arrs, pattern):
    """The in_axes of each argument for a pattern: 0, the last axis, or a mix of None,
    the middle axis and 0 (the first argument is always batched)."""
    axes = []
    for i, a in enumerate(arrs):
        if pattern == "all_first":
            axes.append(0)
        elif pattern == "all_last":
            axes.append(-1)
        else:
            axes.append([1 if a.ndim else 0, None, 0][i % 3])
    return axes


def examples(arrs):
    """``BATCH`` examples: the drawn arguments, and copies nudged by a few thousandths
    (floats only: integer arguments such as indices stay valid)."""
    return [[a + np.asarray(k * 1e-3 * (1 + np.abs(a)), a.dtype) if a.dtype.kind in "fc" and k
             else a for a in arrs] for k in range(BATCH)]


def stack_along(values, axis):
    return np.stack(values, axis=axis if axis is None or axis >= 0 else axis + 1
                    + np.ndim(values[0])) if axis is not None else values[0]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("spec", ALL_SPECS, ids=[s.name for s in ALL_SPECS])
def test_vmap_matches_a_loop(spec, pattern):
    dtype = np.dtype(spec.dtypes[0])

    @settings(max_examples=4, derandomize=True, deadline=None, database=None)
    @given(st.data())
    def check(data):
        arrs = data.draw(spec.args(dtype), label="args")
        kwargs = data.draw(spec.draw_kwargs(arrs), label="kwargs")
        if not arrs:
            return
        axes = batch_axes(arrs, pattern)
        batch = examples(arrs)
        batched_args = [stack_along([ex[i] for ex in batch], ax) for i, ax in enumerate(axes)]
        got = vmap(lambda *xs: spec.fx_fn(*xs, **kwargs), in_axes=tuple(axes))(
            *[fx.asarray(a) for a in batched_args])
        each = [spec.fx_fn(*[fx.asarray(ex[i] if ax is not None else batch[0][i])
                             for i, ax in enumerate(axes)], **kwargs) for ex in batch]
        rtol, atol = spec.tolerance(dtype)
        got_leaves = tree.leaves(got)
        for j, g in enumerate(got_leaves):
            want = np.stack([np.asarray(tree.leaves(e)[j]) for e in each])
            np.testing.assert_allclose(np.asarray(g), want, rtol=max(rtol, 1e-6),
                                       atol=max(atol, 1e-6), err_msg=spec.name)
    check()
