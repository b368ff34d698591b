"""Composable transformations of functions over fx arrays (JAX's names and signatures)."""
from transforms._checkpoint import checkpoint
from transforms._jit import jit
from transforms._jvp import jacfwd, jvp
from transforms._vjp import grad, hessian, jacrev, value_and_grad, vjp
from transforms._vmap import vmap
from transforms.custom import custom_jvp, custom_vjp
from transforms.linearize import linearize

__all__ = ["jvp", "jacfwd", "linearize", "vjp", "grad", "value_and_grad", "jacrev", "hessian",
           "custom_jvp", "custom_vjp", "checkpoint", "vmap", "jit"]
