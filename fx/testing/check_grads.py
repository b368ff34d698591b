"""``check_grads``: compare a function's derivatives with finite differences.

For each order up to ``order`` and each mode:

* ``"fwd"``: ``jvp`` along a random direction vs central finite differences;
* ``"rev"``: ``vjp`` of a random cotangent vs forward mode through the transpose
  identity ``<v, J u> = <J^T v, u>`` (vs finite differences when ``"fwd"`` is not checked).

Higher orders repeat the checks on the first-order functions ``x -> jvp(f, x, u)`` and
``x -> vjp(f, x)(v)``, as HIPS autograd and JAX do. Directions are seeded, so a check
gives the same answer every run.

Example:
    >>> import fx.numpy as fnp
    >>> from fx.testing import check_grads
    >>> check_grads(fnp.sin, (fx.asarray([0.5, 1.0], dtype="float64"),), order=2)
"""
from __future__ import annotations

import numpy as np

from fx import tree
from fx.creation import asarray

# Relative tolerance per precision for a central difference with the default step.
_TOLERANCE = {"float16": 1e-1, "float32": 2e-2, "float64": 1e-5}


def check_grads(f, args, order: int = 2, modes=("fwd", "rev"), eps=None, atol=None,
                rtol=None) -> None:
    """Raise ``AssertionError`` unless ``f``'s derivatives at ``args`` are right.

    Args:
        f: function of the arrays in ``args`` (pytrees allowed), returning arrays.
        args: tuple of positional arguments; every leaf must be a float or complex array.
        order: highest derivative order to check (1 = first derivatives).
        modes: any of ``"fwd"`` (jvp) and ``"rev"`` (vjp).
        eps: finite-difference step along standard-normal directions. Default: the cube
            root of the machine epsilon of the least precise float dtype among the
            arguments and outputs, along directions scaled elementwise by
            ``max(1, |x|)`` (so values of very different sizes, e.g. in a params dict,
            all get a suitable step).
        atol, rtol: tolerances (default by that least precise dtype); the absolute part
            scales with the size of the values compared, and the finite differences' own
            rounding error (which grows with the size of the outputs) is allowed for, so
            large values do not need hand-tuned tolerances.

    Raises:
        AssertionError: naming the check (fwd / rev), the order and the error found.
        TypeError: for integer arguments, unknown modes, or an order that is not a
            positive int.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    bad = set(modes) - {"fwd", "rev"}
    if bad or not modes:
        raise TypeError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), got "
                        f"{modes!r}")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise TypeError(f"check_grads: order must be a positive int, got {order!r}")
    leaves, in_tree = tree.flatten(tuple(args))
    leaves = [asarray(x) for x in leaves]
    for i, x in enumerate(leaves):
        if x.dtype.kind not in "fc":
            raise TypeError(f"check_grads: argument leaf {i} has dtype {x.dtype}; only float "
                            "and complex arguments can be checked")
    flat_f = lambda *xs: f(*tree.unflatten(in_tree, list(xs)))  # noqa: E731
    _check(flat_f, leaves, order, modes, eps, atol, rtol, np.random.default_rng(0), 1)


def _check(f, xs, order, modes, eps, atol, rtol, rng, level):
    from transforms import jvp, vjp
    u = [_random_like(x, rng) if eps is not None else _relative(_random_like(x, rng), x)
         for x in xs]
    out, tangent = jvp(f, tuple(xs), tuple(u))
    outs, out_tree = tree.flatten(out)
    tangent = tree.leaves(tangent)
    v = [_random_like(o, rng) for o in outs]
    dtype = _narrowest(list(xs) + outs)
    step = eps if eps is not None else float(np.finfo(dtype).eps) ** (1 / 3)
    tol = _TOLERANCE.get(dtype.name, 1e-5)
    rtol, atol = (tol if rtol is None else rtol), (tol if atol is None else atol)
    numeric = _central_difference(f, xs, u, step)
    # Rounding error of a central difference with the default step: eps * |f| / step per
    # output leaf (a user's step too small for the dtype is not excused: it fails).
    noise = [8 * float(np.finfo(dtype).eps) ** (2 / 3)
             * float(np.max(np.abs(np.asarray(o)), initial=0.0)) for o in outs]
    if "fwd" in modes:
        for i, (got, want, ns) in enumerate(zip(tangent, numeric, noise)):
            _assert_close(got, want, atol, rtol, f"fwd (jvp vs finite differences), order "
                          f"{level}, output leaf {i}", slack=ns)
    if "rev" in modes:
        _, pullback = vjp(f, *xs)
        ct = tree.leaves(pullback(tree.unflatten(out_tree, [asarray(c) for c in v])))
        ju = tangent if "fwd" in modes else numeric
        lhs, rhs = _inner(v, ju), _inner(ct, u)
        # Typical size of the two pairings (not their worst case, which would hide errors).
        scale = max(_size([np.asarray(a) * np.maximum(1.0, np.abs(np.asarray(b)))
                           for a, b in zip(v, ju)]),
                    _size([np.asarray(a) * np.asarray(b) for a, b in zip(ct, u)]))
        slack = 0.0 if "fwd" in modes else _size([np.abs(c) * ns for c, ns in zip(v, noise)])
        what = "jvp" if "fwd" in modes else "finite differences"
        _assert_close(rhs, lhs, atol, rtol, f"rev (vjp vs {what} through <v, J u> = "
                      f"<J^T v, u>), order {level}", scale=scale, slack=slack)
    if order > 1:
        if "fwd" in modes:
            d_fwd = lambda *ys: jvp(f, ys, tuple(u))[1]  # noqa: E731
            _check(d_fwd, xs, order - 1, modes, eps, atol, rtol, rng, level + 1)
        if "rev" in modes:
            cts = tree.unflatten(out_tree, [asarray(c) for c in v])
            d_rev = lambda *ys: vjp(f, *ys)[1](cts)  # noqa: E731
            _check(d_rev, xs, order - 1, modes, eps, atol, rtol, rng, level + 1)


def _random_like(x, rng):
    x = np.asarray(x)
    if x.dtype.kind == "c":
        return (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)).astype(x.dtype)
    if x.dtype.kind == "f":
        return rng.standard_normal(x.shape).astype(x.dtype)
    return np.zeros(x.shape, x.dtype)  # integer outputs take zero cotangents


def _narrowest(xs) -> np.dtype:
    """The least precise real dtype among the float and complex leaves (float64 if none)."""
    reals = [np.finfo(np.dtype(x.dtype)).dtype for x in xs if np.dtype(x.dtype).kind in "fc"]
    return min(reals, key=lambda d: d.itemsize) if reals else np.dtype(np.float64)


def _relative(d, x):
    """Direction ``d`` scaled elementwise by ``max(1, |x|)``: a relative step for large
    elements, an absolute one for elements of size <= 1 (so a params dict or an array
    whose entries differ in size by orders of magnitude is checked with suitable steps)."""
    return (d * np.fmax(1.0, np.abs(np.asarray(x)))).astype(d.dtype)  # fmax: NaN entries -> 1


def _central_difference(f, xs, u, step):
    """``(f(x + step u) - f(x - step u)) / (2 step)`` for every output leaf (float64)."""
    shift = lambda sign: [asarray((np.asarray(x) + sign * step * d).astype(np.asarray(x).dtype))  # noqa: E731
                          for x, d in zip(xs, u)]
    plus, minus = tree.leaves(f(*shift(1))), tree.leaves(f(*shift(-1)))
    return [(np.asarray(p).astype(np.complex128 if np.iscomplexobj(p) else np.float64)
             - np.asarray(m)) / (2 * step) if np.asarray(p).dtype.kind in "fc"
            else np.zeros(np.shape(p)) for p, m in zip(plus, minus)]


def _inner(xs, ys) -> float:
    """Real part of the bilinear pairing ``sum(x * y)`` (the transposes are linear, not
    conjugate-linear, so no conjugation)."""
    return float(sum(np.real(np.sum(np.asarray(x).astype(np.complex128) * np.asarray(y)))
                     for x, y in zip(xs, ys)))


def _size(xs) -> float:
    return float(np.sqrt(sum(np.sum(np.abs(np.asarray(x)) ** 2) for x in xs))) or 1.0


def _assert_close(got, want, atol, rtol, what, scale=None, slack=0.0):
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.kind not in "fc":
        return
    scale = scale if scale is not None else max(1.0, float(np.max(np.abs(want), initial=0.0)))
    err = np.abs(got.astype(np.complex128) - want)
    bound = atol * scale + rtol * np.abs(want) + slack
    if got.shape != want.shape or not np.all(err <= bound):
        worst = float(np.max(err, initial=0.0)) if got.shape == want.shape else float("nan")
        raise AssertionError(
            f"check_grads: {what} failed: max abs error {worst:.3g}, allowed "
            f"{atol:.1g} * {scale:.3g} (atol * scale) + {rtol:.1g} * |expected|"
            f"{f' + {slack:.2g} (rounding)' if slack else ''}; got "
            f"{got.ravel()[:6]}, expected {want.ravel()[:6]}")
