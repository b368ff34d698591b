"""nnlib convolutions: conv1d/2d/3d against a direct loop over every output element and
kernel tap (strides, paddings incl. "same"/"valid", dilations, groups incl. depthwise, bias,
unbatched, channels-last), conv_transpose as the adjoint of conv (<conv(x), y> = <x,
conv_transpose(y)>) and against a scatter loop, float64 gradient checks (second order in
reverse mode), vmap and jit consistency, the derived backward's form, errors; the Conv*
and ConvTranspose* modules."""
import itertools
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from nnlib.functional import _window
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True, params=["channels-innermost", "batch-innermost"])
def internal_view(request, monkeypatch):
    """Every test runs on both internal views (chosen by batch size: forced here)."""
    big = request.param == "channels-innermost"
    monkeypatch.setattr(_window, "BATCH_LAST_FROM", 10 ** 9 if big else 1)
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def f64(*shape):
    return fx.asarray(RNG.standard_normal(shape))


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def _tuple(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def ref_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation by a loop over outputs, channels and taps."""
    x, w = np.asarray(x), np.asarray(w)
    nd = x.ndim - 2
    s, d, k = _tuple(stride, nd), _tuple(dilation, nd), w.shape[2:]
    if padding == "same":
        pads = [(dd * (kk - 1) // 2, dd * (kk - 1) - dd * (kk - 1) // 2) for dd, kk in zip(d, k)]
    else:
        pads = [(0, 0)] * nd if padding == "valid" else [(p, p) for p in _tuple(padding, nd)]
    xp = np.pad(x, [(0, 0), (0, 0), *pads])
    n, o, cg = x.shape[0], w.shape[0], w.shape[1]
    sizes = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    out = np.zeros((n, o, *sizes))
    for b_, oc, *pos in itertools.product(range(n), range(o), *map(range, sizes)):
        g = oc // (o // groups)
        acc = 0.0
        for c, *tap in itertools.product(range(cg), *map(range, k)):
            idx = tuple(p * ss + t * dd for p, ss, t, dd in zip(pos, s, tap, d))
            acc += xp[(b_, g * cg + c, *idx)] * w[(oc, c, *tap)]
        out[(b_, oc, *pos)] = acc + (0.0 if b is None else np.asarray(b)[oc])
    return out


def ref_conv_t(y, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution by scattering every input element through the kernel."""
    y, w = np.asarray(y), np.asarray(w)
    nd = y.ndim - 2
    s, p, op, d = (_tuple(v, nd) for v in (stride, padding, output_padding, dilation))
    k, cin, og = w.shape[2:], w.shape[0], w.shape[1]
    full = [(y.shape[2 + i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(nd)]
    out = np.zeros((y.shape[0], og * groups, *full))
    for b_, c, *pos in itertools.product(range(y.shape[0]), range(cin), *map(range, y.shape[2:])):
        g = c // (cin // groups)
        for oc, *tap in itertools.product(range(og), *map(range, k)):
            idx = tuple(q * ss + t * dd for q, ss, t, dd in zip(pos, s, tap, d))
            out[(b_, g * og + oc, *idx)] += y[(b_, c, *pos)] * w[(c, oc, *tap)]
    crop = tuple(slice(pp, n - pp) for pp, n in zip(p, full))
    out = out[(slice(None), slice(None), *crop)]
    return out if b is None else out + np.asarray(b).reshape(-1, *([1] * nd))


CASES = [  # nd, stride, padding, dilation, groups, in_channels, out_channels
    (1, 1, 0, 1, 1, 2, 3), (1, 2, 1, 2, 1, 2, 3), (1, 1, "same", 3, 2, 4, 2),
    (1, 3, 2, 1, 4, 4, 8),  # depthwise with multiplier 2
    (2, 1, 0, 1, 1, 3, 2), (2, 2, 1, 1, 1, 2, 3), (2, (2, 1), (1, 0), (1, 2), 2, 4, 2),
    (2, 1, "same", 2, 1, 2, 2), (2, 1, "valid", 1, 3, 3, 3), (2, 3, 2, 2, 2, 2, 4),
    (3, 1, 1, 1, 1, 2, 2), (3, 2, 0, (1, 2, 1), 2, 2, 2),
]


def _inputs(nd, groups, cin, cout, size=6, batch=2):
    x = f64(batch, cin, *([size] * nd))
    kernel = (3, 2, 3)[:nd] if nd > 1 else (3,)
    return x, f64(cout, cin // groups, *kernel), f64(cout)


@pytest.mark.parametrize("nd,stride,padding,dilation,groups,cin,cout", CASES)
def test_conv_matches_direct_loop(nd, stride, padding, dilation, groups, cin, cout):
    x, w, b = _inputs(nd, groups, cin, cout)
    want = ref_conv(x, w, b, stride, padding, dilation, groups)
    close(CONV[nd](x, w, b, stride, padding, dilation, groups), want)
    close(CONV[nd](x, w, None, stride, padding, dilation, groups), want - np.asarray(b).reshape(
        -1, *([1] * nd)))
    last = CONV[nd](fnp.moveaxis(x, 1, -1), w, b, stride, padding, dilation, groups,
                    channels_last=True)
    close(fnp.moveaxis(last, -1, 1), want)
    close(CONV[nd](x[0], w, b, stride, padding, dilation, groups), want[0])  # unbatched


def _matching_output_padding(n, m, k, s, p, d):
    """The output_padding that makes conv_transpose's output size ``n`` again."""
    return n - ((m - 1) * s - 2 * p + d * (k - 1) + 1)


@pytest.mark.parametrize("nd,stride,padding,dilation,groups,cin,cout",
                         [c for c in CASES if not isinstance(c[2], str)])
def test_conv_transpose_is_the_adjoint_of_conv(nd, stride, padding, dilation, groups, cin,
                                               cout):
    x, w, _ = _inputs(nd, groups, cin, cout, size=7)
    y = CONV[nd](x, w, None, stride, padding, dilation, groups)
    ct = f64(*y.shape)
    s, p, d = (_tuple(v, nd) for v in (stride, padding, dilation))
    op = tuple(_matching_output_padding(x.shape[2 + i], y.shape[2 + i], w.shape[2 + i], s[i],
                                        p[i], d[i]) for i in range(nd))
    xt = CONV_T[nd](ct, w, None, stride, padding, op, groups, dilation)
    assert xt.shape == x.shape
    close(fnp.sum(y * ct), fnp.sum(x * xt))
    close(xt, ref_conv_t(ct, w, None, s, p, op, groups, d))
    last = CONV_T[nd](fnp.moveaxis(ct, 1, -1), w, None, stride, padding, op, groups, dilation,
                      channels_last=True)
    close(fnp.moveaxis(last, -1, 1), xt)


@pytest.mark.parametrize("nd,stride,padding,op,groups,dilation",
                         [(1, 2, 0, 1, 1, 1), (2, 2, 1, 1, 2, 1), (2, 3, 0, 0, 1, 2),
                          (3, 2, 1, 0, 1, 1)])
def test_conv_transpose_values_with_bias(nd, stride, padding, op, groups, dilation):
    y, w, b = f64(2, 4, *([3] * nd)), f64(4, 3, *([2] * nd)), f64(3 * groups)
    w = f64(4, 3, *([2] * nd))
    want = ref_conv_t(y, w, b, stride, padding, op, groups, dilation)
    close(CONV_T[nd](y, w, b, stride, padding, op, groups, dilation), want)
    close(CONV_T[nd](y[0], w, b, stride, padding, op, groups, dilation), want[0])


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2),
                                                            (1, 1, 2, 1)])
def test_conv_gradients(stride, padding, dilation, groups, channels_last):
    x, w, b = f64(2, 4, 5, 4), f64(2, 4 // groups, 2, 3), f64(2)
    if channels_last:
        x = fnp.moveaxis(x, 1, -1)

    def f(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation, groups, channels_last=channels_last)
    check_grads(f, (x, w, b), order=2, modes=("rev",))
    check_grads(f, (x, w, b), order=1, modes=("fwd",))


@pytest.mark.parametrize("channels_last", [False, True])
def test_conv_transpose_gradients(channels_last):
    y, w, b = f64(2, 4, 3, 3), f64(4, 1, 3, 2), f64(2)
    if channels_last:
        y = fnp.moveaxis(y, 1, -1)

    def f(y, w, b):
        return F.conv_transpose2d(y, w, b, 2, 1, 1, 2, channels_last=channels_last)
    check_grads(f, (y, w, b), order=2, modes=("rev",))
    check_grads(f, (y, w, b), order=1, modes=("fwd",))


def test_conv1d_and_conv3d_gradients():
    check_grads(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (f64(2, 2, 7), f64(3, 2, 3)),
                order=2, modes=("rev",))
    check_grads(lambda x, w: F.conv3d(x, w, padding="same"), (f64(1, 2, 3, 4, 3),
                                                              f64(2, 2, 2, 3, 2)), order=1)


def test_vmap_and_jit_consistency():
    xs, w, b = f64(3, 2, 6, 5), f64(4, 2, 3, 3), f64(4)

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=2, padding=1)
    close(vmap(f, in_axes=(0, None, None))(xs, w, b), np.stack([np.asarray(f(x, w, b))
                                                                for x in xs]))
    ws = f64(3, 4, 2, 3, 3)
    close(vmap(f, in_axes=(None, 0, None))(xs[0], ws, b),
          np.stack([np.asarray(f(xs[0], wi, b)) for wi in ws]))
    close(jit(f)(xs[0], w, b), f(xs[0], w, b))

    def loss(w, x):
        return fnp.sum(F.conv2d(x, w, padding=1) ** 2)
    per_example = vmap(grad(loss), in_axes=(None, 0))(w, xs)  # unbatched examples (C, H, W)
    close(per_example, np.stack([np.asarray(grad(loss)(w, x)) for x in xs]))
    close(jit(grad(loss))(w, xs), grad(loss)(w, xs))
    y = f64(2, 4, 3, 3)
    close(jit(F.conv_transpose2d, static_argnums=(3,))(y, w[:, :2], None, 2),
          F.conv_transpose2d(y, w[:, :2], None, 2))


def test_derived_backward_is_products_and_pads():
    """The jitted gradient is built of matrix products, slices, stacks and pads: no
    scatter (the im2col's derivative is the col2im of the custom rule)."""
    x, w = fnp.ones((2, 3, 8, 8)), fnp.ones((4, 3, 3, 3))
    def loss(w, x):
        return fnp.sum(F.conv2d(x, w, stride=2, padding=1) ** 2)
    text = jit(grad(loss, argnums=(0, 1))).lower(w, x).as_text()
    assert "scatter" not in text and "gather" not in text
    assert text.count("matmul") == 3  # forward, weight gradient, input gradient
    only_w = jit(grad(loss)).lower(w, x).as_text()
    assert only_w.count("matmul") == 2  # the unused input gradient is dropped


def test_float32_and_integer_inputs():
    x, w = fnp.ones((1, 1, 4, 4)), fnp.ones((1, 1, 2, 2))
    assert F.conv2d(x, w).dtype == np.float32
    got = F.conv2d(fnp.ones((1, 1, 3, 3), dtype=fnp.int32), fnp.ones((1, 1, 2, 2),
                                                                       dtype=fnp.int32))
    assert got.dtype == np.int32 and got.tolist() == [[[[4, 4], [4, 4]]]]


def test_errors():
    x, w = fnp.ones((1, 4, 5, 5)), fnp.ones((2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected an input of rank 4.*\(4, 5\)"):
        F.conv2d(fnp.ones((4, 5)), w)
    with pytest.raises(ValueError, match="conv2d: expected a weight of rank 4"):
        F.conv2d(x, fnp.ones((2, 4, 3)))
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(1, 3, 5, 5\) has 3 chan"):
        F.conv2d(fnp.ones((1, 3, 5, 5)), w)
    with pytest.raises(ValueError, match="divisible by groups"):
        F.conv2d(x, fnp.ones((3, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="padding must be"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="stride must be a positive int"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(x, fnp.ones((2, 4, 7, 7)))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(fnp.ones((1, 2, 3, 3)), w[:2], stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose2d: input of shape"):
        F.conv_transpose2d(fnp.ones((1, 3, 3, 3)), w[:2])


# --- modules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_module_init_apply(nd):
    layer = getattr(nnlib, f"Conv{nd}d")(6, 3, padding=1, groups=2)
    x = fnp.ones((2, 4, *([5] * nd)))
    params, state = layer.init(fx.random.key(0), x)
    assert params["weight"].shape == (6, 2, *([3] * nd)) and params["bias"].shape == (6,)
    bound = 1 / math.sqrt(2 * 3 ** nd)
    assert float(fnp.max(fnp.abs(params["weight"]))) <= bound
    assert float(fnp.max(fnp.abs(params["bias"]))) <= bound
    out, new_state = layer.apply(params, state, x)
    assert out.shape == (2, 6, *([5] * nd)) and state == {} and new_state == {}
    close(out, CONV[nd](x, params["weight"], params["bias"], 1, 1, 1, 2), 1e-6)
    again, _ = layer.init(fx.random.key(0), x)
    other, _ = layer.init(fx.random.key(1), x)
    close(again["weight"], params["weight"], 0)
    assert not np.allclose(np.asarray(other["weight"]), np.asarray(params["weight"]))
    assert layer.apply(params, state, x[0])[0].shape == out.shape[1:]  # unbatched
    nobias, _ = getattr(nnlib, f"Conv{nd}d")(6, 3, bias=False).init(fx.random.key(0), x)
    assert sorted(nobias) == ["weight"]


def test_conv_module_channels_last_and_padding_mode():
    x = f64(2, 5, 5, 3)
    layer = nnlib.Conv2d(4, 3, padding=1, padding_mode="circular", channels_last=True)
    params, _ = layer.init(fx.random.key(0), x)
    assert params["weight"].shape == (4, 3, 3, 3)
    out, _ = layer.apply(params, {}, x)
    padded = F.pad(fnp.moveaxis(x, -1, 1), (1, 1, 1, 1), mode="circular")
    close(fnp.moveaxis(out, -1, 1), F.conv2d(padded, params["weight"], params["bias"]))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_module(nd):
    layer = getattr(nnlib, f"ConvTranspose{nd}d")(3, 2, stride=2, padding=0, output_padding=1)
    x = fnp.ones((2, 4, *([3] * nd)))
    params, _ = layer.init(fx.random.key(0), x)
    assert params["weight"].shape == (4, 3, *([2] * nd))
    assert float(fnp.max(fnp.abs(params["weight"]))) <= 1 / math.sqrt(3 * 2 ** nd)
    out, _ = layer.apply(params, {}, x)
    assert out.shape == (2, 3, *([7] * nd))


def test_conv_module_errors():
    with pytest.raises(ValueError, match="Conv2d: out_channels"):
        nnlib.Conv2d(0, 3)
    with pytest.raises(ValueError, match="Conv2d: groups .* out_channels"):
        nnlib.Conv2d(5, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: padding_mode"):
        nnlib.Conv2d(4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv2d: kernel_size"):
        nnlib.Conv2d(4, (3, 0))
    with pytest.raises(ValueError, match="Conv1d: padding"):
        nnlib.Conv1d(4, 3, padding="full")
    with pytest.raises(ValueError, match="ConvTranspose2d: output_padding"):
        nnlib.ConvTranspose2d(4, 3, stride=1, output_padding=1)
    layer = nnlib.Conv2d(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: groups \(2\) .* 3 input .*\(1, 3, 5, 5\)"):
        layer.init(fx.random.key(0), fnp.ones((1, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv2d: expected a input of rank 3 or 4.*\(5, 5"):
        layer.init(fx.random.key(0), fnp.ones((5, 5)))
    params, _ = layer.init(fx.random.key(0), fnp.ones((1, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv2d: expected 4 channels along axis 1.*\(1, 6,"):
        layer.apply(params, {}, fnp.ones((1, 6, 5, 5)))
