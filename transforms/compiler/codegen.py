"""Code generation: an optimised graph becomes straight-line Python over the backend.

Each equation becomes one assignment written by its primitive's *emitter*
(``prim.emit``, declared with the primitive; a default covers the rest):

* a NumPy ufunc implementation is written as ``np.<ufunc>(a, b)``;
* any other primitive calls its ``impl`` directly, bound by name in the module.

An emitter is ``emit(ctx, eqn, args, out=None) -> str``: the Python expression of the
result, given the equation and the source of its operands. Flags on it tell the memory
plan what it may do: ``accepts_out`` (it honours ``out=``, the name of a dead buffer of the result's
shape and dtype), ``in_place`` (elementwise: ``out`` may be one of its operands) and
``fresh`` (its result is a new buffer, never a view). Emitters of control flow write
loops with ``ctx.line`` / ``ctx.block`` and compile their sub-graphs with
``ctx.function``. Values are deleted right after their last use.

Example:
    >>> import fx, fx.numpy as fnp
    >>> g = fx.make_graph(lambda x: fnp.tanh(x) * 2.0)(fx.ShapedArray((3,), "float32"))
    >>> m = Module("numpy")
    >>> m.add(g, "f")
    'f'
    >>> print(m.source, end="")
    def f(a):
        b = np.tanh(a)
        c = np.multiply(b, 2.0, out=b)
        del b
        return (c,)
"""
from __future__ import annotations

import contextlib
import itertools
import keyword
import linecache
import math

import numpy as np

from fx.core.aval import aval_of
from fx.core.graph import Var, letters
from fx.core.rule_kit import emitter
from transforms.compiler.memory import plan

_counter = itertools.count()


def emitter_of(prim):
    """The primitive's emitter, or the default for its implementation."""
    if prim.emit is not None:
        return prim.emit
    return _ufunc_emitter if isinstance(prim.impl, np.ufunc) else _impl_emitter


@emitter(fresh=True, accepts_out=True, in_place=True)
def _ufunc_emitter(ctx, eqn, args, out=None):
    name = ctx.backend_attr(eqn.prim.impl.__name__, eqn.prim.impl)
    # A scalar next to an array of its own dtype is written as a plain number: NumPy
    # gives the same result (NEP 50), and ``x * 2.0`` reads better than ``np.float32(2.0)``.
    dtypes = {x.aval.dtype for x in eqn.inputs if type(x) is Var}
    args = [repr(x.item()) if isinstance(x, np.generic) and x.dtype in dtypes else a
            for x, a in zip(eqn.inputs, args)]
    return f"{name}({', '.join(args)}{ctx.out(out)})"


@emitter()
def _impl_emitter(ctx, eqn, args, out=None):
    fn = ctx.ref(eqn.prim.impl, eqn.prim.name)
    kw = [f"{k}={ctx.literal(v)}" for k, v in eqn.params.items()]
    return f"{fn}({', '.join(list(args) + kw)})"


class Module:
    """Generated source and the namespace it runs in (the backend as ``np`` or ``cp``)."""

    def __init__(self, backend: str = "numpy", check_nans=None):
        import importlib
        self.xp = "np" if backend == "numpy" else "cp"
        self.namespace: dict = {self.xp: importlib.import_module(backend),
                                "inf": math.inf, "nan": math.nan}
        self.sources: list[str] = []
        self.check_nans = check_nans  # debug_nans: called after each float result

    def ref(self, obj, hint: str) -> str:
        """Bind ``obj`` in the namespace; the name is ``hint`` (made unique)."""
        hint = "".join(c if c.isalnum() else "_" for c in hint) or "obj"
        if hint[0].isdigit():
            hint = "_" + hint
        name, k = hint, 1
        while name in self.namespace and (obj is None or self.namespace[name] is not obj):
            name, k = f"{hint}_{k}", k + 1
        self.namespace[name] = obj
        return name

    def add(self, graph, hint: str, donated=()) -> str:
        """Generate a function for ``graph``, named ``hint`` (made unique); returns the name."""
        name = self.ref(None, hint)
        self.sources.append(_FunctionWriter(self, graph, name, donated).write())
        return name

    @property
    def source(self) -> str:
        return "\n\n".join(self.sources) + "\n"

    def compile(self, name: str, filename_hint: str):
        """Execute the source; returns the function ``name``. Tracebacks and debuggers
        show the generated lines (registered with ``linecache``)."""
        source = self.source
        filename = f"<fx.jit {filename_hint} #{next(_counter)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.namespace)
        return self.namespace[name]


class _FunctionWriter:
    """Writes one function; the ``ctx`` emitters see."""

    def __init__(self, module: Module, graph, name: str, donated=()):
        self.module, self.graph, self.name, self.donated = module, graph, name, donated
        self.xp = module.xp
        self.names: dict[int, str] = {}
        self.taken = set(module.namespace) | {name}
        self.lines: list[str] = []
        self.indent = "    "
        self._letters = (letters(i) for i in itertools.count())

    # --- the interface for emitters ------------------------------------------------------
    def ref(self, obj, hint: str) -> str:
        name = self.module.ref(obj, hint)
        self.taken.add(name)
        return name

    def backend_attr(self, attr: str, fallback) -> str:
        """``np.<attr>`` when the backend module has it, else ``fallback`` bound by name."""
        if hasattr(self.module.namespace[self.xp], attr):
            return f"{self.xp}.{attr}"
        return self.ref(fallback, attr)

    def literal(self, value) -> str:
        """Python source for a constant parameter or operand."""
        if value is None or isinstance(value, (bool, str)):
            return repr(value)
        if isinstance(value, (int, float, complex)):
            return repr(value)  # inf and nan are names in the namespace
        if isinstance(value, np.generic):
            return f"{self.xp}.{value.dtype.name}({value.item()!r})"
        if isinstance(value, np.dtype):
            return self.ref(value, value.name)
        if isinstance(value, tuple) and all(_is_plain(v) for v in value):
            inner = ", ".join(self.literal(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return self.ref(value, type(value).__name__.lower())

    @staticmethod
    def out(out) -> str:
        """``", out=<name>"`` when the memory plan gave a buffer, else nothing."""
        return "" if out is None else f", out={out}"

    def aval(self, x):
        """The abstract value of an operand (a variable or a constant)."""
        return x.aval if type(x) is Var else aval_of(x)

    def fresh(self, hint: str = "t") -> str:
        name, k = hint, 1
        while name in self.taken or keyword.iskeyword(name):
            name, k = f"{hint}{k}", k + 1
        self.taken.add(name)
        return name

    def line(self, statement: str) -> None:
        self.lines.append(self.indent + statement)

    @contextlib.contextmanager
    def block(self, header: str):
        """``with ctx.block("for i in range(n):"):`` indents the lines written inside."""
        self.line(header)
        self.indent += "    "
        try:
            yield
        finally:
            self.indent = self.indent[:-4]

    def function(self, graph, hint: str) -> str:
        """Generate a separate function for a sub-graph; returns its name (it takes the
        graph's inputs positionally and returns the tuple of its outputs)."""
        return self.module.add(graph, hint)

    # --- writing ----------------------------------------------------------------------------
    def var(self, v) -> str:
        if type(v) is not Var:
            return self.constant(v)
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = self._next_name()
        return name

    def _next_name(self) -> str:
        for name in self._letters:
            if name not in self.taken and not keyword.iskeyword(name):
                self.taken.add(name)
                return name

    def constant(self, value) -> str:
        if isinstance(value, (bool, int, float, complex, np.generic)):
            return self.literal(value)
        buf = value._buffer() if hasattr(value, "_buffer") else value
        return self.ref(buf, "const")

    def write(self) -> str:
        g = self.graph
        params = ", ".join(self.var(v) for v in g.invars)
        memory = plan(g, self.donated, emitter_of)
        # the caller holds the inputs anyway: deleting our names frees nothing (unless donated)
        kept = {id(v) for v in g.invars} - {id(v) for v in self.donated}
        check = self.module.check_nans
        for i, eqn in enumerate(g.eqns):
            emitter = emitter_of(eqn.prim)
            args = [self.var(x) for x in eqn.inputs]
            target = memory.reuse[i]
            out = None if target is None else self.var(target)
            expr = emitter(self, eqn, args, out)
            outs = [self.var(o) for o in eqn.outvars]
            if not outs:
                self.line(expr)
            elif eqn.prim.multiple_results:
                self.line(f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = {expr}")
            else:
                self.line(f"{outs[0]} = {expr}")
            if check is not None:
                fn = self.ref(check, "check_nans")
                for o, name in zip(eqn.outvars, outs):
                    if o.aval.dtype.kind in "fc":
                        self.line(f"{fn}({name}, {eqn.prim.name!r}, {eqn.source!r})")
            dead = [self.var(v) for v in memory.free_after[i] if id(v) not in kept]
            if dead:
                self.line(f"del {', '.join(dead)}")
        results = [self._result(v) for v in g.outvars]
        self.line(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        return f"def {self.name}({params}):\n" + "\n".join(self.lines)

    def _result(self, v) -> str:
        if type(v) is Var:
            return self.var(v)
        if isinstance(v, (bool, int, float, complex)):  # a weak constant output
            return f"{self.xp}.asarray({v!r}, dtype={self.literal(aval_of(v).dtype)})"
        return self.constant(v)


def _is_plain(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str)) or (
        isinstance(v, tuple) and all(_is_plain(x) for x in v))
