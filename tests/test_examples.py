"""The examples run and reach what they claim (smoke sizes, so the suite stays fast)."""
import importlib.util
import pathlib
import subprocess
import sys

import numpy as np

from fx import random

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tour_gradient_descent_reaches_the_least_squares_line():
    tour = load("tour")
    x, y = tour.make_data(random.key(0), 100)
    exact = tour.fit_line(x, y)
    learned, final = tour.descend(x, y, steps=300)
    for name in exact:
        np.testing.assert_allclose(float(learned[name]), float(exact[name]), atol=1e-3)
    assert final < 0.02


def test_tour_runs_as_a_script():
    out = subprocess.run([sys.executable, str(EXAMPLES / "tour.py"), "--steps", "20"],
                         capture_output=True, text=True, check=True).stdout
    assert "gradient descent, 20 steps" in out and "fitted" in out


def test_readme_code_blocks_run():
    import re
    readme = (EXAMPLES.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        namespace = {}
        exec(compile(block, "README.md", "exec"), namespace)
        for name, value in namespace.items():
            if name.startswith("test_") and callable(value):
                value()  # property-based examples in the README run too
