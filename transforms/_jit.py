"""``jit``: trace once per input signature, optimise, generate Python, cache.

A call flattens its arguments and looks up their *signature*: the tree structure, the
shape, dtype and weak type of every leaf, the static arguments and the settings that
change tracing. The first call with a signature stages the function into a graph,
optimises it and compiles generated Python (``transforms.compiler``); later calls run
that code directly on the buffers. Under an outer transform (``grad(jit(f))``,
``vmap(jit(f))``) the cached, optimised graph is evaluated through ``bind`` instead,
so the outer trace sees every operation; inside another ``jit`` it is inlined.

The cache is a bounded LRU shared by all threads; a signature being traced by one
thread is waited for by the others, so each signature is traced once.

Example:
    >>> import fx.numpy as fnp
    >>> from transforms import jit
    >>> f = jit(lambda x: fnp.tanh(x) * 2.0 + 1.0)
    >>> f(fnp.zeros(3))
    Array([1., 1., 1.], dtype=float32)
    >>> f(fnp.arange(4.0)).shape, f.cache_info().traces
    ((4,), 2)
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import optree

from fx import tree
from fx.array import Array, wrap
from fx.backend import is_buffer
from fx.config import config
from fx.core import trace as _trace
from fx.core.aval import ShapedArray
from fx.core.graph import eval_graph
from fx.core.staging import make_graph_flat
from fx.creation import scalar_buffer
from fx.dtypes import is_weak_scalar, scalar_dtype
from transforms import jit_args
from transforms.compiler.executable import compile_graph, prepare


class CacheInfo(NamedTuple):
    traces: int   # how many times the function was staged
    hits: int     # calls served by the cache
    size: int     # signatures held now
    maxsize: int


def _array_signature(v):
    return (v.shape, v.dtype, False, "cpu" if type(v) is np.ndarray or isinstance(v, _CPU)
            else "gpu")


def _leaf_signature(x):
    """(shape, dtype, weak type, device kind) of an argument leaf."""
    t = type(x)
    if t is Array:
        return _array_signature(x._v)
    if is_weak_scalar(x):
        return ((), scalar_dtype(x), True, "cpu")
    if isinstance(x, _trace.Tracer):
        aval = x.aval
        return (aval.shape, aval.dtype, aval.weak_type, "traced")
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(f"jit: an argument leaf is a {t.__name__}, which is not an array or "
                        "a number; pass it through static_argnums / static_argnames")
    return (tuple(shape), np.dtype(dtype), False, "cpu" if isinstance(x, _CPU) else "gpu")


_CPU = (np.ndarray, np.generic)
_flatten = optree.tree_flatten


def _as_buffer(x, sig):
    if type(x) is Array:
        return x._v
    if is_weak_scalar(x):
        return scalar_buffer(x, sig[1])
    if isinstance(x, Array):
        return x._buffer()
    # a caller's NumPy / CuPy array is copied, as fx.asarray does: it is mutable, and the
    # results (an output that is an input, a view of one) must not change with it
    return x.copy() if is_buffer(x) else x


class _Pending:
    """A signature being traced: other threads wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.owner = threading.get_ident()
        self.entry = None


class JittedFunction:
    """The result of ``jit(f)``: call it like ``f``. ``cache_info()`` counts traces and
    hits, ``lower(*args)`` shows the generated code, ``clear_cache()`` empties the cache."""

    def __init__(self, fun, static_argnums, static_argnames, donate_argnums, maxsize):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.statics = jit_args.StaticSpec(fun, static_argnums, static_argnames)
        self.donate_argnums = jit_args.check_donate_argnums(donate_argnums, self.statics)
        self.maxsize = maxsize
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._traces = self._hits = 0
        self._last_key = None

    # --- calling -------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self.statics.any:
            args, kwargs, static_key = self.statics.split(args, kwargs)
        else:
            static_key = ()
        leaves, treedef = _flatten((args, kwargs), namespace="fx")
        sigs = tuple([_array_signature(x._v) if type(x) is Array else _leaf_signature(x)
                      for x in leaves])
        key = (treedef, sigs, static_key, config.default_float, config.default_int,
               config.debug_nans)
        entry = self._cache.get(key)  # the lock-free fast path (dict reads are atomic)
        if type(entry) is _Entry:
            self._hits += 1
            try:
                self._cache.move_to_end(key)  # least recently used goes first
            except KeyError:  # evicted by another thread meanwhile
                pass
        else:
            entry = self._entry(key, leaves)
        if _trace.active and (entry.consts or _trace.find_top_trace(leaves) is not None):
            return entry.out_tree.unflatten(entry.evaluate(leaves))
        fn = entry.compiled or self._compile(entry, sigs)
        bufs = [x._v if type(x) is Array else _as_buffer(x, s) for x, s in zip(leaves, sigs)]
        if entry.donated:
            bufs = jit_args.take(leaves, bufs, entry.donated)
            outs = fn(*bufs)
            jit_args.invalidate(leaves, entry.donated, self.__name__)
        else:
            outs = fn(*bufs)
        return entry.out_tree.unflatten([wrap(o) for o in outs])

    def _compile(self, entry, sigs):
        with self._lock:
            if entry.compiled is None:
                check = None
                if config.debug_nans:
                    from fx.debug import check_nans as check
                xp = "cupy" if any(s[3] == "gpu" for s in sigs) else "numpy"
                entry.executable = compile_graph(entry.graph, self.__name__, entry.donated,
                                                 xp, check)
                entry.compiled = entry.executable.fn
            return entry.compiled

    # --- the cache -----------------------------------------------------------------------
    def _entry(self, key, leaves):
        """The cache entry of ``key``: traced here, or by the thread already tracing it."""
        with self._lock:
            entry = self._cache.get(key)
            if type(entry) is _Entry:
                self._hits += 1
                return entry
            if entry is None:
                pending = self._cache[key] = _Pending()
                self._traces += 1
                previous, self._last_key = self._last_key, key
        if entry is not None:  # another thread is tracing this signature
            if entry.owner == threading.get_ident():
                raise RecursionError(f"jit: {self.__name__} calls itself with the same "
                                     "signature while it is being traced")
            entry.done.wait()
            with self._lock:
                self._hits += 1
            return entry.entry
        try:
            if previous is not None and config.explain_retrace:
                jit_args.explain(self, previous, key, leaves)
            built = self._build(key, leaves)
        except BaseException:
            with self._lock:
                del self._cache[key]
            pending.done.set()
            raise
        with self._lock:
            if not built.consts:
                self._cache[key] = built
                while len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
            else:
                del self._cache[key]
        pending.entry = built
        pending.done.set()
        return built

    def _build(self, key, leaves):
        treedef, sigs, static_key = key[:3]
        avals = [ShapedArray(shape, dtype, weak) for shape, dtype, weak, _ in sigs]

        def flat(*xs):
            a, k = tree.unflatten(treedef, list(xs))
            return self.fun(*self.statics.merge(a, k, static_key), **self.statics.merge_kw(
                k, static_key))
        flat.__name__ = self.__name__  # error messages name the user's function
        graph, consts, out_tree = make_graph_flat(flat, avals)
        if any(isinstance(c, _trace.Tracer) for c in consts):
            return _Entry(graph, out_tree, (), consts)
        donated = jit_args.donated_leaves(treedef, self.donate_argnums, sigs, self.statics)
        return _Entry(prepare(graph, consts), out_tree, donated)

    # --- introspection -------------------------------------------------------------------
    def cache_info(self) -> CacheInfo:
        with self._lock:
            size = sum(1 for e in self._cache.values() if not isinstance(e, _Pending))
            return CacheInfo(self._traces, self._hits, size, self.maxsize)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._last_key = None

    def lower(self, *args, **kwargs) -> Lowered:
        """The compiled form for these arguments (compiling it if needed)."""
        dyn_args, dyn_kwargs, static_key = self.statics.split(args, kwargs)
        leaves, treedef = tree.flatten((dyn_args, dyn_kwargs))
        key = (treedef, tuple(map(_leaf_signature, leaves)), static_key, config.default_float,
               config.default_int, config.debug_nans)
        if any(s[3] == "traced" for s in key[1]):
            raise TypeError("jit: lower() needs concrete arguments (arrays, numbers or "
                            "ShapedArray-like values), not traced ones")
        entry = self._entry(key, leaves)
        if entry.consts:
            raise TypeError(f"jit: {self.__name__} closes over values of an outer transform, "
                            "so it is not compiled on its own")
        sigs = key[1]
        self._compile(entry, sigs)
        return Lowered(entry.executable)

    def __repr__(self) -> str:
        return f"<jit {self.__name__}>"

    def __get__(self, obj, objtype=None):  # jit on a method binds like a function
        return self if obj is None else functools.partial(self, obj)


class _Entry:
    """A cached signature: its optimised graph, compiled on first concrete use."""

    __slots__ = ("graph", "out_tree", "donated", "consts", "executable", "compiled")

    def __init__(self, graph, out_tree, donated, consts=()):
        self.graph, self.out_tree, self.donated, self.consts = graph, out_tree, donated, consts
        self.executable = self.compiled = None

    def evaluate(self, leaves) -> list:
        """The outputs through ``bind`` (under outer transforms). A graph that closed over
        outer tracers still has them as its first inputs (it is never cached)."""
        return eval_graph(self.graph, list(self.consts) + list(leaves))


class Lowered:
    """A compiled function: ``as_text()`` is its generated Python source, ``graph`` the
    optimised graph it came from."""

    def __init__(self, executable):
        self.executable = executable
        self.graph = executable.graph

    def as_text(self) -> str:
        return self.executable.source

    __str__ = as_text

    def __repr__(self) -> str:
        return f"<Lowered {self.executable.name}: {len(self.graph.eqns)} equations>"


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=(),
        cache_size: int = 64):
    """Compile ``fun``: trace it once per input signature into generated Python.

    Args:
        fun: a pure function of arrays (pytrees of them).
        static_argnums / static_argnames: arguments that are Python values (flags, sizes,
            modes), not arrays: part of the cache key (they must be hashable), passed to
            ``fun`` unchanged, and usable in Python control flow.
        donate_argnums: arguments whose buffers the compiled code may overwrite with its
            results (saving allocations); the caller must not use them again.
        cache_size: how many signatures to keep (least recently used ones are dropped).

    Usable as ``@jit`` or ``@functools.partial(jit, static_argnums=1)``.
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, cache_size=cache_size)
    if not callable(fun):
        raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
    if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
        raise ValueError(f"jit: cache_size must be a positive int, got {cache_size!r}")
    return JittedFunction(fun, static_argnums, static_argnames, donate_argnums, cache_size)
