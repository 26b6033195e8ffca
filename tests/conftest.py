"""Shared test set-up: float64 everywhere (reference values are float64) and paths."""

import importlib.util
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    config.addinivalue_line("markers", "book: builds the book (slow; skipped by `oldest`)")
    config.addinivalue_line(
        "markers", "slow: a long simulation whose functions quicker tests also exercise "
        "(skipped by `oldest` to keep CI under 20 minutes)")


@pytest.fixture(scope="session")
def data_dir():
    return DATA


def float32_mode():
    """Context in which JAX's default float is float32 (API moved between JAX versions)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(False)
    from jax.experimental import disable_x64
    return disable_x64()


def load_student_edition():
    """Import .ci/student_edition.py (not a package) once, as module `student_edition`."""
    name = "student_edition"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / "student_edition.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
