"""The trace stack: the single owner of transform levels.

Each transform (jvp, vmap, jit, ...) runs the user's function inside
``new_main(TraceType)``, which pushes a level on a thread-local stack. Values the
transform tracks are ``Tracer`` objects that point at their trace. ``bind`` sends a
primitive to the *highest* level among its arguments (``find_top_trace``); lower-level
values are lifted into it. Levels are what keep nested derivatives apart
(no perturbation confusion).

``active`` counts the transforms running in any thread, ``dynamic_active`` those that
capture every operation (staging, as jit does). ``bind`` tests ``active`` before it
looks for a trace; the eager fast paths of ``fx.numpy`` test only ``dynamic_active``,
since plain arrays can only be taken by a dynamic trace. ``fx.config.debug_nans`` adds one to
``dynamic_active`` while on, sending those fast paths through ``bind`` (``eager`` checks NaNs).
"""
from __future__ import annotations

import threading

from fx.array import Array
from fx.core.aval import aval_of
from fx.errors import ConcretizationError, TracerLeakError

active = 0
dynamic_active = 0
_active_lock = threading.Lock()


class MainTrace:
    """One level of the stack: a transform in progress."""

    __slots__ = ("level", "trace_type", "global_data", "alive", "trace")

    def __init__(self, level: int, trace_type: type, global_data=None):
        self.level, self.trace_type, self.global_data = level, trace_type, global_data
        self.alive = True
        self.trace = trace_type(self)  # the one interpreter of this level

    def __repr__(self) -> str:
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class _Stack(threading.local):
    def __init__(self) -> None:
        self.mains: list[MainTrace] = []
        self.dynamic: MainTrace | None = None


stack = _Stack()


def _count(delta: int, dynamic: bool) -> None:
    global active, dynamic_active
    with _active_lock:
        active += delta
        dynamic_active += delta if dynamic else 0


class new_main:
    """Push a new transform level; pop it (and mark its tracers dead) on exit.

    ``dynamic=True`` makes every bind in the block go to this level even when no
    argument is traced (how a staging transform such as jit captures constants).
    Used as ``with new_main(TraceType) as main:`` (a class rather than a generator:
    transforms enter it on every call, so it is kept cheap).
    """

    __slots__ = ("trace_type", "global_data", "dynamic", "main", "previous")

    def __init__(self, trace_type: type, global_data=None, dynamic: bool = False):
        self.trace_type, self.global_data, self.dynamic = trace_type, global_data, dynamic

    def __enter__(self) -> MainTrace:
        main = self.main = MainTrace(len(stack.mains), self.trace_type, self.global_data)
        stack.mains.append(main)
        self.previous = stack.dynamic
        if self.dynamic:
            stack.dynamic = main
        _count(+1, self.dynamic)
        return main

    def __exit__(self, *exc) -> None:
        _count(-1, self.dynamic)
        stack.dynamic = self.previous
        stack.mains.pop()
        self.main.alive = False
        self.main.trace = None  # break the main <-> trace cycle: a transform's buffers (its
        # tape, its tracers' values) are freed as soon as nothing refers to them


class Trace:
    """Interpreter for one level. Subclasses define how primitives are processed."""

    name = "trace"  # shown in error messages, e.g. "jvp", "vmap", "jit"

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val) -> Tracer:
        """Wrap a non-traced value (array, buffer, Python scalar) as a tracer here."""
        raise NotImplementedError

    def lift(self, tracer: Tracer) -> Tracer:
        """Wrap a tracer of a lower level as a tracer here."""
        return self.pure(tracer)

    def process_primitive(self, prim, tracers, params):
        raise NotImplementedError

    def process_custom_jvp(self, fn, args):
        """A ``custom_jvp`` / ``custom_vjp`` call whose top trace is this one. Traces that
        do not differentiate run the function's body (the default)."""
        return fn.fun(*args)

    process_custom_vjp = process_custom_jvp

    def full_raise(self, val) -> Tracer:
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if main.level < self.main.level:
            return self.lift(val)
        raise TracerLeakError(
            f"a value traced by {val._trace.name} (level {main.level}) reached the "
            f"{self.name} trace at level {self.main.level}: a tracer escaped its transform")


class Tracer(Array):
    """A value tracked by a transform. Behaves like an Array with known shape and dtype."""

    __slots__ = ("_trace",)

    @property
    def aval(self):
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def full_lower(self):
        """The simplest equivalent value (a subclass may unwrap trivial tracers)."""
        return self

    def concrete(self):
        """The concrete value behind this tracer, if the transform knows it."""
        raise ConcretizationError(
            f"a traced value {self.describe()} (under {self._trace.name}) was used "
            "where Python needs a concrete value (if/while/bool/int/indexing). Use "
            "fx.lax.cond / fx.lax.while_loop / fnp.where for data-dependent control flow, "
            "or mark the argument static (jit's static_argnums).")

    def describe(self) -> str:
        """The value for error messages (a subclass may say where it came from)."""
        return self.aval.str_short()

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{self._trace.name}>"

    def _buffer(self):
        return self.concrete()._buffer()


class PrimalTracer(Tracer):
    """A tracer that carries the value it stands for (forward and reverse mode's): its
    shape, dtype and concrete value (Python control flow works on it) are the primal's."""

    __slots__ = ("primal",)

    @property
    def aval(self):
        return aval_of(self.primal)

    @property
    def shape(self):
        try:
            return self.primal.shape
        except AttributeError:  # a Python number
            return ()

    @property
    def dtype(self):
        try:
            return self.primal.dtype
        except AttributeError:
            return aval_of(self.primal).dtype

    def concrete(self):
        from fx.creation import asarray  # fx.creation imports this module
        primal = self.primal
        return primal.concrete() if isinstance(primal, Tracer) else asarray(primal)


def check_alive(tracer: Tracer) -> MainTrace:
    """The tracer's level, or a TracerLeakError naming the transform that made it."""
    main = tracer._trace.main
    if not main.alive:
        raise TracerLeakError(
            f"a value traced by {tracer._trace.name} was used after that transform "
            f"returned ({tracer.aval.str_short()}). Return it from the transformed "
            "function instead of storing it in a global or closure.")
    return main


def named_level(axis_name, top: Trace | None) -> Trace | None:
    """The higher of ``top`` and the innermost level whose axis is named ``axis_name``
    (a batch level of ``vmap(..., axis_name=...)``); None when no level names it."""
    for main in reversed(stack.mains):
        if getattr(main.global_data, "name", None) == axis_name:
            return main.trace if top is None or top.main.level < main.level else top
    return top


def find_top_trace(args) -> Trace | None:
    """The trace of the highest level among ``args`` (or the dynamic one), or None."""
    top = stack.dynamic if dynamic_active else None
    for x in args:
        if isinstance(x, Tracer):
            main = check_alive(x)
            if top is None or main.level > top.level:
                top = main
    return None if top is None else top.trace
