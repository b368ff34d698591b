"""Data for the classifier examples: scikit-learn's digits and Fashion-MNIST.

Both loaders return a :class:`Dataset` of NumPy arrays: images ``float32`` of shape
``(N, 1, H, W)`` (channels first, as ``nnlib.Conv2d`` takes them; ``x.reshape(len(x), -1)``
for an MLP) and labels ``int32`` in ``[0, 10)``.

- ``load_digits(seed=0)``: the 1,797 8x8 digits bundled with scikit-learn (no download),
  split into train and test sets by a seeded permutation within each class (the same
  split for the same seed, every class keeping its share in both), each pixel
  standardised with the training set's mean and standard deviation.
- ``load_fashion_mnist(data_dir=None)``: the 60,000 + 10,000 28x28 images of
  Fashion-MNIST, scaled to ``[0, 1]``, read from IDX files, gzipped
  (``train-images-idx3-ubyte.gz``) or plain (``train-images-idx3-ubyte``), in ``data_dir``
  or, by default, in ``/usr/share/datasets/fashion-mnist`` where the Debian package
  ``dataset-fashion-mnist`` installs them. A missing file raises ``FileNotFoundError``
  naming it and the package.

``batches(x, y, batch_size, rng)`` yields shuffled mini-batches (the last one smaller).

Example:
    >>> data = load_digits()
    >>> data.x_train.shape, data.x_train.dtype.name, data.y_train.dtype.name
    ((1438, 1, 8, 8), 'float32', 'int32')
    >>> len(data.x_test), round(float(data.x_train.mean()), 6)
    (359, 0.0)
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pathlib
from typing import NamedTuple

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
# IDX type codes (the third byte of the magic number) and the big-endian dtypes they name
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class Dataset(NamedTuple):
    x_train: np.ndarray   # float32 (N, 1, H, W)
    y_train: np.ndarray   # int32 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple        # class names, indexed by label
    name: str


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8x8 digits split in each class by a permutation drawn from ``seed``;
    pixels standardised with the training set's statistics (the border pixels, nearly
    always 0, get a standard deviation of at least 1/16 of the 0..16 range)."""
    pixels, labels = _digits_table()
    images = pixels.reshape(-1, 1, 8, 8) / 16.0
    labels = labels.astype(np.int32)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[:round(test_fraction * len(members))]] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
    mean = images[train_idx].mean(axis=0)
    std = np.maximum(images[train_idx].std(axis=0), 1.0 / 16.0)
    images = ((images - mean) / std).astype(np.float32)
    return Dataset(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
                   tuple(str(c) for c in range(10)), "digits")


def _digits_table():
    """(pixels, labels) of scikit-learn's bundled ``digits.csv.gz``, read directly (importing
    scikit-learn takes seconds); ``sklearn.datasets.load_digits`` if the file moved."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the digits data set comes with scikit-learn: "
                                  "pip install scikit-learn (or pip install -e '.[examples]')")
    table = pathlib.Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if table.is_file():
        rows = np.loadtxt(table, delimiter=",", dtype=np.float64)
        return rows[:, :-1], rows[:, -1]
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return bunch.data, bunch.target


def _find(directory: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"Fashion-MNIST: {directory / (stem + '.gz')} (or {stem}) not found; install the "
        f"Debian package {FASHION_MNIST_PACKAGE} (apt-get install {FASHION_MNIST_PACKAGE}), "
        f"which puts the IDX files in {FASHION_MNIST_DIR}, or pass --data-dir DIR with "
        "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")


def read_idx(path) -> np.ndarray:
    """The array in an IDX file (gzipped when its name ends in ``.gz``).

    Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32
    per dimension, then the data in C order.
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {data[:4].hex() or 'none'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = header + dtype.itemsize * int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path}: {len(data)} bytes, expected {expected} for an IDX array "
                         f"of shape {shape} and type {dtype.name}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(data_dir=None) -> Dataset:
    """Fashion-MNIST from IDX files in ``data_dir`` (default: the Debian package's folder)."""
    directory = pathlib.Path(data_dir or os.environ.get("FASHION_MNIST_DIR", FASHION_MNIST_DIR))
    arrays = {key: read_idx(_find(directory, stem)) for key, stem in FASHION_MNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"Fashion-MNIST in {directory}: {split} images {x.shape} and "
                             f"labels {y.shape} do not match")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"Fashion-MNIST in {directory}: {split} labels outside 0..9")
        arrays["x_" + split] = (x.astype(np.float32) / 255.0)[:, None]
        arrays["y_" + split] = y.astype(np.int32)
    return Dataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                   FASHION_MNIST_CLASSES, "fashion-mnist")


def load(name: str, data_dir=None, seed: int = 0) -> Dataset:
    """``"digits"`` or ``"fashion-mnist"``."""
    if name == "digits":
        return load_digits(seed)
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    raise ValueError(f"unknown dataset {name!r}: expected 'digits' or 'fashion-mnist'")


def subset(data: Dataset, train: int, test: int) -> Dataset:
    """The first ``train`` training and ``test`` test examples (smoke runs)."""
    return data._replace(x_train=data.x_train[:train], y_train=data.y_train[:train],
                         x_test=data.x_test[:test], y_test=data.y_test[:test])


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Shuffled ``(x, y)`` mini-batches covering every example once."""
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)
