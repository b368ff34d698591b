"""How ``jit`` treats its arguments: static ones, donated ones, and what made it retrace.

Example:
    >>> spec = StaticSpec(lambda x, n: x * n, static_argnums=1, static_argnames=())
    >>> spec.split((2.0, 3), {})
    ((2.0,), {}, ((1, 3),))
"""
from __future__ import annotations

import inspect
import logging
import sys

import numpy as np

from fx.array import Array
from fx.errors import DonatedArrayError

log = logging.getLogger("fx.jit")


# --- static arguments --------------------------------------------------------------------
class StaticSpec:
    """Which arguments of ``fun`` are static, by position and by name (each implies the
    other where the signature says so, as in JAX)."""

    def __init__(self, fun, static_argnums, static_argnames):
        nums = _as_tuple(static_argnums, int, "static_argnums", "ints")
        names = _as_tuple(static_argnames, str, "static_argnames", "strings")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
            raise TypeError(f"jit: static_argnums must be ints, got {static_argnums!r}")
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"jit: static_argnames must be strings, got {static_argnames!r}")
        self.params, fixed = _positional_names(fun)
        if any(i < 0 for i in nums):  # from the end of the parameters, as in JAX
            if not fixed or not all(-len(self.params) <= i for i in nums):
                raise ValueError(f"jit: static_argnums {static_argnums!r} counts from the end, "
                                 "which needs a function with a fixed number of positional "
                                 "parameters (and no more than it has)")
            nums = tuple(i % len(self.params) for i in nums)
        for i in nums:  # a static position is static by name too, and the reverse
            if 0 <= i < len(self.params):
                names += (self.params[i],)
        for n in names:
            if n in self.params:
                nums += (self.params.index(n),)
        self.nums, self.names = tuple(sorted(set(nums))), frozenset(names)
        self.any = bool(self.nums or self.names)

    def split(self, args, kwargs):
        """``(dynamic args, dynamic kwargs, static key)``; the key holds the static values."""
        if not self.any:
            return args, kwargs, ()
        nums = {i % len(args) for i in self.nums if -len(args) <= i < len(args)}
        static = tuple((i, _hashable(args[i], f"static argument {i}{self._named(i)}"))
                       for i in sorted(nums))
        static_kw = tuple((k, _hashable(kwargs[k], f"static argument {k!r}"))
                          for k in sorted(kwargs) if k in self.names)
        dyn = tuple(a for i, a in enumerate(args) if i not in nums)
        dyn_kw = {k: v for k, v in kwargs.items() if k not in self.names}
        return dyn, dyn_kw, static + static_kw

    def merge(self, dyn_args, dyn_kwargs, key) -> list:
        """The full positional arguments: static values back in their places."""
        args = list(dyn_args)
        for i, value in key:
            if isinstance(i, int):
                args.insert(i, value.value)
        return args

    def merge_kw(self, dyn_kwargs, key) -> dict:
        return {**dyn_kwargs, **{k: v.value for k, v in key if isinstance(k, str)}}

    def position(self, i: int) -> int:
        """The position among all the arguments of dynamic positional argument ``i``."""
        for s in self.nums:  # (sorted)
            if s <= i:
                i += 1
        return i

    def _named(self, i: int) -> str:
        return f" ({self.params[i]!r})" if i < len(self.params) else ""

    def describe(self, path) -> str:
        """``argument 'x'`` for the leaf at ``path`` of ``(dynamic args, kwargs)``."""
        where, *rest = path
        if where == 1:
            return f"argument {rest[0]!r}" + _subscripts(rest[1:])
        i = self.position(rest[0] if rest else 0)
        name = f" ({self.params[i]!r})" if i < len(self.params) else ""
        return f"argument {i}{name}" + _subscripts(rest[1:])


def _as_tuple(value, kind: type, what: str, kinds: str) -> tuple:
    """``value`` (one ``kind`` or an iterable of them) as a tuple; TypeError otherwise."""
    if isinstance(value, kind):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"jit: {what} must be {kinds} (one or a sequence of them), got "
                        f"{value!r}") from None


def _positional_names(fun) -> tuple[list[str], bool]:
    """The names of ``fun``'s positional parameters, and whether they are all it takes
    positionally (no signature, or ``*args``: not)."""
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):
        return [], False
    kinds = [p.kind for p in sig.parameters.values()]
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)], \
        inspect.Parameter.VAR_POSITIONAL not in kinds


def _hashable(value, what: str) -> _Static:
    try:
        return _Static(value)
    except TypeError:
        raise TypeError(f"jit: {what} is a {type(value).__name__}, which is not hashable; "
                        "static arguments key the cache, so they must be hashable (use a "
                        "tuple instead of a list, or make the value an array argument)") from None


class _Static:
    """A static argument in a cache key: equal only to a value of the same type (``2``,
    ``2.0`` and ``True`` are equal in Python but trace differently)."""

    __slots__ = ("value", "_hash")

    def __init__(self, value):
        self.value, self._hash = value, hash(value)

    def __eq__(self, other) -> bool:
        return (type(other) is _Static and type(self.value) is type(other.value)
                and bool(self.value == other.value))

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return repr(self.value)


def _subscripts(path) -> str:
    return "".join(f"[{p!r}]" for p in path)


# --- donation ----------------------------------------------------------------------------
def check_donate_argnums(donate_argnums, statics: StaticSpec) -> tuple[int, ...]:
    nums = _as_tuple(donate_argnums, int, "donate_argnums", "non-negative ints")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in nums):
        raise TypeError(f"jit: donate_argnums must be non-negative ints, got {donate_argnums!r}")
    both = set(nums) & set(statics.nums)
    if both:
        raise ValueError(f"jit: argument {min(both)} is both static and donated")
    return tuple(sorted(set(nums)))


def donated_leaves(treedef, donate_argnums, sigs, statics: StaticSpec) -> tuple[int, ...]:
    """Positions (among the flat leaves) of the donated arguments' array leaves."""
    if not donate_argnums:
        return ()
    arg_trees = treedef.children()[0].children()
    start, out = 0, []
    for i, sub in enumerate(arg_trees):
        if statics.position(i) in donate_argnums:
            out += [j for j in range(start, start + sub.num_leaves) if not sigs[j][2]]
        start += sub.num_leaves
    return tuple(out)


class _Deleted:
    """What a donated array holds afterwards: any use raises ``DonatedArrayError``."""

    __slots__ = ("fn",)

    def __init__(self, fn: str):
        object.__setattr__(self, "fn", fn)

    def _used(self, *args, **kwargs):
        raise DonatedArrayError(f"this array was donated to the jitted function {self.fn} "
                                "(donate_argnums), which may have overwritten its buffer; "
                                "use the function's result instead")

    __getattr__ = __array__ = __len__ = __iter__ = __bool__ = __int__ = __float__ = _used
    __complex__ = __index__ = __getitem__ = __dlpack__ = _used


def _references(bufs, j) -> int:
    return sys.getrefcount(bufs[j])


def _references_of_sole_owner() -> int:
    """What ``_references`` counts for a buffer held by one fx array and the call only."""
    a = object.__new__(Array)
    a._v = np.empty(2)
    return _references([a._v], 0)


def take(leaves, bufs: list, donated) -> list:
    """The buffers to pass (``bufs``, changed in place): a donated buffer is passed as it is
    only when its fx array is its sole owner (no view, no other array shares it); otherwise
    a copy is passed. The caller holds each buffer only through its leaf and ``bufs``: the
    reference count is compared with that of such a buffer."""
    for j in donated:
        sole = (type(leaves[j]) is Array and isinstance(bufs[j], np.ndarray)
                and _references(bufs, j) <= _SOLE and bufs[j].base is None
                and bufs[j].flags.writeable)
        if not sole:
            bufs[j] = bufs[j].copy()
    return bufs


def invalidate(leaves, donated, fn: str) -> None:
    for j in donated:
        if type(leaves[j]) is Array:
            leaves[j]._v = _Deleted(fn)


_SOLE = _references_of_sole_owner()


# --- explaining a retrace ------------------------------------------------------------------
_SETTINGS = ("fx.config.default_float", "fx.config.default_int", "fx.config.debug_nans")


def explain(fn, old_key, new_key, leaves) -> None:
    """Log why ``new_key`` missed the cache, compared with the last signature traced."""
    reasons = []
    old_tree, old_sigs, old_static = old_key[:3]
    new_tree, new_sigs, new_static = new_key[:3]
    for name, a, b in zip(_SETTINGS, old_key[3:], new_key[3:]):
        if a != b:
            reasons.append(f"{name} changed from {a} to {b}")
    if old_static != new_static:
        old_d, new_d = dict(old_static), dict(new_static)
        show = lambda d, k: repr(d[k]) if k in d else "(not passed)"  # noqa: E731
        for k in sorted(set(old_d) | set(new_d), key=str):
            if (k in old_d) != (k in new_d) or old_d.get(k) != new_d.get(k):
                what = f"{k}{fn.statics._named(k)}" if isinstance(k, int) else repr(k)
                reasons.append(f"static argument {what} changed from {show(old_d, k)} to "
                               f"{show(new_d, k)}")
    if old_tree != new_tree:
        reasons += _structure_changes(fn.statics, old_tree, new_tree)
    else:
        paths = new_tree.paths()
        for path, a, b in zip(paths, old_sigs, new_sigs):
            what = fn.statics.describe(path)
            for field, x, y in zip(("shape", "dtype", "weak type", "device"), a, b):
                if x != y:
                    reasons.append(f"{what} changed {field} from {x} to {y}")
    log.warning("jit(%s): tracing again (trace %d): %s", fn.__name__, fn.cache_info().traces,
                "; ".join(reasons) or "an earlier entry was evicted from the cache")


def _structure_changes(statics: StaticSpec, old_tree, new_tree) -> list[str]:
    """Which arguments changed tree structure (or which were added or removed)."""
    (old_args, old_kw), (new_args, new_kw) = old_tree.children(), new_tree.children()
    old_n, new_n = old_args.num_children, new_args.num_children
    reasons = [f"the number of positional arguments changed from {old_n} to {new_n}"
               ] if old_n != new_n else []
    for i, (a, b) in enumerate(zip(old_args.children(), new_args.children())):
        if a != b:
            reasons.append(f"{statics.describe((0, i))} changed tree structure from {a} to {b}")
    old_k = dict(zip(old_kw.entries(), old_kw.children()))
    new_k = dict(zip(new_kw.entries(), new_kw.children()))
    for k in sorted(set(old_k) | set(new_k)):
        a, b = old_k.get(k), new_k.get(k)
        if a != b:
            a, b = ("(not passed)" if t is None else t for t in (a, b))
            reasons.append(f"argument {k!r} changed tree structure from {a} to {b}")
    return reasons
