"""The jit compiler: optimisation passes, memory planning and Python code generation."""
