"""Library-wide settings, read from environment variables at import time.

Example:
    >>> import fx
    >>> fx.config.default_float
    dtype('float32')
    >>> fx.config.default_float = "float64"   # creation functions now give float64
    >>> fx.config.default_float = "float32"
"""
from __future__ import annotations

import os

import numpy as np

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class Config:
    """Mutable settings object; ``fx.config`` is its single instance."""

    def __init__(self) -> None:
        self._default_float = np.dtype(np.float32)
        self.default_int = np.dtype(np.int32)
        self.default_device = os.environ.get("FX_DEVICE", "cpu")
        self._debug_nans = os.environ.get("FX_DEBUG_NANS", "") not in ("", "0")
        self.explain_retrace = os.environ.get("FX_EXPLAIN_RETRACE", "") not in ("", "0")

    @property
    def default_float(self) -> np.dtype:
        """dtype of float results created without an explicit dtype."""
        return self._default_float

    @default_float.setter
    def default_float(self, value) -> None:
        dtype = np.dtype(value)
        if dtype not in _FLOATS:
            raise ValueError(f"default_float must be one of float16/32/64, got {dtype}")
        self._default_float = dtype

    @property
    def debug_nans(self) -> bool:
        """Raise ``FloatingPointError`` at the first primitive that produces a NaN (eagerly,
        under ``jit`` and in backward passes); see ``fx.debug``. Slows every op while on."""
        return self._debug_nans

    @debug_nans.setter
    def debug_nans(self, value) -> None:
        self._debug_nans = bool(value)
        from fx import debug  # fx.debug imports this module
        debug.set_nan_checking(self._debug_nans)

    @property
    def default_complex(self) -> np.dtype:
        """Complex dtype matching ``default_float`` (complex64 for float32)."""
        wide = self._default_float == np.float64
        return np.dtype(np.complex128) if wide else np.dtype(np.complex64)


config = Config()
