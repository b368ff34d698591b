"""A tour of fx: immutable arrays, NumPy names, keys, pytrees and gradients.

Fits a line to noisy data twice: by least squares with ``fx.numpy.linalg``, and by
gradient descent with ``value_and_grad`` over a pytree of parameters, after checking
that gradient against finite differences with ``fx.testing.check_grads``.

Run: ``python examples/tour.py [--seed 0] [--points 200] [--steps 200]``
"""
import argparse

import fx
import fx.numpy as fnp
from fx import random, tree
from fx.testing import check_grads
from transforms import value_and_grad


def make_data(key, n):
    """y = 3 x - 1 + noise, x uniform in [-1, 1]."""
    kx, kn = random.split(key)
    x = random.uniform(kx, (n,), minval=-1.0, maxval=1.0)
    return x, 3.0 * x - 1.0 + 0.1 * random.normal(kn, (n,))


def fit_line(x, y):
    """Least squares through the normal equations: params as a pytree."""
    design = fnp.stack([x, fnp.ones_like(x)], axis=1)
    slope, intercept = fnp.linalg.solve(design.T @ design, design.T @ y)
    return {"slope": slope, "intercept": intercept}


def loss(params, x, y):
    """Mean squared error of the line ``params`` on the data."""
    return fnp.mean((params["slope"] * x + params["intercept"] - y) ** 2)


def descend(x, y, steps, lr=0.5):
    """Gradient descent from zero; returns the parameters and the last loss."""
    params = {"slope": fnp.zeros(()), "intercept": fnp.zeros(())}
    step = value_and_grad(loss)
    for _ in range(steps):
        value, grads = step(params, x, y)
        params = tree.map(lambda p, g: p - lr * g, params, grads)
    return params, float(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    x, y = make_data(random.key(args.seed), args.points)
    params = fit_line(x, y)
    residual = y - (params["slope"] * x + params["intercept"])
    print(f"{args.points} points on devices {fx.devices()}")
    fitted = tree.map(lambda p: round(float(p), 3), params)
    print("fitted:", fitted, "(true: slope 3, intercept -1)")
    print(f"residual std {float(fnp.std(residual)):.4f} (noise std 0.1)")
    try:
        x[0] = 0.0
    except TypeError as err:
        print("arrays are immutable:", err)
    print("functional update:", x.at[0].set(0.0)[:3])

    wide = tree.map(lambda a: fx.asarray(a, dtype="float64"),
                    ({"slope": 0.5, "intercept": 0.1}, x, y))
    check_grads(loss, wide, order=2)  # raises if a derivative disagrees with finite differences
    learned, final = descend(x, y, args.steps)
    rounded = tree.map(lambda p: round(float(p), 3), learned)
    print(f"gradient descent, {args.steps} steps: {rounded}, loss {final:.4f}")


if __name__ == "__main__":
    main()
