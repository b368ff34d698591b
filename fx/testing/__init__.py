"""Tools for users' own gradient tests: ``check_grads`` and hypothesis ``strategies``.

``fx.testing.strategies`` needs hypothesis (``pip install fx[test]``); ``check_grads``
needs nothing beyond fx.

Example:
    >>> from fx.testing import check_grads
    >>> check_grads(lambda x: x ** 3, (fx.asarray(2.0, dtype="float64"),), order=3)
"""
from fx.testing.check_grads import check_grads

__all__ = ["check_grads", "strategies"]


def __getattr__(name: str):
    if name == "strategies":
        import importlib
        return importlib.import_module("fx.testing.strategies")
    raise AttributeError(f"module 'fx.testing' has no attribute {name!r}")
