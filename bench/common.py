"""Shared benchmark harness: interleaved timing of ours vs hand-written NumPy, median ratios.

The machines are shared and noisy: each case alternates the two implementations in
rounds, keeps the per-call median of each, and reports the ratio of medians. Compare
ratios only within one run.
"""
from __future__ import annotations

import statistics
import time


def per_call(fn, number: int) -> float:
    """Seconds per call of ``fn`` averaged over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def compare(cases, rounds: int = 15, number: int = 2000, label="ours/numpy") -> list[tuple]:
    """Time ``(name, ours, reference)`` cases interleaved; print and return median ratios."""
    rows = []
    print(f"{'case':32s} {'ours':>10s} {'numpy':>10s} {label:>12s}")
    for name, ours, reference in cases:
        ours(), reference()  # warm up caches and lazy imports
        t_ours, t_ref = [], []
        for _ in range(rounds):
            t_ours.append(per_call(ours, number))
            t_ref.append(per_call(reference, number))
        a, b = statistics.median(t_ours), statistics.median(t_ref)
        rows.append((name, a, b, a / b))
        print(f"{name:32s} {a * 1e6:8.2f}us {b * 1e6:8.2f}us {a / b:11.2f}x")
    return rows
