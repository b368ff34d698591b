"""The classifier and sequence examples in smoke mode, the Fashion-MNIST IDX loader on a
few hundred images written here, and checkpoint resumption."""
import gzip
import importlib
import struct

import numpy as np
import pytest

datasets = importlib.import_module("examples.datasets")
mlp = importlib.import_module("examples.mlp_classifier")
cnn = importlib.import_module("examples.cnn_classifier")
seq = importlib.import_module("examples.sequence_model")


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    """An IDX file written from its specification (independently of the reader)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n)
                                                        for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def fake_fashion(directory, n_train=320, n_test=128, seed=0):
    """Learnable 28x28 images: class c lights a 4x4 block at a place of its own (plus
    noise); the training files are gzipped, the test files plain (both forms are read)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)

    def images(labels):
        x = rng.integers(0, 60, size=(len(labels), 28, 28))
        for i, c in enumerate(labels):
            r, col = 2 + 6 * (c // 4), 2 + 6 * (c % 4)
            x[i, r:r + 4, col:col + 4] = 255
        return x

    y_train, y_test = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    x_train, x_test = images(y_train), images(y_test)
    write_idx(directory / "train-images-idx3-ubyte", x_train, compress=True)
    write_idx(directory / "train-labels-idx1-ubyte", y_train, compress=True)
    write_idx(directory / "t10k-images-idx3-ubyte", x_test, compress=False)
    write_idx(directory / "t10k-labels-idx1-ubyte", y_test, compress=False)
    return x_train, y_train, x_test, y_test


def test_fashion_mnist_loader_reads_gzipped_and_plain_idx(tmp_path):
    x_train, y_train, x_test, y_test = fake_fashion(tmp_path)
    data = datasets.load_fashion_mnist(tmp_path)
    assert data.x_train.shape == (320, 1, 28, 28) and data.x_train.dtype == np.float32
    assert data.y_test.dtype == np.int32 and data.name == "fashion-mnist"
    np.testing.assert_array_equal(data.x_train[:, 0], x_train.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(data.x_test[:, 0], x_test.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.y_test, y_test)


def test_fashion_mnist_missing_file_names_it_and_the_package(tmp_path):
    fake_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte") as err:
        datasets.load_fashion_mnist(tmp_path)
    assert "dataset-fashion-mnist" in str(err.value) and "--data-dir" in str(err.value)


def test_idx_reader_rejects_truncated_and_foreign_files(tmp_path):
    write_idx(tmp_path / "a", np.zeros((3, 2, 2)), compress=False)
    (tmp_path / "b").write_bytes((tmp_path / "a").read_bytes()[:-1])
    with pytest.raises(ValueError, match="expected 28"):
        datasets.read_idx(tmp_path / "b")
    (tmp_path / "c").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "c")


def test_digits_split_is_fixed_by_the_seed_and_stratified():
    a, b, c = datasets.load_digits(0), datasets.load_digits(0), datasets.load_digits(1)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, c.y_train)
    assert len(a.x_train) + len(a.x_test) == 1797
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    np.testing.assert_allclose(a.x_train.reshape(len(a.x_train), -1).mean(axis=0), 0.0,
                               atol=1e-5)


def test_batches_cover_every_example_once():
    x, y = np.arange(10)[:, None], np.arange(10)
    seen = [b for _, b in datasets.batches(x, y, 4, np.random.default_rng(0))]
    assert [len(b) for b in seen] == [4, 4, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), y)


def test_mlp_smoke_on_digits(tmp_path):
    r = mlp.main(["--smoke", "--out", str(tmp_path)])
    assert r["final_loss"] < r["initial_loss"] and r["test_accuracy"] > 0.5
    assert (tmp_path / "mlp_digits.png").stat().st_size > 1000
    assert (tmp_path / "mlp_digits.safetensors").is_file()
    assert r["examples_per_second"] > 0


def test_mlp_on_fashion_mnist_idx_files(tmp_path):
    fake_fashion(tmp_path / "data")
    r = mlp.main(["--smoke", "--data", "fashion-mnist", "--data-dir", str(tmp_path / "data"),
                  "--epochs", "3", "--out", str(tmp_path / "out")])
    assert r["test_accuracy"] > 0.9  # the blocks are easy to tell apart
    assert (tmp_path / "out" / "mlp_fashion-mnist.png").is_file()


def test_resume_continues_exactly_where_the_checkpoint_stopped(tmp_path):
    common = ["--smoke", "--seed", "3"]
    whole = mlp.main(common + ["--epochs", "3", "--out", str(tmp_path / "whole")])
    mlp.main(common + ["--epochs", "1", "--out", str(tmp_path / "parts")])
    resumed = mlp.main(common + ["--epochs", "3", "--resume", "--out", str(tmp_path / "parts")])
    assert resumed["epochs"] == 3 and len(resumed["history"]["test_accuracy"]) == 3
    np.testing.assert_allclose(resumed["history"]["step_loss"], whole["history"]["step_loss"],
                               rtol=1e-6)
    for name in ("hidden", "out"):
        np.testing.assert_array_equal(np.asarray(resumed["params"][name]["kernel"]),
                                      np.asarray(whole["params"][name]["kernel"]))
    with pytest.raises(ValueError, match="nothing to train"):
        mlp.main(common + ["--epochs", "3", "--resume", "--out", str(tmp_path / "parts")])


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    mlp.main(["--smoke", "--epochs", "1", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="expected float32"):
        mlp.main(["--smoke", "--epochs", "2", "--hidden", "32", "--resume", "--out",
                  str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="--resume"):
        mlp.main(["--smoke", "--resume", "--out", str(tmp_path / "empty")])


def test_cnn_smoke_on_digits(tmp_path):
    r = cnn.main(["--smoke", "--epochs", "4", "--out", str(tmp_path)])
    assert r["final_loss"] < r["initial_loss"]
    assert (tmp_path / "cnn_digits.png").is_file()


def test_cnn_on_fashion_mnist_idx_files(tmp_path):
    fake_fashion(tmp_path / "data", n_train=256, n_test=64)
    r = cnn.main(["--smoke", "--data", "fashion-mnist", "--data-dir", str(tmp_path / "data"),
                  "--epochs", "4", "--lr", "0.01", "--channels", "4", "8", "--dense", "0",
                  "--out", str(tmp_path / "out")])
    assert r["final_loss"] < r["initial_loss"] and r["test_accuracy"] > 0.6


def test_sequence_model_smoke(tmp_path):
    r = seq.main(["--smoke", "--out", str(tmp_path)])
    assert r["final_loss"] < r["initial_loss"]
    assert (tmp_path / "sequence_sum5.png").is_file()


def test_sequence_batches_are_sums_of_digits():
    digits, sums = seq.make_batch(np.random.default_rng(0), 64, 4)
    assert digits.shape == (64, 4) and digits.min() >= 0 and digits.max() <= 9
    np.testing.assert_array_equal(sums, digits.sum(axis=1))
