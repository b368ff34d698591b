"""An MLP classifier: Dense 512 ReLU -> Dense 10, RMSprop (lr 1e-3), cross-entropy,
batch 128, on scikit-learn's digits (the default, 20 epochs of 12 batches) or
Fashion-MNIST (5 epochs of 469 batches).

The training step (``value_and_grad`` of the loss, RMSprop's update, ``apply_updates``) is
one ``jit`` with the parameters and the optimizer state donated. Each epoch prints its
test accuracy, seconds and examples/second; the run writes a training-curve PNG and a
checkpoint to ``--out`` (``--resume`` continues from it).

Run: ``python examples/mlp_classifier.py [--data fashion-mnist] [--epochs 5] [--resume]``
(Fashion-MNIST: ``apt-get install dataset-fashion-mnist``, or ``--data-dir DIR`` with the
four IDX files). ``python -m bench.mlp_epoch`` times an epoch against hand-written NumPy.
"""
from __future__ import annotations

import nnlib.functional as F
import optim
from fx import random
from nnlib import init

try:
    from examples import training
except ImportError:  # run as ``python examples/mlp_classifier.py``
    import training


def init_params(key, data, hidden: int = 512):
    """Dense layers ``{"kernel": (in, out), "bias": (out,)}`` sized from the images, drawn
    uniformly in ``±1/sqrt(in)`` (PyTorch's ``Linear`` default).

    The kernels are stored ``(in, out)``, as Keras' and Flax's ``Dense`` do, so the layer
    reads ``x @ kernel + bias``; ``nnlib.Linear``'s ``(out, in)`` layout trains as fast
    (jit computes the gradient of ``x @ W.T`` directly in ``W``'s layout): ``python -m
    bench.mlp_epoch --torch-layout`` measures it.
    """
    sizes = (int(data.x_train[0].size), hidden, len(data.classes))
    params = {}
    for name, n_in, n_out, k in zip(("hidden", "out"), sizes, sizes[1:], random.split(key)):
        kk, kb = random.split(k)
        params[name] = {"kernel": init.default_uniform(kk, (n_in, n_out), fan_in=n_in),
                        "bias": init.default_uniform(kb, (n_out,), fan_in=n_in)}
    return params


def forward(params, x):
    """Logits of a batch of images ``(B, 1, H, W)`` (or already flat ``(B, H * W)``)."""
    hidden, out = params["hidden"], params["out"]
    h = F.relu(x.reshape(x.shape[0], -1) @ hidden["kernel"] + hidden["bias"])
    return h @ out["kernel"] + out["bias"]


def main(argv=None) -> dict:
    p = training.parser(__doc__.split("\n\n")[0], epochs={"digits": 20, "fashion-mnist": 5},
                        batch_size=128, lr=1e-3)
    p.add_argument("--hidden", type=int, default=512, help="width of the hidden layer")
    args = p.parse_args(argv)
    data = training.load_data(args)
    params = init_params(random.key(args.seed), data, args.hidden)
    return training.fit("mlp", args, data, params, forward, optim.rmsprop(args.lr))


if __name__ == "__main__":
    main()
