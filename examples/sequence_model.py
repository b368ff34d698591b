"""An LSTM learns to add: it reads a sequence of random digits one at a time and
classifies their sum (``--length 5``: 46 classes, 0..45).

The model is written for ONE sequence: ``lax.scan`` runs ``nnlib.functional.lstm_cell``
over the time steps (the carry is the cell's ``(h, c)``), a ``Linear`` head reads the last
hidden state. ``vmap`` turns it into a batched model, and the training step
(``value_and_grad`` of the cross-entropy, Adam, ``apply_updates``) is one ``jit``. Each
step draws a fresh batch; accuracy (the exact sum) is measured on a fixed held-out set.
Writes a PNG of the training loss and held-out accuracy to ``--out``.

Run: ``python examples/sequence_model.py [--steps 1500] [--length 5] [--hidden 64]``
"""
from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

import fx.numpy as fnp
import nnlib
import nnlib.functional as F
import optim
from fx import lax, random
from transforms import jit, value_and_grad, vmap

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"


def make_batch(rng: np.random.Generator, batch: int, length: int):
    """``(digits (batch, length) int32, their sums (batch,) int32)``."""
    digits = rng.integers(0, 10, size=(batch, length), dtype=np.int32)
    return digits, digits.sum(axis=1, dtype=np.int32)


def init_params(key, length: int, hidden: int):
    k_cell, k_head = random.split(key)
    cell, _ = nnlib.LSTMCell(hidden).init(k_cell, fnp.zeros(10))
    head, _ = nnlib.Linear(9 * length + 1).init(k_head, fnp.zeros(hidden))
    return {"cell": cell, "head": head}


def predict_one(params, digits):
    """Logits of the sum of one sequence of digits ``(length,)``."""
    xs = F.one_hot(digits, 10).astype("float32")          # (length, 10)
    hidden = params["cell"]["weight_hh"].shape[1]
    zeros = fnp.zeros(hidden, dtype=xs.dtype)

    def step(hc, x_t):
        h, c = F.lstm_cell(x_t, hc, params["cell"])
        return (h, c), h

    (h, _), _ = lax.scan(step, (zeros, zeros), xs)       # h: the last hidden state
    return F.linear(h, params["head"]["weight"], params["head"]["bias"])


predict = vmap(predict_one, in_axes=(None, 0))             # (batch, length) -> (batch, classes)


def loss_fn(params, digits, sums):
    return F.cross_entropy(predict(params, digits), sums)


def make_step(opt):
    def train_step(params, opt_state, digits, sums):
        loss, grads = value_and_grad(loss_fn)(params, digits, sums)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss
    return jit(train_step, donate_argnums=(0, 1))


def plot(path, losses, evals, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(np.arange(1, len(losses) + 1), losses, lw=0.6)
    left.set(xlabel="step", ylabel="training loss", yscale="log", title=title)
    steps, accs = zip(*evals) if evals else ((), ())
    right.plot(steps, 100 * np.asarray(accs), "o-")
    right.set(xlabel="step", ylabel="held-out accuracy (%)", title="exact sum")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--length", type=int, default=5, help="digits per sequence")
    p.add_argument("--hidden", type=int, default=64, help="LSTM hidden size")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the plot")
    p.add_argument("--smoke", action="store_true", help="a few steps (the tests' mode)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.eval_every = min(args.steps, 40), 20
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    test_digits, test_sums = make_batch(np.random.default_rng([args.seed, 1]), 2000, args.length)
    params = init_params(random.key(args.seed), args.length, args.hidden)
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)
    step = make_step(opt)
    evaluate = jit(lambda params, digits: fnp.argmax(predict(params, digits), axis=-1))

    def accuracy(params):
        return float(np.mean(np.asarray(evaluate(params, test_digits)) == test_sums))

    losses, evals = [], []
    print(f"sum of {args.length} digits: LSTM({args.hidden}), batch {args.batch_size}, "
          f"{args.steps} steps")
    tic = time.perf_counter()
    for i in range(1, args.steps + 1):
        params, opt_state, loss = step(params, opt_state, *make_batch(rng, args.batch_size,
                                                                      args.length))
        losses.append(float(loss))
        if i % args.eval_every == 0 or i == args.steps:
            evals.append((i, accuracy(params)))
            print(f"step {i}: loss {np.mean(losses[-args.eval_every:]):.4f}, held-out "
                  f"accuracy {100 * evals[-1][1]:.1f}% ({time.perf_counter() - tic:.1f} s)")
    seconds = time.perf_counter() - tic
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError("sequence_model: the training loss is not finite")
    window = max(1, min(10, len(losses) // 4))
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    if not last < first:
        raise RuntimeError(f"sequence_model: the training loss did not go down ({first:.4f} "
                           f"over the first {window} steps, {last:.4f} over the last)")
    path = out / f"sequence_sum{args.length}.png"
    plot(path, losses, evals, f"LSTM, sum of {args.length} digits")
    acc = evals[-1][1]
    print(f"held-out accuracy {100 * acc:.1f}% after {args.steps} steps, {seconds:.1f} s "
          f"({1e3 * seconds / args.steps:.1f} ms per step); plot {path}")
    return {"final_loss": last, "initial_loss": first, "accuracy": acc, "seconds": seconds,
            "steps": args.steps, "plot": str(path), "params": params}


if __name__ == "__main__":
    main()
