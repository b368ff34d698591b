"""Primitive declarations, one family per file. Importing this package registers them all."""
from fx.prims import elementwise  # noqa: F401
