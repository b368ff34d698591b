"""The training loop shared by the classifier examples (``mlp_classifier.py``,
``cnn_classifier.py``): options, data, a jitted step, progress, checkpoints, curves.

``fit(name, args, data, params, forward, opt)`` trains ``forward(params, x) -> logits``
with softmax cross-entropy. The step (``value_and_grad`` of the loss, the optimizer's
update, ``apply_updates``) is one ``jit`` with the parameters and the optimizer state
donated, so each step writes its results into the previous step's buffers. After every
epoch it measures test accuracy and writes a checkpoint (parameters, optimizer state,
epoch, history) to ``OUT/<name>_<data>.safetensors``; ``--resume`` continues from it.
Epoch ``e`` shuffles with ``numpy.random.default_rng([seed, e])``, so a resumed run
sees the same batches as an uninterrupted one.
"""
from __future__ import annotations

import argparse
import math
import pathlib
import statistics
import sys
import time

import numpy as np

import fx.numpy as fnp
import nnlib.functional as F
import optim
from fx import tree
from transforms import jit, value_and_grad

try:
    from examples import datasets
except ImportError:  # run as ``python examples/<script>.py``
    import datasets

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"
SMOKE_SIZES = {"digits": (256, 128), "fashion-mnist": (512, 256)}  # (train, test)


def parser(description: str, epochs: dict, batch_size: int, lr: float) -> argparse.ArgumentParser:
    """The shared options; ``epochs`` maps each data set to its default number of epochs."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", choices=("digits", "fashion-mnist"), default="digits",
                   help="scikit-learn's bundled 8x8 digits, or Fashion-MNIST IDX files")
    p.add_argument("--data-dir", default=None,
                   help=f"folder of the Fashion-MNIST IDX files (default "
                        f"{datasets.FASHION_MNIST_DIR}, Debian package "
                        f"{datasets.FASHION_MNIST_PACKAGE})")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: " + ", ".join(f"{v} on {k}" for k, v in epochs.items()))
    p.set_defaults(default_epochs=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr, help="learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(DEFAULT_OUT), help="folder for checkpoints and plots")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out (up to --epochs in all)")
    p.add_argument("--smoke", action="store_true",
                   help="a few hundred examples, no progress bar (the tests' mode)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p


def load_data(args) -> datasets.Dataset:
    """The data set ``--data`` (a few hundred images with ``--smoke``); also fills in the
    data set's default ``--epochs``."""
    if args.epochs is None:
        args.epochs = args.default_epochs[args.data]
    data = datasets.load(args.data, args.data_dir)
    if args.smoke:
        data = datasets.subset(data, *SMOKE_SIZES[args.data])
    return data


def make_step(forward, opt):
    """The jitted training step ``(params, opt_state, x, y) -> (params, opt_state, loss)``."""
    def loss_fn(params, x, y):
        return F.cross_entropy(forward(params, x), y)

    def step(params, opt_state, x, y):
        loss, grads = value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss
    return jit(step, donate_argnums=(0, 1))


def accuracy(predict, params, x, y, batch_size: int = 1000) -> float:
    """Fraction of ``x`` whose argmax logit is the label (``predict`` is jitted)."""
    hits = 0
    for start in range(0, len(x), batch_size):
        hits += int(np.sum(np.asarray(predict(params, x[start:start + batch_size]))
                           == y[start:start + batch_size]))
    return hits / max(len(x), 1)


def _progress(total, desc, disable):
    if disable:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="batch", leave=True, file=sys.stderr)


def _restore(path: pathlib.Path, params, opt_state):
    """``(params, opt_state, epoch, history)`` from a checkpoint, checked against the
    current model's parameter and optimizer-state shapes."""
    raw = optim.load(path)  # first read: the history's lengths
    template = {"params": params, "opt_state": opt_state, "epoch": 0,
                "history": tree.map(lambda a: np.zeros(a.shape, a.dtype), raw["history"])}
    ckpt = optim.load(path, template=template)
    history = {k: np.asarray(v).tolist() for k, v in ckpt["history"].items()}
    return ckpt["params"], ckpt["opt_state"], ckpt["epoch"], history


def _save(path: pathlib.Path, params, opt_state, epoch: int, history: dict) -> None:
    optim.save(path, {"params": params, "opt_state": opt_state, "epoch": epoch,
                      "history": {k: np.asarray(v, np.float64) for k, v in history.items()}})


def plot_curves(path: pathlib.Path, history: dict, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = np.asarray(history["step_loss"])
    per_epoch = max(len(steps) // max(len(history["test_accuracy"]), 1), 1)
    left.plot(np.arange(1, len(steps) + 1) / per_epoch, steps, lw=0.5, alpha=0.4,
              label="batch")
    window = min(50, max(len(steps) // 10, 1))
    if len(steps) >= window:
        smooth = np.convolve(steps, np.ones(window) / window, mode="valid")
        left.plot(np.arange(window, len(steps) + 1) / per_epoch, smooth, label="running mean")
    left.set(xlabel="epoch", ylabel="training loss", yscale="log", title=title)
    left.legend()
    epochs = np.arange(1, len(history["test_accuracy"]) + 1)
    right.plot(epochs, 100 * np.asarray(history["test_accuracy"]), "o-")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="after each epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit(name: str, args, data: datasets.Dataset, params, forward, opt) -> dict:
    """Train, evaluate, checkpoint and plot; returns the results (see module docstring)."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / f"{name}_{data.name}.safetensors"
    opt_state = opt.init(params)
    history = {"step_loss": [], "epoch_loss": [], "test_accuracy": [], "epoch_seconds": []}
    start = 0
    if args.resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {ckpt_path} (train without "
                                    "--resume first, with the same --out and --data)")
        params, opt_state, start, history = _restore(ckpt_path, params, opt_state)
        print(f"resumed from {ckpt_path} after epoch {start}")
    step = make_step(forward, opt)
    predict = jit(lambda p, x: fnp.argmax(forward(p, x), axis=-1))
    n_train, bs = len(data.x_train), args.batch_size
    n_batches = datasets.num_batches(n_train, bs)
    timed = []  # this run's epoch times
    print(f"{name}: {data.name}, {n_train} training / {len(data.x_test)} test images, "
          f"batch {bs}, {args.epochs} epochs")
    for epoch in range(start, args.epochs):
        rng = np.random.default_rng([args.seed, epoch])
        bar = _progress(n_batches, f"epoch {epoch + 1}/{args.epochs}",
                        args.smoke or args.no_progress)
        losses = []
        tic, cpu = time.perf_counter(), time.process_time()
        for i, (x, y) in enumerate(datasets.batches(data.x_train, data.y_train, bs, rng)):
            params, opt_state, loss = step(params, opt_state, x, y)
            losses.append(loss)
            if bar is not None:
                bar.update()
                if i % 20 == 0:
                    bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        seconds, cpu = time.perf_counter() - tic, time.process_time() - cpu
        if bar is not None:
            bar.close()
        losses = [float(v) for v in losses]
        if not all(math.isfinite(v) for v in losses):
            raise FloatingPointError(f"{name}: the training loss is not finite in epoch "
                                     f"{epoch + 1} (learning rate {args.lr} too high?)")
        acc = accuracy(predict, params, data.x_test, data.y_test)
        history["step_loss"] += losses
        history["epoch_loss"].append(statistics.fmean(losses))
        history["test_accuracy"].append(acc)
        history["epoch_seconds"].append(seconds)
        timed.append(seconds)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {history['epoch_loss'][-1]:.4f}, "
              f"test accuracy {100 * acc:.2f}%, {seconds:.2f} s, CPU {cpu:.2f} s "
              f"({n_train / seconds:,.0f} examples/s)")
        _save(ckpt_path, params, opt_state, epoch + 1, history)
    if not timed:
        raise ValueError(f"{name}: nothing to train (checkpoint already at epoch {start} of "
                         f"--epochs {args.epochs})")
    first, last = history["step_loss"][0], history["epoch_loss"][-1]
    if not last < first:
        raise RuntimeError(f"{name}: the training loss did not go down ({first:.4f} at the "
                           f"first step, {last:.4f} over the last epoch)")
    plot = out / f"{name}_{data.name}.png"
    plot_curves(plot, history, f"{name} on {data.name}")
    # the first epoch of a run includes tracing and compiling the step
    seconds = statistics.median(timed[1:] or timed)
    result = {"final_loss": last, "initial_loss": first, "test_accuracy": acc,
              "epochs": len(history["test_accuracy"]), "seconds_per_epoch": seconds,
              "examples_per_second": n_train / seconds, "checkpoint": str(ckpt_path),
              "plot": str(plot), "history": history, "params": params}
    print(f"test accuracy {100 * acc:.2f}% after {result['epochs']} epochs; "
          f"{seconds:.2f} s per epoch, {result['examples_per_second']:,.0f} examples/second "
          f"(median epoch); checkpoint {ckpt_path}, plot {plot}")
    return result
