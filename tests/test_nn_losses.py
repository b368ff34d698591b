"""nnlib losses and distances: values against torch's formulas written out in NumPy
(cross entropy's weights, ignore_index and label smoothing by hand, loop by loop),
float64 gradient checks, vmap/jit consistency, errors, and the loss objects."""
import numpy as np
import pytest
from scipy import special

import fx.numpy as fnp
import nnlib
import nnlib.functional as F
from fx.testing import check_grads
from transforms import grad, jit, vmap

RNG = np.random.default_rng(0)


def ref_cross_entropy(x, y, w=None, ignore=-100, reduction="mean", eps=0.0):
    """torch's cross entropy with class-index targets, one target at a time."""
    c = x.shape[1]
    lp = np.moveaxis(special.log_softmax(x, axis=1), 1, -1).reshape(-1, c)
    w = np.ones(c) if w is None else w
    nll, smooth, total = np.zeros(len(lp)), np.zeros(len(lp)), 0.0
    for i, t in enumerate(y.reshape(-1)):
        if t != ignore:
            nll[i], smooth[i], total = -w[t] * lp[i, t], -(w * lp[i]).sum(), total + w[t]
    if reduction == "none":
        return ((1 - eps) * nll + eps / c * smooth).reshape(y.shape)
    nll, smooth = nll.sum(), smooth.sum()
    if reduction == "mean":
        nll, smooth = nll / total, smooth / total
    return (1 - eps) * nll + eps / c * smooth


def ref_prob_cross_entropy(x, p, w=None, reduction="mean", eps=0.0):
    c = x.shape[1]
    p = p * (1 - eps) + eps / c
    wb = 1.0 if w is None else w.reshape((-1,) + (1,) * (x.ndim - 2))
    loss = -(special.log_softmax(x, axis=1) * p * wb).sum(1)
    return {"none": loss, "sum": loss.sum(), "mean": loss.sum() / (x.size / c)}[reduction]


W = np.asarray([0.2, 1.0, 3.0, 0.5])


@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2, 3), (4,)])
@pytest.mark.parametrize("weight", [None, W])
@pytest.mark.parametrize("ignore", [-100, 1])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_class_indices(shape, weight, ignore, eps, reduction):
    x = RNG.normal(size=shape) * 2
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    y = RNG.integers(0, 4, tshape)
    y.flat[0] = -100 if ignore == -100 and y.ndim else y.flat[0]
    y.flat[-1] = ignore if y.ndim else y.flat[-1]
    got = F.cross_entropy(fnp.asarray(x), fnp.asarray(y), weight, ignore, reduction, eps)
    xb, yb = (x[None], y[None]) if len(shape) == 1 else (x, y)
    want = ref_cross_entropy(xb, yb, weight, ignore, reduction, eps)
    want = want[0] if len(shape) == 1 and reduction == "none" else want
    if len(shape) == 1 and ignore == 1 and y == 1 and reduction == "mean":
        assert np.isnan(float(got))  # all targets ignored: 0 / 0, as torch
        return
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)
    if reduction != "none" and not (len(shape) == 1 and y == ignore):
        f = lambda x: F.cross_entropy(x, fnp.asarray(y), weight, ignore, reduction, eps)  # noqa
        check_grads(f, (fnp.asarray(x),), order=2)


@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3)])
@pytest.mark.parametrize("weight", [None, W])
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_probabilities(shape, weight, eps, reduction):
    x = RNG.normal(size=shape)
    p = special.softmax(RNG.normal(size=shape), axis=1)
    got = F.cross_entropy(fnp.asarray(x), fnp.asarray(p), weight, reduction=reduction,
                          label_smoothing=eps)
    np.testing.assert_allclose(np.asarray(got), ref_prob_cross_entropy(x, p, weight, reduction,
                                                                       eps), rtol=1e-12)
    if reduction == "mean":  # differentiable in the soft targets too
        f = lambda x, p: F.cross_entropy(x, p, weight, label_smoothing=eps)  # noqa: E731
        check_grads(f, (fnp.asarray(x), fnp.asarray(p)), order=2)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    x, y = RNG.normal(size=(6, 5)), RNG.integers(0, 5, 6)
    g = grad(lambda x: F.cross_entropy(x, fnp.asarray(y)))(fnp.asarray(x))
    want = (special.softmax(x, axis=1) - np.eye(5)[y]) / 6
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-12, atol=1e-15)
    big = fnp.asarray(np.float32([[1e4, -1e4, 0.0]]))  # stable for huge logits
    assert float(F.cross_entropy(big, fnp.asarray([1]))) == pytest.approx(2e4)


def test_nll_loss():
    lp = special.log_softmax(RNG.normal(size=(6, 4)), axis=1)
    y = np.asarray([0, 3, 1, -100, 2, 3])
    for w in (None, W):
        for r in ("mean", "sum", "none"):
            got = F.nll_loss(fnp.asarray(lp), fnp.asarray(y), w, reduction=r)
            np.testing.assert_allclose(np.asarray(got), ref_cross_entropy(lp, y, w, reduction=r),
                                       rtol=1e-12)
    check_grads(lambda x: F.nll_loss(x, fnp.asarray(y), W), (fnp.asarray(lp),), order=2)


def test_cross_entropy_vmap_and_jit():
    xs, ys = RNG.normal(size=(3, 5, 4)), RNG.integers(0, 4, (3, 5))
    f = lambda x, y: F.cross_entropy(x, y, W, label_smoothing=0.1)  # noqa: E731
    loop = [float(f(fnp.asarray(x), fnp.asarray(y))) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(np.asarray(vmap(f)(fnp.asarray(xs), fnp.asarray(ys))), loop,
                               rtol=1e-13)
    np.testing.assert_allclose(np.asarray(jit(vmap(f))(fnp.asarray(xs), fnp.asarray(ys))), loop,
                               rtol=1e-13)
    g = jit(grad(f))(fnp.asarray(xs[0]), fnp.asarray(ys[0]))
    np.testing.assert_allclose(np.asarray(g), np.asarray(grad(f)(fnp.asarray(xs[0]),
                                                                 fnp.asarray(ys[0]))), rtol=1e-13)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0, 1, 2])), ValueError,
     r"input shape \(2, 3\) needs a target of shape \(2,\).*got \(3,\)"),
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0.0, 1.0])), TypeError, "integers"),
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0, 3])), IndexError,
     "target 3 is out of bounds for 3 classes"),
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0, 1]), fnp.ones(2)), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0, 1]), reduction="avg"),
     ValueError, "reduction must be one of 'mean', 'sum', 'none', got 'avg'"),
    (lambda: F.cross_entropy(fnp.ones((2, 3)), fnp.asarray([0, 1]), label_smoothing=1.5),
     ValueError, "label_smoothing"),
    (lambda: F.nll_loss(fnp.ones((2, 3)), fnp.asarray([-1, 1])), IndexError, "target -1"),
    (lambda: F.mse_loss(fnp.ones(2), fnp.ones(3)), ValueError,
     r"input shape \(2,\) and target shape \(3,\) must match"),
    (lambda: F.l1_loss(fnp.ones(2), fnp.ones(2), reduction=None), ValueError, "reduction"),
    (lambda: F.kl_div(fnp.ones(2), fnp.ones(2), reduction="avg"), ValueError, "'batchmean'"),
    (lambda: F.huber_loss(fnp.ones(2), fnp.ones(2), delta=0.0), ValueError, "delta"),
    (lambda: F.smooth_l1_loss(fnp.ones(2), fnp.ones(2), beta=-1.0), ValueError, "beta"),
    (lambda: F.cosine_embedding_loss(fnp.ones((2, 3)), fnp.ones((2, 3)), fnp.ones(3)),
     ValueError, r"target \(3,\)"),
    (lambda: F.triplet_margin_loss(fnp.ones((2, 3)), fnp.ones((2, 3)), fnp.ones((2, 4))),
     ValueError, r"anchor shape \(2, 3\) and negative shape \(2, 4\)"),
    (lambda: F.cosine_similarity(fnp.ones((2, 3)), fnp.ones((2, 4))), ValueError,
     r"\(2, 3\) and \(2, 4\) do not broadcast"),
    (lambda: F.cdist(fnp.ones((2, 3)), fnp.ones((2, 4))), ValueError, r"\(2, 3\) and \(2, 4\)"),
    (lambda: F.pairwise_distance(fnp.ones(3), fnp.ones(3), p=-1), ValueError, "p must be"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- elementwise losses: (ours, reference, inputs) ----------------------------------------
def _bce(p, t):
    return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


P = RNG.uniform(0.05, 0.95, (3, 4))
T = RNG.uniform(0, 1, (3, 4))
X, Y = RNG.normal(size=(3, 4)) * 3, RNG.normal(size=(3, 4))
S = np.sign(RNG.normal(size=(3, 4)))
PW = np.asarray([0.5, 1.0, 2.0, 3.0])
LP = special.log_softmax(RNG.normal(size=(3, 4)), axis=1)
Q = special.softmax(RNG.normal(size=(3, 4)), axis=1)


def _huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


ELEMENTWISE = {
    "bce": (F.binary_cross_entropy, _bce, (P, T)),
    "bce_weight": (lambda p, t, **k: F.binary_cross_entropy(p, t, PW, **k),
                   lambda p, t: _bce(p, t) * PW, (P, T)),
    "bce_logits": (F.binary_cross_entropy_with_logits,
                   lambda x, t: (1 - t) * x + np.logaddexp(0, -x), (X, T)),
    "bce_logits_pos": (lambda x, t, **k: F.binary_cross_entropy_with_logits(
        x, t, PW, pos_weight=PW[::-1], **k),
        lambda x, t: PW * ((1 - t) * x + (1 + (PW[::-1] - 1) * t) * np.logaddexp(0, -x)), (X, T)),
    "mse": (F.mse_loss, lambda x, y: (x - y) ** 2, (X, Y)),
    "l1": (F.l1_loss, lambda x, y: np.abs(x - y), (X, Y)),
    "huber": (F.huber_loss, lambda x, y: _huber(x - y, 1.0), (X, Y)),
    "huber_2": (lambda x, y, **k: F.huber_loss(x, y, delta=2.0, **k),
                lambda x, y: _huber(x - y, 2.0), (X, Y)),
    "smooth_l1": (lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.5, **k),
                  lambda x, y: _huber(x - y, 0.5) / 0.5, (X, Y)),
    "smooth_l1_0": (lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.0, **k),
                    lambda x, y: np.abs(x - y), (X, Y)),
    "kl": (F.kl_div, lambda x, t: special.xlogy(t, t) - t * x, (LP, Q)),
    "kl_log": (lambda x, t, **k: F.kl_div(x, t, log_target=True, **k),
               lambda x, t: np.exp(t) * (t - x), (LP, np.log(Q))),
    "soft_margin": (F.soft_margin_loss, lambda x, y: np.log1p(np.exp(-y * x)), (X, S)),
    "hinge": (lambda x, y, **k: F.hinge_embedding_loss(x, y, margin=2.0, **k),
              lambda x, y: np.where(y == 1, x, np.maximum(0, 2.0 - x)), (X, S)),
    "ranking": (lambda a, b, **k: F.margin_ranking_loss(a, b, fnp.asarray(S), 0.5, **k),
                lambda a, b: np.maximum(0, -S * (a - b) + 0.5), (X, Y)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses(name, reduction):
    fn, ref, args = ELEMENTWISE[name]
    got = fn(*map(fnp.asarray, args), reduction=reduction)
    want = ref(*args)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)
    jitted = jit(lambda *a: fn(*a, reduction=reduction))(*map(fnp.asarray, args))
    np.testing.assert_allclose(np.asarray(jitted), want, rtol=1e-12, atol=1e-14)
    if reduction == "mean":
        diff = (0,) if name in ("soft_margin", "hinge") else (0, 1)
        f = lambda *d: fn(*[d[diff.index(i)] if i in diff else fnp.asarray(a)  # noqa: E731
                            for i, a in enumerate(args)])
        check_grads(f, tuple(fnp.asarray(args[i]) for i in diff), order=2)
        per_row = [float(fn(*[fnp.asarray(a[i]) for a in args])) for i in range(3)] \
            if name not in ("bce_weight", "bce_logits_pos", "ranking") else None
        if per_row:
            got = vmap(lambda *a: fn(*a))(*map(fnp.asarray, args))
            np.testing.assert_allclose(np.asarray(got), per_row, rtol=1e-13)


@pytest.mark.filterwarnings("error")
def test_losses_at_extremes_are_exact_in_float32():
    x = fnp.asarray(np.float32([50.0, -50.0, 50.0, -50.0]))
    t = fnp.asarray(np.float32([1.0, 0.0, 0.0, 1.0]))
    got = np.asarray(F.binary_cross_entropy_with_logits(x, t, reduction="none"))
    np.testing.assert_allclose(got, [np.exp(-50.0), np.exp(-50.0), 50.0, 50.0], rtol=1e-6)
    g = np.asarray(vmap(grad(F.binary_cross_entropy_with_logits))(x, t))
    # sigmoid(x) - t, which is 0 in float32 at x = 50, t = 1 (in torch too)
    np.testing.assert_allclose(g, [0.0, np.exp(-50.0), 1.0, -1.0], rtol=1e-6)
    p = fnp.asarray(np.float32([0.0, 1.0, 0.0]))
    got = np.asarray(F.binary_cross_entropy(p, fnp.asarray(np.float32([1.0, 0.0, 0.0])),
                                            reduction="none"))
    np.testing.assert_array_equal(got, [100.0, 100.0, 0.0])  # log clamped at -100, as torch
    assert float(F.kl_div(fnp.asarray([-1.0, -2.0]), fnp.asarray([0.0, 0.0]))) == 0.0


def test_kl_div_batchmean_and_zero_targets():
    got = F.kl_div(fnp.asarray(LP), fnp.asarray(Q), reduction="batchmean")
    want = (Q * (np.log(Q) - LP)).sum() / 3
    np.testing.assert_allclose(float(got), want, rtol=1e-12)
    g = grad(lambda x: F.kl_div(x, fnp.asarray([0.0, 1.0])))(fnp.asarray([-1.0, -2.0]))
    np.testing.assert_array_equal(np.asarray(g), [0.0, -0.5])


def _cos(a, b, eps):
    return (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cosine_embedding_and_triplet_losses(reduction):
    a, b, c = (RNG.normal(size=(5, 3)) for _ in range(3))
    y = np.asarray([1, -1, 1, -1, 0])
    cos = _cos(a, b, 1e-12)
    want = np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(0, cos - 0.1), 0)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    got = F.cosine_embedding_loss(fnp.asarray(a), fnp.asarray(b), fnp.asarray(y), 0.1, reduction)
    np.testing.assert_allclose(np.asarray(got), reduce(want), rtol=1e-12)
    d = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(-1))  # noqa: E731
    for swap in (False, True):
        dn = np.minimum(d(a, c), d(b, c)) if swap else d(a, c)
        want = reduce(np.maximum(d(a, b) - dn + 2.0, 0))
        got = F.triplet_margin_loss(*map(fnp.asarray, (a, b, c)), margin=2.0, swap=swap,
                                    reduction=reduction)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    check_grads(lambda a, b: F.cosine_embedding_loss(a, b, fnp.asarray(y[:4]), 0.1),
                (fnp.asarray(a[:4]), fnp.asarray(b[:4])), order=2)


# --- distances -------------------------------------------------------------------------------
def test_cosine_similarity():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 4))
    got = F.cosine_similarity(fnp.asarray(a), fnp.asarray(b), dim=-1)
    np.testing.assert_allclose(np.asarray(got), _cos(a, b[None], 0.0), rtol=1e-12)
    got = F.cosine_similarity(fnp.asarray(a), fnp.asarray(a[::-1]), dim=1)
    want = (a * a[::-1]).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(a[::-1], axis=1))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    check_grads(lambda u, v: F.cosine_similarity(u, v), (fnp.asarray(a), fnp.asarray(a[::-1])),
                order=2)
    zero = fnp.zeros((1, 3))
    assert float(F.cosine_similarity(zero, fnp.ones((1, 3)))[0]) == 0.0
    g = grad(lambda u: F.cosine_similarity(u, fnp.ones((1, 3)))[0])(zero)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    got = F.pairwise_distance(fnp.asarray(a), fnp.asarray(b), p, keepdim=keepdim)
    want = np.linalg.norm(a - b + 1e-6, ord=p, axis=-1, keepdims=keepdim)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    check_grads(lambda u, v: F.pairwise_distance(u, v, p), (fnp.asarray(a), fnp.asarray(b)),
                order=1 if np.isinf(p) else 2)


@pytest.mark.parametrize("p, rows", [(2.0, 4), (2.0, 30), (1.0, 4), (3.0, 4), (np.inf, 4)])
def test_cdist(p, rows):
    a, b = RNG.normal(size=(2, rows, 3)), RNG.normal(size=(2, 5, 3))
    want = np.linalg.norm(a[:, :, None] - b[:, None], ord=p, axis=-1)
    got = F.cdist(fnp.asarray(a), fnp.asarray(b), p)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10 if rows > 25 else 1e-12)
    check_grads(lambda u, v: F.cdist(u, v, p), (fnp.asarray(a[0, :4]), fnp.asarray(b[0])),
                order=1)
    x = fnp.asarray(a[0])
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        g = grad(lambda x, mode=mode: fnp.sum(F.cdist(x, x, compute_mode=mode)))(x)
        assert np.all(np.isfinite(np.asarray(g)))  # zero distances on the diagonal


# --- loss objects ----------------------------------------------------------------------------
def test_loss_objects_call_their_functions():
    x, y = fnp.asarray(RNG.normal(size=(5, 4))), fnp.asarray(RNG.integers(0, 4, 5))
    loss_fn = nnlib.CrossEntropyLoss(fnp.asarray(W), label_smoothing=0.1)
    assert float(loss_fn(x, y)) == float(F.cross_entropy(x, y, W, label_smoothing=0.1))
    assert float(loss_fn.apply({}, {}, x, y)[0]) == float(loss_fn(x, y))
    assert loss_fn.init(None, x, y) == ({}, {})
    a, b = fnp.asarray(X), fnp.asarray(Y)
    pairs = [(nnlib.MSELoss("sum"), F.mse_loss, (a, b)), (nnlib.L1Loss(), F.l1_loss, (a, b)),
             (nnlib.HuberLoss(delta=0.5), F.huber_loss, (a, b)),
             (nnlib.SmoothL1Loss(beta=0.5), F.smooth_l1_loss, (a, b)),
             (nnlib.KLDivLoss(), F.kl_div, (fnp.asarray(LP), fnp.asarray(Q))),
             (nnlib.BCELoss(), F.binary_cross_entropy, (fnp.asarray(P), fnp.asarray(T))),
             (nnlib.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits, (a, fnp.asarray(T))),
             (nnlib.SoftMarginLoss(), F.soft_margin_loss, (a, fnp.asarray(S))),
             (nnlib.HingeEmbeddingLoss(), F.hinge_embedding_loss, (a, fnp.asarray(S)))]
    for obj, fn, args in pairs:
        kw = {k: getattr(obj, k) for k in ("delta", "beta") if hasattr(obj, k)}
        assert np.isfinite(float(obj(*args))), obj
        assert float(obj(*args)) == float(fn(*args, reduction=obj.reduction, **kw)), obj
    assert float(nnlib.NLLLoss()(x, y)) == float(F.nll_loss(x, y))
    assert float(nnlib.TripletMarginLoss(swap=True)(a, b, a[::-1])) == float(
        F.triplet_margin_loss(a, b, a[::-1], swap=True))
    assert float(nnlib.MarginRankingLoss(0.3)(a[0], b[0], fnp.ones(4))) == float(
        F.margin_ranking_loss(a[0], b[0], fnp.ones(4), 0.3))


@pytest.mark.parametrize("make, match", [
    (lambda: nnlib.MSELoss("avg"), "MSELoss: reduction must be one of"),
    (lambda: nnlib.CrossEntropyLoss(label_smoothing=-0.1), "CrossEntropyLoss: label_smoothing"),
    (lambda: nnlib.HuberLoss(delta=-1.0), "HuberLoss: delta"),
    (lambda: nnlib.SmoothL1Loss(beta=-1.0), "SmoothL1Loss: beta"),
    (lambda: nnlib.KLDivLoss("avg"), "'batchmean'"),
])
def test_loss_objects_check_their_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    assert nnlib.KLDivLoss("batchmean").reduction == "batchmean"
