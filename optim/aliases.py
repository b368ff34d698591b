"""The familiar optimizers, each a ``chain`` of blocks (Optax's names, arguments and defaults).

``g`` is the gradient, ``p`` the parameter, ``lr`` the learning rate (a number or a schedule
of the int32 step count ``t``, starting at 1 in the equations); ``apply_updates`` adds ``u``.

Example:
    >>> from optim.aliases import adam
    >>> from optim.base import apply_updates
    >>> opt = adam(0.1)
    >>> params = {"w": fnp.asarray([1.0, -2.0])}
    >>> updates, state = opt.update({"w": fnp.asarray([0.5, -0.5])}, opt.init(params), params)
    >>> apply_updates(params, updates)["w"]
    Array([ 0.9, -1.9], dtype=float32)
"""
from __future__ import annotations

from optim.base import GradientTransformation, identity
from optim.combine import chain, masked
from optim.decay import add_decayed_weights, trace
from optim.scale import (
    scale_by_adadelta,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_radam,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    scale_by_trust_ratio,
)


def sgd(learning_rate, momentum=None, nesterov: bool = False, accumulator_dtype=None,
        weight_decay: float = 0.0) -> GradientTransformation:
    """SGD: ``g' = g + weight_decay p``; with momentum ``m = g' + momentum m`` and
    ``u = -lr m`` (Nesterov: ``u = -lr (g' + momentum m)``), else ``u = -lr g'``.

    >>> opt = sgd(0.1, momentum=0.9)
    >>> s = opt.init(fnp.ones(2))
    >>> u, s = opt.update(fnp.ones(2), s)
    >>> opt.update(fnp.ones(2), s)[0]
    Array([-0.19, -0.19], dtype=float32)
    """
    return chain(add_decayed_weights(weight_decay) if weight_decay else identity(),
                 trace(momentum, nesterov, accumulator_dtype) if momentum is not None
                 else identity(),
                 scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         eps_root: float = 0.0, mu_dtype=None, *, nesterov: bool = False
         ) -> GradientTransformation:
    """Adam: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``u = -lr m_hat / (sqrt(v_hat + eps_root) + eps)``, ``m_hat = m / (1-b1^t)``,
    ``v_hat = v / (1-b2^t)``.

    >>> opt = adam(0.01)
    >>> opt.update(fnp.asarray([3.0]), opt.init(fnp.zeros(1)))[0]
    Array([-0.01], dtype=float32)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, mu_dtype=None, weight_decay: float = 1e-4, mask=None, *,
          nesterov: bool = False) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    ``u = -lr (m_hat / (sqrt(v_hat + eps_root) + eps) + weight_decay p)``; ``mask`` picks
    the decayed leaves (a bool pytree or a function of params).

    >>> opt = adamw(0.1, weight_decay=0.5)
    >>> p = fnp.asarray([2.0])
    >>> opt.update(fnp.asarray([1.0]), opt.init(p), p)[0]  # -0.1 * (1 + 0.5 * 2)
    Array([-0.2], dtype=float32)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


def nadam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, mu_dtype=None) -> GradientTransformation:
    """NAdam (Dozat, 2016): Adam with ``m_hat = b1 m / (1-b1^(t+1)) + (1-b1) g / (1-b1^t)``.

    >>> opt = nadam(0.01)
    >>> opt.update(fnp.asarray([3.0]), opt.init(fnp.zeros(1)))[0].dtype
    dtype('float32')
    """
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=True)


def radam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, threshold: float = 5.0, *, nesterov: bool = False
          ) -> GradientTransformation:
    """RAdam (Liu et al., 2020): ``rho_t = rho_inf - 2 t b2^t / (1-b2^t)``,
    ``rho_inf = 2/(1-b2) - 1``; ``u = -lr r_t m_hat / (sqrt(v_hat + eps_root) + eps)`` with
    ``r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))`` once
    ``rho_t >= threshold``, and ``u = -lr m_hat`` before.

    >>> opt = radam(0.1)
    >>> opt.update(fnp.asarray([3.0]), opt.init(fnp.zeros(1)))[0]  # -lr * m_hat
    Array([-0.3], dtype=float32)
    """
    return chain(scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def amsgrad(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            eps_root: float = 0.0, mu_dtype=None) -> GradientTransformation:
    """AMSGrad (Reddi et al., 2018): Adam with ``v_max = max(v_max, v_hat)``,
    ``u = -lr m_hat / (sqrt(v_max + eps_root) + eps)``.

    >>> opt = amsgrad(0.01)
    >>> opt.update(fnp.asarray([3.0]), opt.init(fnp.zeros(1)))[0]
    Array([-0.01], dtype=float32)
    """
    return chain(scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype),
                 scale_by_learning_rate(learning_rate))


def adamax(learning_rate, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> GradientTransformation:
    """AdaMax (Kingma & Ba, 2014): ``m = b1 m + (1-b1) g``, ``v = max(b2 v, |g| + eps)``,
    ``u = -lr m / ((1-b1^t) v)``.

    >>> opt = adamax(0.01)
    >>> opt.update(fnp.asarray([3.0]), opt.init(fnp.zeros(1)))[0]
    Array([-0.01], dtype=float32)
    """
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate, decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
            eps_in_sqrt: bool = True, centered: bool = False, momentum=None,
            nesterov: bool = False, bias_correction: bool = False) -> GradientTransformation:
    """RMSProp (Hinton, 2012): ``v = decay v + (1-decay) g^2``,
    ``u = -lr g / sqrt(v + eps)``; ``centered`` divides by ``sqrt(v - m^2 + eps)`` with
    ``m = decay m + (1-decay) g``; ``momentum`` then applies ``trace`` to ``u``.

    >>> opt = rmsprop(0.01)
    >>> opt.update(fnp.asarray([1.0]), opt.init(fnp.zeros(1)))[0]  # -0.01 / sqrt(0.1)
    Array([-0.03162277], dtype=float32)
    """
    if centered:
        if bias_correction:
            raise ValueError("rmsprop: bias_correction is only supported with centered=False")
        block = scale_by_stddev(decay, eps, initial_scale, eps_in_sqrt)
    else:
        block = scale_by_rms(decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    return chain(block, scale_by_learning_rate(learning_rate),
                 trace(momentum, nesterov) if momentum is not None else identity())


def adagrad(learning_rate, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformation:
    """Adagrad (Duchi et al., 2011): ``s = s + g^2`` (from ``initial_accumulator_value``),
    ``u = -lr g / sqrt(s + eps)``.

    >>> opt = adagrad(0.1, initial_accumulator_value=0.0, eps=0.0)
    >>> opt.update(fnp.asarray([2.0]), opt.init(fnp.zeros(1)))[0]
    Array([-0.1], dtype=float32)
    """
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def adadelta(learning_rate=None, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0) -> GradientTransformation:
    """Adadelta (Zeiler, 2012): ``g' = g + weight_decay p``,
    ``E[g^2] = rho E[g^2] + (1-rho) g'^2``, ``d = sqrt(E[x^2] + eps) / sqrt(E[g^2] + eps) g'``,
    ``E[x^2] = rho E[x^2] + (1-rho) d^2``, ``u = -lr d`` (``lr = 1`` when None, as in the
    paper).

    >>> opt = adadelta()
    >>> p = fnp.zeros(1)
    >>> opt.update(fnp.asarray([1.0]), opt.init(p), p)[0]  # -sqrt(1e-6) / sqrt(0.1 + 1e-6)
    Array([-0.00316226], dtype=float32)
    """
    return chain(add_decayed_weights(weight_decay) if weight_decay else identity(),
                 scale_by_adadelta(rho, eps),
                 scale_by_learning_rate(1.0 if learning_rate is None else learning_rate))


def lamb(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         eps_root: float = 0.0, weight_decay: float = 0.0, mask=None) -> GradientTransformation:
    """LAMB (You et al., 2019), per leaf: ``a = m_hat / (sqrt(v_hat + eps_root) + eps) +
    weight_decay p`` (Adam's direction plus decay), ``u = -lr (|p| / |a|) a`` (ratio 1
    where a norm is 0).

    >>> opt = lamb(0.1)
    >>> p = fnp.asarray([3.0, 4.0])
    >>> opt.update(fnp.asarray([1.0, 1.0]), opt.init(p), p)[0]  # |p| = 5, |a| = sqrt(2)
    Array([-0.35355338, -0.35355338], dtype=float32)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_trust_ratio(),
                 scale_by_learning_rate(learning_rate))


def lars(learning_rate, weight_decay: float = 0.0, weight_decay_mask=True,
         trust_coefficient: float = 0.001, eps: float = 0.0, trust_ratio_mask=True,
         momentum: float = 0.9, nesterov: bool = False) -> GradientTransformation:
    """LARS (You et al., 2017), per leaf: ``g' = g + weight_decay p``,
    ``a = trust_coefficient |p| / (|g'| + eps) g'`` (ratio 1 where a norm is 0), then
    momentum ``m = -lr a + momentum m``, ``u = m``. The masks (True, a bool pytree or a
    function of params) pick the leaves that get decay / the trust ratio.

    >>> opt = lars(1.0, momentum=0.0, trust_coefficient=0.1)
    >>> p = fnp.asarray([3.0, 4.0])
    >>> opt.update(fnp.asarray([0.0, 2.0]), opt.init(p), p)[0]  # 0.1 * 5 / 2 * g
    Array([ 0. , -0.5], dtype=float32)
    """
    return chain(add_decayed_weights(weight_decay, weight_decay_mask),
                 masked(scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
                        trust_ratio_mask),
                 scale_by_learning_rate(learning_rate), trace(momentum, nesterov))


def lion(learning_rate, b1: float = 0.9, b2: float = 0.99, mu_dtype=None,
         weight_decay: float = 1e-3, mask=None) -> GradientTransformation:
    """Lion (Chen et al., 2023): ``u = -lr (sign(b1 m + (1-b1) g) + weight_decay p)``, then
    ``m = b2 m + (1-b2) g``.

    >>> opt = lion(0.1, weight_decay=0.0)
    >>> p = fnp.zeros(2)
    >>> opt.update(fnp.asarray([3.0, -1.0]), opt.init(p), p)[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(scale_by_lion(b1, b2, mu_dtype), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
