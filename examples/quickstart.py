"""Quickstart: fit y = x² with a tiny neural network, by gradient descent.

200 noisy points, a 1-10-1 tanh network, 2000 full-batch gradient-descent steps
(learning rate 0.1). The training step is an ordinary Python function:
``value_and_grad`` gives the loss and its gradient with respect to every parameter,
and ``jit`` compiles the whole step after its first call. Saves a plot of the data
and the fitted curve as ``quickstart.png`` in ``--out``.

Run: ``python examples/quickstart.py [--steps 2000] [--lr 0.1] [--seed 0] [--out DIR]``
(``--fori`` runs all steps inside one jitted ``fx.lax.fori_loop`` instead).
"""
import argparse
import os
import pathlib
import time

import fx.numpy as fnp
from fx import lax, random, tree
from transforms import jit, value_and_grad

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"


def make_data(key, n=200, noise=0.01):
    """n points x uniform in [-0.5, 0.5], y = x² + noise, as (n, 1) columns."""
    kx, kn = random.split(key)
    x = random.uniform(kx, (n, 1), minval=-0.5, maxval=0.5)
    return x, x**2 + noise * random.normal(kn, (n, 1))


def init_params(key, hidden=10):
    """The network's parameters: a pytree (here a dict) of arrays.

    Random input weights and biases spread the hidden units' tanh bends over the data.
    """
    k1, k2, k3 = random.split(key, 3)
    return {"w1": 2.0 * random.normal(k1, (1, hidden)), "b1": random.normal(k2, (hidden,)),
            "w2": 0.1 * random.normal(k3, (hidden, 1)), "b2": fnp.zeros(1)}


def predict(params, x):
    """1 → 10 (tanh) → 1."""
    hidden = fnp.tanh(x @ params["w1"] + params["b1"])
    return hidden @ params["w2"] + params["b2"]


def loss(params, x, y):
    """Mean squared error."""
    return fnp.mean((predict(params, x) - y) ** 2)


def make_step(lr):
    """One gradient-descent step, compiled by ``jit`` on its first call."""
    @jit
    def step(params, x, y):
        value, grads = value_and_grad(loss)(params, x, y)   # grads: same dict as params
        params = tree.map(lambda p, g: p - lr * g, params, grads)
        return params, value
    return step


def make_train(lr, steps):
    """All steps as one ``fori_loop`` inside one ``jit`` (the ``--fori`` variant)."""
    @jit
    def train(params, x, y):
        def body(i, params):
            grads = value_and_grad(loss)(params, x, y)[1]
            return tree.map(lambda p, g: p - lr * g, params, grads)
        return lax.fori_loop(0, steps, body, params)
    return train


def plot(path, x, y, params):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = fnp.linspace(-0.5, 0.5, 101)[:, None]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x[:, 0], y[:, 0], s=8, alpha=0.6, label="data: x² + noise")
    ax.plot(grid[:, 0], predict(params, grid)[:, 0], color="C3", lw=2, label="network")
    ax.set(xlabel="x", ylabel="y", title="quickstart: a 1-10-1 tanh network")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fori", action="store_true", help="train in one jitted fori_loop")
    parser.add_argument("--smoke", action="store_true", help="200 steps (for the tests)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the plot")
    args = parser.parse_args(argv)
    steps = 200 if args.smoke else args.steps

    data_key, init_key = random.split(random.key(args.seed))
    x, y = make_data(data_key)
    params = init_params(init_key)
    first = float(loss(params, x, y))

    start = time.perf_counter()
    if args.fori:
        print(f"step     0  loss {first:.6f}")
        params = make_train(args.lr, steps)(params, x, y)
    else:
        step = make_step(args.lr)
        for i in range(steps):
            params, value = step(params, x, y)     # value: the loss after i steps
            if i % 400 == 0:
                print(f"step {i:5d}  loss {float(value):.6f}")
    seconds = time.perf_counter() - start
    final = float(loss(params, x, y))
    print(f"final loss {final:.6f} after {steps} steps ({seconds:.2f} s)")
    if not final < first:
        raise RuntimeError(f"the loss did not go down: {first:.6f} -> {final:.6f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "quickstart.png")
    plot(path, x, y, params)
    print(f"plot saved to {path}")
    return {"loss_start": first, "loss": final, "seconds": seconds, "plot": path}


if __name__ == "__main__":
    main()
