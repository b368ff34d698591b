"""The jitted training step of a small CNN vs a careful hand-written NumPy step.

conv(1->32, 3x3)-relu-maxpool2-conv(32->64, 3x3)-relu-maxpool2-dense(1600->10) on a
batch of 64 1x28x28 images, softmax cross-entropy on integer labels, float32, plain SGD
(lr 0.1). Ours is an ``nnlib.Sequential`` of ``Conv2d``/``ReLU``/``MaxPool2d``/``Flatten``/
``Linear`` under ``jit(value_and_grad)``, with NCHW arguments and with NHWC ones
(``channels_last=True``); for a batch this size both run on (C, H, W, N) views (batch
innermost), the layout the activations keep from layer to layer. The hand-written step works
in NHWC: im2col by ``as_strided`` and one product, bias added in place, pooling as the
maximum of four strided views, its backward as one comparison with the pooled values,
col2im by strided in-place adds, SGD in place.

Run: ``python -m bench.cnn_step`` (``--show-code`` prints the generated step). The
machine is shared and noisy: the cases are interleaved and ratios are of medians (compare
them within one run; ``OPENBLAS_NUM_THREADS=1`` steadies them on a loaded machine).
Reference (issue 6): JAX jit 2.5x the hand-written step with reduce_window pooling, 1.0x
with reshape pooling; PyTorch eager 0.65x (NCHW), 0.46x (channels-last). Aim: <= 1.0x.
"""
import argparse
import statistics
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

import fx
import nnlib
import nnlib.functional as F
from bench.common import compare
from fx import tree
from transforms import jit, value_and_grad

BATCH, LR = 64, 0.1


def model(channels_last: bool):
    cl = channels_last
    layers = [nnlib.Conv2d(32, 3, channels_last=cl), nnlib.ReLU(),
              nnlib.MaxPool2d(2, channels_last=cl), nnlib.Conv2d(64, 3, channels_last=cl),
              nnlib.ReLU(), nnlib.MaxPool2d(2, channels_last=cl), nnlib.Flatten(),
              nnlib.Linear(10)]
    return nnlib.Sequential(*layers)


def make_step(net, state):
    def loss(params, x, y):
        return F.cross_entropy(net.apply(params, state, x)[0], y)

    def step(params, x, y):
        value, grads = value_and_grad(loss)(params, x, y)
        return tree.map(lambda p, g: p - LR * g, params, grads), value
    return step


# --- the hand-written step (NHWC inside) -----------------------------------------------------
def _cols(a, k):
    """im2col of NHWC ``a`` for a k x k valid convolution: rows (n, y, x), columns (ky, kx, c)."""
    n, h, w, c = a.shape
    s = a.strides
    v = as_strided(a, (n, h - k + 1, w - k + 1, k, k, c), (s[0], s[1], s[2], s[1], s[2], s[3]))
    return v.reshape(n * (h - k + 1) * (w - k + 1), k * k * c)


def _pool(h):
    """2x2 max pooling of NHWC ``h`` (odd sizes cropped): the maximum of four views."""
    n, hh, ww, c = h.shape
    h = h[:, :hh // 2 * 2, :ww // 2 * 2]
    out = np.maximum(h[:, 0::2, 0::2], h[:, 0::2, 1::2])
    np.maximum(out, h[:, 1::2, 0::2], out=out)
    np.maximum(out, h[:, 1::2, 1::2], out=out)
    return out


def _unpool(h, pooled, d_pooled):
    """The gradient of ``_pool`` (into a relu output: ties are zeros that relu' drops)."""
    n, hh, ww, c = h.shape
    ho, wo = hh // 2, ww // 2
    win = h[:, :ho * 2, :wo * 2].reshape(n, ho, 2, wo, 2, c)
    mask = win == pooled[:, :, None, :, None]
    d = np.zeros(h.shape, h.dtype)
    d[:, :ho * 2, :wo * 2] = (mask * d_pooled[:, :, None, :, None]).reshape(n, ho * 2, wo * 2, c)
    return d


def numpy_step(p, x, y, flatten_chw: bool):
    """Forward, backward and SGD by hand; ``p`` holds PyTorch-layout weights (OIHW, dense
    (out, in)), ``x`` is NHWC; ``flatten_chw``: the dense layer reads (C, H, W) order."""
    n, rows = x.shape[0], np.arange(len(y))
    w1 = p["0"]["weight"].transpose(2, 3, 1, 0).reshape(9, 32)
    w2 = p["3"]["weight"].transpose(2, 3, 1, 0).reshape(288, 64)
    w3 = p["7"]["weight"]
    if flatten_chw:
        w3 = w3.reshape(10, 64, 5, 5).transpose(0, 2, 3, 1).reshape(10, 1600)
    c1 = _cols(x, 3)
    z1 = c1 @ w1
    z1 += p["0"]["bias"]
    h1 = np.maximum(z1, 0, out=z1).reshape(n, 26, 26, 32)
    p1 = _pool(h1)
    c2 = _cols(p1, 3)
    z2 = c2 @ w2
    z2 += p["3"]["bias"]
    h2 = np.maximum(z2, 0, out=z2).reshape(n, 11, 11, 64)
    p2 = _pool(h2)
    flat = p2.reshape(n, 1600)
    logits = flat @ w3.T
    logits += p["7"]["bias"]
    shift = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - shift)
    total = e.sum(axis=1, keepdims=True)
    value = np.mean(np.log(total[:, 0]) + shift[:, 0] - logits[rows, y])
    d_logits = e
    d_logits /= total
    d_logits[rows, y] -= 1
    d_logits /= n
    g_w3, g_b3 = d_logits.T @ flat, d_logits.sum(axis=0)
    d_h2 = _unpool(h2, p2, (d_logits @ w3).reshape(p2.shape))
    d_h2 *= h2 > 0
    d_z2 = d_h2.reshape(-1, 64)
    g_w2, g_b2 = c2.T @ d_z2, d_z2.sum(axis=0)
    d_c2 = (d_z2 @ w2.T).reshape(n, 11, 11, 3, 3, 32)
    d_p1 = np.zeros(p1.shape, p1.dtype)
    for i in range(3):
        for j in range(3):
            d_p1[:, i:i + 11, j:j + 11] += d_c2[:, :, :, i, j]
    d_h1 = _unpool(h1, p1, d_p1)
    d_h1 *= h1 > 0
    d_z1 = d_h1.reshape(-1, 32)
    g_w1, g_b1 = c1.T @ d_z1, d_z1.sum(axis=0)
    if flatten_chw:
        g_w3 = g_w3.reshape(10, 5, 5, 64).transpose(0, 3, 1, 2).reshape(10, 1600)
    grads = {"0": {"weight": g_w1.reshape(3, 3, 1, 32).transpose(3, 2, 0, 1), "bias": g_b1},
             "3": {"weight": g_w2.reshape(3, 3, 32, 64).transpose(3, 2, 0, 1), "bias": g_b2},
             "7": {"weight": g_w3, "bias": g_b3}}
    for layer, gs in grads.items():
        for name, g in gs.items():
            p[layer][name] -= LR * g
    return p, value


def check(new, value, params_np, x_nhwc, y, flatten_chw):
    by_hand = tree.map(lambda a: a.copy(), params_np)
    want, want_value = numpy_step(by_hand, x_nhwc, y, flatten_chw)
    np.testing.assert_allclose(float(value), want_value, rtol=1e-5)
    for got, ref in zip(tree.leaves(new), tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-3, atol=1e-5)


def first_call_ms(step, params, x, y, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        fresh = jit(step)
        start = time.perf_counter()
        fresh(params, x, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=3)
    parser.add_argument("--show-code", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y_np = rng.integers(0, 10, BATCH).astype(np.int32)
    x_nhwc = np.ascontiguousarray(x_np.transpose(0, 2, 3, 1))
    y = fx.asarray(y_np)
    cases = []
    for cl in (False, True):
        net = model(cl)
        x = fx.asarray(x_nhwc if cl else x_np)
        params, state = net.init(fx.random.key(0), x)
        params_np = tree.map(lambda a: np.array(a), params)
        step = make_step(net, state)
        jitted = jit(step)
        new, value = jitted(params, x, y)
        check(new, value, params_np, x_nhwc, y_np, flatten_chw=not cl)
        if args.show_code:
            print(jitted.lower(params, x, y).as_text())
        name = "channels-last" if cl else "NCHW"
        print(f"first call, {name} (trace + compile + run): "
              f"{first_call_ms(step, params, x, y):.0f} ms")
        by_hand = tree.map(lambda a: a.copy(), params_np)

        def ours(jitted=jitted, params=params, x=x):
            return jitted(params, x, y)

        def reference(by_hand=by_hand, cl=cl):
            return numpy_step(by_hand, x_nhwc, y_np, flatten_chw=not cl)
        cases.append((f"jit CNN step, {name}", ours, reference))
    print(f"fx {fx.__version__}, numpy {np.__version__}; CNN batch {BATCH}x1x28x28")
    compare(cases, rounds=args.rounds, number=args.number)


if __name__ == "__main__":
    main()
