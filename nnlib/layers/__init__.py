"""Module classes, one file per family; exported from ``nnlib``."""
