"""The one place that knows NumPy from CuPy.

Every fx array holds a backend buffer: a ``numpy.ndarray`` (or NumPy scalar) on the
CPU, a ``cupy.ndarray`` on a GPU. Primitive implementations call the NumPy API; NumPy
forwards calls on CuPy buffers to CuPy through ``__array_ufunc__`` / ``__array_function__``
(NEP 13/18), so one implementation serves both. Only creation and transfer need to
name the array module, and they get it from here.

Example:
    >>> import fx
    >>> fx.devices()[0]
    Device(cpu:0)
"""
from __future__ import annotations

import functools

import numpy as np

from fx.config import config


class Device:
    """A place where buffers live: ``cpu:0`` or ``gpu:N``."""

    __slots__ = ("platform", "id")

    def __init__(self, platform: str, id: int = 0):
        self.platform, self.id = platform, id

    def __repr__(self) -> str:
        return f"Device({self})"

    def __str__(self) -> str:
        return f"{self.platform}:{self.id}"

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and (self.platform, self.id) == (other.platform, other.id)

    def __hash__(self) -> int:
        return hash((self.platform, self.id))


CPU = Device("cpu", 0)


@functools.cache
def _cupy():
    """The cupy module if it is installed and sees a GPU, else None."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:  # missing package, missing driver, no device: all mean "no GPU"
        return None


def gpu_available() -> bool:
    return _cupy() is not None


def devices(platform: str | None = None) -> list[Device]:
    """Devices fx can use, CPU first; ``platform`` ("cpu" or "gpu") filters them."""
    found = [CPU]
    cp = _cupy()
    if cp is not None:
        found += [Device("gpu", i) for i in range(cp.cuda.runtime.getDeviceCount())]
    if platform is not None:
        found = [d for d in found if d.platform == platform]
        if not found:
            raise RuntimeError(f"no {platform} device available (is cupy installed with a GPU?)")
    return found


def to_device(spec) -> Device:
    """Resolve ``None`` (the default device), ``"cpu"``, ``"gpu"``, ``"gpu:1"`` or a Device."""
    if spec is None:
        spec = config.default_device
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, str):
        platform, _, index = spec.partition(":")
        for d in devices(platform):
            if not index or d.id == int(index):
                return d
    raise ValueError(f"unknown device {spec!r}; available: {[str(d) for d in devices()]}")


def device_of(buf) -> Device:
    """Device holding a backend buffer."""
    if isinstance(buf, (np.ndarray, np.generic)):
        return CPU
    return Device("gpu", buf.device.id)


def is_buffer(x) -> bool:
    """True for NumPy arrays/scalars and, when available, CuPy arrays."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    cp = _cupy()
    return cp is not None and isinstance(x, cp.ndarray)


def array_module(device: Device):
    """The array namespace (numpy or cupy) for creating buffers on ``device``."""
    if device.platform == "cpu":
        return np
    return _cupy()


def put(buf, device: Device):
    """Copy ``buf`` to ``device`` (no copy when it is already there)."""
    if device_of(buf) == device:
        return buf
    if device.platform == "cpu":
        return buf.get()
    cp = _cupy()
    with cp.cuda.Device(device.id):
        return cp.asarray(buf)


def to_numpy(buf) -> np.ndarray:
    """A NumPy view or copy of a buffer, on the CPU."""
    return np.asarray(buf) if device_of(buf) == CPU else buf.get()


def from_dlpack(obj):
    """Import a DLPack-capable object as a buffer of the matching backend."""
    device_type, device_id = obj.__dlpack_device__()
    if device_type == 1:  # kDLCPU
        return np.from_dlpack(obj)
    cp = _cupy()
    if cp is None:
        raise RuntimeError("cannot import a GPU DLPack tensor: cupy with a GPU is not available")
    return cp.from_dlpack(obj)
