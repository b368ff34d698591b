"""nnlib pooling, padding and resampling: max/avg pooling against a direct loop over windows
(strides, paddings, dilations, ceil_mode, count_include_pad, divisor_override, channels
last, unbatched), return_indices and max_unpool, adaptive pools against loops over
PyTorch's windows, global pools; pad in every mode against np.pad; pixel_shuffle,
interpolate against per-element formulas; float64 gradient checks (the first-max rule
at ties), vmap and jit consistency, errors; the pooling and resampling modules."""
import itertools

import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from nnlib.functional import _window
from transforms import grad, jit, vmap

RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True, params=["channels-innermost", "batch-innermost"])
def internal_view(request, monkeypatch):
    """Every test runs on both internal views (chosen by batch size: forced here)."""
    big = request.param == "channels-innermost"
    monkeypatch.setattr(_window, "BATCH_LAST_FROM", 10 ** 9 if big else 1)
MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def f64(*shape):
    return fx.asarray(RNG.standard_normal(shape))


def close(got, want, tol=1e-12):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def _t(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def ref_pool(x, kind, k, s=None, p=0, d=1, ceil=False, include_pad=True, divisor=None):
    """Loop over windows; max also returns the flat index of the first maximum."""
    x = np.asarray(x)
    nd = x.ndim - 2
    k, p, d = _t(k, nd), _t(p, nd), _t(d, nd)
    s = k if s is None else _t(s, nd)
    size, outs = x.shape[2:], []
    for n, kk, ss, pp, dd in zip(size, k, s, p, d):
        span = n + 2 * pp - dd * (kk - 1) - 1
        o = (-(-span // ss) if ceil else span // ss) + 1
        outs.append(o - 1 if ceil and (o - 1) * ss >= n + pp else o)
    out = np.zeros((*x.shape[:2], *outs))
    idx = np.zeros(out.shape, np.int64)
    for b, c, *pos in itertools.product(*map(range, x.shape[:2]), *map(range, outs)):
        vals, where = [], []
        for tap in itertools.product(*map(range, k)):
            q = tuple(o * ss - pp + t * dd for o, ss, pp, t, dd in zip(pos, s, p, tap, d))
            if all(0 <= qq < n for qq, n in zip(q, size)):
                vals.append(x[(b, c, *q)])
                where.append(np.ravel_multi_index(q, size))
        if kind == "max":
            j = int(np.argmax(vals))
            out[(b, c, *pos)], idx[(b, c, *pos)] = vals[j], where[j]
            continue
        count = len(vals)
        if divisor is not None:
            count = divisor
        elif include_pad:
            count = np.prod([min(o * ss - pp + kk, n + pp) - (o * ss - pp)
                             for o, ss, pp, kk, n in zip(pos, s, p, k, size)])
        out[(b, c, *pos)] = sum(vals) / count
    return out, idx


WINDOWS = [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True),
           (2, 1, 1, 2, False), (3, 3, 1, 1, True), (4, 3, 2, 1, True)]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("k,s,p,d,ceil", WINDOWS)
def test_max_pool_matches_loop(nd, k, s, p, d, ceil):
    x = f64(2, 3, *([7] * nd))
    want, want_idx = ref_pool(x, "max", k, s, p, d, ceil)
    out, idx = MAX[nd](x, k, s, p, d, ceil, True)
    close(out, want)
    assert idx.dtype == np.int32 and np.array_equal(np.asarray(idx), want_idx)
    last = MAX[nd](fnp.moveaxis(x, 1, -1), k, s, p, d, ceil, channels_last=True)
    close(fnp.moveaxis(last, -1, 1), want)
    close(MAX[nd](x[0], k, s, p, d, ceil), want[0])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("k,s,p,ceil", [(2, None, 0, False), (3, 2, 1, False), (3, 2, 1, True),
                                        (3, 3, 1, True), (2, 1, 1, False)])
def test_avg_pool_matches_loop(nd, k, s, p, ceil):
    x = f64(2, 2, *([6] * nd))
    for include in (True, False):
        close(AVG[nd](x, k, s, p, ceil, include), ref_pool(x, "avg", k, s, p, 1, ceil,
                                                          include)[0])
    close(AVG[nd](x, k, s, p, ceil, divisor_override=5),
          ref_pool(x, "avg", k, s, p, 1, ceil, divisor=5)[0])
    last = AVG[nd](fnp.moveaxis(x, 1, -1), k, s, p, ceil, channels_last=True)
    close(fnp.moveaxis(last, -1, 1), ref_pool(x, "avg", k, s, p, 1, ceil)[0])


def test_per_axis_windows():
    x = f64(2, 3, 7, 6)
    args = ((3, 2), (2, 1), (1, 0))
    close(F.max_pool2d(x, *args, (1, 2)), ref_pool(x, "max", *args, (1, 2))[0])
    close(F.avg_pool2d(x, *args, True), ref_pool(x, "avg", *args, 1, True)[0])


def test_max_pool_gradient_goes_to_the_first_maximum():
    g = grad(lambda x: fnp.sum(F.max_pool2d(x, 2)))(fnp.ones((1, 1, 4, 4)))
    assert g[0, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    g = grad(lambda x: fnp.sum(F.max_pool1d(x, 3, 1)))(fnp.asarray([[[1.0, 3.0, 3.0, 0.0]]]))
    assert g.tolist() == [[[0.0, 2.0, 0.0, 0.0]]]  # both windows pick the first 3


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), (3, 2, 1, 1, True), (2, 1, 1, 2)])
def test_max_pool_gradients(args):
    check_grads(lambda x: F.max_pool2d(x, *args), (f64(2, 2, 6, 5),), order=2)
    check_grads(lambda x: F.max_pool1d(x, *args), (f64(2, 3, 7),), order=1)


@pytest.mark.parametrize("args", [(2,), (3, 2, 1), (3, 2, 1, True, False)])
def test_avg_pool_gradients(args):
    check_grads(lambda x: F.avg_pool2d(x, *args), (f64(2, 2, 6, 5),), order=2)
    check_grads(lambda x: F.avg_pool3d(x, *args), (f64(1, 2, 4, 5, 4),), order=1)


def test_max_unpool_round_trip():
    x = f64(2, 3, 6, 7)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(y, idx, 2, output_size=(6, 7))
    want = np.zeros((2, 3, 42))
    np.put_along_axis(want, np.asarray(idx).reshape(2, 3, -1), np.asarray(y).reshape(2, 3, -1),
                      axis=2)
    close(up, want.reshape(2, 3, 6, 7))
    y2, idx2 = F.max_pool2d(x[..., :6], 2, return_indices=True)
    assert F.max_unpool2d(y2, idx2, 2).shape == (2, 3, 6, 6)  # the default output size
    check_grads(lambda v: F.max_unpool2d(v, idx, 2, output_size=(6, 7)), (y,), order=1)
    y1, i1 = F.max_pool1d(x[0, 0], 3, 2, return_indices=True)  # unbatched (C, L)
    assert F.max_unpool1d(y1, i1, 3, 2).shape == (6, 7)


def _adaptive_windows(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def ref_adaptive(x, out, kind):
    x = np.asarray(x)
    nd = x.ndim - 2
    res = np.zeros((*x.shape[:2], *out))
    wins = [_adaptive_windows(n, o) for n, o in zip(x.shape[2:], out)]
    for pos in itertools.product(*map(range, out)):
        window = tuple(slice(*wins[i][pos[i]]) for i in range(nd))
        block = x[(slice(None), slice(None), *window)].reshape(*x.shape[:2], -1)
        res[(slice(None), slice(None), *pos)] = block.max(-1) if kind == "max" else \
            block.mean(-1)
    return res


@pytest.mark.parametrize("nd,out", [(1, (3,)), (1, (7,)), (2, (2, 3)), (2, (4, 5)),
                                    (2, (1, 1)), (3, (2, 3, 1))])
def test_adaptive_pools_match_loops(nd, out):
    x = f64(2, 2, *(7, 6, 5)[:nd])
    avg = getattr(F, f"adaptive_avg_pool{nd}d")
    mx = getattr(F, f"adaptive_max_pool{nd}d")
    close(avg(x, out), ref_adaptive(x, out, "avg"))
    vals, idx = mx(x, out, return_indices=True)
    close(vals, ref_adaptive(x, out, "max"))
    flat = np.asarray(x).reshape(2, 2, -1)
    close(np.take_along_axis(flat, np.asarray(idx).reshape(2, 2, -1), 2).reshape(vals.shape),
          vals)
    last = avg(fnp.moveaxis(x, 1, -1), out, channels_last=True)
    close(fnp.moveaxis(last, -1, 1), ref_adaptive(x, out, "avg"))
    check_grads(lambda v: avg(v, out), (x,), order=2)
    check_grads(lambda v: mx(v, out), (x,), order=1)


def test_adaptive_none_keeps_a_size_and_global_pools():
    x = f64(2, 3, 5, 4)
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 5, 2)
    close(F.global_avg_pool(x), np.asarray(x).mean(axis=(2, 3)))
    close(F.global_max_pool(x, keepdims=True), np.asarray(x).max(axis=(2, 3), keepdims=True))
    close(F.global_avg_pool(fnp.moveaxis(x, 1, -1), channels_last=True),
          np.asarray(x).mean(axis=(2, 3)))


def test_pooling_vmap_and_jit():
    xs = f64(4, 3, 6, 6)  # a batch of unbatched (C, H, W) examples

    def f(x):
        return F.max_pool2d(x, 3, 2, 1) + F.avg_pool2d(x, 3, 2, 1)
    close(vmap(f)(xs), np.stack([np.asarray(f(x)) for x in xs]))
    close(jit(f)(xs), f(xs))
    g = vmap(grad(lambda x: fnp.sum(F.max_pool2d(x, 2) ** 2)))(xs)
    close(g, np.stack([np.asarray(grad(lambda x: fnp.sum(F.max_pool2d(x, 2) ** 2))(x))
                       for x in xs]))
    close(jit(lambda x: F.adaptive_max_pool2d(x, 4))(xs), F.adaptive_max_pool2d(xs, 4))


def test_pooling_errors():
    x = fnp.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"max_pool2d: expected an input of rank 4.*\(5, 5\)"):
        F.max_pool2d(fnp.ones((5, 5)), 2)
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be a positive"):
        F.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="does not fit"):
        F.max_pool2d(x, 3, dilation=3)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="indices must be integers"):
        F.max_unpool2d(x, x, 2)


# --- padding -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("reflect", "reflect"),
                                          ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes_match_numpy(mode, np_mode):
    x = f64(2, 3, 4, 5)
    amounts = (1, 2, 3, 0)  # last axis (1, 2), the one before (3, 0)
    want = np.pad(np.asarray(x), [(0, 0), (0, 0), (3, 0), (1, 2)], mode=np_mode)
    close(F.pad(x, amounts, mode=mode), want)
    check_grads(lambda v: F.pad(v, amounts, mode=mode), (x,), order=2)
    close(vmap(lambda v: F.pad(v, amounts, mode=mode))(x), want)
    close(jit(lambda v: F.pad(v, amounts, mode=mode))(x), want)


def test_pad_constant_value_and_crop():
    x = f64(3, 4)
    close(F.pad(x, (1, 1, 2, 0), value=7.0),
          np.pad(np.asarray(x), [(2, 0), (1, 1)], constant_values=7.0))
    close(F.pad(x, (-1, 0, 0, -2)), np.asarray(x)[:1, 1:])
    close(F.pad(x, ()), x)


def test_pad_errors():
    x = fnp.ones((2, 3))
    with pytest.raises(ValueError, match="even number"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="at most two per axis"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match="'reflect' needs amounts smaller than"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="'circular' needs amounts at most"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(ValueError, match="non-negative"):
        F.pad(x, (-1, 0), mode="replicate")
    with pytest.raises(ValueError, match="below zero"):
        F.pad(x, (-2, -2))


# --- resampling ------------------------------------------------------------------------------

def test_pixel_shuffle_round_trip():
    x = f64(2, 8, 3, 4)
    y = F.pixel_shuffle(x, 2)
    want = np.asarray(x).reshape(2, 2, 2, 2, 3, 4).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 6, 8)
    close(y, want)
    close(F.pixel_unshuffle(y, 2), x)
    close(F.pixel_shuffle(x[0], 2), want[0])
    with pytest.raises(ValueError, match="pixel_shuffle: expected"):
        F.pixel_shuffle(f64(1, 3, 2, 2), 2)


def _linear_ref(v, o, align, scale=None):
    """1-D linear interpolation by PyTorch's source-index formula, element by element."""
    n = len(v)
    scale = n / o if scale is None else scale
    out = []
    for j in range(o):
        src = j * (n - 1) / (o - 1) if align and o > 1 else (0.0 if align else
                                                              max((j + 0.5) * scale - 0.5, 0))
        i0 = int(np.floor(src))
        i1, t = min(i0 + 1, n - 1), src - i0
        out.append((1 - t) * v[min(i0, n - 1)] + t * v[i1])
    return np.array(out)


@pytest.mark.parametrize("align", [False, True])
def test_bilinear_matches_separable_formula(align):
    x = f64(2, 3, 4, 5)
    got = F.interpolate(x, size=(7, 3), mode="bilinear", align_corners=align)
    rows = np.apply_along_axis(lambda v: _linear_ref(v, 7, align), 2, np.asarray(x))
    close(got, np.apply_along_axis(lambda v: _linear_ref(v, 3, align), 3, rows))
    by_factor = F.interpolate(x, scale_factor=1.5, mode="bilinear")
    rows = np.apply_along_axis(lambda v: _linear_ref(v, 6, False, 1 / 1.5), 2, np.asarray(x))
    close(by_factor, np.apply_along_axis(lambda v: _linear_ref(v, 7, False, 1 / 1.5), 3, rows))
    check_grads(lambda v: F.interpolate(v, size=(7, 3), mode="bilinear",
                                        align_corners=align), (x,), order=2)


def test_nearest_and_other_modes():
    x = f64(1, 2, 3, 4)
    up = F.interpolate(x, scale_factor=2)
    close(up, np.repeat(np.repeat(np.asarray(x), 2, 2), 2, 3))
    down = F.interpolate(x, size=(2, 3))
    src_h, src_w = np.floor(np.arange(2) * 1.5).astype(int), np.floor(np.arange(3) * 4 / 3)
    close(down, np.asarray(x)[:, :, src_h][:, :, :, src_w.astype(int)])
    exact = F.interpolate(x, size=(2, 3), mode="nearest-exact")
    eh = np.minimum(np.floor((np.arange(2) + 0.5) * 1.5), 2).astype(int)
    ew = np.minimum(np.floor((np.arange(3) + 0.5) * 4 / 3), 3).astype(int)
    close(exact, np.asarray(x)[:, :, eh][:, :, :, ew])
    close(F.interpolate(x, size=(1, 2), mode="area"), F.adaptive_avg_pool2d(x, (1, 2)))
    cubic = F.interpolate(x, size=(3, 4), mode="bicubic")  # same size: identity
    close(cubic, x, 1e-12)
    assert F.interpolate(f64(1, 2, 4, 3, 2), scale_factor=2, mode="trilinear").shape == \
        (1, 2, 8, 6, 4)
    close(F.interpolate(fnp.moveaxis(x, 1, -1), scale_factor=2, channels_last=True),
          fnp.moveaxis(up, 1, -1))
    check_grads(lambda v: F.interpolate(v, size=(5, 2), mode="bicubic"), (x,), order=1)
    check_grads(lambda v: F.interpolate(v, scale_factor=2), (x,), order=1)
    close(vmap(lambda v: F.interpolate(v[None], scale_factor=2)[0])(x), up)
    close(jit(lambda v: F.interpolate(v, size=(5, 2), mode="bilinear"))(x),
          F.interpolate(x, size=(5, 2), mode="bilinear"))


def test_interpolate_errors():
    x = fnp.ones((1, 1, 4, 4))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="mode 'linear' needs a 3-D input"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="align_corners applies"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, scale_factor=2, mode="cubic")


# --- modules ---------------------------------------------------------------------------------

def test_pool_modules():
    x = f64(2, 3, 8, 8)
    out, state = nnlib.MaxPool2d(3, 2, 1).apply({}, {}, x)
    close(out, F.max_pool2d(x, 3, 2, 1))
    assert nnlib.MaxPool2d(2).init(fx.random.key(0), x) == ({}, {}) and state == {}
    (vals, idx), _ = nnlib.MaxPool1d(2, return_indices=True).apply({}, {}, x[0])
    close(nnlib.MaxUnpool1d(2).apply({}, {}, vals, idx)[0], F.max_unpool1d(vals, idx, 2))
    close(nnlib.AvgPool3d(2, ceil_mode=True).apply({}, {}, x[None])[0],
          F.avg_pool3d(x[None], 2, ceil_mode=True))
    close(nnlib.AdaptiveAvgPool2d((None, 3)).apply({}, {}, x)[0],
          F.adaptive_avg_pool2d(x, (None, 3)))
    close(nnlib.AdaptiveMaxPool2d(3).apply({}, {}, x)[0], F.adaptive_max_pool2d(x, 3))
    assert nnlib.PixelShuffle(2).apply({}, {}, f64(1, 8, 2, 2))[0].shape == (1, 2, 4, 4)
    assert nnlib.PixelUnshuffle(2).apply({}, {}, f64(1, 2, 4, 4))[0].shape == (1, 8, 2, 2)
    close(nnlib.Upsample(size=(5, 6), mode="bilinear").apply({}, {}, x)[0],
          F.interpolate(x, size=(5, 6), mode="bilinear"))
    last = nnlib.MaxPool2d(2, channels_last=True).apply({}, {}, fnp.moveaxis(x, 1, -1))[0]
    close(fnp.moveaxis(last, -1, 1), F.max_pool2d(x, 2))


def test_pool_module_errors():
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size"):
        nnlib.MaxPool2d(0)
    with pytest.raises(ValueError, match="AvgPool1d: padding .* at most half"):
        nnlib.AvgPool1d(2, padding=2)
    with pytest.raises(ValueError, match="MaxPool3d: dilation"):
        nnlib.MaxPool3d(2, dilation=0)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size"):
        nnlib.AdaptiveAvgPool2d((2, 0))
    with pytest.raises(ValueError, match="PixelShuffle: upscale_factor"):
        nnlib.PixelShuffle(0)
    with pytest.raises(ValueError, match="Upsample: give exactly one"):
        nnlib.Upsample()
    with pytest.raises(ValueError, match="Upsample: align_corners"):
        nnlib.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"MaxPool2d: expected a input of rank 3 or 4.*\(4, 4\)"):
        nnlib.MaxPool2d(2).apply({}, {}, fnp.ones((4, 4)))
