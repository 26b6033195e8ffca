"""Shared test set-up: float64 everywhere (reference values are float64) and paths."""

from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    config.addinivalue_line("markers", "book: builds the book (slow; skipped by `oldest`)")


@pytest.fixture(scope="session")
def data_dir():
    return DATA
