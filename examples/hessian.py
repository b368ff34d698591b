"""Hessians, Hessian-vector products and Newton's method on a logistic regression.

L2-regularised logistic regression on scikit-learn's bundled breast-cancer data (569
tumours, 30 standardised features and a bias), in float64. The script computes

- the full Hessian with ``transforms.hessian`` (forward-over-reverse), and checks it
  against the closed form ``Xᵀ diag(p(1-p)) X / n + λI`` and against a Hessian of
  central finite differences of loss *values* only (no derivatives involved);
- Hessian-vector products without forming the Hessian: ``jvp`` of ``grad``
  (forward-over-reverse) and ``grad`` of ``⟨grad, v⟩`` (reverse-over-reverse), checked
  against ``H @ v``; ``vmap`` of the product over the unit vectors rebuilds ``H``;
- ``fx.testing.check_grads`` on the loss up to second order (jvp and vjp against
  finite differences);
- Newton's method ``w ← w - H⁻¹ g`` from zero (jitted), printing the loss and the
  gradient norm, next to gradient descent; and one Newton step solved by conjugate
  gradients from Hessian-vector products only, which matches the exact one.

Run: ``python examples/hessian.py [--l2 0.01] [--newton-steps 8] [--seed 0]``
"""
import argparse
import os
import pathlib

import numpy as np

import fx
import fx.numpy as fnp
from fx import random
from fx.testing import check_grads
from transforms import grad, hessian, jit, jvp, value_and_grad, vmap

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out"


def load_data(smoke=False):
    """Standardised features with a column of ones (the bias), labels 0/1, float64."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    if smoke:
        x, y = x[:120, :8], y[:120]
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    return fx.asarray(x, dtype="float64"), fx.asarray(y, dtype="float64")


def make_loss(x, y, l2):
    def loss(w):
        """Mean negative log-likelihood, ``log(1 + e^z) - y z`` with ``z = x·w``."""
        z = x @ w
        return fnp.mean(fnp.logaddexp(0.0, z) - y * z) + 0.5 * l2 * fnp.sum(w**2)
    return loss


def closed_form_hessian(x, w, l2):
    p = 1.0 / (1.0 + fnp.exp(-(x @ w)))
    return (x.T * (p * (1.0 - p))) @ x / x.shape[0] + l2 * fnp.eye(x.shape[1], dtype=x.dtype)


def finite_difference_hessian(loss, w, eps=1e-4):
    """``H[i, j] ≈ (f(w+εeᵢ+εeⱼ) - f(w+εeᵢ-εeⱼ) - f(w-εeᵢ+εeⱼ) + f(w-εeᵢ-εeⱼ)) / 4ε²``,
    from loss values only; the 4·d² shifted points are evaluated as one ``vmap``."""
    d = w.shape[0]
    e = eps * fnp.eye(d, dtype=w.dtype)
    plus_i, plus_j = e[:, None, :], e[None, :, :]          # (d, 1, d) and (1, d, d)
    signs = ((1, 1), (1, -1), (-1, 1), (-1, -1))
    points = fnp.stack([w + a * plus_i + b * plus_j for a, b in signs])   # (4, d, d, d)
    values = jit(vmap(loss))(points.reshape(-1, d)).reshape(4, d, d)
    return (values[0] - values[1] - values[2] + values[3]) / (4 * eps**2)


def hvp_forward_over_reverse(loss, w, v):
    """``H v`` as the derivative of the gradient along ``v``: one jvp of grad."""
    return jvp(grad(loss), (w,), (v,))[1]


def hvp_reverse_over_reverse(loss, w, v):
    """``H v`` as the gradient of ``⟨∇f(w), v⟩`` (H is symmetric)."""
    return grad(lambda w: fnp.vdot(grad(loss)(w), v))(w)


def conjugate_gradient(matvec, b, max_steps, tol=1e-12):
    """Solve ``A x = b`` for symmetric positive definite ``A`` given only ``x ↦ A x``;
    stops once ``|A x - b| ≤ tol |b|``. Returns the solution and the steps taken."""
    x, r, p = fnp.zeros_like(b), b, b
    rr, target = fnp.vdot(r, r), float(tol * fnp.linalg.norm(b)) ** 2
    steps = 0
    while steps < max_steps and float(rr) > target:
        ap = matvec(p)
        alpha = rr / fnp.vdot(p, ap)
        x, r = x + alpha * p, r - alpha * ap
        rr, rr_old = fnp.vdot(r, r), rr
        p = r + (rr / rr_old) * p
        steps += 1
    return x, steps


def relative_error(a, b):
    return float(fnp.max(fnp.abs(a - b)) / fnp.max(fnp.abs(b)))


def check_hessian(loss, x, w, l2, key):
    """Every cross-check of H and H v at ``w``; returns the relative errors."""
    h = jit(hessian(loss))(w)
    v = random.normal(key, w.shape, dtype="float64")
    hv = h @ v
    errors = {
        "hessian vs closed form": relative_error(h, closed_form_hessian(x, w, l2)),
        "hessian vs finite differences": relative_error(h, finite_difference_hessian(loss, w)),
        "asymmetry of the hessian": relative_error(h, h.T),
        "hvp (jvp of grad) vs H v": relative_error(hvp_forward_over_reverse(loss, w, v), hv),
        "hvp (grad of grad) vs H v": relative_error(hvp_reverse_over_reverse(loss, w, v), hv),
        "vmap of hvp over unit vectors vs H": relative_error(
            vmap(lambda u: hvp_forward_over_reverse(loss, w, u))(fnp.eye(w.shape[0],
                                                                          dtype=w.dtype)), h),
    }
    for name, err in errors.items():
        print(f"  {name:<38} relative error {err:.1e}")
    check_grads(loss, (w,), order=2)          # raises AssertionError if a derivative is off
    check_grads(grad(loss), (w,), order=1)    # the Hessian (grad's Jacobian) once more
    print("  check_grads(loss, order=2) and check_grads(grad(loss)): passed")
    return h, errors


def make_newton_step(loss):
    @jit
    def newton_step(w):
        value, g = value_and_grad(loss)(w)
        return w - fnp.linalg.solve(hessian(loss)(w), g), value, fnp.linalg.norm(g)
    return newton_step


def make_gd_step(loss, lr):
    @jit
    def gd_step(w):
        value, g = value_and_grad(loss)(w)
        return w - lr * g, value, fnp.linalg.norm(g)
    return gd_step


def plot(path, newton_norms, gd_norms, lr):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(newton_norms, "o-", label="Newton: w - H⁻¹ g")
    ax.semilogy(gd_norms, "s-", label=f"gradient descent (lr {lr})")
    ax.set(xlabel="step", ylabel="|gradient|", title="logistic regression")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=0.01, help="L2 penalty λ")
    parser.add_argument("--newton-steps", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1.0, help="gradient descent's step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="120 examples, 8 features")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the plot")
    args = parser.parse_args(argv)

    x, y = load_data(args.smoke)
    loss = make_loss(x, y, args.l2)
    d = x.shape[1]
    print(f"logistic regression: {x.shape[0]} examples, {d} parameters, λ = {args.l2}")
    point_key, v_key = random.split(random.key(args.seed))
    w_random = 0.3 * random.normal(point_key, (d,), dtype="float64")
    print("cross-checks at a random point:")
    _, errors = check_hessian(loss, x, w_random, args.l2, v_key)
    worst = max(errors.values())
    if worst > 1e-5:
        raise RuntimeError(f"the Hessian checks disagree: {errors}")

    w0 = fnp.zeros(d, dtype="float64")
    newton_step, gd_step = make_newton_step(loss), make_gd_step(loss, args.lr)
    w_newton, w_gd, newton_losses, norms = w0, w0, [], {"newton": [], "gd": []}
    print(f"{'step':>4}  {'Newton: loss':>14} {'|grad|':>9}   "
          f"{f'gradient descent (lr {args.lr}): loss':>36} {'|grad|':>9}")
    for i in range(args.newton_steps + 1):
        w_next, value, gnorm = newton_step(w_newton)
        w_gd_next, gd_value, gd_gnorm = gd_step(w_gd)
        print(f"{i:4d}  {float(value):14.10f} {float(gnorm):9.2e}   "
              f"{float(gd_value):36.10f} {float(gd_gnorm):9.2e}")
        newton_losses.append(float(value))
        norms["newton"].append(float(gnorm))
        norms["gd"].append(float(gd_gnorm))
        w_newton, w_gd = w_next, w_gd_next

    g0 = grad(loss)(w0)
    exact = fnp.linalg.solve(hessian(loss)(w0), g0)
    hvp = jit(lambda v: hvp_forward_over_reverse(loss, w0, v))
    by_cg, cg_steps = conjugate_gradient(hvp, g0, max_steps=3 * d)
    cg_error = relative_error(by_cg, exact)
    print(f"first Newton step by conjugate gradients on Hessian-vector products "
          f"({cg_steps} products, no Hessian): relative difference {cg_error:.1e} from "
          "the exact solve")
    final = newton_losses[-1]
    if not final < newton_losses[0] or cg_error > 1e-8:
        raise RuntimeError(f"Newton's method failed: losses {newton_losses}, CG {cg_error}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "hessian.png")
    plot(path, norms["newton"], norms["gd"], args.lr)
    print(f"plot saved to {path}")
    return {"plot": path, "loss_start": newton_losses[0], "loss": final,
            "newton_losses": newton_losses, "gd_loss": float(gd_value), "errors": errors,
            "cg_error": cg_error}


if __name__ == "__main__":
    main()
