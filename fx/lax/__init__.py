"""Low-level operations and structured control flow (JAX's ``lax``): ``from fx import lax``."""
from fx.lax.collectives import *
from fx.lax.conditionals import *
from fx.lax.gradients import *
from fx.lax.loops import *
from fx.lax.slicing import *
from fx.lax.special import *
