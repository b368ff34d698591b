"""Devices, transfers and the mixed-device error."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import backend

needs_gpu = pytest.mark.skipif(not backend.gpu_available(), reason="needs cupy and a GPU")


def test_cpu_is_always_there():
    devs = fx.devices()
    assert devs[0] == fx.Device("cpu", 0) and str(devs[0]) == "cpu:0"
    assert fx.devices("cpu") == [devs[0]]


def test_device_put_on_cpu_is_identity_in_value():
    x = fx.device_put(np.arange(3.0), "cpu")
    assert isinstance(x, fx.Array) and x.device == fx.devices()[0]
    assert fx.device_put(x, "cpu").tolist() == [0.0, 1.0, 2.0]


def test_unknown_device_names_available_ones():
    with pytest.raises((ValueError, RuntimeError), match="cpu|device"):
        fx.device_put(fnp.ones(2), "tpu")


@pytest.mark.skipif(backend.gpu_available(), reason="only meaningful without a GPU")
def test_gpu_request_without_gpu_is_clear():
    with pytest.raises(RuntimeError, match="gpu"):
        fx.devices("gpu")


def test_mixed_devices_error_names_both(monkeypatch):
    """Simulate a second device: buffers of a marker subclass report gpu:0."""
    class OtherDeviceBuffer(np.ndarray):
        pass

    real_device_of = backend.device_of
    monkeypatch.setattr(backend, "device_of", lambda buf: backend.Device("gpu", 0)
                        if isinstance(buf, OtherDeviceBuffer) else real_device_of(buf))

    def refuse_mixing(*bufs):
        if len({type(b) for b in bufs}) > 1:
            raise TypeError("backend refuses to mix")
        return np.add(*bufs)

    from fx.array import wrap
    from fx.prims.elementwise import add_p
    monkeypatch.setattr(add_p, "impl", refuse_mixing)
    gpu_like = wrap(np.ones(2, np.float32).view(OtherDeviceBuffer))
    with pytest.raises(ValueError, match="cpu:0 and gpu:0"):
        add_p.bind(fnp.ones(2), gpu_like)


@needs_gpu
def test_gpu_round_trip_and_same_numbers():
    x = fx.device_put(fnp.arange(4.0), "gpu")
    assert x.device.platform == "gpu"
    y = fnp.sin(x) * 2.0
    assert y.device == x.device
    np.testing.assert_allclose(np.asarray(y), np.sin(np.arange(4.0, dtype=np.float32)) * 2,
                               rtol=1e-6)
    back = fx.device_put(y, "cpu")
    assert back.device == fx.devices()[0]


@needs_gpu
def test_gpu_mixing_raises_value_error():
    with pytest.raises(ValueError, match="cpu:0 and gpu:0"):
        fx.device_put(fnp.ones(2), "gpu") + fnp.ones(2)
