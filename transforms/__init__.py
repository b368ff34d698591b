"""Composable transformations of functions over fx arrays (JAX's names and signatures)."""
from transforms._jvp import jvp

__all__ = ["jvp"]
