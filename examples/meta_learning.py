"""MAML on sine regression: ``grad`` through an inner loop of ``grad`` steps, all jitted.

Each task is a sine wave ``a·sin(x - φ)`` (amplitude ``a`` in [0.1, 5], phase ``φ`` in
[0, π], ``x`` in [-5, 5]), seen through ``K`` points (``--shots``). MAML (Finn et al.,
2017) learns an initialisation of a 1-40-40-1 ReLU network from which a few gradient
steps on a new task's ``K`` points fit that task: the inner loop adapts the parameters
with ``fx.lax.fori_loop`` over ``grad`` steps, the outer loss is measured on fresh
points of the same task after adaptation, and ``value_and_grad`` differentiates the
outer loss through the whole inner loop (second-order MAML: gradients of gradients).
``vmap`` runs the tasks of a meta-batch together; the whole meta-step, task sampling
included, is one ``jit``-compiled function.

The same code with zero inner steps is ordinary regression on all tasks at once (the
"pretrained" baseline). After training both, the script adapts each to new tasks and
prints their losses after 0, 1, 5 and 10 steps, and saves ``meta_learning.png``.

Run: ``python examples/meta_learning.py [--iterations 2000] [--inner-steps 1]
[--shots 10] [--seed 0] [--out DIR]``
"""
import argparse
import math
import os
import pathlib
import time

import numpy as np

import fx.numpy as fnp
import nnlib.functional as F
import optim
from fx import lax, random, tree
from transforms import grad, jit, value_and_grad, vmap

SIZES = (1, 40, 40, 1)

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"


def init_params(key):
    """PyTorch-style uniform init of the 1-40-40-1 network."""
    params = []
    for k, (n_in, n_out) in zip(random.split(key, len(SIZES) - 1), zip(SIZES, SIZES[1:])):
        kw, kb = random.split(k)
        bound = n_in ** -0.5
        params.append({"w": random.uniform(kw, (n_in, n_out), minval=-bound, maxval=bound),
                       "b": random.uniform(kb, (n_out,), minval=-bound, maxval=bound)})
    return params


def predict(params, x):
    for layer in params[:-1]:
        x = F.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def mse(params, x, y):
    return fnp.mean((predict(params, x) - y) ** 2)


def sample_task(key, shots):
    """A random sine wave and two independent sets of ``shots`` points on it: ``(x, y)``
    to adapt on and ``(x, y)`` to measure the adapted network on, as (shots, 1) columns."""
    ka, kp, kx = random.split(key, 3)
    amplitude = random.uniform(ka, (), minval=0.1, maxval=5.0)
    phase = random.uniform(kp, (), minval=0.0, maxval=math.pi)
    x = random.uniform(kx, (2, shots, 1), minval=-5.0, maxval=5.0)
    y = amplitude * fnp.sin(x - phase)
    return (x[0], y[0]), (x[1], y[1]), (amplitude, phase)


def adapt(params, x, y, inner_lr, steps):
    """``steps`` gradient-descent steps on one task's support points."""
    def step(i, params):
        grads = grad(mse)(params, x, y)
        return tree.map(lambda p, g: p - inner_lr * g, params, grads)
    return lax.fori_loop(0, steps, step, params)


def make_meta_step(opt, tasks, shots, inner_lr, inner_steps):
    """One outer step: sample ``tasks`` tasks, adapt to each (vmap), average the adapted
    networks' query losses, and differentiate that through the inner loop."""
    def task_loss(params, key):
        (xs, ys), (xq, yq), _ = sample_task(key, shots)
        return mse(adapt(params, xs, ys, inner_lr, inner_steps), xq, yq)

    def meta_loss(params, key):
        return fnp.mean(vmap(task_loss, in_axes=(None, 0))(params, random.split(key, tasks)))

    @jit
    def meta_step(params, opt_state, key):
        loss, grads = value_and_grad(meta_loss)(params, key)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss
    return meta_step


def train(key, iterations, tasks, shots, inner_lr, inner_steps, lr, label, report):
    init_key, key = random.split(key)
    params = init_params(init_key)
    opt = optim.adam(lr)
    opt_state = opt.init(params)
    meta_step = make_meta_step(opt, tasks, shots, inner_lr, inner_steps)
    losses, tick = [], time.perf_counter()
    for it in range(1, iterations + 1):
        key, step_key = random.split(key)
        params, opt_state, loss = meta_step(params, opt_state, step_key)
        losses.append(float(loss))
        if it % report == 0 or it == 1:
            window = np.mean(losses[-report:])
            print(f"{label} iteration {it:5d}: meta-loss {window:.3f} (mean of the last "
                  f"{min(report, it)})")
    print(f"{label}: {iterations} iterations in {time.perf_counter() - tick:.1f} s")
    return params, losses


@jit
def _adaptation_curve(params, key, inner_lr):
    """Query losses of ``params`` adapted to one task after 0, 1, ..., 10 steps."""
    (xs, ys), (xq, yq), _ = sample_task(key, 10)

    def step(params, _):
        loss = mse(params, xq, yq)
        grads = grad(mse)(params, xs, ys)
        return tree.map(lambda p, g: p - inner_lr * g, params, grads), loss
    last, losses = lax.scan(step, params, None, length=10)
    return fnp.concatenate([losses, mse(last, xq, yq)[None]])


def evaluate(params, key, tasks, inner_lr):
    """Mean query loss over ``tasks`` new tasks after 0..10 adaptation steps."""
    curves = vmap(_adaptation_curve, in_axes=(None, 0, None))(
        params, random.split(key, tasks), inner_lr)
    return np.asarray(fnp.mean(curves, axis=0))


def plot(path, maml, pretrained, key, shots, inner_lr):
    """Two new tasks: the MAML network before and after 1 and 10 steps, the pretrained one
    after 10."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = fnp.linspace(-5.0, 5.0, 200)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, task_key in zip(axes, random.split(key)):
        (xs, ys), _, (amplitude, phase) = sample_task(task_key, shots)
        ax.plot(grid[:, 0], amplitude * fnp.sin(grid[:, 0] - phase), "k", lw=2, label="task")
        ax.scatter(xs[:, 0], ys[:, 0], color="k", zorder=3, label=f"{shots} shots")
        curves = ((maml, 0, "MAML, before", "C3", ":"), (maml, 1, "MAML, 1 step", "C3", "--"),
                  (maml, 10, "MAML, 10 steps", "C3", "-"),
                  (pretrained, 10, "pretrained, 10 steps", "C0", "-"))
        for params, steps, label, color, style in curves:
            adapted = adapt(params, xs, ys, inner_lr, steps)
            ax.plot(grid[:, 0], predict(adapted, grid)[:, 0], color=color, ls=style,
                    label=label)
        ax.set(xlabel="x", title=f"a new task: {float(amplitude):.1f}·sin(x - "
                                 f"{float(phase):.2f})")
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=25, help="tasks per meta-batch")
    parser.add_argument("--shots", type=int, default=10, help="K: points per task")
    parser.add_argument("--inner-steps", type=int, default=1)
    parser.add_argument("--inner-lr", type=float, default=0.01)
    parser.add_argument("--lr", type=float, default=1e-3, help="outer (Adam) learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="60 iterations (for the tests)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the plot")
    args = parser.parse_args(argv)
    iterations = 60 if args.smoke else args.iterations
    report = max(1, iterations // 10)

    train_key, eval_key, plot_key = random.split(random.key(args.seed), 3)
    common = dict(iterations=iterations, tasks=args.tasks, shots=args.shots,
                  inner_lr=args.inner_lr, lr=args.lr, report=report)
    maml, losses = train(train_key, inner_steps=args.inner_steps, label="MAML", **common)
    pretrained, _ = train(train_key, inner_steps=0, label="pretrained", **common)
    first, last = np.mean(losses[:report]), np.mean(losses[-report:])
    if not last < first:
        raise RuntimeError(f"the meta-loss did not go down: {first:.3f} -> {last:.3f}")

    eval_tasks = 20 if args.smoke else 200
    curves = {name: evaluate(params, eval_key, eval_tasks, args.inner_lr)
              for name, params in (("maml", maml), ("pretrained", pretrained))}
    print(f"mean query loss on {eval_tasks} new tasks ({args.shots} shots) after k steps:")
    print("              " + "".join(f"k={k:<7d}" for k in (0, 1, 5, 10)))
    for name, curve in curves.items():
        print(f"{name:>12}  " + "".join(f"{curve[k]:<9.3f}" for k in (0, 1, 5, 10)))

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "meta_learning.png")
    plot(path, maml, pretrained, plot_key, args.shots, args.inner_lr)
    print(f"plot saved to {path}")
    return {"loss_start": float(first), "loss": float(last), "maml_curve": curves["maml"],
            "pretrained_curve": curves["pretrained"], "plot": path}


if __name__ == "__main__":
    main()
