"""The package's public surface: re-exports, unique names, numpydoc docstrings."""

import importlib
import inspect

import pytest

import coupling_tutorial as ct

MODULES = ["filters", "features", "glm", "simulate", "meanfield", "lif", "linear_response",
           "scale"]


def test_each_module_is_reexported_at_top_level():
    for name in MODULES:
        mod = importlib.import_module(f"coupling_tutorial.{name}")
        for public in mod.__all__:
            assert getattr(ct, public) is getattr(mod, public), f"ct.{public} is not {name}.{public}"
    assert sorted(ct.__all__) == sorted(
        n for m in MODULES for n in importlib.import_module(f"coupling_tutorial.{m}").__all__)


def test_public_names_are_unique():
    dupes = {n for n in ct.__all__ if ct.__all__.count(n) > 1}
    assert not dupes, f"defined in two modules: {dupes}"


@pytest.mark.parametrize("name", sorted(ct.__all__))
def test_public_functions_have_numpydoc_with_example(name):
    obj = getattr(ct, name)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return  # constants
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"ct.{name} has no docstring"
    if inspect.isclass(obj) and (issubclass(obj, (Warning, Exception)) or hasattr(obj, "_fields")):
        return  # exceptions, warnings and result tuples: a summary is enough
    assert "Examples" in doc and ">>>" in doc, f"ct.{name}: no runnable example"
    if inspect.isfunction(obj) and inspect.signature(obj).parameters:
        assert "Parameters" in doc, f"ct.{name}: no Parameters section"
