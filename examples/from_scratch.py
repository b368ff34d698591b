"""A sigmoid network from scratch: hand-written backpropagation next to ``grad``.

The classic NumPy-tutorial network (784-250-10 on 28x28 images; 64-250-10 on the 8x8
digits): sigmoid hidden and output layers, squared error against one-hot labels, plain
stochastic gradient descent with learning rate 0.1, one example at a time. The
gradient is computed twice — by the chain rule written out by hand (``backprop``), and
by ``transforms.grad`` of the loss (``grad(loss)``) — the two are checked equal, and the
network is trained with one of them (``--backprop grad``, the default, or ``manual``).

Run: ``python examples/from_scratch.py [--data digits|fashion-mnist] [--epochs N]
[--backprop grad|manual] [--seed 0] [--out DIR]``
"""
import argparse
import os
import pathlib
import time

import numpy as np

import fx
import fx.numpy as fnp
from fx import random, tree
from transforms import grad, jit

try:
    from examples import datasets
except ImportError:  # run as ``python examples/from_scratch.py``
    import datasets

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"


def sigmoid(z):
    return 1.0 / (1.0 + fnp.exp(-z))


def init_params(key, sizes):
    """Weights ``(n_out, n_in)`` drawn from N(0, 1/n_in), zero biases (as in the tutorial)."""
    n_in, n_hidden, n_out = sizes
    k1, k2 = random.split(key)
    return {"w1": random.normal(k1, (n_hidden, n_in)) * n_in**-0.5,
            "b1": fnp.zeros(n_hidden),
            "w2": random.normal(k2, (n_out, n_hidden)) * n_hidden**-0.5,
            "b2": fnp.zeros(n_out)}


def forward(params, x):
    """One example ``x`` of shape ``(n_in,)`` → output activations ``(n_out,)``."""
    a1 = sigmoid(params["w1"] @ x + params["b1"])
    return sigmoid(params["w2"] @ a1 + params["b2"])


def loss(params, x, y):
    """Half the squared error against the one-hot target ``y``."""
    return 0.5 * fnp.sum((forward(params, x) - y) ** 2)


def backprop(params, x, y):
    """The gradient of ``loss`` by hand: a forward pass that keeps the activations, then
    the chain rule from the output back to the input."""
    a1 = sigmoid(params["w1"] @ x + params["b1"])             # forward
    a2 = sigmoid(params["w2"] @ a1 + params["b2"])
    delta2 = (a2 - y) * a2 * (1.0 - a2)                       # dloss/dz2 (sigmoid' = a(1-a))
    delta1 = (params["w2"].T @ delta2) * a1 * (1.0 - a1)      # dloss/dz1
    return {"w1": fnp.outer(delta1, x), "b1": delta1,         # dloss/dw = delta ⊗ input
            "w2": fnp.outer(delta2, a1), "b2": delta2}


# With transforms, the whole of ``backprop`` is one line:
autodiff = grad(loss)


def make_sgd_step(gradient, lr):
    """``params - lr * gradient(params, x, y)`` for one example, compiled by ``jit``."""
    @jit
    def step(params, x, y):
        grads = gradient(params, x, y)
        return tree.map(lambda p, g: p - lr * g, params, grads)
    return step


@jit
def evaluate(params, x, labels):
    """Mean loss and accuracy over a whole set (the network mapped over its rows)."""
    hidden = sigmoid(x @ params["w1"].T + params["b1"])
    out = sigmoid(hidden @ params["w2"].T + params["b2"])
    onehot = fnp.eye(out.shape[1], dtype=out.dtype)[labels]
    mean_loss = 0.5 * fnp.mean(fnp.sum((out - onehot) ** 2, axis=1))
    return mean_loss, fnp.mean(fnp.argmax(out, axis=1) == labels)


def compare_gradients(params, x, y):
    """The largest difference between the two gradients on one example, per parameter."""
    by_hand, by_grad = backprop(params, x, y), autodiff(params, x, y)
    return {name: float(fnp.max(fnp.abs(by_hand[name] - by_grad[name]))) for name in by_hand}


def plot(path, history, name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.plot(epochs, [h["train_loss"] for h in history], "o-")
    left.set(xlabel="epoch", ylabel="training loss", title=f"{name}: squared error")
    right.plot(epochs, [h["test_accuracy"] for h in history], "o-", color="C2")
    right.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion-mnist"), default="digits")
    parser.add_argument("--data-dir", default=None, help="a folder of Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 10 on digits, 1 on Fashion-MNIST")
    parser.add_argument("--hidden", type=int, default=250)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--backprop", choices=("grad", "manual"), default="grad",
                        help="which gradient trains the network")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few hundred examples, 1 epoch")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the plot")
    args = parser.parse_args(argv)

    data = datasets.load(args.data, args.data_dir, seed=args.seed)
    if args.smoke:
        data = datasets.subset(data, 300, 100)
    epochs = 1 if args.smoke else args.epochs or (10 if args.data == "digits" else 1)
    flat = lambda images: fx.asarray(images.reshape(len(images), -1))
    x_train, x_test = flat(data.x_train), flat(data.x_test)
    y_train, y_test = fx.asarray(data.y_train), fx.asarray(data.y_test)
    targets = fnp.eye(10)[y_train]                            # one-hot rows
    sizes = (x_train.shape[1], args.hidden, 10)
    print(f"{data.name}: {len(data.x_train)} training / {len(data.x_test)} test examples, "
          f"network {'-'.join(map(str, sizes))}")

    params = init_params(random.key(args.seed), sizes)
    diffs = compare_gradients(params, x_train[0], targets[0])
    print("max |backprop - grad| on one example:",
          ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    if max(diffs.values()) > 1e-5:
        raise RuntimeError(f"hand-written backprop and grad disagree: {diffs}")

    step = make_sgd_step(autodiff if args.backprop == "grad" else backprop, args.lr)
    first_loss, first_acc = map(float, evaluate(params, x_train, y_train))
    print(f"before training: train loss {first_loss:.4f}, accuracy {first_acc:.3f}")
    rng = np.random.default_rng(args.seed)
    history, start = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        tick = time.perf_counter()
        for i in rng.permutation(len(data.x_train)):          # one example at a time
            params = step(params, x_train[int(i)], targets[int(i)])
        train_loss, _ = map(float, evaluate(params, x_train, y_train))
        test_loss, test_acc = map(float, evaluate(params, x_test, y_test))
        history.append({"epoch": epoch, "train_loss": train_loss, "test_accuracy": test_acc})
        print(f"epoch {epoch:2d}: train loss {train_loss:.4f}, test loss {test_loss:.4f}, "
              f"test accuracy {test_acc:.3f} ({time.perf_counter() - tick:.1f} s)")
    seconds = time.perf_counter() - start
    steps_per_s = epochs * len(data.x_train) / seconds
    print(f"{steps_per_s:.0f} examples/s with the {args.backprop} gradient")
    if not history[-1]["train_loss"] < first_loss:
        raise RuntimeError(f"the loss did not go down: {first_loss:.4f} -> {train_loss:.4f}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "from_scratch.png")
    plot(path, history, data.name)
    print(f"plot saved to {path}")
    return {"plot": path, "loss_start": first_loss, "loss": history[-1]["train_loss"],
            "accuracy": history[-1]["test_accuracy"], "gradient_difference": max(diffs.values()),
            "examples_per_second": steps_per_s, "history": history}


if __name__ == "__main__":
    main()
