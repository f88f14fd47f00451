"""Which framework's test files a marker expression leaves out (``conftest.marker_expression_holds``): a file left
out is never imported, so ``pytest -m tf`` does not import PyTorch beside TensorFlow."""

from __future__ import annotations

import pytest
from conftest import marker_expression_holds


@pytest.mark.parametrize("text, markers, holds", [
    ("tf", {"tf"}, True),
    ("tf", {"torch"}, False),
    ("not slow", set(), True),
    ("tf and not slow", {"tf"}, True),
    ("tf and not slow", {"tf", "slow"}, False),
    ("(torch or jax) and not slow", {"jax"}, True),
    ("torch or jax", {"tf"}, False),
])
def test_the_expression_is_read_as_pytest_reads_it(text, markers, holds):
    assert marker_expression_holds(text, lambda name: name in markers) is holds


@pytest.mark.parametrize("text", ["foo(x=1)", "tf +", "1 and tf"])
def test_an_expression_it_does_not_follow_is_left_to_pytest(text):
    assert marker_expression_holds(text, lambda name: True) is None
