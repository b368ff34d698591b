"""fx: functional array transformations over NumPy and CuPy.

    >>> import fx, fx.numpy as fnp
    >>> x = fx.asarray([1.0, 2.0, 3.0])
    >>> fnp.sum(x ** 2)
    Array(14., dtype=float32)
"""
from fx import debug, dtypes, lax, numpy, random, testing, tree
from fx import prims as _prims  # registers every primitive
from fx.array import Array
from fx.backend import Device, devices
from fx.config import config
from fx.core.aval import ShapedArray
from fx.core.staging import eval_shape, make_graph
from fx.creation import asarray, device_put, from_dlpack
from fx.dtypes import (
                       bool_,
                       complex64,
                       complex128,
                       float16,
                       float32,
                       float64,
                       int8,
                       int16,
                       int32,
                       int64,
                       uint8,
                       uint16,
                       uint32,
                       uint64,
)
from fx.errors import ConcretizationError, FxError, TracerLeakError

__version__ = "0.1.0"

__all__ = ["Array", "Device", "devices", "config", "debug", "asarray", "device_put", "from_dlpack",
           "ShapedArray", "make_graph", "eval_shape", "dtypes", "numpy", "lax", "random",
           "testing", "tree",
           "FxError", "TracerLeakError", "ConcretizationError",
           "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"]
