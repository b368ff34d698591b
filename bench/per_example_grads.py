"""Per-example gradients of a 784-128-10 tanh MLP (cross-entropy, batch 128).

``jit(vmap(grad(loss)))`` and eager ``vmap(grad(loss))`` against hand-written batched
NumPy per-example gradients (einsum) in the same run, interleaved, and against a Python
loop of ``grad`` over the examples. The batching rules turn per-example matmul gradients
into one batched contraction; jit removes the Python dispatch per operation.

Run: ``python -m bench.per_example_grads``. Aim (issue 4): jitted at most 1.3x.
"""
import argparse

import numpy as np

import fx
import fx.numpy as fnp
from bench.common import compare
from transforms import grad, jit, vmap


def setup(batch=128, sizes=(784, 128, 10), seed=0):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal(sizes[:2]) / np.sqrt(sizes[0])).astype(np.float32)
    w2 = (rng.standard_normal(sizes[1:]) / np.sqrt(sizes[1])).astype(np.float32)
    b1, b2 = np.zeros(sizes[1], np.float32), np.zeros(sizes[2], np.float32)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[2], dtype=np.float32)[rng.integers(0, sizes[2], batch)]
    return dict(w1=w1, b1=b1, w2=w2, b2=b2), x, y


def loss(p, x, y):
    """Cross-entropy of one example (x: 784 features, y: one-hot over 10 classes)."""
    h = fnp.tanh(x @ p["w1"] + p["b1"])
    logits = h @ p["w2"] + p["b2"]
    return fnp.logsumexp(logits) - fnp.sum(y * logits)


def by_hand(p, x, y):
    """Per-example gradients, batched with einsum: what a careful person writes."""
    h = np.tanh(x @ p["w1"] + p["b1"])
    logits = h @ p["w2"] + p["b2"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    d_logits = e / e.sum(axis=1, keepdims=True) - y
    d_z = (d_logits @ p["w2"].T) * (1 - h * h)
    return {"w1": np.einsum("bi,bj->bij", x, d_z), "b1": d_z,
            "w2": np.einsum("bi,bj->bij", h, d_logits), "b2": d_logits}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    params, x, y = setup()
    fx_params = {k: fx.asarray(v) for k, v in params.items()}
    xs, ys = fx.asarray(x), fx.asarray(y)
    per_example = vmap(grad(loss), in_axes=(None, 0, 0))
    jitted = jit(per_example)
    want = by_hand(params, x, y)
    for got in (per_example(fx_params, xs, ys), jitted(fx_params, xs, ys)):
        for k in want:
            np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-4, atol=1e-5)
    one = grad(loss)
    loop = lambda: [one(fx_params, xs[i], ys[i]) for i in range(len(x))]  # noqa: E731
    print(f"fx {fx.__version__}, numpy {np.__version__}; batch {len(x)}")
    compare([("jit(vmap(grad(loss)))", lambda: jitted(fx_params, xs, ys),
              lambda: by_hand(params, x, y)),
             ("vmap(grad(loss)), eager", lambda: per_example(fx_params, xs, ys),
              lambda: by_hand(params, x, y)),
             ("Python loop of grad(loss)", loop, lambda: by_hand(params, x, y))],
            rounds=args.rounds, number=3)


if __name__ == "__main__":
    main()
