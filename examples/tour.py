"""A tour of fx's foundation: immutable arrays, NumPy names, dtypes, keys, pytrees.

Fits a line to noisy data by least squares with ``fx.numpy.linalg``, using explicit
random keys and a pytree of parameters, and prints what it finds.

Run: ``python examples/tour.py [--seed 0] [--points 200]``
"""
import argparse

import fx
import fx.numpy as fnp
from fx import random, tree


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", type=int, default=200)
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


if __name__ == "__main__":
    main()
