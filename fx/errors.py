"""Exception types raised by fx, and helpers that build their messages.

Every error names the operation and the shapes/dtypes involved, so a user can see
what went wrong without reading library internals.
"""
from __future__ import annotations


class FxError(Exception):
    """Base class for fx-specific errors."""


class TracerLeakError(FxError):
    """A traced value was used after the transform that made it returned."""


class DonatedArrayError(FxError, RuntimeError):
    """An array donated to a jitted function (``donate_argnums``) was used again."""


class UnsupportedError(NotImplementedError, AttributeError):
    """A NumPy name that fx does not provide (also an AttributeError, so ``hasattr`` works)."""


class ConcretizationError(FxError, TypeError):
    """Python needed a concrete value (bool, int, index) but got a traced one."""


def describe(x) -> str:
    """Short ``dtype[shape]`` description of an array-like or Python value."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None or dtype is None:
        return f"{type(x).__name__}({x!r})"
    return f"{dtype}{list(shape)}"


def op_error(exc_type, op: str, message: str, *operands) -> Exception:
    """Build ``exc_type`` with a message of the form ``op(float32[3], int32[4]): message``."""
    shown = ", ".join(describe(o) for o in operands)
    return exc_type(f"{op}({shown}): {message}")
