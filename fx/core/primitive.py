"""Primitives and ``bind``: the single entry point of every array operation.

A ``Primitive`` carries every rule about one operation, declared together in its
family file under ``fx/prims``:

* ``impl(*buffers, **params)``    the backend call (eager execution),
* ``abstract_eval(*avals, **params)``  output aval(s); raises our clear errors,
* ``jvp``, ``transpose`` / ``vjp``, ``batch``, ``emit``  slots for the transforms,
* ``vjp_fwd(primals, **params) -> (outs, residuals)``  reverse mode's forward (saves fx values),
* ``vjp_bwd(residuals, cts, outs, primals, marks, **params)``  its backward (``vjp``'s rules),
* ``effect``  True when the primitive acts on the world (printing): never removed,
* ``call(top, args, params)``  for higher-order calls (jit, custom rules): how a trace
  handles them, in place of ``process_primitive`` (by default, evaluating their graph).

Arrays go in positionally, hashable static parameters by keyword.

Example:
    >>> import numpy as np
    >>> from fx.core.primitive import Primitive
    >>> from fx.core.aval import ShapedArray
    >>> twice_p = Primitive("twice", impl=lambda x: x * 2,
    ...                     abstract_eval=lambda a: a)
    >>> import fx
    >>> twice_p.bind(fx.asarray([1.0, 2.0]))
    Array([2., 4.], dtype=float32)
"""
from __future__ import annotations

from fx import backend, dtypes
from fx.array import Array, wrap
from fx.core import trace as _trace
from fx.core.aval import aval_of
from fx.errors import FxError, op_error

PRIMITIVES: dict[str, Primitive] = {}
nan_check = None  # fx.config.debug_nans: ``check(prim, out)`` after each eager impl (fx.debug)


class Primitive:
    """A named operation with its rules. Registered in ``PRIMITIVES`` by name."""

    __slots__ = ("name", "impl", "abstract_eval", "multiple_results", "effect",
                 "jvp", "transpose", "vjp", "vjp_fwd", "vjp_bwd", "batch", "emit", "call")

    def __init__(self, name: str, *, impl, abstract_eval, multiple_results: bool = False,
                 effect: bool = False):
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} is already declared")
        self.name, self.impl, self.abstract_eval = name, impl, abstract_eval
        self.multiple_results, self.effect = multiple_results, effect
        self.jvp = self.transpose = self.vjp = self.batch = self.emit = self.call = None
        self.vjp_fwd = self.vjp_bwd = None
        PRIMITIVES[name] = self

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def __repr__(self) -> str:
        return f"Primitive({self.name})"


def bind(prim: Primitive, *args, **params):
    """Apply ``prim``: on the top trace among ``args``, or eagerly on the backend."""
    if _trace.active:
        top = _trace.find_top_trace(args)
        if "axis_name" in params:  # a collective goes to the level that names its axis
            top = _trace.named_level(params["axis_name"], top)
        if top is not None:
            if prim.call is not None:
                return prim.call(top, args, params)
            tracers = [top.full_raise(a) for a in args]
            out = top.process_primitive(prim, tracers, params)
            if prim.multiple_results:
                return [o.full_lower() for o in out]
            return out.full_lower()
    return eager(prim, args, params)


def eager(prim: Primitive, args, params):
    """Run ``prim.impl`` on the buffers of ``args``; turn backend errors into ours."""
    bufs = [a._v if type(a) is Array else _unwrap(prim, a) for a in args]
    try:
        out = prim.impl(*bufs, **params)
    except FxError:
        raise
    except Exception as e:
        raise diagnose(prim, args, params, e) from None
    if nan_check is not None:
        nan_check(prim, out)
    if prim.multiple_results:
        return [wrap(o) for o in out]
    return wrap(out)


def _unwrap(prim: Primitive, x):
    if type(x) is Array:
        return x._v
    if isinstance(x, _trace.Tracer):
        _trace.check_alive(x)
        raise AssertionError("unreachable: a live tracer outside any trace")
    if dtypes.is_weak_scalar(x) or backend.is_buffer(x):
        return x
    raise op_error(TypeError, prim.name, f"expected arrays or numbers, got {type(x).__name__}", x)


def diagnose(prim: Primitive, args, params, exc: Exception) -> Exception:
    """The clearest error for a failed eager call: ours from the shape rule, else the backend's."""
    devices = {backend.device_of(a._buffer() if isinstance(a, Array) else a)
               for a in args if isinstance(a, Array) or backend.is_buffer(a)}
    if len(devices) > 1:
        names = " and ".join(sorted(str(d) for d in devices))
        return op_error(ValueError, prim.name, f"operands live on different devices: {names}; "
                        "move them with fx.device_put first", *args)
    try:
        prim.abstract_eval(*[aval_of(a) for a in args], **params)
    except FxError:
        raise
    except (TypeError, ValueError, IndexError) as ours:
        return ours
    return op_error(type(exc), prim.name, str(exc), *args)
