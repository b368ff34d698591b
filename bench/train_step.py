"""The jitted training step of a 784-512-10 ReLU MLP vs a careful hand-written NumPy step.

Softmax cross-entropy on integer labels, batch 128, float32, plain SGD (lr 0.1). Both
steps take the parameters and return the updated ones and the loss; the hand-written
one updates its arrays in place, as a careful person would. Ours is timed without and
with ``donate_argnums`` (results written into the old parameters' buffers). Also
measured: the first call of a fresh ``jit`` (trace + optimise + generate + compile +
one run).

Run: ``python -m bench.train_step`` (``--show-code`` prints the generated step).
Aims (issue 5): step at most 1.05x the hand-written one; first call under 50 ms.
"""
import argparse
import statistics
import time

import numpy as np

import fx
import fx.numpy as fnp
import nnlib.functional as F
from bench.common import compare
from fx import tree
from transforms import jit, value_and_grad

SIZES, BATCH, LR = (784, 512, 10), 128, 0.1


def init(seed=0):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal(SIZES[:2]) / np.sqrt(SIZES[0])).astype(np.float32)
    w2 = (rng.standard_normal(SIZES[1:]) / np.sqrt(SIZES[1])).astype(np.float32)
    b1, b2 = np.zeros(SIZES[1], np.float32), np.zeros(SIZES[2], np.float32)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[2], BATCH).astype(np.int32)
    return dict(w1=w1, b1=b1, w2=w2, b2=b2), x, y


def loss(params, x, y):
    h = F.relu(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    logp = logits - fnp.logsumexp(logits, axis=1, keepdims=True)
    return -fnp.mean(fnp.take_along_axis(logp, y[:, None], axis=1))


def step(params, x, y):
    value, grads = value_and_grad(loss)(params, x, y)
    return tree.map(lambda p, g: p - LR * g, params, grads), value


def numpy_step(p, x, y):
    """Forward, backward and SGD by hand, in place where it is safe."""
    rows = np.arange(len(y))
    z = x @ p["w1"]
    z += p["b1"]
    h = np.maximum(z, 0, out=z)
    logits = h @ p["w2"]
    logits += p["b2"]
    shift = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - shift)
    total = e.sum(axis=1, keepdims=True)
    value = np.mean(np.log(total[:, 0]) + shift[:, 0] - logits[rows, y])
    d_logits = e
    d_logits /= total
    d_logits[rows, y] -= 1
    d_logits /= len(y)
    g_w2, g_b2 = h.T @ d_logits, d_logits.sum(axis=0)
    d_h = d_logits @ p["w2"].T
    d_h *= h > 0
    g_w1, g_b1 = x.T @ d_h, d_h.sum(axis=0)
    for name, g in (("w1", g_w1), ("b1", g_b1), ("w2", g_w2), ("b2", g_b2)):
        g *= LR
        p[name] -= g
    return p, value


def first_call_ms(params, x, y, repeats=5) -> tuple[float, float]:
    """Median milliseconds of a fresh jit's first call, and of that call's trace + compile
    alone (the first call less a cached call)."""
    first, cached = [], []
    for _ in range(repeats):
        fresh = jit(step)
        start = time.perf_counter()
        fresh(params, x, y)
        middle = time.perf_counter()
        fresh(params, x, y)
        first.append(middle - start)
        cached.append(time.perf_counter() - middle)
    return statistics.median(first) * 1e3, statistics.median(
        [f - c for f, c in zip(first, cached)]) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--show-code", action="store_true")
    args = parser.parse_args()
    raw, x_np, y_np = init()
    params = {k: fx.asarray(v) for k, v in raw.items()}
    x, y = fx.asarray(x_np), fx.asarray(y_np)

    jitted = jit(step)
    donating = jit(step, donate_argnums=0)
    new, value = jitted(params, x, y)
    by_hand = {k: v.copy() for k, v in raw.items()}
    want, want_value = numpy_step(by_hand, x_np, y_np)
    np.testing.assert_allclose(float(value), want_value, rtol=1e-5)
    for k in want:
        np.testing.assert_allclose(np.asarray(new[k]), want[k], rtol=1e-4, atol=1e-6)
    if args.show_code:
        print(jitted.lower(params, x, y).as_text())

    state = {"p": {k: fx.asarray(v.copy()) for k, v in raw.items()}}

    def donated_step():
        state["p"], _ = donating(state["p"], x, y)
    print(f"fx {fx.__version__}, numpy {np.__version__}; MLP 784-512-10, batch {BATCH}")
    total, compile_only = first_call_ms(params, x, y)
    print(f"first call: {total:.1f} ms, of which trace + optimise + generate + compile "
          f"{compile_only:.1f} ms")
    compare([("jit step", lambda: jitted(params, x, y), lambda: numpy_step(by_hand, x_np, y_np)),
             ("jit step, donated params", donated_step,
              lambda: numpy_step(by_hand, x_np, y_np))],
            rounds=args.rounds, number=args.number)


if __name__ == "__main__":
    main()
