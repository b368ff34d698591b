"""Rule factories: the shape/dtype rules shared by whole families of primitives.

Example:
    >>> from fx.core.rule_kit import elementwise_rule
    >>> from fx.core.aval import ShapedArray
    >>> rule = elementwise_rule("add", kinds="iufc")
    >>> rule(ShapedArray((3, 1), "float32"), ShapedArray((4,), "float32"))
    f32[3,4]
"""
from __future__ import annotations

import numpy as np

from fx.core.aval import ShapedArray
from fx.errors import op_error

KIND_NAMES = {"b": "bool", "i": "signed integer", "u": "unsigned integer",
              "f": "float", "c": "complex"}


def check_kinds(op: str, kinds: str, *avals) -> None:
    """Raise TypeError unless every aval's dtype kind is in ``kinds``."""
    for a in avals:
        if a.dtype.kind not in kinds:
            allowed = ", ".join(KIND_NAMES[k] for k in kinds)
            raise op_error(TypeError, op, f"dtype {a.dtype} is not supported (expects {allowed})",
                           *avals)


def broadcast_shapes(op: str, *avals) -> tuple[int, ...]:
    """NumPy broadcasting of the avals' shapes, or a ValueError naming ``op``."""
    try:
        return np.broadcast_shapes(*(a.shape for a in avals))
    except ValueError:
        shapes = " and ".join(str(a.shape) for a in avals)
        raise op_error(ValueError, op, f"shapes {shapes} cannot be broadcast together",
                       *avals) from None


def elementwise_rule(op: str, kinds: str = "biufc", out_dtype=None):
    """Shape rule of an elementwise op: broadcast shapes, same input dtypes.

    ``out_dtype`` maps the input dtype to the output dtype (default: unchanged).
    """
    def abstract_eval(*avals):
        check_kinds(op, kinds, *avals)
        if len({a.dtype for a in avals}) > 1:
            raise op_error(TypeError, op, "operands must share one dtype (promote first)", *avals)
        first = avals[0].shape
        shape = first if all(a.shape == first for a in avals) else broadcast_shapes(op, *avals)
        dtype = avals[0].dtype if out_dtype is None else np.dtype(out_dtype(avals[0].dtype))
        return ShapedArray.of(tuple(shape), dtype, all(a.weak_type for a in avals))
    abstract_eval.kinds = kinds  # read by the eager fast path (fx.core.elementwise)
    return abstract_eval


def to_bool(dtype) -> np.dtype:
    return np.dtype(np.bool_)


def to_real(dtype) -> np.dtype:
    """float dtype of the same precision (complex64 -> float32), identity for reals."""
    return np.finfo(dtype).dtype if dtype.kind == "c" else dtype


def normalize_axis(op: str, axis: int, ndim: int, *operands) -> int:
    """``axis`` in ``[0, ndim)``, accepting negatives; IndexError-style ValueError otherwise.

    ``operands`` (avals or arrays) are named in the error message.
    """
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise op_error(TypeError, op, f"axis must be an int, got {type(axis).__name__}",
                       *operands)
    if not -ndim <= axis < ndim:
        raise op_error(ValueError, op, f"axis {axis} is out of bounds for an array of "
                       f"dimension {ndim}", *operands)
    return int(axis) % ndim if ndim else 0


def normalize_axes(op: str, axis, ndim: int, *operands) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(op, a, ndim, *operands) for a in axis)
        if len(set(axes)) != len(axes):
            raise op_error(ValueError, op, f"repeated axis in {tuple(axis)}", *operands)
        return tuple(sorted(axes))
    return (normalize_axis(op, axis, ndim, *operands),)


def emitter(*, fresh: bool = False, accepts_out: bool = False, in_place: bool = False):
    """Mark a jit emitter ``emit(ctx, eqn, args, out=None) -> expression`` (see
    ``transforms.compiler.codegen``) with what the memory plan may do with it: its result
    is a new buffer (``fresh``), it can write into ``out`` (``accepts_out``), and ``out``
    may be one of its operands (``in_place``, elementwise operations)."""
    def mark(fn):
        fn.fresh, fn.accepts_out, fn.in_place = fresh, accepts_out, in_place
        return fn
    return mark
