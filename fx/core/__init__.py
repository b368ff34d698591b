"""The machinery under every op: abstract values, the trace stack, primitives and bind."""
