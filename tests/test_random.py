"""fx.random: Threefry known answers, JAX-compatible keys, samplers' statistics, bad input."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import random
from fx.random._threefry import threefry2x32

N = 20_000
KEY = random.key(1234)


def u32(v):
    return fnp.asarray(np.uint32(v))


# Random123's known-answer tests for Threefry-2x32 with 20 rounds.
@pytest.mark.parametrize("key, counter, expected", [
    ((0x0, 0x0), (0x0, 0x0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_known_answers(key, counter, expected):
    out = threefry2x32(*map(u32, key), *map(u32, counter))
    assert [int(o) for o in out] == list(expected)
    assert all(o.dtype == np.uint32 for o in out)


def test_threefry_vectorises_over_counters():
    x1 = fnp.asarray(np.array([0, 0xFFFFFFFF], np.uint32))
    y0, y1 = threefry2x32(u32(0), u32(0), u32(0), x1)
    assert y0.shape == (2,) and (int(y0[0]), int(y1[0])) == (0x6B200159, 0x99BA4EFE)


def test_keys_and_splits_match_jax():
    # jax.random.PRNGKey / split with JAX's default (partitionable) Threefry.
    assert random.key(0).tolist() == [0, 0] and random.PRNGKey(42).tolist() == [0, 42]
    assert random.key(-1).tolist() == [0, 0xFFFFFFFF]
    assert random.key(2 ** 40 + 5).tolist() == [256, 5]
    assert random.key(fnp.asarray(-1, dtype=fnp.int64)).tolist() == [0xFFFFFFFF] * 2
    assert random.split(random.key(0)).tolist() == [[1797259609, 2579123966],
                                                    [928981903, 3453687069]]
    assert abs(float(random.uniform(random.key(0))) - 0.947667) < 1e-6


def test_key_dtype_and_shape():
    k = random.key(3)
    assert k.dtype == np.uint32 and k.shape == (2,)
    assert random.split(k, 5).shape == (5, 2)
    assert random.split(k, (2, 3)).shape == (2, 3, 2)
    assert random.split(k, 0).shape == (0, 2)


def test_same_key_same_numbers_and_numpy_keys_accepted():
    a = random.normal(KEY, (100,))
    b = random.normal(fx.asarray(np.asarray(KEY)), (100,))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(random.bits(np.asarray(KEY), (4,))),
                                  np.asarray(random.bits(KEY, (4,))))


def test_split_keys_give_different_streams():
    keys = random.split(KEY, 4)
    draws = [np.asarray(random.bits(k, (64,))) for k in keys]
    for i in range(4):
        for j in range(i + 1, 4):
            assert (draws[i] != draws[j]).mean() > 0.99
    assert len({tuple(k.tolist()) for k in keys} | {tuple(KEY.tolist())}) == 5


def test_fold_in_is_deterministic_and_distinct():
    a, b = random.fold_in(KEY, 7), random.fold_in(KEY, 7)
    assert a.tolist() == b.tolist() and a.dtype == np.uint32 and a.shape == (2,)
    assert random.fold_in(KEY, 8).tolist() != a.tolist()
    assert random.fold_in(KEY, fnp.asarray(7)).tolist() == a.tolist()
    assert random.fold_in(random.key(0), 1).tolist() == random.split(random.key(0))[1].tolist()


@pytest.mark.parametrize("dtype", [fnp.uint8, fnp.uint16, fnp.uint32, fnp.uint64])
def test_bits_dtypes_cover_the_range(dtype):
    x = np.asarray(random.bits(KEY, (4096,), dtype))
    assert x.dtype == dtype
    top = float(np.iinfo(dtype).max)
    assert x.min() < 0.01 * top and x.max() > 0.99 * top


@pytest.mark.parametrize("dtype", [fnp.float16, fnp.float32, fnp.float64])
def test_uniform_range_mean_var(dtype):
    x = np.asarray(random.uniform(KEY, (N,), dtype)).astype(np.float64)
    assert random.uniform(KEY, (3,), dtype).dtype == dtype
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.005


def test_uniform_bounds_broadcast():
    lo, hi = fnp.asarray([0.0, 10.0, -5.0]), fnp.asarray([1.0, 20.0, 5.0])
    x = np.asarray(random.uniform(KEY, (N // 3, 3), minval=lo, maxval=hi))
    assert (x >= [0, 10, -5]).all() and (x < [1, 20, 5]).all()
    assert np.allclose(x.mean(axis=0), [0.5, 15, 0], atol=0.2)


@pytest.mark.parametrize("dtype", [fnp.float32, fnp.float64])
def test_normal_moments(dtype):
    x = np.asarray(random.normal(KEY, (N,), dtype))
    assert x.dtype == dtype and np.isfinite(x).all()
    assert abs(x.mean()) < 0.03 and abs(x.var() - 1) < 0.04
    assert abs((x ** 3).mean()) < 0.1 and abs((x ** 4).mean() - 3) < 0.2


def test_truncated_normal_within_bounds():
    x = np.asarray(random.truncated_normal(KEY, -0.5, 1.5, (N,)))
    assert x.min() >= -0.5 and x.max() <= 1.5
    assert abs(x.mean() - 0.3556) < 0.02  # mean of N(0,1) truncated to [-0.5, 1.5]
    y = random.truncated_normal(KEY, fnp.asarray([-1.0, 0.0]), 1.0, dtype=fnp.float64)
    assert y.shape == (2,) and y.dtype == np.float64


def test_bernoulli_frequency():
    x = np.asarray(random.bernoulli(KEY, 0.3, (N,)))
    assert x.dtype == np.bool_ and abs(x.mean() - 0.3) < 0.015
    p = fnp.asarray([0.0, 1.0, 0.5])
    assert random.bernoulli(KEY, p).shape == (3,)
    assert random.bernoulli(KEY, p).tolist()[:2] == [False, True]


def test_randint_range_and_counts():
    x = np.asarray(random.randint(KEY, (N,), -3, 5))
    assert x.dtype == np.int32 and x.min() == -3 and x.max() == 4
    counts = np.bincount(x + 3)
    assert np.all(np.abs(counts / N - 1 / 8) < 0.01)


def test_randint_edge_cases_follow_jax():
    assert random.randint(KEY, (4,), 5, 5).tolist() == [5] * 4  # maxval <= minval: minval
    assert random.randint(KEY, (4,), 5, 2).tolist() == [5] * 4
    u8 = np.asarray(random.randint(KEY, (2000,), 0, 256, fnp.uint8))  # maxval clipped to dtype
    assert u8.dtype == np.uint8 and u8.max() > 250
    full = np.asarray(random.randint(KEY, (2000,), -2 ** 31, 2 ** 31))
    assert full.min() < -2 ** 30 and full.max() > 2 ** 30
    big = np.asarray(random.randint(KEY, (100,), 0, 2 ** 40, fnp.int64))
    assert big.dtype == np.int64 and big.max() > 2 ** 36
    bounds = np.asarray(random.randint(KEY, (500, 2), fnp.asarray([0, 100]), fnp.asarray([2, 103])))
    assert set(bounds[:, 0]) == {0, 1} and set(bounds[:, 1]) == {100, 101, 102}


def test_permutation_validity():
    p = np.asarray(random.permutation(KEY, 50))
    assert sorted(p) == list(range(50)) and not (p == np.arange(50)).all()
    x = fnp.arange(12).reshape(3, 4)
    rows = np.asarray(random.permutation(KEY, x, axis=1))
    assert (np.sort(rows, axis=1) == np.arange(12).reshape(3, 4)).all()
    assert (rows - rows[:, :1] == rows[0] - rows[0, 0]).all()  # one permutation for all rows
    indep = np.asarray(random.permutation(KEY, fnp.arange(400).reshape(2, 200), axis=1,
                                          independent=True))
    assert (np.sort(indep, axis=1) == np.arange(400).reshape(2, 200)).all()
    assert not (indep[1] - indep[0] == 200).all()


def test_choice():
    assert sorted(np.asarray(random.choice(KEY, 20, (20,), replace=False))) == list(range(20))
    picks = np.asarray(random.choice(KEY, fnp.arange(10.0) * 2, (7,), replace=False))
    assert len(set(picks)) == 7 and set(picks) <= set(range(0, 20, 2))
    with_rep = np.asarray(random.choice(KEY, 4, (N,)))
    assert set(with_rep) == {0, 1, 2, 3}
    p = fnp.asarray([0.1, 0.6, 0.0, 0.3])
    freq = np.bincount(np.asarray(random.choice(KEY, 4, (N,), p=p)), minlength=4) / N
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.0, 0.3], atol=0.015)
    no_rep = np.asarray(random.choice(KEY, 4, (3,), replace=False, p=p))
    assert len(set(no_rep)) == 3 and 2 not in no_rep
    table = fnp.arange(12).reshape(3, 4)
    assert random.choice(KEY, table, (5, 2), axis=1).shape == (3, 5, 2)
    assert random.choice(KEY, 3, (0,)).shape == (0,)


def test_categorical_frequencies_match_softmax():
    logits = np.array([0.0, 1.0, 2.0, -1.0], np.float32)
    draws = np.asarray(random.categorical(KEY, fnp.asarray(logits), shape=(N,)))
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / N, softmax, atol=0.015)
    batched = random.categorical(KEY, fnp.zeros((2, 3, 4)), axis=1, shape=(5, 2, 4))
    assert batched.shape == (5, 2, 4) and batched.dtype == np.int32
    assert int(np.asarray(batched).max()) <= 2


def test_gumbel_and_exponential_moments():
    g = np.asarray(random.gumbel(KEY, (N,)))
    assert abs(g.mean() - np.euler_gamma) < 0.03 and abs(g.var() - np.pi ** 2 / 6) < 0.1
    e = np.asarray(random.exponential(KEY, (N,), fnp.float64))
    assert e.dtype == np.float64 and e.min() >= 0
    assert abs(e.mean() - 1) < 0.03 and abs(e.var() - 1) < 0.08


@pytest.mark.parametrize("call", [
    lambda: random.uniform(fnp.zeros(2)),
    lambda: random.normal(np.array([1, 2, 3], np.uint32)),
    lambda: random.split(5),
    lambda: random.key(1.5),
    lambda: random.key(fnp.zeros(2, dtype=fnp.int32)),
    lambda: random.key(True),
    lambda: random.uniform(KEY, dtype=fnp.int32),
    lambda: random.normal(KEY, dtype=fnp.complex64),
    lambda: random.randint(KEY, (2,), 0, 3, dtype=fnp.float32),
    lambda: random.bits(KEY, (2,), fnp.int32),
    lambda: random.permutation(KEY, 2.5),
    lambda: random.fold_in(KEY, 1.5),
    lambda: random.uniform(KEY, "3"),
], ids=["float-key", "wrong-shape-key", "int-key", "float-seed", "array-seed", "bool-seed",
        "uniform-int-dtype", "normal-complex", "randint-float-dtype", "bits-signed",
        "permutation-float", "fold-in-float", "bad-shape"])
def test_type_errors(call):
    with pytest.raises(TypeError, match=r"random\.\w+"):
        call()


@pytest.mark.parametrize("call", [
    lambda: random.uniform(KEY, (2,), minval=fnp.zeros(3)),
    lambda: random.bernoulli(KEY, fnp.full(3, 0.5), (2,)),
    lambda: random.randint(KEY, (2,), fnp.zeros(3, dtype=fnp.int32), 5),
    lambda: random.choice(KEY, 3, (5,), replace=False),
    lambda: random.choice(KEY, 0, (2,)),
    lambda: random.choice(KEY, 3, p=fnp.ones(4)),
    lambda: random.categorical(KEY, fnp.zeros((2, 3)), shape=(4,)),
    lambda: random.permutation(KEY, fnp.zeros((2, 3)), axis=2),
    lambda: random.normal(KEY, (-1,)),
], ids=["uniform-bounds", "bernoulli-p", "randint-bounds", "choice-too-many", "choice-empty",
        "choice-p-shape", "categorical-shape", "permutation-axis", "negative-shape"])
def test_value_errors(call):
    with pytest.raises(ValueError, match=r"random\.\w+"):
        call()


@pytest.mark.parametrize("sample", [
    lambda k: random.split(k, 3),
    lambda k: random.fold_in(k, 5),
    lambda k: random.bits(k, (4,), fnp.uint64),
    lambda k: random.uniform(k, (5,), fnp.float64, -2.0, 3.0),
    lambda k: random.normal(k, (5,)),
    lambda k: random.truncated_normal(k, -1.0, 1.0, (5,)),
    lambda k: random.bernoulli(k, 0.4, (5,)),
    lambda k: random.randint(k, (5,), -10, 10),
    lambda k: random.permutation(k, fnp.arange(6.0)),
    lambda k: random.choice(k, 5, (3,), p=fnp.asarray([0.1, 0.2, 0.3, 0.2, 0.2])),
    lambda k: random.choice(k, 5, (3,), replace=False),
    lambda k: random.categorical(k, fnp.zeros((2, 4))),
], ids=["split", "fold_in", "bits", "uniform", "normal", "truncated_normal", "bernoulli",
        "randint", "permutation", "choice-p", "choice-no-replace", "categorical"])
def test_samplers_trace_through_primitives(sample):
    from tests.test_trace_stack import record
    traced, log = record(sample, KEY)
    np.testing.assert_array_equal(np.asarray(traced), np.asarray(sample(KEY)))
    assert {"add", "xor", "shift_left", "shift_right", "or"} <= {name for _, name in log}


def test_traced_seed():
    from tests.test_trace_stack import record
    for seed in (np.int32(-7), np.int64(2 ** 40 + 3)):
        traced, _ = record(random.key, seed)
        assert np.asarray(traced).tolist() == random.key(int(seed)).tolist()
