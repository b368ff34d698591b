"""nnlib: stateless layers. Pure functions in ``nnlib.functional`` (``import
nnlib.functional as F``), initialisers in ``nnlib.init``, and modules: frozen dataclasses
of hyperparameters whose ``init`` / ``apply`` take and return parameter and state pytrees.

    >>> import fx, fx.numpy as fnp, nnlib
    >>> model = nnlib.Sequential()
    >>> model.apply({}, {}, fnp.ones(3))[0].shape
    (3,)
"""
from nnlib import functional, init
from nnlib.layers import activations as _activations
from nnlib.layers import attention as _attention
from nnlib.layers import conv as _conv
from nnlib.layers import dropout as _dropout
from nnlib.layers import linear as _linear
from nnlib.layers import losses as _losses
from nnlib.layers import normalization as _normalization
from nnlib.layers import pooling as _pooling
from nnlib.layers import recurrent as _recurrent
from nnlib.layers.activations import *
from nnlib.layers.attention import *
from nnlib.layers.conv import *
from nnlib.layers.dropout import *
from nnlib.layers.linear import *
from nnlib.layers.losses import *
from nnlib.layers.normalization import *
from nnlib.layers.pooling import *
from nnlib.layers.recurrent import *
from nnlib.module import Module, Sequential, count_params, summary

__all__ = ["functional", "init", "Module", "Sequential", "count_params", "summary"]
__all__ += _dropout.__all__ + _linear.__all__ + _normalization.__all__
__all__ += _recurrent.__all__
__all__ += _attention.__all__
__all__ += _activations.__all__ + _losses.__all__
__all__ += _conv.__all__ + _pooling.__all__
