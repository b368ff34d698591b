"""Checkpoints: any pytree of arrays (params, optimizer states, step counters) in one
safetensors file, written atomically; no pickle, nothing is ever executed on load.

File format: a plain safetensors file. Each leaf is a tensor named by its path
(``"opt_state.0.mu.w"``); the header's ``__metadata__`` holds

- ``"fx.checkpoint"``: the format version (``"1"``);
- ``"fx.tree"``: JSON describing the tree. A node is ``{"t": "none"}``,
  ``{"t": "list" | "tuple", "c": [children]}``, ``{"t": "dict", "k": [keys], "c":
  [children]}`` (keys are strings or ints, in insertion order), ``{"t": "namedtuple",
  "name": type name, "fields": [...], "c": [...]}`` or ``{"t": "leaf", "name": tensor
  name, "dtype": ..., "shape": [...], "sha256": digest of the data}``, plus ``"py": "bool" |
  "int" | "float" | "complex"`` for a leaf that was a Python number;
- ``"fx.tree.sha256"``: the digest of that JSON text.

The digests make flipped bytes in the header or in the data an error instead of silently
different values. ``load`` returns fx arrays (and Python numbers where the saved tree had
them). NamedTuple types are never imported by name: with a ``template`` they are rebuilt
from the template's types (after checking the recorded name and fields); without one they
come back as plain tuples (likewise ``OrderedDict`` / ``defaultdict`` as ``dict``).
Other containers (dataclasses registered with ``fx.tree``, custom nodes) are refused by
``save`` with a ``TypeError``; convert them to dicts or NamedTuples first.

Example:
    >>> import os, tempfile
    >>> from optim.checkpoint import load, save
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "ckpt.safetensors")
    >>> save(path, {"params": {"w": fnp.ones(2)}, "step": 3})
    >>> load(path)
    {'params': {'w': Array([1., 1.], dtype=float32)}, 'step': 3}
    >>> load(path, template={"params": {"w": fnp.zeros(3)}, "step": 0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...['params']['w']: expected float32[3], got float32[2]
    >>> tmp.cleanup()
"""
from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import secrets
from typing import Any

import numpy as np
import safetensors.numpy

import fx

__all__ = ["save", "load"]

VERSION = "1"
_PY_TYPES = {bool: "bool", int: "int", float: "float", complex: "complex"}
_PY_DTYPES = {"bool": np.bool_, "int": np.int64, "float": np.float64, "complex": np.complex128}


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write ``tree`` to ``path`` (a safetensors file) atomically.

    The bytes go to a temporary file in the same directory, which is flushed, fsynced and
    then renamed over ``path`` (``os.replace``), so a crash at any point leaves either the
    previous checkpoint or the new one, never a mix, and no temporary file on error.

    Args:
        path: the file to write (conventionally ``*.safetensors``).
        tree: a pytree of dicts (str or int keys), lists, tuples, NamedTuples and ``None``
            with fx arrays, NumPy arrays/scalars or Python numbers as leaves.

    Raises:
        TypeError: for a container or leaf type that cannot be stored (the path is named).
        ValueError: for a Python int that does not fit in int64.
    """
    tensors: dict[str, np.ndarray] = {}
    node = _encode(tree, (), tensors)
    text = json.dumps(node, separators=(",", ":"))
    metadata = {"fx.checkpoint": VERSION, "fx.tree": text, "fx.tree.sha256": _sha(text)}
    data = safetensors.numpy.save(tensors, metadata=metadata)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # A short prefix of the name: the suffix must not push a long name over NAME_MAX.
    tmp = os.path.join(directory, f".{os.path.basename(path)[:64]}.{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def load(path: str | os.PathLike, template: Any = None) -> Any:
    """Read a tree written by ``save``; leaves come back as fx arrays.

    Args:
        path: the checkpoint file.
        template: optional tree with the expected structure, e.g. ``opt.init(params)``.
            Its leaves may be arrays or anything with ``shape`` and ``dtype`` (their shape
            and dtype must match), or Python numbers (the saved leaf must be a Python
            number of the same type). The result is built with the template's container
            types (NamedTuples, ``OrderedDict``, ...) and dict key order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a valid checkpoint (truncated, corrupt, flipped
            bytes, not safetensors, not written by ``save``), or does not match
            ``template``: the message names the first mismatching node (its path, what was
            expected and what the file has).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as e:  # safetensors' own errors: bad header, offsets, sizes
        raise ValueError(f"{path}: not a valid safetensors file (corrupt or truncated?): "
                         f"{e}") from e
    node = _read_tree(path, data)
    used: set[str] = set()
    try:
        out = _decode(node, template, template is not None, (), tensors, used, path)
    except (KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
        raise ValueError(f"{path}: malformed fx.tree metadata: {e!r}") from e
    if used != set(tensors):
        raise ValueError(f"{path}: the file has tensors the tree does not use: "
                         f"{sorted(set(tensors) - used)}")
    return out


# ----------------------------------------------------------------------------- saving

def _kind(x) -> str:
    """The container kind of ``x`` ("none", "namedtuple", "tuple", "list", "dict") or
    "leaf"."""
    if x is None:
        return "none"
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return "namedtuple"
    if type(x) is tuple:
        return "tuple"
    if type(x) is list:
        return "list"
    if type(x) in (dict, collections.OrderedDict, collections.defaultdict):
        return "dict"
    return "leaf"


def _encode(x, path: tuple, tensors: dict) -> dict:
    kind = _kind(x)
    if kind == "none":
        return {"t": "none"}
    if kind in ("tuple", "list"):
        return {"t": kind, "c": [_encode(v, path + ((i, f"[{i}]"),), tensors)
                                 for i, v in enumerate(x)]}
    if kind == "namedtuple":
        return {"t": kind, "name": type(x).__name__, "fields": list(x._fields),
                "c": [_encode(v, path + ((f, f".{f}"),), tensors)
                      for f, v in zip(x._fields, x)]}
    if kind == "dict":
        for k in x:
            if not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint: dict key {k!r} at {_keystr(path)} is a "
                                f"{type(k).__name__}; only str and int keys can be saved")
        return {"t": "dict", "k": list(x),
                "c": [_encode(v, path + ((k, f"[{k!r}]"),), tensors) for k, v in x.items()]}
    return _encode_leaf(x, path, tensors)


def _encode_leaf(x, path: tuple, tensors: dict) -> dict:
    node: dict[str, Any] = {"t": "leaf"}
    if type(x) in _PY_TYPES:
        node["py"] = _PY_TYPES[type(x)]
        try:
            arr = np.asarray(x, dtype=_PY_DTYPES[node["py"]])
        except OverflowError as e:
            raise ValueError(f"checkpoint: the int at {_keystr(path)} does not fit in "
                             f"int64: {x}") from e
    elif isinstance(x, (fx.Array, np.ndarray, np.generic)):
        arr = np.asarray(x, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"checkpoint: the array at {_keystr(path)} has dtype {arr.dtype}, "
                            f"which safetensors cannot store")
    else:
        raise TypeError(f"checkpoint: cannot save a {type(x).__name__} at {_keystr(path)}; "
                        f"leaves must be arrays or Python numbers and containers dicts, "
                        f"lists, tuples, NamedTuples or None")
    base = name = ".".join(str(key) for key, _ in path) or "leaf"
    suffix = len(tensors)
    while name in tensors or name == "__metadata__":  # paths may collide ("a.b" vs a/b)
        name, suffix = f"{base}#{suffix}", suffix + 1
    tensors[name] = arr
    node.update(name=name, dtype=arr.dtype.name, shape=list(arr.shape), sha256=_digest(arr))
    return node


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(arr.reshape(-1).view(np.uint8) if arr.size else b"").hexdigest()


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- loading

def _read_tree(path: str, data: bytes) -> dict:
    """The decoded ``fx.tree`` JSON of a file safetensors has already validated."""
    n = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except ValueError as e:
        raise ValueError(f"{path}: corrupt safetensors header: {e}") from e
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or "fx.checkpoint" not in meta:
        raise ValueError(f"{path}: a safetensors file but not an fx checkpoint (its header "
                         f"has no fx.checkpoint metadata); was it written by optim.save?")
    if meta["fx.checkpoint"] != VERSION:
        raise ValueError(f"{path}: unsupported checkpoint format version "
                         f"{meta['fx.checkpoint']!r} (this version reads {VERSION!r})")
    text = meta.get("fx.tree")
    if not isinstance(text, str) or meta.get("fx.tree.sha256") != _sha(text):
        raise ValueError(f"{path}: corrupt checkpoint: the tree metadata does not match its "
                         f"checksum")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{path}: corrupt checkpoint: the tree metadata is not JSON") from e


def _describe_node(node: dict) -> str:
    t = node["t"]
    if t == "leaf":
        if "py" in node:
            return f"python {node['py']}"
        return f"{node['dtype']}{list(node['shape'])}".replace(" ", "")
    if t == "namedtuple":
        return f"NamedTuple {node['name']}({', '.join(node['fields'])})"
    if t == "dict":
        return f"dict with keys {node['k']}"
    if t in ("list", "tuple"):
        return f"{t} of length {len(node['c'])}"
    return "None"


def _describe(x) -> str:
    kind = _kind(x)
    if kind == "leaf":
        if type(x) in _PY_TYPES:
            return f"python {_PY_TYPES[type(x)]}"
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return f"{np.dtype(x.dtype).name}{list(x.shape)}".replace(" ", "")
        return f"a {type(x).__name__}"
    if kind == "namedtuple":
        return f"NamedTuple {type(x).__name__}({', '.join(x._fields)})"
    if kind == "dict":
        return f"dict with keys {list(x)}"
    if kind in ("list", "tuple"):
        return f"{kind} of length {len(x)}"
    return "None"


def _decode(node: dict, template, checked: bool, path: tuple, tensors: dict, used: set,
            file: str):
    """Rebuild ``node``; with ``checked``, against ``template`` (same kinds, keys, lengths,
    NamedTuple names and fields, leaf shapes and dtypes)."""
    t = node["t"]

    def mismatch():
        return ValueError(f"{file}: checkpoint does not match the template at "
                          f"{_keystr(path)}: expected {_describe(template)}, "
                          f"got {_describe_node(node)}")

    if checked:
        if _kind(template) != ("leaf" if t == "leaf" else t):
            raise mismatch()
        if t == "namedtuple" and (type(template).__name__ != node["name"]
                                  or list(template._fields) != list(node["fields"])):
            raise mismatch()
        if t in ("list", "tuple", "namedtuple") and len(template) != len(node["c"]):
            raise mismatch()
        if t == "dict" and (set(template) != set(node["k"]) or len(node["k"]) != len(template)):
            raise mismatch()

    def sub(child, tmpl, key):
        disp = f".{key}" if t == "namedtuple" else f"[{key!r}]"
        return _decode(child, tmpl, checked, path + ((key, disp),), tensors, used, file)

    if t == "none":
        return None
    if t in ("list", "tuple", "namedtuple"):
        keys = node["fields"] if t == "namedtuple" else range(len(node["c"]))
        tmpls = template if checked else [None] * len(node["c"])
        kids = [sub(c, tm, k) for c, tm, k in zip(node["c"], tmpls, keys)]
        if t == "list":
            return kids
        return type(template)(*kids) if checked and t == "namedtuple" else tuple(kids)
    if t == "dict":
        if len(node["k"]) != len(node["c"]):
            raise ValueError(f"{file}: malformed fx.tree metadata at {_keystr(path)}")
        children = dict(zip(node["k"], node["c"]))
        if not checked:
            return {k: sub(c, None, k) for k, c in children.items()}
        items = [(k, sub(children[k], v, k)) for k, v in template.items()]
        if isinstance(template, collections.defaultdict):
            return collections.defaultdict(template.default_factory, items)
        return type(template)(items)
    if t != "leaf":
        raise ValueError(f"{file}: malformed fx.tree metadata: unknown node type {t!r}")
    return _decode_leaf(node, template, checked, path, tensors, used, file, mismatch)


def _decode_leaf(node, template, checked, path, tensors, used, file, mismatch):
    name = node["name"]
    if name not in tensors or name in used:
        raise ValueError(f"{file}: corrupt checkpoint: no tensor {name!r} for the leaf at "
                         f"{_keystr(path)}")
    used.add(name)
    arr = tensors[name]
    if (arr.dtype.name != node["dtype"] or list(arr.shape) != list(node["shape"])
            or _digest(arr) != node["sha256"]):
        raise ValueError(f"{file}: corrupt checkpoint: the data of the leaf at "
                         f"{_keystr(path)} does not match its recorded dtype, shape or checksum")
    py = node.get("py")
    if checked:
        if type(template) in _PY_TYPES:
            if py != _PY_TYPES[type(template)]:
                raise mismatch()
        elif not (hasattr(template, "shape") and hasattr(template, "dtype")):
            raise ValueError(f"load: the template leaf at {_keystr(path)} is a "
                             f"{type(template).__name__}; use arrays (or objects with shape "
                             f"and dtype) or Python numbers")
        elif (py is not None or tuple(template.shape) != arr.shape
              or np.dtype(template.dtype) != arr.dtype):
            raise mismatch()
    if py is not None:
        return {"bool": bool, "int": int, "float": float, "complex": complex}[py](arr.item())
    return fx.asarray(arr)


def _keystr(path: tuple) -> str:
    """A path of ``(key, display)`` pairs as ``['opt_state'][0].mu['w']`` (or ``<root>``)."""
    return "".join(disp for _, disp in path) or "<root>"
