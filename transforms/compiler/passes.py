"""Graph optimisation passes for ``jit``: dead code, common subexpressions, constants, algebra.

Every pass (``dce``, ``cse``, ``fold_constants``, ``simplify``; ``optimize`` runs them until
nothing changes) is a pure function ``Graph -> Graph``: it never mutates its input graph or
its equations (unchanged equations are shared with the result, new ones are made where
inputs change), and the result keeps the same ``invars`` and the same number and order of
``outvars``. A result entry may become an input variable or a constant buffer.

Each pass is one walk over the equations with dictionaries keyed by ``id(var)``, so the
pipeline is linear in the size of the graph. Replacing a variable by another renames its
later uses; sub-graphs (control flow) are closed, so they need no renaming.

Example:
    >>> import fx
    >>> from transforms.compiler.passes import optimize
    >>> g = fx.make_graph(lambda x: (x * 2.0).T.T * 1.0 + (x * 2.0).T.T)(
    ...     fx.ShapedArray((2, 3), "float32"))
    >>> optimize(g)
    { lambda a:f32[2,3] .
        b:f32[2,3] = mul a 2.0
        c:f32[2,3] = add b b
      in (c) }
"""
from __future__ import annotations

import numpy as np

from fx.array import Array
from fx.backend import is_buffer
from fx.core.aval import aval_of
from fx.core.graph import Eqn, Graph, Var
from fx.dtypes import is_weak_scalar
from fx.prims.elementwise import (
    add_p,
    convert_element_type_p,
    div_p,
    mul_p,
    neg_p,
    pow_p,
    sub_p,
)
from fx.prims.linalg import dot_general_p
from fx.prims.shape import broadcast_in_dim_p, reshape_p, rev_p, squeeze_p, transpose_p

__all__ = ["dce", "cse", "fold_constants", "simplify", "optimize"]

FOLD_LIMIT = 1_000_000  # results with more elements than this stay computed at run time
_UNIFORM_LIMIT = 1 << 16  # constant arrays larger than this are not scanned for one value
_CSE_BY_VALUE = 1024  # constant arrays up to this size are equal by value in cse, not identity


# --- shared helpers ----------------------------------------------------------------------
def _subgraphs(params):
    for value in params.values():
        if isinstance(value, Graph):
            yield value
        elif isinstance(value, tuple):
            yield from (g for g in value if isinstance(g, Graph))


def _effectful(eqn: Eqn, memo: dict) -> bool:
    """An effect primitive, or a higher-order one whose sub-graphs hold an effect."""
    if eqn.prim.effect:
        return True
    for g in _subgraphs(eqn.params):
        if id(g) not in memo:
            memo[id(g)] = False  # guards against a (malformed) cycle
            memo[id(g)] = any(_effectful(e, memo) for e in g.eqns)
        if memo[id(g)]:
            return True
    return False


def _read(env: dict, x):
    """``x`` after the renamings in ``env`` (constants and None stay as they are)."""
    return env.get(id(x), x) if type(x) is Var else x


def _with_inputs(eqn: Eqn, inputs: list) -> Eqn:
    """``eqn`` itself when ``inputs`` are its own, else a copy reading ``inputs``."""
    if all(a is b for a, b in zip(inputs, eqn.inputs)):
        return eqn
    return Eqn(eqn.prim, inputs, eqn.params, eqn.outvars, eqn.source)


def _finish(graph: Graph, eqns: list, env: dict) -> Graph:
    return Graph(graph.invars, eqns, [_read(env, v) for v in graph.outvars])


# --- dead-code elimination -----------------------------------------------------------------
def dce(graph: Graph) -> Graph:
    """Drop the equations none of whose results are used later or returned; equations of
    effect primitives (or holding one in a sub-graph) always stay.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from transforms.compiler.passes import dce
        >>> g = fx.make_graph(lambda x: (fnp.sin(x), fnp.cos(x))[1])(fx.ShapedArray((), "f4"))
        >>> dce(g)
        { lambda a:f32[] .
            b:f32[] = cos a
          in (b) }
    """
    live, memo, kept = {id(v) for v in graph.outvars if type(v) is Var}, {}, []
    for eqn in reversed(graph.eqns):
        if any(id(o) in live for o in eqn.outvars) or _effectful(eqn, memo):
            kept.append(eqn)
            live.update(id(x) for x in eqn.inputs if type(x) is Var)
    return Graph(graph.invars, kept[::-1], graph.outvars)


# --- common-subexpression elimination --------------------------------------------------------
def _input_key(x):
    """Variables by identity, numbers by type and exact bits (-0.0 is not 0.0), NumPy
    arrays by dtype, shape and bytes when small (the counters two ``random`` calls make
    are equal, not the same), other constants by identity."""
    t = type(x)
    if t is Var:
        return id(x)
    if t is float or t is complex:
        return (t, x.real.hex(), x.imag.hex())
    if t is int or t is bool:
        return (t, x)
    if isinstance(x, np.generic):
        return ("np", x.dtype, x.tobytes())
    buf = x._buffer() if isinstance(x, Array) else x
    if type(buf) is np.ndarray and buf.size <= _CSE_BY_VALUE and buf.dtype.kind in "biufc":
        return ("array", buf.dtype, buf.shape, buf.tobytes())
    return ("id", id(x))


def _param_key(value):
    if isinstance(value, Graph):
        return ("graph", id(value))
    if isinstance(value, tuple):
        return tuple(_param_key(v) for v in value)
    if isinstance(value, (bool, float, np.floating)):  # 1.0 is not True, -0.0 is not 0.0
        return (type(value), value if type(value) is bool else float(value).hex())
    return value


def _eqn_key(eqn: Eqn, inputs: list):
    """A hashable description of the computation, or None when a parameter is unhashable."""
    key = (eqn.prim, tuple(sorted((k, _param_key(v)) for k, v in eqn.params.items())),
           tuple(map(_input_key, inputs)))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def cse(graph: Graph) -> Graph:
    """Merge equations with the same primitive, equal parameters and the same inputs
    (variables by identity, numbers by value and dtype, small NumPy arrays by value, other
    arrays by identity); later uses read the first one's results. Effectful equations are
    never merged; pure ones (random bits of one key included) are.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from transforms.compiler.passes import cse
        >>> g = fx.make_graph(lambda x: fnp.sin(x) + fnp.sin(x))(fx.ShapedArray((), "f4"))
        >>> cse(g)
        { lambda a:f32[] .
            b:f32[] = sin a
            c:f32[] = add b b
          in (c) }
    """
    env, seen, memo, eqns = {}, {}, {}, []
    for eqn in graph.eqns:
        inputs = [_read(env, x) for x in eqn.inputs]
        key = None if _effectful(eqn, memo) else _eqn_key(eqn, inputs)
        earlier = None if key is None else seen.get(key)
        if earlier is not None and len(earlier) == len(eqn.outvars):
            env.update(zip(map(id, eqn.outvars), earlier))
            continue
        if key is not None:
            seen[key] = eqn.outvars
        eqns.append(_with_inputs(eqn, inputs))
    return _finish(graph, eqns, env)


# --- constant folding ------------------------------------------------------------------------
def _evaluate(eqn: Eqn, inputs: list):
    """The result buffers of ``eqn`` on constant ``inputs``, or None to leave it to run time
    (an input not constant, too large, failing, warning, not of the type the graph says)."""
    if sum(o.aval.size for o in eqn.outvars) > FOLD_LIMIT:
        return None
    buffers = [x._buffer() if isinstance(x, Array) else x for x in inputs]  # as eager does
    if not all(is_weak_scalar(b) or is_buffer(b) for b in buffers):
        return None  # a value traced by an outer transform
    try:
        with np.errstate(all="raise"):  # a floating-point warning shows at run time, as eager
            out = eqn.prim.impl(*buffers, **eqn.params)
    except Exception:  # the error is raised (and explained) at run time, as eagerly
        return None
    outs = list(out) if eqn.prim.multiple_results else [out]
    if len(outs) != len(eqn.outvars) or any(
            not is_buffer(o) or v.aval.weak_type or tuple(o.shape) != v.aval.shape
            or o.dtype != v.aval.dtype for o, v in zip(outs, eqn.outvars)):
        return None
    return outs


def fold_constants(graph: Graph) -> Graph:
    """Evaluate equations whose inputs are all constants with the primitive's ``impl`` (on
    exactly the buffers eager execution would pass), and use the resulting buffers in
    their place. Effects, sub-graph-carrying primitives, results over ``FOLD_LIMIT``
    elements, weakly typed results and calls that fail or warn stay in the graph.

    Example:
        >>> import fx, numpy as np
        >>> from fx.core.graph import Eqn, Graph, Var
        >>> from fx.prims.elementwise import add_p, mul_p
        >>> from transforms.compiler.passes import fold_constants
        >>> x, y, z = (Var(fx.ShapedArray((2,), "float32")) for _ in range(3))
        >>> fold_constants(Graph([x], [Eqn(mul_p, [np.ones(2, np.float32), 3.0], {}, [y]),
        ...                            Eqn(add_p, [x, y], {}, [z])], [z]))
        { lambda a:f32[2] .
            b:f32[2] = add a const<float32[2]>
          in (b) }
    """
    env, memo, eqns = {}, {}, []
    for eqn in graph.eqns:
        inputs = [_read(env, x) for x in eqn.inputs]
        foldable = (not any(type(x) is Var for x in inputs) and not _effectful(eqn, memo)
                    and next(_subgraphs(eqn.params), None) is None)
        outs = _evaluate(eqn, inputs) if foldable else None
        if outs is None:
            eqns.append(_with_inputs(eqn, inputs))
        else:
            env.update(zip(map(id, eqn.outvars), outs))
    return _finish(graph, eqns, env)


# --- algebraic simplification ----------------------------------------------------------------
_SHAPE_ONLY = (broadcast_in_dim_p, reshape_p, squeeze_p, transpose_p, rev_p)  # keep one value
_UNKNOWN = object()


def _uniform_value(buf):
    """The single value of every element of a NumPy constant (bit for bit), else None."""
    if not isinstance(buf, np.ndarray) or buf.size == 0 or buf.dtype.kind not in "biufc":
        return None
    first = buf[(0,) * buf.ndim]
    if all(s == 0 for s in buf.strides):  # a broadcast of one element
        return first
    if buf.size > _UNIFORM_LIMIT:
        return None
    raw = np.ascontiguousarray(buf).view(np.uint8).reshape(buf.size, buf.dtype.itemsize)
    return first if (raw == raw[0]).all() else None


def _scalar_of(x, uniform: dict):
    """The one value ``x`` holds everywhere (a number or NumPy scalar), if known; constant
    arrays are scanned once per pass (``uniform`` remembers them)."""
    if type(x) is Var:
        return uniform.get(id(x))
    if is_weak_scalar(x) or isinstance(x, np.generic):
        return x
    v = uniform.get(id(x), _UNKNOWN)
    if v is _UNKNOWN:
        v = uniform[id(x)] = _uniform_value(x._buffer() if isinstance(x, Array) else x)
    return v


def _same_type(z, dtype) -> bool:
    """Combining ``z`` with an operand of ``dtype`` computes in ``dtype`` (at run time too)."""
    if type(z) is Var:
        return z.aval.dtype == dtype and not z.aval.weak_type
    if is_weak_scalar(z):
        return np.result_type(dtype, z) == dtype
    return getattr(z, "dtype", None) == dtype


def _signs(v, dtype) -> set:
    """Sign bits of ``v``'s parts in ``dtype`` (a real ``v`` adds a +0 imaginary part)."""
    parts = (np.real(v), np.imag(v)) if dtype.kind == "c" else (v,)
    return {bool(np.signbit(p)) for p in parts}


def _neutral(prim, z, side: int, dtype, signed_zeros: bool, uniform: dict) -> bool:
    """``x prim z`` (``side`` 1) or ``z prim x`` (``side`` 0) equals ``x`` bit for bit."""
    v = _scalar_of(z, uniform)
    if v is None or not (v == 0 or v == 1) or not _same_type(z, dtype):
        return False
    exact = dtype.kind in "biu" or not signed_zeros
    if prim is mul_p or prim is div_p and side == 1:
        return dtype.kind != "c" and v == 1  # complex products mix in the other part
    if prim is add_p:  # -0.0 + 0.0 is 0.0: only -0.0 is neutral for floats
        return v == 0 and (exact or _signs(v, dtype) == {True})
    if prim is sub_p and side == 1:  # x - 0.0 is x + -0.0
        return v == 0 and (exact or _signs(v, dtype) == {False})
    return False


def _is_identity(perm) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


def _scalar_operand(eqn: Eqn, inputs: list, uniform: dict, ok):
    """``x op c`` where ``c`` is an array of one value (a broadcast or folded constant, such
    as a cotangent seed) and ``x`` already has the result's type: ``c`` becomes a scalar
    of its dtype, which gives the same elements without reading the array."""
    for side in (1, 0):
        x, z = inputs[1 - side], inputs[side]
        if not ok(x) or is_weak_scalar(z) or isinstance(z, np.generic):
            continue
        v = _scalar_of(z, uniform)
        if v is not None and aval_of(z).dtype == x.aval.dtype:
            new = list(inputs)
            new[side] = np.dtype(x.aval.dtype).type(v)
            return Eqn(eqn.prim, new, eqn.params, eqn.outvars, eqn.source)
    return None


def _swapped_product(eqn: Eqn, inner: Eqn, uses: dict):
    """``transpose(x @ y)`` of a matrix product used only here: ``y^T @ x^T`` computed
    directly (a weight gradient in ``(out, in)`` layout comes out row-major instead of as a
    transposed view that every later elementwise operation would read slowly)."""
    if inner.prim is not dot_general_p or tuple(eqn.params["permutation"]) != (1, 0) \
            or uses.get(id(inner.outvars[0])) != 1:
        return None
    (xc, yc), (xb, yb) = inner.params["dimension_numbers"]
    x, y = (v.aval if type(v) is Var else aval_of(v) for v in inner.inputs)
    if xb or yb or x.ndim - len(xc) != 1 or y.ndim - len(yc) != 1:
        return None
    params = {**inner.params, "dimension_numbers": ((tuple(yc), tuple(xc)), ((), ()))}
    return Eqn(dot_general_p, inner.inputs[::-1], params, eqn.outvars, eqn.source)


def _rewrite(eqn: Eqn, inputs: list, producer: dict, uniform: dict, signed_zeros: bool,
             uses: dict):
    """``x``, a value the result equals; an ``Eqn`` computing it more simply; or None."""
    prim, out = eqn.prim, eqn.outvars[0]
    ok = lambda x: (type(x) is Var and x.aval == out.aval  # noqa: E731
                    or not is_weak_scalar(x) and aval_of(x) == out.aval)
    if prim in (mul_p, div_p, add_p, sub_p) and len(inputs) == 2:
        for side in (1, 0):
            x, z = inputs[1 - side], inputs[side]
            if ok(x) and _neutral(prim, z, side, out.aval.dtype, signed_zeros, uniform):
                return x
    if prim is pow_p and ok(inputs[0]) and _same_type(inputs[1], out.aval.dtype) \
            and _scalar_of(inputs[1], uniform) == 1:
        return inputs[0]  # x ** 1 (from the derivative of x ** 2)
    if isinstance(prim.impl, np.ufunc) and prim.impl.nin == 2 and len(inputs) == 2:
        return _scalar_operand(eqn, inputs, uniform, ok)
    if len(inputs) != 1:
        return None
    (x,) = inputs
    inner = producer.get(id(x)) if type(x) is Var else None
    nested = inner is not None and (inner.prim is prim or prim is reshape_p
                                    and inner.prim is squeeze_p)
    if prim is transpose_p and inner is not None:
        swapped = _swapped_product(eqn, inner, uses)
        if swapped is not None:
            return swapped
    if prim is neg_p:  # -(-x) is x
        return inner.inputs[0] if nested and ok(inner.inputs[0]) else None
    identity = prim is transpose_p and _is_identity(eqn.params["permutation"])
    if (identity or prim in (convert_element_type_p, broadcast_in_dim_p, squeeze_p, reshape_p)
            ) and ok(x):
        return x  # to its own dtype or shape (a square transpose is no identity: its perm)
    if not nested or prim not in (reshape_p, transpose_p):
        return None
    params = eqn.params
    if prim is transpose_p:  # out axis k is inner axis perm[k], which is x axis first[perm[k]]
        first = inner.params["permutation"]
        perm = tuple(first[p] for p in eqn.params["permutation"])
        if _is_identity(perm):
            return inner.inputs[0] if ok(inner.inputs[0]) else None
        params = {**params, "permutation": perm}
    elif ok(inner.inputs[0]):  # reshapes keep row-major order: only the last shape counts
        return inner.inputs[0]
    return Eqn(prim, [inner.inputs[0]], params, eqn.outvars, eqn.source)


def simplify(graph: Graph, *, signed_zeros: bool = True) -> Graph:
    """Algebraic identities that keep every value, shape, dtype and weak type exactly:
    ``x * 1``, ``1 * x``, ``x / 1``, ``x + 0``, ``0 + x``, ``x - 0`` (the neutral operand a
    number, a uniform constant array or a broadcast of one), ``neg(neg(x))``, transposes
    of transposes (composed; the identity disappears), reshapes of reshapes, and reshapes,
    broadcasts and casts to what ``x`` already is. ``x * 0`` stays (NaN and inf).

    ``signed_zeros=True`` (the default) keeps IEEE signed zeros bit for bit: for floats,
    ``x + 0.0`` stays (``-0.0 + 0.0`` is ``0.0``) and only ``x + -0.0`` and ``x - 0.0`` go;
    ``signed_zeros=False`` also removes ``x + 0.0`` (as XLA does). Complex ``x * 1`` stays
    (NumPy's ``(inf + 0j) * 1`` is ``inf + nanj``).

    Example:
        >>> import fx
        >>> from transforms.compiler.passes import simplify
        >>> g = fx.make_graph(lambda x: -(-x.T.T) * 1.0 - 0.0)(fx.ShapedArray((2, 3), "f4"))
        >>> simplify(g)  # the outputs read ``a``; what is left is dead code for ``dce``
        { lambda a:f32[2,3] .
            b:f32[3,2] = transpose[permutation=(1, 0)] a
            c:f32[2,3] = neg a
          in (a) }
    """
    env: dict = {}
    producer: dict = {}  # id(var) -> the (new) equation computing it
    uses: dict = {}      # id(var) -> how many inputs and outputs read it
    for x in [x for e in graph.eqns for x in e.inputs] + list(graph.outvars):
        if type(x) is Var:
            uses[id(x)] = uses.get(id(x), 0) + 1
    uniform: dict = {}   # id(var) or id(constant) -> the one value all its elements hold
    eqns = []
    for eqn in graph.eqns:
        inputs = [_read(env, x) for x in eqn.inputs]
        simple = (len(eqn.outvars) == 1 and not eqn.prim.multiple_results
                  and not eqn.prim.effect)
        new = _rewrite(eqn, inputs, producer, uniform, signed_zeros, uses) if simple else None
        if new is not None and type(new) is not Eqn:
            env[id(eqn.outvars[0])] = new
            continue
        eqn = _with_inputs(eqn, inputs) if new is None else new
        eqns.append(eqn)
        producer.update((id(o), eqn) for o in eqn.outvars)
        if eqn.prim in _SHAPE_ONLY and eqn.inputs:
            v = _scalar_of(eqn.inputs[0], uniform)
            if v is not None:
                uniform[id(eqn.outvars[0])] = v
    return _finish(graph, eqns, env)


# --- the pipeline ----------------------------------------------------------------------------
def optimize(graph: Graph, *, max_rounds: int = 8, signed_zeros: bool = True) -> Graph:
    """``fold_constants``, ``simplify``, ``cse`` and ``dce``, repeated until a round changes
    nothing (at most ``max_rounds``). Each round is linear in the size of the graph.

    Example:
        >>> import fx, fx.numpy as fnp
        >>> from transforms.compiler.passes import optimize
        >>> g = fx.make_graph(lambda x: fnp.exp(x) * 1.0 + fnp.exp(x))(
        ...     fx.ShapedArray((3,), "float32"))
        >>> len(g.eqns), len(optimize(g).eqns)
        (4, 2)
    """
    passes = (fold_constants, lambda g: simplify(g, signed_zeros=signed_zeros), cse, dce)
    for _ in range(max(1, max_rounds)):
        changed = False
        for step in passes:  # a pass keeps the equations it leaves alone as they are
            new = step(graph)
            changed = changed or (len(new.eqns) != len(graph.eqns) or any(
                a is not b for a, b in zip(new.eqns + new.outvars, graph.eqns + graph.outvars)))
            graph = new
        if not changed:
            break
    return graph
