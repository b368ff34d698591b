"""Loss functions with ``torch.nn.functional``'s names, arguments and semantics.

Every loss takes ``reduction="mean" | "sum" | "none"`` and raises ``ValueError`` for any
other value, and for input and target shapes that do not match (naming both). Losses are
written for lean gradients: ``cross_entropy`` works from ``logsumexp`` and a gather (its
gradient is ``softmax - one_hot`` with no full-size ``log_softmax`` in between), and the
piecewise ones carry their derivative (``huber_loss``'s is ``clip(d, -delta, delta)``).
The examples below use this module's names.

Example:
    >>> import fx.numpy as fnp, nnlib.functional as F
    >>> F.mse_loss(fnp.asarray([1.0, 2.0]), fnp.asarray([1.0, 4.0]))
    Array(2., dtype=float32)
"""
from __future__ import annotations

import functools

import numpy as np

import fx.numpy as fnp
from fx import lax
from fx.core.trace import Tracer
from nnlib.functional.activations import logsigmoid, relu, softplus
from nnlib.functional.distances import pairwise_distance
from transforms import custom_jvp

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "huber_loss",
           "smooth_l1_loss", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "soft_margin_loss", "triplet_margin_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name: str, reduction, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, got "
                         f"{reduction!r}")


def _same_shape(name: str, a, b, what=("input", "target")) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: {what[0]} shape {tuple(a.shape)} and {what[1]} shape "
                         f"{tuple(b.shape)} must match")


def _reduce(loss, reduction: str):
    if reduction == "mean":
        return fnp.mean(loss)
    return fnp.sum(loss) if reduction == "sum" else loss


def _pair(name, input, target, reduction, allowed=_REDUCTIONS):
    _check_reduction(name, reduction, allowed)
    input, target = fnp.asarray(input), fnp.asarray(target)
    _same_shape(name, input, target)
    return input, target


# --- classification from class scores ------------------------------------------------------
def _class_layout(name: str, x, target, weight, ignore_index):
    """``(axis, classes, class weights or None, safe targets, valid mask)`` of an index target."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a scalar")
    axis = 1 if x.ndim >= 2 else 0
    n = x.shape[axis]
    want = x.shape[:axis] + x.shape[axis + 1:]
    if tuple(target.shape) != want:
        raise ValueError(f"{name}: input shape {tuple(x.shape)} needs a target of shape {want} "
                         f"(class indices) or {tuple(x.shape)} (probabilities), got "
                         f"{tuple(target.shape)}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got {target.dtype}")
    if not isinstance(target, Tracer):  # concrete targets are checked, as torch does
        t = np.asarray(target)
        bad = t[(t != ignore_index) & ((t < 0) | (t >= n))]
        if bad.size:
            raise IndexError(f"{name}: target {bad.flat[0]} is out of bounds for {n} classes")
    valid = target != ignore_index
    return axis, n, _class_weight(name, weight, n, x), fnp.where(valid, target, 0), valid


def _class_weight(name: str, weight, n: int, x):
    if weight is None:
        return None
    weight = fnp.asarray(weight, dtype=x.dtype)
    if tuple(weight.shape) != (n,):
        raise ValueError(f"{name}: weight must have shape ({n},) for input shape "
                         f"{tuple(x.shape)}, got {tuple(weight.shape)}")
    return weight


def _along(w, x, axis):
    """The class weights shaped to broadcast against ``x`` along ``axis``."""
    return fnp.reshape(w, (-1,) + (1,) * (x.ndim - axis - 1))


def _picked(x, safe, axis):
    return fnp.squeeze(fnp.take_along_axis(x, fnp.expand_dims(safe, axis), axis=axis), axis)


def _index_loss(loss, weights, reduction):
    if reduction == "mean":  # torch normalises by the total weight of the counted targets
        return fnp.sum(loss) / fnp.sum(weights)
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross entropy from unnormalised scores ``input`` of shape ``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)``, as torch's.

    ``target`` holds integer class indices (the input's shape without ``C``; entries equal
    to ``ignore_index`` count for nothing, also not in the mean) or class probabilities
    (the input's shape). ``weight`` (shape ``(C,)``) weights the classes; with index
    targets the ``"mean"`` divides by the summed weights of the counted targets.
    ``label_smoothing`` mixes the target with the uniform distribution.

    >>> cross_entropy(fnp.asarray([[2.0, 0.0], [0.0, 2.0]]), fnp.asarray([0, 0]))
    Array(1.1269281, dtype=float32)
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, target, eps = fnp.asarray(input), fnp.asarray(target), float(label_smoothing)
    if x.ndim and tuple(target.shape) == tuple(x.shape) and target.dtype.kind == "f":
        axis = 1 if x.ndim >= 2 else 0
        n = x.shape[axis]
        w = _class_weight(name, weight, n, x)
        lse = _logsumexp(x, axis)
        p = target if eps == 0 else target * (1.0 - eps) + eps / n
        if w is not None:
            p = p * _along(w, x, axis)
        loss = lse * fnp.sum(p, axis=axis) - fnp.sum(p * x, axis=axis)
        if reduction == "mean":
            return fnp.sum(loss) / (x.size // n)
        return _reduce(loss, reduction)
    axis, n, w, safe, valid = _class_layout(name, x, target, weight, ignore_index)
    lse = _logsumexp(x, axis)
    wy = valid.astype(x.dtype) if w is None else fnp.take(w, safe) * valid
    loss = wy * (lse - _picked(x, safe, axis))
    if eps:  # -sum_c w_c log p_c = sum(w) lse - x . w, counted where the target is
        smooth = (lse * n - fnp.sum(x, axis=axis) if w is None
                  else lse * fnp.sum(w) - fnp.tensordot(x, w, axes=([axis], [0])))
        loss = loss * (1.0 - eps) + (smooth * valid) * (eps / n)
    return _index_loss(loss, wy, reduction)


def _logsumexp(x, axis):
    m = lax.stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    return fnp.log(fnp.sum(fnp.exp(x - m), axis=axis)) + fnp.squeeze(m, axis)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood of integer class ``target`` under log-probabilities ``input``
    (``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``), with torch's weighting and ignore_index.

    >>> nll_loss(fnp.log(fnp.asarray([[0.5, 0.5], [0.25, 0.75]])), fnp.asarray([0, 1]))
    Array(0.49041462, dtype=float32)
    """
    _check_reduction("nll_loss", reduction)
    x, target = fnp.asarray(input), fnp.asarray(target)
    axis, n, w, safe, valid = _class_layout("nll_loss", x, target, weight, ignore_index)
    wy = valid.astype(x.dtype) if w is None else fnp.take(w, safe) * valid
    return _index_loss(-(wy * _picked(x, safe, axis)), wy, reduction)


# --- binary classification -----------------------------------------------------------------
def _clamped_logs(p):
    """``max(log p, -100)`` and ``max(log(1 - p), -100)`` (torch's), without a warning at 0."""
    tiny = float(np.finfo(p.dtype).smallest_subnormal)  # log(tiny) < -100
    return (fnp.maximum(fnp.log(fnp.maximum(p, tiny)), -100.0),
            fnp.maximum(fnp.log(fnp.maximum(1.0 - p, tiny)), -100.0))


@custom_jvp
def _bce(p, t):
    lp, lq = _clamped_logs(p)
    return -(t * lp + (1.0 - t) * lq)


@_bce.defjvp
def _bce_jvp(primals, tangents):
    (p, t), (dp, dt) = primals, tangents  # torch's: (p - t) / max(p (1 - p), 1e-12)
    lp, lq = _clamped_logs(p)
    slope = (p - t) / fnp.maximum(p * (1.0 - p), 1e-12)
    return -(t * lp + (1.0 - t) * lq), dp * slope + dt * (lq - lp)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """``-w (t log p + (1 - t) log(1 - p))`` for probabilities ``input``; the logarithms
    are clamped at -100, as torch does.

    >>> binary_cross_entropy(fnp.asarray([0.5, 0.9]), fnp.asarray([1.0, 1.0]))
    Array(0.39925388, dtype=float32)
    """
    p, t = _pair("binary_cross_entropy", input, target, reduction)
    loss = _bce(p, t.astype(p.dtype))
    return _reduce(loss if weight is None else loss * weight, reduction)


def _bce_logits_parts(x, t):
    m, tail = fnp.maximum(x, 0), fnp.log1p(fnp.exp(-fnp.abs(x)))
    return (m - t * x) + tail, m, tail  # summed in this order, a loss of 1e-40 stays exact


@custom_jvp
def _bce_logits(x, t):
    return _bce_logits_parts(x, t)[0]


@_bce_logits.defjvp
def _bce_logits_jvp(primals, tangents):
    (x, t), (dx, dt) = primals, tangents
    loss, m, tail = _bce_logits_parts(x, t)  # d/dx = sigmoid(x) - t, d/dt = -x
    return loss, dx * (fnp.exp(x - (m + tail)) - t) - dt * x


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None):
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from the logits:
    ``(1 - t) x - (1 + (pos_weight - 1) t) logsigmoid(x)`` (torch's).

    >>> binary_cross_entropy_with_logits(fnp.asarray([0.0, 100.0]), fnp.asarray([1.0, 0.0]))
    Array(50.346573, dtype=float32)
    """
    x, t = _pair("binary_cross_entropy_with_logits", input, target, reduction)
    t = t.astype(x.dtype)
    if pos_weight is None:
        loss = _bce_logits(x, t)
    else:
        loss = (1.0 - t) * x - ((fnp.asarray(pos_weight) - 1.0) * t + 1.0) * logsigmoid(x)
    return _reduce(loss if weight is None else loss * weight, reduction)


def soft_margin_loss(input, target, reduction: str = "mean"):
    """``log(1 + exp(-y x))`` for labels ``y`` in {-1, 1}.

    >>> soft_margin_loss(fnp.asarray([0.0]), fnp.asarray([1.0]))
    Array(0.6931472, dtype=float32)
    """
    x, y = _pair("soft_margin_loss", input, target, reduction)
    return _reduce(softplus(-y * x), reduction)


# --- regression ---------------------------------------------------------------------------
def mse_loss(input, target, reduction: str = "mean"):
    """``(input - target)^2``.

    >>> mse_loss(fnp.asarray([0.0, 1.0]), fnp.asarray([2.0, 1.0]), reduction="sum")
    Array(4., dtype=float32)
    """
    x, t = _pair("mse_loss", input, target, reduction)
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    """``|input - target|``.

    >>> l1_loss(fnp.asarray([0.0, 1.0]), fnp.asarray([2.0, 1.0]), reduction="none")
    Array([2., 0.], dtype=float32)
    """
    x, t = _pair("l1_loss", input, target, reduction)
    return _reduce(fnp.abs(x - t), reduction)


@functools.lru_cache(maxsize=256)
def _huber(delta: float, scale: float):
    """``c (d - c / 2)`` with ``c = clip(d, -delta, delta)``, times ``scale``; ``c`` is the
    derivative."""
    def forward(d):
        c = fnp.clip(d, -delta, delta)
        return c * (d - c * 0.5) * scale if scale != 1 else c * (d - c * 0.5), c

    f = custom_jvp(lambda d: forward(d)[0])

    @f.defjvp
    def _jvp(primals, tangents):
        (d,), (t,) = primals, tangents
        y, c = forward(d)
        return y, t * (c * scale if scale != 1 else c)
    return f


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """``d^2 / 2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``; ``d = input - target``.

    >>> huber_loss(fnp.asarray([0.5, 3.0]), fnp.zeros(2), reduction="none")
    Array([0.125, 2.5  ], dtype=float32)
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _pair("huber_loss", input, target, reduction)
    return _reduce(_huber(float(delta), 1.0)(x - t), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """``d^2 / (2 beta)`` where ``|d| < beta``, else ``|d| - beta / 2`` (``l1_loss`` at
    ``beta = 0``).

    >>> smooth_l1_loss(fnp.asarray([0.5, 3.0]), fnp.zeros(2), reduction="none")
    Array([0.125, 2.5  ], dtype=float32)
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    x, t = _pair("smooth_l1_loss", input, target, reduction)
    return _reduce(_huber(float(beta), 1.0 / beta)(x - t), reduction)


# --- distributions ---------------------------------------------------------------------------
def kl_div(input, target, reduction: str = "mean", log_target: bool = False):
    """KL divergence ``target * (log target - input)`` with ``input`` log-probabilities
    (``target`` too when ``log_target``); ``0 log 0 = 0``. ``reduction="batchmean"`` divides
    the sum by the batch size (the true KL divergence); ``"mean"`` averages every element.

    >>> p = fnp.asarray([[0.5, 0.5]])
    >>> kl_div(fnp.log(p), p, reduction="batchmean")
    Array(0., dtype=float32)
    """
    x, t = _pair("kl_div", input, target, reduction, _REDUCTIONS + ("batchmean",))
    if log_target:
        loss = fnp.exp(t) * (t - x)
    else:
        loss = t * fnp.log(fnp.where(t == 0, 1.0, t)) - t * x
    if reduction == "batchmean":
        return fnp.sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


# --- embeddings and ranking -----------------------------------------------------------------
def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          reduction: str = "mean"):
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos - margin)`` where it is -1;
    the cosine is taken along the last dimension (torch's, with its 1e-12 guard).

    >>> x = fnp.asarray([[1.0, 0.0], [1.0, 0.0]])
    >>> cosine_embedding_loss(x, x, fnp.asarray([1, -1]), reduction="none")
    Array([0., 1.], dtype=float32)
    """
    _check_reduction("cosine_embedding_loss", reduction)
    x1, x2, y = fnp.asarray(input1), fnp.asarray(input2), fnp.asarray(target)
    _same_shape("cosine_embedding_loss", x1, x2, ("input1", "input2"))
    if x1.ndim not in (1, 2) or tuple(y.shape) != tuple(x1.shape[:-1]):
        raise ValueError(f"cosine_embedding_loss: inputs of shape (N, D) or (D,) need a target "
                         f"of shape (N,) or (); got inputs {tuple(x1.shape)}, target "
                         f"{tuple(y.shape)}")
    dot = fnp.sum(x1 * x2, axis=-1)
    sq = (fnp.sum(x1 * x1, axis=-1) + 1e-12) * (fnp.sum(x2 * x2, axis=-1) + 1e-12)
    cos = dot / fnp.sqrt(sq)
    loss = fnp.where(y == 1, 1.0 - cos, 0.0) + fnp.where(y == -1, relu(cos - margin), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, reduction: str = "mean"):
    """``max(0, -y (x1 - x2) + margin)``.

    >>> margin_ranking_loss(fnp.asarray([1.0, 1.0]), fnp.asarray([0.0, 0.0]),
    ...                       fnp.asarray([1.0, -1.0]), reduction="none")
    Array([0., 1.], dtype=float32)
    """
    x1, x2 = _pair("margin_ranking_loss", input1, input2, reduction)
    y = fnp.asarray(target)
    _same_shape("margin_ranking_loss", x1, y, ("input", "target"))
    return _reduce(relu(-y * (x1 - x2) + margin), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    """``x`` where ``target == 1``, ``max(0, margin - x)`` where it is -1 (torch's).

    >>> hinge_embedding_loss(fnp.asarray([0.3, 0.3]), fnp.asarray([1, -1]), reduction="none")
    Array([0.3, 0.7], dtype=float32)
    """
    x, y = _pair("hinge_embedding_loss", input, target, reduction)
    loss = fnp.where(y != 1, relu(margin - x), 0.0) + fnp.where(y != -1, x, 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d = pairwise_distance`` (``swap``: use
    the smaller of ``d(a, n)`` and ``d(p, n)``).

    >>> a = fnp.asarray([[0.0, 0.0]])
    >>> triplet_margin_loss(a, a, fnp.asarray([[3.0, 4.0]]), margin=6.0, eps=0.0)
    Array(1., dtype=float32)
    """
    _check_reduction("triplet_margin_loss", reduction)
    a, pos, neg = fnp.asarray(anchor), fnp.asarray(positive), fnp.asarray(negative)
    _same_shape("triplet_margin_loss", a, pos, ("anchor", "positive"))
    _same_shape("triplet_margin_loss", a, neg, ("anchor", "negative"))
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = fnp.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(relu(pairwise_distance(a, pos, p, eps) - d_neg + margin), reduction)
