"""2000 full-batch gradient steps of a 1-10-1 tanh network on 200 points, three ways.

y = x^2 + noise on x in [-0.5, 0.5]; mean squared error; gradient descent, lr 0.1.

* hand-written NumPy: forward, backward and update written out, in a Python loop;
* fx, jitted step: ``jit(step)`` called 2000 times from a Python loop;
* fx, one ``fori_loop``: the whole training loop inside one jitted function.

All three start from the same parameters and must end at the same loss. Each is run
as a whole (2000 steps) several times, interleaved; the medians and ratios are printed.

Run: ``python -m bench.curve_fit``. Aims (issue 5): at most 1.0x (jitted step) and
0.8x (fori_loop) the hand-written loop.
"""
import argparse
import statistics
import time

import numpy as np

import fx
import fx.numpy as fnp
from fx import lax, tree
from transforms import grad, jit

STEPS, LR, HIDDEN = 2000, 0.1, 10


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-0.5, 0.5, 200, dtype=np.float32)[:, None]
    y = x ** 2 + 0.01 * rng.standard_normal(x.shape).astype(np.float32)
    params = dict(w1=rng.standard_normal((1, HIDDEN)).astype(np.float32),
                  b1=np.zeros(HIDDEN, np.float32),
                  w2=(rng.standard_normal((HIDDEN, 1)) / np.sqrt(HIDDEN)).astype(np.float32),
                  b2=np.zeros(1, np.float32))
    return params, x, y


def loss(p, x, y):
    h = fnp.tanh(x @ p["w1"] + p["b1"])
    return fnp.mean((h @ p["w2"] + p["b2"] - y) ** 2)


def step(p, x, y):
    return tree.map(lambda a, g: a - LR * g, p, grad(loss)(p, x, y))


def train_in_one_loop(p, x, y):
    return lax.fori_loop(0, STEPS, lambda i, q: step(q, x, y), p)


def numpy_train(p, x, y):
    w1, b1, w2, b2 = (p[k].copy() for k in ("w1", "b1", "w2", "b2"))
    scale = 2.0 / len(x)
    for _ in range(STEPS):
        h = np.tanh(x @ w1 + b1)
        d_out = (h @ w2 + b2 - y) * scale
        d_pre = (d_out @ w2.T) * (1 - h * h)
        w2 -= LR * (h.T @ d_out)
        b2 -= LR * d_out.sum(0)
        w1 -= LR * (x.T @ d_pre)
        b1 -= LR * d_pre.sum(0)
    return dict(w1=w1, b1=b1, w2=w2, b2=b2)


def final_loss(p, x, y) -> float:
    h = np.tanh(x @ np.asarray(p["w1"]) + np.asarray(p["b1"]))
    return float(np.mean((h @ np.asarray(p["w2"]) + np.asarray(p["b2"]) - y) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    raw, x_np, y_np = data()
    params = {k: fx.asarray(v) for k, v in raw.items()}
    x, y = fx.asarray(x_np), fx.asarray(y_np)
    jit_step = jit(step)
    whole = jit(train_in_one_loop)

    def stepped():
        p = params
        for _ in range(STEPS):
            p = jit_step(p, x, y)
        return p

    runs = {"numpy": lambda: numpy_train(raw, x_np, y_np), "jit step in a loop": stepped,
            "one fori_loop": lambda: whole(params, x, y)}
    results = {name: run() for name, run in runs.items()}  # warm up and check agreement
    want = final_loss(results["numpy"], x_np, y_np)
    for name, got in results.items():
        np.testing.assert_allclose(final_loss(got, x_np, y_np), want, rtol=1e-3, err_msg=name)
    times = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["numpy"])
    print(f"fx {fx.__version__}, numpy {np.__version__}; {STEPS} steps, 1-{HIDDEN}-1 tanh, "
          f"final loss {want:.5f}")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"{name:24s} {t * 1e3:9.1f} ms  {t / base:6.2f}x numpy")


if __name__ == "__main__":
    main()
