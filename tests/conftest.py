"""Test configuration: ``FX_DEVICE=gpu python -m pytest`` runs the whole suite on CuPy."""
import os

import pytest

from fx import backend


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FX_DEVICE", "cpu").startswith("gpu") and not backend.gpu_available():
        skip = pytest.mark.skip(reason="FX_DEVICE=gpu but cupy with a GPU is not available")
        for item in items:
            item.add_marker(skip)
