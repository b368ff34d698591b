"""A small conv net: two Conv2d 3x3 (same padding, 16 and 32 channels) + ReLU +
MaxPool2d 2x2 blocks, then Linear 128 ReLU -> Linear 10; Adam (lr 1e-3), cross-entropy,
batch 128, on scikit-learn's digits (the default, 20 epochs) or Fashion-MNIST (7 epochs).

The model is an ``nnlib.Sequential`` of ``Conv2d``, ``ReLU``, ``MaxPool2d``, ``Flatten``
and ``Linear`` (PyTorch's layers and initialisation, images ``(N, 1, H, W)``); the whole
training step is one ``jit`` with the parameters and optimizer state donated. Each epoch
prints its test accuracy, seconds and examples/second; the run writes a training-curve
PNG and a checkpoint to ``--out`` (``--resume`` continues from it).

Run: ``python examples/cnn_classifier.py [--data fashion-mnist] [--epochs 7] [--resume]``
"""
from __future__ import annotations

import fx.numpy as fnp
import nnlib
import optim
from fx import random

try:
    from examples import training
except ImportError:  # run as ``python examples/cnn_classifier.py``
    import training


def make_model(channels=(16, 32), dense: int = 128, classes: int = 10) -> nnlib.Sequential:
    """conv(c1)-relu-pool-conv(c2)-relu-pool-flatten-[linear(dense)-relu]-linear(classes)."""
    c1, c2 = channels
    layers = [nnlib.Conv2d(c1, 3, padding=1), nnlib.ReLU(), nnlib.MaxPool2d(2),
              nnlib.Conv2d(c2, 3, padding=1), nnlib.ReLU(), nnlib.MaxPool2d(2),
              nnlib.Flatten()]
    if dense:
        layers += [nnlib.Linear(dense), nnlib.ReLU()]
    return nnlib.Sequential(*layers, nnlib.Linear(classes))


def main(argv=None) -> dict:
    p = training.parser(__doc__.split("\n\n")[0], epochs={"digits": 20, "fashion-mnist": 7},
                        batch_size=128, lr=1e-3)
    p.add_argument("--channels", type=int, nargs=2, default=(16, 32), metavar=("C1", "C2"),
                   help="output channels of the two convolutions")
    p.add_argument("--dense", type=int, default=128,
                   help="width of the hidden Linear layer of the head (0: none)")
    args = p.parse_args(argv)
    data = training.load_data(args)
    model = make_model(tuple(args.channels), args.dense, len(data.classes))
    params, state = model.init(random.key(args.seed), fnp.asarray(data.x_train[:1]))

    def forward(params, x):  # no layer here has state (running statistics) to update
        return model.apply(params, state, x)[0]
    print(nnlib.summary(model, random.key(args.seed), fnp.asarray(data.x_train[:1])))
    return training.fit("cnn", args, data, params, forward, optim.adam(args.lr))


if __name__ == "__main__":
    main()
