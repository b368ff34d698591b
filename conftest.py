"""Names every docstring example may use without importing them (pytest --doctest-modules)."""
import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import lax, random, tree


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(fx=fx, fnp=fnp, np=np, lax=lax, random=random, tree=tree)
