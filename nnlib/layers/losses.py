"""Loss objects with torch's names and hyperparameters: ``loss_fn = CrossEntropyLoss()``,
then ``loss_fn(logits, target)``. Each is a frozen dataclass and a ``Module`` without
parameters (so ``loss_fn.apply({}, {}, logits, target)`` works too); the settings are
checked at construction. Those holding class weights compare by identity.

Example:
    >>> import fx.numpy as fnp, nnlib
    >>> loss_fn = nnlib.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss_fn(fnp.asarray([[0.0, 0.0]]), fnp.asarray([1]))
    Array(0.6931472, dtype=float32)
"""
from __future__ import annotations

import dataclasses
from typing import Any

import nnlib.functional as F
from nnlib.module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss",
           "HuberLoss", "SmoothL1Loss", "KLDivLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "TripletMarginLoss"]


@dataclasses.dataclass(frozen=True)
class _Loss(Module):
    """A loss: ``loss_fn(*inputs)`` is ``forward({}, *inputs)``; ``reduction`` is checked."""

    _reductions = ("mean", "sum", "none")

    def __post_init__(self):
        if self.reduction not in self._reductions:
            raise ValueError(f"{self.name}: reduction must be one of "
                             f"{', '.join(map(repr, self._reductions))}, got {self.reduction!r}")

    def __call__(self, *inputs):
        return self.forward({}, *inputs)


@dataclasses.dataclass(frozen=True, eq=False)
class CrossEntropyLoss(_Loss):
    """``F.cross_entropy`` from logits: integer class targets (with ``ignore_index``) or
    class probabilities; ``weight`` of shape ``(C,)``; ``label_smoothing`` in [0, 1].

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.CrossEntropyLoss(reduction="none")(fnp.zeros((2, 4)), fnp.asarray([0, 3]))
    Array([1.3862944, 1.3862944], dtype=float32)
    """

    weight: Any = None
    ignore_index: int = -100
    reduction: str = "mean"
    label_smoothing: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{self.label_smoothing}")

    def forward(self, params, input, target, *, key=None, train=False):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


@dataclasses.dataclass(frozen=True, eq=False)
class NLLLoss(_Loss):
    """``F.nll_loss`` of log-probabilities and integer class targets.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.NLLLoss()(fnp.asarray([[-1.0, -2.0]]), fnp.asarray([1]))
    Array(2., dtype=float32)
    """

    weight: Any = None
    ignore_index: int = -100
    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


@dataclasses.dataclass(frozen=True, eq=False)
class BCELoss(_Loss):
    """``F.binary_cross_entropy`` of probabilities.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.BCELoss()(fnp.asarray([0.5]), fnp.asarray([0.0]))
    Array(0.6931472, dtype=float32)
    """

    weight: Any = None
    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


@dataclasses.dataclass(frozen=True, eq=False)
class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits``, with ``pos_weight`` for the positive class.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.BCEWithLogitsLoss(pos_weight=fnp.asarray([2.0]))(fnp.zeros(1), fnp.ones(1))
    Array(1.3862944, dtype=float32)
    """

    weight: Any = None
    reduction: str = "mean"
    pos_weight: Any = None

    def forward(self, params, input, target, *, key=None, train=False):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


@dataclasses.dataclass(frozen=True)
class MSELoss(_Loss):
    """``F.mse_loss``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.MSELoss(reduction="sum")(fnp.asarray([1.0, 3.0]), fnp.zeros(2))
    Array(10., dtype=float32)
    """

    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.mse_loss(input, target, self.reduction)


@dataclasses.dataclass(frozen=True)
class L1Loss(_Loss):
    """``F.l1_loss``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.L1Loss()(fnp.asarray([1.0, -3.0]), fnp.zeros(2))
    Array(2., dtype=float32)
    """

    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.l1_loss(input, target, self.reduction)


@dataclasses.dataclass(frozen=True)
class HuberLoss(_Loss):
    """``F.huber_loss`` with threshold ``delta`` (> 0).

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.HuberLoss(delta=2.0)(fnp.asarray([4.0]), fnp.zeros(1))
    Array(6., dtype=float32)
    """

    reduction: str = "mean"
    delta: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {self.delta}")

    def forward(self, params, input, target, *, key=None, train=False):
        return F.huber_loss(input, target, self.reduction, self.delta)


@dataclasses.dataclass(frozen=True)
class SmoothL1Loss(_Loss):
    """``F.smooth_l1_loss`` with threshold ``beta`` (>= 0).

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.SmoothL1Loss(beta=2.0)(fnp.asarray([1.0]), fnp.zeros(1))
    Array(0.25, dtype=float32)
    """

    reduction: str = "mean"
    beta: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        if not self.beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {self.beta}")

    def forward(self, params, input, target, *, key=None, train=False):
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


@dataclasses.dataclass(frozen=True)
class KLDivLoss(_Loss):
    """``F.kl_div`` of log-probabilities ``input``; ``reduction="batchmean"`` gives the
    KL divergence averaged over the batch.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.KLDivLoss("batchmean", log_target=True)(fnp.zeros((2, 3)), fnp.zeros((2, 3)))
    Array(0., dtype=float32)
    """

    reduction: str = "mean"
    log_target: bool = False
    _reductions = ("mean", "sum", "none", "batchmean")

    def forward(self, params, input, target, *, key=None, train=False):
        return F.kl_div(input, target, self.reduction, self.log_target)


@dataclasses.dataclass(frozen=True)
class CosineEmbeddingLoss(_Loss):
    """``F.cosine_embedding_loss``: ``loss_fn(x1, x2, target)`` with targets in {1, -1}.

    >>> import fx.numpy as fnp, nnlib
    >>> x = fnp.asarray([[1.0, 0.0]])
    >>> nnlib.CosineEmbeddingLoss()(x, x, fnp.asarray([1]))
    Array(0., dtype=float32)
    """

    margin: float = 0.0
    reduction: str = "mean"

    def forward(self, params, input1, input2, target, *, key=None, train=False):
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


@dataclasses.dataclass(frozen=True)
class MarginRankingLoss(_Loss):
    """``F.margin_ranking_loss``: ``loss_fn(x1, x2, target)``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.MarginRankingLoss(1.0)(fnp.ones(1), fnp.zeros(1), fnp.ones(1))
    Array(0., dtype=float32)
    """

    margin: float = 0.0
    reduction: str = "mean"

    def forward(self, params, input1, input2, target, *, key=None, train=False):
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


@dataclasses.dataclass(frozen=True)
class HingeEmbeddingLoss(_Loss):
    """``F.hinge_embedding_loss`` with targets in {1, -1}.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.HingeEmbeddingLoss()(fnp.zeros(1), fnp.asarray([-1.0]))
    Array(1., dtype=float32)
    """

    margin: float = 1.0
    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


@dataclasses.dataclass(frozen=True)
class SoftMarginLoss(_Loss):
    """``F.soft_margin_loss``: ``log(1 + exp(-y x))``.

    >>> import fx.numpy as fnp, nnlib
    >>> nnlib.SoftMarginLoss()(fnp.zeros(1), fnp.ones(1))
    Array(0.6931472, dtype=float32)
    """

    reduction: str = "mean"

    def forward(self, params, input, target, *, key=None, train=False):
        return F.soft_margin_loss(input, target, self.reduction)


@dataclasses.dataclass(frozen=True)
class TripletMarginLoss(_Loss):
    """``F.triplet_margin_loss``: ``loss_fn(anchor, positive, negative)``.

    >>> import fx.numpy as fnp, nnlib
    >>> a = fnp.zeros((1, 2))
    >>> nnlib.TripletMarginLoss(margin=1.0)(a, a, a + 10.0)
    Array(0., dtype=float32)
    """

    margin: float = 1.0
    p: float = 2.0
    eps: float = 1e-6
    swap: bool = False
    reduction: str = "mean"

    def forward(self, params, anchor, positive, negative, *, key=None, train=False):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p,
                                     self.eps, self.swap, self.reduction)
