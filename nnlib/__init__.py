"""nnlib: stateless layers. Pure functions in ``nnlib.functional`` (``import
nnlib.functional as F``), initialisers in ``nnlib.init``, and modules: frozen dataclasses
of hyperparameters whose ``init`` / ``apply`` take and return parameter and state pytrees.

    >>> import fx, fx.numpy as fnp, nnlib
    >>> model = nnlib.Sequential()
    >>> model.apply({}, {}, fnp.ones(3))[0].shape
    (3,)
"""
from nnlib import functional, init
from nnlib.module import Module, Sequential, count_params, summary

__all__ = ["functional", "init", "Module", "Sequential", "count_params", "summary"]
