"""Smoke runs of the small examples (quickstart, from_scratch, per_example_gradients,
meta_learning, hessian): each trains at a tiny size and must reach what it claims."""
import importlib
import math

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import random, tree
from fx.testing import check_grads
from transforms import grad


def example(name):
    return importlib.import_module(f"examples.{name}")


def test_quickstart_smoke_writes_its_plot(tmp_path):
    result = example("quickstart").main(["--smoke", "--out", str(tmp_path)])
    assert result["loss"] < 0.5 * result["loss_start"]
    assert (tmp_path / "quickstart.png").stat().st_size > 10_000


def test_quickstart_full_run_reaches_the_noise_floor(tmp_path):
    result = example("quickstart").main(["--out", str(tmp_path)])
    assert result["loss"] < 5e-4                 # the noise alone gives 1e-4 (std 0.01)


def test_quickstart_fori_loop_trains_like_the_python_loop(tmp_path):
    quickstart = example("quickstart")
    looped = quickstart.main(["--steps", "300", "--out", str(tmp_path)])
    fori = quickstart.main(["--steps", "300", "--fori", "--out", str(tmp_path)])
    np.testing.assert_allclose(fori["loss"], looped["loss"], rtol=1e-4)


def test_from_scratch_backprop_equals_grad_in_float64():
    fs = example("from_scratch")
    kp, kx = random.split(random.key(1))
    params = tree.map(lambda a: fx.asarray(a, dtype="float64"), fs.init_params(kp, (7, 5, 3)))
    x = random.normal(kx, (7,), dtype="float64")
    y = fnp.eye(3, dtype="float64")[1]
    by_hand, by_grad = fs.backprop(params, x, y), fs.autodiff(params, x, y)
    for name in params:
        np.testing.assert_allclose(np.asarray(by_hand[name]), np.asarray(by_grad[name]),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backprop", ["grad", "manual"])
def test_from_scratch_smoke(tmp_path, backprop):
    result = example("from_scratch").main(["--smoke", "--backprop", backprop,
                                           "--out", str(tmp_path)])
    assert result["gradient_difference"] < 1e-6
    assert result["loss"] < 0.5 * result["loss_start"]
    assert result["accuracy"] > 0.3              # 300 examples, one epoch: well above 0.1
    assert (tmp_path / "from_scratch.png").exists()


def test_per_example_gradients_smoke_clips_every_example(tmp_path):
    result = example("per_example_gradients").main(["--smoke", "--out", str(tmp_path)])
    assert result["loss"] < result["loss_start"]
    assert result["mean_vs_batch_grad"] < 1e-6
    for norms, clipped in ((result["norms"], result["clipped_norms"]),
                           (result["trained_norms"], result["trained_clipped_norms"])):
        assert clipped.max() <= 1.0 + 1e-5
        np.testing.assert_allclose(clipped, np.minimum(norms, 1.0), rtol=1e-5, atol=1e-7)
    assert np.ptp(result["norms"]) > 0.1         # really one norm per example
    assert (tmp_path / "per_example_gradients.png").exists()


def test_private_gradient_without_noise_or_clipping_is_the_batch_gradient():
    peg = example("per_example_gradients")
    kp, kx, ky, kn = random.split(random.key(2), 4)
    params = peg.init_params(kp, 6, n_hidden=5, n_out=3)
    x = random.normal(kx, (8, 6))
    labels = random.randint(ky, (8,), 0, 3)
    private = peg.private_gradient(params, x, labels, kn, clip=math.inf, noise=0.0)
    ordinary = grad(peg.batch_loss)(params, x, labels)
    for a, b in zip(tree.leaves(private), tree.leaves(ordinary)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    # clipped at a tiny C, the batch's mean gradient has norm at most C
    tiny = peg.private_gradient(params, x, labels, kn, clip=1e-3, noise=0.0)
    total = float(fnp.sqrt(sum(fnp.sum(g**2) for g in tree.leaves(tiny))))
    assert total <= 1e-3 * (1 + 1e-5)


def test_meta_learning_smoke(tmp_path):
    result = example("meta_learning").main(["--smoke", "--out", str(tmp_path)])
    assert result["loss"] < result["loss_start"]
    assert result["maml_curve"].shape == (11,) and np.all(np.isfinite(result["maml_curve"]))
    assert (tmp_path / "meta_learning.png").exists()


def test_maml_outer_gradient_through_the_inner_loop_matches_finite_differences():
    ml = example("meta_learning")
    params = tree.map(lambda a: fx.asarray(a, dtype="float64"),
                      ml.init_params(random.key(3)))
    (xs, ys), (xq, yq), _ = ml.sample_task(random.key(4), 5)
    xs, ys, xq, yq = (fx.asarray(a, dtype="float64") for a in (xs, ys, xq, yq))
    outer = lambda p: ml.mse(ml.adapt(p, xs, ys, 0.05, 2), xq, yq)
    check_grads(outer, (params,), order=1)       # rev mode: grad of a loop of grads


def test_hessian_smoke_cross_checks_and_newton(tmp_path):
    result = example("hessian").main(["--smoke", "--out", str(tmp_path)])
    errors = result["errors"]
    assert errors["hessian vs finite differences"] < 1e-5
    assert max(v for k, v in errors.items() if "finite" not in k) < 1e-12
    losses = result["newton_losses"]
    assert all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))   # never goes up
    assert losses[-1] < losses[0] and result["loss"] < result["gd_loss"]
    assert result["cg_error"] < 1e-8
    assert (tmp_path / "hessian.png").exists()


def test_hessian_newton_step_is_exact_on_a_quadratic():
    hs = example("hessian")
    a = fx.asarray([[3.0, 1.0], [1.0, 2.0]], dtype="float64")
    b = fx.asarray([1.0, -1.0], dtype="float64")
    quadratic = lambda w: 0.5 * w @ a @ w - b @ w
    w, value, _ = hs.make_newton_step(quadratic)(fnp.zeros(2, dtype="float64"))
    np.testing.assert_allclose(np.asarray(w), np.linalg.solve(np.asarray(a), np.asarray(b)))
    assert float(value) == 0.0
