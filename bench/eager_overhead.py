"""Per-op cost of eager fx.numpy calls vs the same raw NumPy calls, on 8-element arrays.

Run: ``python bench/eager_overhead.py``. Aim (issue 2): at most 2.5x raw NumPy.
"""
import argparse
import statistics

import numpy as np

import fx
import fx.numpy as fnp
from bench.common import compare


def cases(n: int):
    a, b = np.linspace(0.1, 1, n).astype(np.float32), np.linspace(1, 2, n).astype(np.float32)
    m = np.ones((n, n), np.float32)
    x, y, w = fx.asarray(a), fx.asarray(b), fx.asarray(m)
    return [
        ("add", lambda: x + y, lambda: a + b),
        ("multiply by Python scalar", lambda: x * 2.0, lambda: a * 2.0),
        ("sin", lambda: fnp.sin(x), lambda: np.sin(a)),
        ("maximum", lambda: fnp.maximum(x, y), lambda: np.maximum(a, b)),
        ("comparison", lambda: x > y, lambda: a > b),
        ("sum", lambda: fnp.sum(x), lambda: np.sum(a)),
        ("matmul", lambda: w @ x, lambda: m @ a),
        ("3-op chain tanh(x*y+x)", lambda: fnp.tanh(x * y + x), lambda: np.tanh(a * b + a)),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=8, help="elements per array")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"fx {fx.__version__}, numpy {np.__version__}, {args.size}-element float32 arrays")
    rows = compare(cases(args.size), rounds=args.rounds)
    print(f"median ratio over all cases: {statistics.median(r[3] for r in rows):.2f}x")


if __name__ == "__main__":
    main()
