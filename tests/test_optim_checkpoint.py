"""optim.checkpoint: round trips, template checks, corrupt files, crash-safe writes."""
import collections
import json
import os
import pathlib
import types
from typing import Any, NamedTuple

import numpy as np
import pytest
import safetensors.numpy

import fx
import fx.numpy as fnp
from fx import tree
from optim.base import EmptyState, identity
from optim.checkpoint import load, save
from optim.combine import chain


class AdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class OtherState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def params():
    return {"dense": {"w": fx.asarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
                      "b": fnp.zeros(3)},
            "scale": fx.asarray(np.float64(2.5))}


def state_tree():
    p = params()
    return {"params": p,
            "opt_state": (AdamState(fnp.asarray(7), tree.map(lambda x: x + 1, p),
                                    tree.map(lambda x: x * 0.5, p)), EmptyState(), None),
            "step": 12, "lr": 1e-3, "done": False,
            "extra": [fx.asarray(np.array([True, False])), fnp.asarray([1, 2], dtype=fnp.int32),
                      np.arange(4, dtype=np.uint8), np.float16(1.5)]}


def assert_same(got, want):
    """Same structure (container types included), leaf types, dtypes, shapes and values."""
    assert tree.structure(got) == tree.structure(want)
    for g, w in zip(tree.leaves(got), tree.leaves(want)):
        if isinstance(w, (bool, int, float)):
            assert type(g) is type(w) and g == w
        else:
            assert isinstance(g, fx.Array)
            assert g.dtype == np.asarray(w).dtype and g.shape == np.shape(w)
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    save(path, state_tree())
    return path


def test_round_trip_with_template(ckpt):
    assert_same(load(ckpt, template=state_tree()), state_tree())


def test_round_trip_without_template_gives_plain_tuples(ckpt):
    got = load(ckpt)
    assert type(got["opt_state"][0]) is tuple and got["opt_state"][1] == ()
    want = state_tree()
    want["opt_state"] = (tuple(want["opt_state"][0]), (), None)
    assert_same(got, want)
    assert list(got) == list(want)  # dict key order is kept


def test_template_rebuilds_namedtuples_of_a_real_optimizer_state(tmp_path):
    opt = chain(identity(), identity())
    state = (AdamState(fnp.asarray(0), params(), params()), opt.init(params()))
    save(tmp_path / "s", state)
    got = load(tmp_path / "s", template=state)
    assert type(got[0]) is AdamState and got[1] == (EmptyState(), EmptyState())
    assert_same(got, state)


@pytest.mark.parametrize("value", [
    fnp.asarray(3.0), fnp.asarray([], dtype=fnp.float32), fnp.zeros((0, 4), dtype=fnp.int32),
    fx.asarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    fx.asarray(np.array([1 + 2j], dtype=np.complex64)), 7, -2**62, 0.1, True, None,
    [], (), {}, [None, ()], {1: 2.0, "a": [3]},
])
def test_single_values_and_edge_trees(tmp_path, value):
    save(tmp_path / "v", value)
    assert_same(load(tmp_path / "v", template=value), value)
    assert_same(load(tmp_path / "v"), value)


def test_numpy_leaves_come_back_as_fx_arrays(tmp_path):
    t = {"a": np.ones((2, 2), np.float32)[:, ::-1], "b": np.int32(4)}  # non-contiguous view
    save(tmp_path / "n", t)
    got = load(tmp_path / "n")
    assert isinstance(got["a"], fx.Array) and isinstance(got["b"], fx.Array)
    assert got["b"].shape == () and got["b"].dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got["a"]), t["a"])


def test_ordered_and_default_dicts_rebuilt_from_template(tmp_path):
    t = {"o": collections.OrderedDict([("z", fnp.ones(1)), ("a", fnp.zeros(1))]),
         "d": collections.defaultdict(list, {"k": fnp.ones(2)})}
    save(tmp_path / "d", t)
    got = load(tmp_path / "d", template=t)
    assert type(got["o"]) is collections.OrderedDict and list(got["o"]) == ["z", "a"]
    assert type(got["d"]) is collections.defaultdict and got["d"].default_factory is list
    assert type(load(tmp_path / "d")["o"]) is dict


def test_template_key_order_and_shape_dtype_objects(tmp_path):
    save(tmp_path / "k", {"b": fnp.ones(2), "a": fnp.zeros(3, dtype=fnp.int32)})
    spec = lambda shape, dtype: types.SimpleNamespace(shape=shape, dtype=dtype)
    got = load(tmp_path / "k", template={"a": spec((3,), np.int32), "b": spec((2,), "float32")})
    assert list(got) == ["a", "b"] and got["a"].dtype == np.int32


def test_file_is_plain_safetensors_with_readable_names(ckpt):
    tensors = safetensors.numpy.load_file(ckpt)
    assert "params.dense.w" in tensors and "opt_state.0.mu.dense.w" in tensors
    np.testing.assert_array_equal(tensors["opt_state.0.count"], 7)


def test_colliding_leaf_names_are_disambiguated(tmp_path):
    t = {"a.b": fnp.ones(1), "a": {"b": fnp.zeros(1)}, "__metadata__": fnp.ones(2)}
    save(tmp_path / "c", t)
    assert_same(load(tmp_path / "c", template=t), t)


def test_leaf_names_are_unique_even_against_a_disambiguated_name(tmp_path):
    t = {"a.b#2": fnp.full(1, 1.0), "a": {"b": fnp.full(1, 2.0)}, "a.b": fnp.full(1, 3.0)}
    save(tmp_path / "c", t)
    assert len(safetensors.numpy.load_file(tmp_path / "c")) == 3
    assert_same(load(tmp_path / "c", template=t), t)
    assert_same(load(tmp_path / "c"), t)


def test_save_with_a_basename_near_the_length_limit(tmp_path):
    path = tmp_path / ("x" * 240 + ".safetensors")  # 252 chars: the temp suffix must not add
    t = {"w": fnp.ones(2)}
    save(path, t)
    assert_same(load(path, template=t), t)
    assert os.listdir(tmp_path) == [path.name]


def test_save_overwrites_and_accepts_str_paths(tmp_path):
    path = str(tmp_path / "x.safetensors")
    save(path, {"w": fnp.ones(2)})
    save(path, {"w": fnp.zeros(3)})
    assert load(path)["w"].shape == (3,)
    assert os.listdir(tmp_path) == ["x.safetensors"]


# --------------------------------------------------------------------------- template errors

@pytest.mark.parametrize("edit, where, expected, got", [
    (lambda t: t["params"].pop("scale"), "['params']", "dict with keys ['dense']",
     "dict with keys ['dense', 'scale']"),
    (lambda t: t.__setitem__("extra", tuple(t["extra"])), "['extra']", "tuple of length 4",
     "list of length 4"),
    (lambda t: t["extra"].append(fnp.ones(1)), "['extra']", "list of length 5",
     "list of length 4"),
    (lambda t: t.__setitem__("opt_state", (OtherState(*t["opt_state"][0]), EmptyState(), None)),
     "['opt_state'][0]", "NamedTuple OtherState(count, mu, nu)",
     "NamedTuple AdamState(count, mu, nu)"),
    (lambda t: t["params"]["dense"].__setitem__("w", fnp.zeros((3, 2))),
     "['params']['dense']['w']", "float32[3,2]", "float32[2,3]"),
    (lambda t: t["params"]["dense"].__setitem__("b", fnp.zeros(3, dtype=fnp.float64)),
     "['params']['dense']['b']", "float64[3]", "float32[3]"),
    (lambda t: t["opt_state"][0].mu.__setitem__("scale", 0.0),
     "['opt_state'][0].mu['scale']", "python float", "float64[]"),
    (lambda t: t.__setitem__("step", fnp.asarray(12)), "['step']", "int32[]", "python int"),
    (lambda t: t.__setitem__("lr", 1), "['lr']", "python int", "python float"),
    (lambda t: t.__setitem__("opt_state", (t["opt_state"][0], EmptyState(), fnp.ones(1))),
     "['opt_state'][2]", "float32[1]", "None"),
])
def test_template_mismatch_names_path_expected_and_got(ckpt, edit, where, expected, got):
    template = state_tree()
    edit(template)
    with pytest.raises(ValueError) as info:
        load(ckpt, template=template)
    msg = str(info.value)
    assert f"at {where}: expected {expected}, got {got}" in msg, msg
    assert str(ckpt) in msg


def test_template_with_unusable_leaf(ckpt):
    template = state_tree()
    template["lr"] = "0.001"
    with pytest.raises(ValueError, match=r"template leaf at \['lr'\] is a str"):
        load(ckpt, template=template)


# --------------------------------------------------------------------------- corrupt files

def small_file(tmp_path):
    path = tmp_path / "small.safetensors"
    save(path, {"w": fnp.asarray([1.0, 2.0]), "s": AdamState(fnp.asarray(3), None, [0.5])})
    return path, path.read_bytes()


def header_end(data):
    return 8 + int.from_bytes(data[:8], "little")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("region", ["header", "data"])
def test_every_flipped_byte_is_an_error(tmp_path, region):
    path, data = small_file(tmp_path)
    end = header_end(data)
    positions = range(end) if region == "header" else range(end, len(data))
    assert len(positions) > 0
    bad = tmp_path / "bad"
    for i in positions:
        for mask in (0x01, 0xFF):
            b = bytearray(data)
            b[i] ^= mask
            bad.write_bytes(bytes(b))
            with pytest.raises(ValueError):
                load(bad)


def test_flipped_data_byte_names_the_leaf(tmp_path):
    path, data = small_file(tmp_path)
    b = bytearray(data)
    b[-1] ^= 0x40
    path.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="corrupt checkpoint: the data of the leaf at"):
        load(path)


def test_every_truncation_is_an_error(tmp_path):
    path, data = small_file(tmp_path)
    for n in range(len(data)):
        path.write_bytes(data[:n])
        with pytest.raises(ValueError, match="not a valid safetensors file|corrupt"):
            load(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n" * 4,
                                     bytes(range(256)) * 3, b"\x10" + b"\x00" * 7 + b"{}"])
def test_non_safetensors_files(tmp_path, content):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load(tmp_path / "f")


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "p").write_bytes(safetensors.numpy.save({"w": np.ones(2, np.float32)}))
    with pytest.raises(ValueError, match="not an fx checkpoint"):
        load(tmp_path / "p")


def rewrite(tmp_path, edit_meta, edit_tensors=lambda t: t):
    """A copy of small_file with its metadata / tensors edited (checksum recomputed)."""
    import hashlib
    path, data = small_file(tmp_path)
    meta = json.loads(data[8:header_end(data)])["__metadata__"]
    tensors = edit_tensors(safetensors.numpy.load(data))
    edit_meta(meta)
    if not meta.get("keep_sha"):
        meta["fx.tree.sha256"] = hashlib.sha256(meta["fx.tree"].encode()).hexdigest()
    path.write_bytes(safetensors.numpy.save(tensors, metadata=meta))
    return path


def test_unsupported_version(tmp_path):
    path = rewrite(tmp_path, lambda m: m.__setitem__("fx.checkpoint", "99"))
    with pytest.raises(ValueError, match="unsupported checkpoint format version '99'"):
        load(path)


def test_edited_tree_with_stale_checksum(tmp_path):
    def edit(m):
        m["fx.tree"] = m["fx.tree"].replace('"w"', '"v"')
        m["keep_sha"] = "1"
    with pytest.raises(ValueError, match="does not match its checksum"):
        load(rewrite(tmp_path, edit))


@pytest.mark.parametrize("tree_text", ['{"t": "weird"}', '[1, 2]', '{"t": "dict", "k": ["a"]}',
                                       '{"t": "leaf", "name": "nope"}', "[" * 100000])
def test_malformed_tree_metadata(tmp_path, tree_text):
    with pytest.raises(ValueError):
        load(rewrite(tmp_path, lambda m: m.__setitem__("fx.tree", tree_text)))


def test_extra_or_replaced_tensors(tmp_path):
    extra = rewrite(tmp_path, lambda m: None, lambda t: {**t, "zzz": np.ones(1)})
    with pytest.raises(ValueError, match="tensors the tree does not use: \\['zzz'\\]"):
        load(extra)
    swapped = rewrite(tmp_path, lambda m: None, lambda t: {**t, "w": np.ones(2, np.float64)})
    with pytest.raises(ValueError, match=r"leaf at \['w'\] does not match its recorded"):
        load(swapped)


# --------------------------------------------------------------------------- atomic writes

def boom(*args, **kwargs):
    raise OSError("simulated crash")


@pytest.mark.parametrize("target", ["replace", "fsync"])
def test_crash_before_rename_keeps_previous_checkpoint(tmp_path, monkeypatch, target):
    path = tmp_path / "ckpt.safetensors"
    save(path, {"w": fnp.ones(2), "step": 1})
    before = path.read_bytes()
    monkeypatch.setattr(os, target, boom)
    with pytest.raises(OSError, match="simulated crash"):
        save(path, {"w": fnp.zeros(5), "step": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left behind


def test_crash_on_first_save_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save(tmp_path / "new.safetensors", {"w": fnp.ones(2)})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("bad, error, match", [
    ({"w": "a string"}, TypeError, r"cannot save a str at \['w'\]"),
    ({"w": [object()]}, TypeError, r"cannot save a object at \['w'\]\[0\]"),
    ({(1, 2): fnp.ones(1)}, TypeError, "dict key"),
    ({"n": 2**70}, ValueError, "does not fit in int64"),
    ({"a": np.array(["x"])}, TypeError, "safetensors cannot store"),
])
def test_unsavable_trees_leave_the_file_untouched(tmp_path, bad, error, match):
    path = tmp_path / "ckpt.safetensors"
    save(path, {"w": fnp.ones(2)})
    with pytest.raises(error, match=match):
        save(path, bad)
    assert load(path)["w"].shape == (2,) and os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_pathlib_and_nested_directory(tmp_path):
    path = pathlib.Path(tmp_path) / "run" / "ckpt"
    path.parent.mkdir()
    save(path, [fnp.ones(1)])
    assert_same(load(path), [fnp.ones(1)])
