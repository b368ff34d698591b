"""Per-call cost of eager (un-jitted) reverse mode vs hand-written NumPy gradients.

Two cases, each timed interleaved with its hand-written NumPy counterpart in the same
run: ``grad`` of ``sum(sin(x) * x**2)`` on an 8-element vector, and ``value_and_grad``
of a 784-512-10 tanh MLP's cross-entropy on a batch of 128.

Run: ``python -m bench.eager_grad``. Aims (issue 3): at most 12x for the small case
(torch autograd.grad measured 15x here), at most 1.5x for the MLP.
"""
import argparse

import numpy as np

import fx
import fx.numpy as fnp
from bench.common import compare
from transforms import grad, value_and_grad


def small_case():
    a = np.linspace(0.1, 1.0, 8).astype(np.float32)
    x = fx.asarray(a)
    f = grad(lambda x: fnp.sum(fnp.sin(x) * x ** 2))

    def by_hand():
        return np.cos(a) * (a * a) + np.sin(a) * (2 * a)
    np.testing.assert_allclose(np.asarray(f(x)), by_hand(), rtol=1e-5)
    return "grad sum(sin(x)*x**2), n=8", lambda: f(x), by_hand


def mlp_case(batch=128, sizes=(784, 512, 10)):
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal(sizes[:2]) / np.sqrt(sizes[0])).astype(np.float32)
    w2 = (rng.standard_normal(sizes[1:]) / np.sqrt(sizes[1])).astype(np.float32)
    b1, b2 = np.zeros(sizes[1], np.float32), np.zeros(sizes[2], np.float32)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[2], dtype=np.float32)[rng.integers(0, sizes[2], batch)]

    def loss(p, x, y):
        h = fnp.tanh(x @ p["w1"] + p["b1"])
        logits = h @ p["w2"] + p["b2"]
        return fnp.mean(fnp.logsumexp(logits, axis=1) - fnp.sum(y * logits, axis=1))

    def by_hand():
        h = np.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        shift = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - shift)
        total = e.sum(axis=1, keepdims=True)
        value = np.mean(np.log(total[:, 0]) + shift[:, 0] - (y * logits).sum(axis=1))
        d_logits = (e / total - y) / batch
        d_h = (d_logits @ w2.T) * (1 - h * h)
        return value, {"w1": x.T @ d_h, "b1": d_h.sum(0), "w2": h.T @ d_logits,
                       "b2": d_logits.sum(0)}

    params = {k: fx.asarray(v) for k, v in dict(w1=w1, b1=b1, w2=w2, b2=b2).items()}
    xs, ys = fx.asarray(x), fx.asarray(y)
    step = value_and_grad(loss)
    value, grads = step(params, xs, ys)
    want_value, want = by_hand()
    np.testing.assert_allclose(float(value), want_value, rtol=1e-5)
    for k in want:
        np.testing.assert_allclose(np.asarray(grads[k]), want[k], rtol=1e-4, atol=1e-6)
    return "value_and_grad MLP 784-512-10", lambda: step(params, xs, ys), by_hand


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"fx {fx.__version__}, numpy {np.__version__}; eager, no jit")
    compare([small_case()], rounds=args.rounds, number=500)
    compare([mlp_case()], rounds=args.rounds, number=5)


if __name__ == "__main__":
    main()
