"""The trace-stack skeleton: bind routing, levels, leaks and concretization errors.

A tiny test-only transform (it records which primitives it sees and evaluates them
eagerly) exercises exactly the machinery real transforms build on.
"""
import pytest

import fx
import fx.numpy as fnp
from fx.core import trace as tr
from fx.core.primitive import eager


class RecordTracer(tr.Tracer):
    __slots__ = ("value",)

    def __init__(self, trace, value):
        self._trace, self.value = trace, value

    @property
    def aval(self):
        return self.value.aval


class RecordTrace(tr.Trace):
    name = "record"

    def pure(self, val):
        return RecordTracer(self, fx.asarray(val) if not isinstance(val, fx.Array) else val)

    def process_primitive(self, prim, tracers, params):
        self.main.global_data.append((self.main.level, prim.name))
        out = prim.bind(*[t.value for t in tracers], **params)
        return RecordTracer(self, out)


def record(f, *args):
    log = []
    with tr.new_main(RecordTrace, log) as main:
        trace = RecordTrace(main)
        out = f(*[RecordTracer(trace, fx.asarray(a)) for a in args])
        out = out.value if isinstance(out, RecordTracer) and out._trace.main is main else out
    return out, log


def test_bind_routes_to_the_trace_and_eager_path_is_restored():
    out, log = record(lambda x: fnp.sin(x) * 2.0 + x, [1.0, 2.0])
    assert [name for _, name in log] == ["sin", "mul", "add"]
    assert isinstance(out, fx.Array) and not isinstance(out, tr.Tracer)
    assert tr.active == 0


def test_nested_levels_are_kept_apart():
    def outer(x):
        inner_out, inner_log = record(lambda y: x * y, [3.0])
        return inner_out + x, inner_log
    (out, inner_log), outer_log = record(lambda x: outer(x), [2.0])
    assert inner_log == [(1, "mul")]          # the product involves the inner variable
    assert (0, "mul") in outer_log and (0, "add") in outer_log  # lifted back to level 0
    assert out.value.tolist() == [8.0]


def test_tracer_shape_and_dtype_are_known():
    shapes = []
    record(lambda x: shapes.append((x.shape, x.dtype, x.ndim, x.size)) or x, [[1.0, 2.0]])
    assert shapes == [((1, 2), fx.float32, 2, 2)]


def test_leaked_tracer_raises_naming_the_transform():
    leaked = []
    record(lambda x: leaked.append(x) or x, [1.0])
    with pytest.raises(fx.TracerLeakError, match="record"):
        fnp.sin(leaked[0])
    with pytest.raises(fx.TracerLeakError, match="record"):
        leaked[0] + 1.0


def test_python_control_flow_on_tracer_raises_concretization_error():
    with pytest.raises(fx.ConcretizationError, match="lax.cond"):
        record(lambda x: x if x > 0 else -x, [1.0])
    with pytest.raises(fx.ConcretizationError):
        record(lambda x: fnp.arange(x), [3])


def test_eager_path_works_without_traces():
    from fx.prims.elementwise import add_p
    assert eager(add_p, [fx.asarray(1.0), fx.asarray(2.0)], {}).item() == 3.0
