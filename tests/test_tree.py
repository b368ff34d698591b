"""fx.tree: optree in the "fx" namespace, with dataclass and custom-node registration."""
import collections
import dataclasses
from typing import Any, NamedTuple

import numpy as np
import optree
import pytest

import fx
import fx.numpy as fnp
from fx import tree


class Point(NamedTuple):
    x: Any
    y: Any


@tree.register_dataclass
@dataclasses.dataclass(frozen=True)
class Params:
    weight: Any
    bias: Any


@tree.register_dataclass(meta_fields=["name", "size"])
@dataclasses.dataclass(frozen=True)
class Layer:
    weight: Any
    name: str = "dense"
    size: int = 3


@tree.register_dataclass(data_fields=["value"])
@dataclasses.dataclass
class Counted:
    value: Any
    count: int = 0

    def __post_init__(self):
        if isinstance(self.value, str):
            raise AssertionError("unflatten must not call __init__")


class Box:
    def __init__(self, content, label):
        self.content, self.label = content, label


tree.register_node(Box, lambda b: ((b.content,), b.label), lambda label, ch: Box(ch[0], label))

NESTED = {"b": [1, (2, 3)], "a": Point(4, {"z": 5, "y": 6}), "c": None}


def test_leaves_use_sorted_keys_and_skip_none():
    assert tree.leaves(NESTED) == [4, 6, 5, 1, 2, 3]
    assert tree.leaves({"b": 1, "a": 2}) == [2, 1]
    assert tree.leaves([None, (None,)]) == []


def test_flatten_unflatten_round_trip():
    leaves, treedef = tree.flatten(NESTED)
    assert tree.unflatten(treedef, leaves) == NESTED
    rebuilt = tree.unflatten(treedef, [str(v) for v in leaves])
    assert rebuilt["a"] == Point("4", {"z": "5", "y": "6"})
    assert isinstance(rebuilt["a"], Point) and rebuilt["c"] is None
    assert treedef.num_leaves == 6


def test_ordered_and_default_dicts_are_nodes():
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    assert tree.leaves(od) == [1, 2]  # OrderedDict keeps its order
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    out = tree.map(lambda v: v * 2, dd)
    assert isinstance(out, collections.defaultdict) and out == {"a": 4, "b": 2}


def test_arrays_are_leaves():
    x = fnp.ones((2, 3))
    leaves = tree.leaves({"w": x, "b": [fnp.zeros(3)]})
    assert len(leaves) == 2 and all(isinstance(v, fx.Array) for v in leaves)
    assert leaves[1] is x


def test_map_over_several_trees():
    a = {"x": fnp.ones(2), "y": (1.0, 2.0)}
    b = {"x": fnp.full(2, 3.0), "y": (10.0, 20.0)}
    out = tree.map(lambda u, v: u + v, a, b)
    np.testing.assert_array_equal(np.asarray(out["x"]), [4.0, 4.0])
    assert out["y"] == (11.0, 22.0)


def test_map_with_is_leaf():
    out = tree.map(lambda p: p.x + p.y, [Point(1, 2), Point(3, 4)],
                   is_leaf=lambda n: isinstance(n, Point))
    assert out == [3, 7]


def test_structure_mismatch_raises():
    with pytest.raises(ValueError):
        tree.map(lambda u, v: u + v, {"a": 1, "b": 2}, {"a": 1, "c": 2})
    with pytest.raises(ValueError):
        tree.map(lambda u, v: u + v, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        tree.unflatten(tree.structure([0, 0]), [1, 2, 3])
    assert tree.structure((1, {"a": 2})) == tree.structure((5, {"a": 6}))
    assert tree.structure((1, 2)) != tree.structure([1, 2])


def test_dataclass_all_fields_are_children():
    p = Params(weight=fnp.ones(2), bias=0.5)
    leaves, treedef = tree.flatten(p)
    assert len(leaves) == 2 and leaves[1] == 0.5
    doubled = tree.map(lambda v: v * 2, p)
    assert isinstance(doubled, Params) and doubled.bias == 1.0
    np.testing.assert_array_equal(np.asarray(doubled.weight), [2.0, 2.0])
    assert tree.unflatten(treedef, leaves) == p


def test_dataclass_meta_fields_live_in_the_treedef():
    layer = Layer(weight=[1.0, 2.0], name="out", size=7)
    assert tree.leaves(layer) == [1.0, 2.0]
    out = tree.map(lambda v: -v, layer)
    assert out == Layer(weight=[-1.0, -2.0], name="out", size=7)
    assert tree.structure(layer) != tree.structure(Layer(weight=[1.0, 2.0], name="other", size=7))


def test_dataclass_data_fields_only_and_no_init_on_unflatten():
    c = Counted(value=(1, 2), count=3)
    assert tree.leaves(c) == [1, 2]
    out = tree.map(str, c)  # __post_init__ would raise on strings
    assert out.value == ("1", "2") and out.count == 3


def test_register_dataclass_errors():
    class NotADataclass:
        pass
    with pytest.raises(TypeError, match="not a dataclass"):
        tree.register_dataclass(NotADataclass)

    @dataclasses.dataclass
    class Two:
        a: int
        b: int
    with pytest.raises(ValueError, match="each field"):
        tree.register_dataclass(Two, data_fields=["a"], meta_fields=["a"])


def test_custom_node():
    box = Box([1, 2], label="k")
    leaves, treedef = tree.flatten({"box": box, "n": 3})
    assert leaves == [1, 2, 3]
    out = tree.unflatten(treedef, [10, 20, 30])
    assert isinstance(out["box"], Box) and out["box"].content == [10, 20]
    assert out["box"].label == "k"


def test_registrations_stay_in_the_fx_namespace():
    assert optree.tree_leaves(Box(1, "x")) != [1]  # the global namespace does not know Box
    assert tree.leaves(Box(1, "x")) == [1]


def test_reduce_all_any():
    t = {"a": 1, "b": (2, 3)}
    assert tree.reduce(lambda u, v: u + v, t) == 6
    assert tree.reduce(lambda u, v: u + v, t, 10) == 16
    assert tree.all(t) and not tree.all([1, 0])
    assert tree.any([0, (0, 1)]) and not tree.any([0, None])
    assert tree.all([]) and not tree.any([])
