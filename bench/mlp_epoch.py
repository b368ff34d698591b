"""Seconds per epoch of ``examples/mlp_classifier.py`` against a hand-written NumPy loop of
the same model: Dense 512 ReLU -> Dense 10, softmax cross-entropy, RMSprop (lr 1e-3,
decay 0.9, eps 1e-8 inside the square root, Optax's defaults), batch 128, float32.

Both train from the same initial parameters on the same shuffled batches; their epochs
alternate (ours, NumPy, ours, ...) so that both see the same machine load, and the
medians are compared. The NumPy loop is written as a careful person would: forward and
backward by hand, in place where it is safe, one fused RMSprop update per array. Ours is
the example's jitted step (``value_and_grad`` + ``optim.rmsprop`` + ``apply_updates``,
parameters and optimizer state donated), timed after its first call (tracing and
compiling happen once, before the timed epochs). The test accuracy of both is printed
after the last epoch, and their first step is checked to agree.

Run: ``python -m bench.mlp_epoch [--data fashion-mnist] [--epochs 3]``.
Aim (issue 8): ours no slower than the NumPy loop (ratio <= 1.0).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fx
import nnlib.functional as F
import optim
from examples import datasets, mlp_classifier, training
from fx import random

DECAY, EPS = 0.9, 1e-8


def numpy_params(params) -> dict:
    """The example's parameters as NumPy arrays, weights ``(out, in)`` as by hand."""
    return {"w1": np.array(params["hidden"]["kernel"]).T.copy(),
            "b1": np.array(params["hidden"]["bias"]),
            "w2": np.array(params["out"]["kernel"]).T.copy(),
            "b2": np.array(params["out"]["bias"])}


def torch_layout(params) -> dict:
    """``nnlib.Linear``'s parameters ``{"weight": (out, in), "bias"}`` for the same model."""
    return {name: {"weight": fx.asarray(np.array(p["kernel"]).T.copy()), "bias": p["bias"]}
            for name, p in params.items()}


def torch_layout_numpy(params) -> dict:
    return {"w1": np.array(params["hidden"]["weight"]), "b1": np.array(params["hidden"]["bias"]),
            "w2": np.array(params["out"]["weight"]), "b2": np.array(params["out"]["bias"])}


def torch_forward(params, x):
    """The MLP written with ``F.linear`` over ``nnlib.Linear``'s layout."""
    h = F.relu(F.linear(x.reshape(x.shape[0], -1), params["hidden"]["weight"],
                        params["hidden"]["bias"]))
    return F.linear(h, params["out"]["weight"], params["out"]["bias"])


def numpy_step(p: dict, nu: dict, x, y, lr: float) -> float:
    """One RMSprop step of the MLP by hand, updating ``p`` and ``nu`` in place."""
    n = len(y)
    rows = np.arange(n)
    x = x.reshape(n, -1)
    z = x @ p["w1"].T
    z += p["b1"]
    h = np.maximum(z, 0.0)
    logits = h @ p["w2"].T
    logits += p["b2"]
    shift = logits.max(axis=1, keepdims=True)
    logits -= shift
    e = np.exp(logits)
    total = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - logits[rows, y]))
    d = e
    d /= total
    d[rows, y] -= 1.0
    d *= 1.0 / n
    d_h = d @ p["w2"]
    d_h *= z > 0
    grads = {"w2": d.T @ h, "b2": d.sum(axis=0), "w1": d_h.T @ x, "b1": d_h.sum(axis=0)}
    for k, g in grads.items():
        v, tmp = nu[k], np.multiply(g, g)
        v *= DECAY
        tmp *= 1.0 - DECAY
        v += tmp
        np.add(v, EPS, out=tmp)
        np.sqrt(tmp, out=tmp)
        g /= tmp
        g *= lr
        p[k] -= g
    return loss


def numpy_accuracy(p, x, y) -> float:
    x = x.reshape(len(x), -1)
    logits = np.maximum(x @ p["w1"].T + p["b1"], 0.0) @ p["w2"].T + p["b2"]
    return float(np.mean(logits.argmax(axis=1) == y))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion-mnist"), default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs of each")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=None, help="use the first N images")
    parser.add_argument("--torch-layout", action="store_true",
                        help="ours with nnlib.Linear's (out, in) weights and F.linear")
    args = parser.parse_args(argv)
    data = datasets.load(args.data, args.data_dir)
    if args.train:
        data = datasets.subset(data, args.train, len(data.x_test))
    params = mlp_classifier.init_params(random.key(args.seed), data)
    ref = numpy_params(params)
    forward = mlp_classifier.forward
    if args.torch_layout:
        params, forward = torch_layout(params), torch_forward
    opt = optim.rmsprop(args.lr)
    opt_state = opt.init(params)
    step = training.make_step(forward, opt)
    nu = {k: np.zeros_like(v) for k, v in ref.items()}

    # the first step of both agrees (and the jitted step is traced here, untimed)
    x0, y0 = data.x_train[:args.batch_size], data.y_train[:args.batch_size]
    before = {k: v.copy() for k, v in ref.items()}
    params, opt_state, loss = step(params, opt_state, x0, y0)
    want = numpy_step(ref, nu, x0, y0, args.lr)
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    got = torch_layout_numpy(params) if args.torch_layout else numpy_params(params)
    for k, v in got.items():
        np.testing.assert_allclose(v, ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert any(not np.allclose(before[k], ref[k]) for k in ref)
    tail = len(data.x_train) % args.batch_size  # the smaller last batch: traced here too
    if tail:
        params, opt_state, _ = step(params, opt_state, x0[:tail], y0[:tail])
        numpy_step(ref, nu, x0[:tail], y0[:tail], args.lr)

    n = len(data.x_train)
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for epoch in range(args.epochs):
        tic, cpu = time.perf_counter(), time.process_time()
        rng = np.random.default_rng([args.seed, epoch])
        for x, y in datasets.batches(data.x_train, data.y_train, args.batch_size, rng):
            params, opt_state, loss = step(params, opt_state, x, y)
        float(loss)
        ours.append(time.perf_counter() - tic)
        ours_cpu.append(time.process_time() - cpu)
        tic, cpu = time.perf_counter(), time.process_time()
        rng = np.random.default_rng([args.seed, epoch])
        for x, y in datasets.batches(data.x_train, data.y_train, args.batch_size, rng):
            numpy_step(ref, nu, x, y, args.lr)
        theirs.append(time.perf_counter() - tic)
        theirs_cpu.append(time.process_time() - cpu)
        print(f"epoch {epoch + 1}: ours {ours[-1]:.2f} s (CPU {ours_cpu[-1]:.2f} s), "
              f"numpy {theirs[-1]:.2f} s (CPU {theirs_cpu[-1]:.2f} s)")
    a, b = statistics.median(ours), statistics.median(theirs)
    ac, bc = statistics.median(ours_cpu), statistics.median(theirs_cpu)
    predict = training.jit(lambda p, x: forward(p, x).argmax(axis=-1))
    acc = training.accuracy(predict, params, data.x_test, data.y_test)
    acc_np = numpy_accuracy(ref, data.x_test, data.y_test)
    layout = "nnlib.Linear (out, in) weights" if args.torch_layout else "(in, out) kernels"
    print(f"{data.name}, {n} images, batch {args.batch_size}, {args.epochs} epochs each; "
          f"ours with {layout}")
    print(f"seconds per epoch: ours {a:.2f}, hand-written NumPy {b:.2f}, ratio {a / b:.2f}x")
    print(f"CPU seconds per epoch (all threads): ours {ac:.2f}, NumPy {bc:.2f}, ratio "
          f"{ac / bc:.2f}x")
    print(f"examples/second: ours {n / a:,.0f}, NumPy {n / b:,.0f}")
    print(f"test accuracy: ours {100 * acc:.2f}%, NumPy {100 * acc_np:.2f}%")
    return {"ours": a, "numpy": b, "ratio": a / b, "cpu_ratio": ac / bc, "accuracy": acc,
            "numpy_accuracy": acc_np}


if __name__ == "__main__":
    main()
