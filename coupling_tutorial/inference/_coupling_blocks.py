"""Where the coupling coefficients of a fitted model sit, and their covariance (private).

Shared by :func:`~coupling_tutorial.inference.coupling_tests` and
:func:`~coupling_tutorial.inference.filter_confidence_band`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp

from .._validation import _describe, check_int
from ..glm import PopulationGLM
from ..glm.fisher import _covariance

COUPLING_KEY = "coupling"


class _Blocks(NamedTuple):
    """``coef``: ``(S, K, N)`` fitted coupling coefficients (split layout); ``cov``:
    ``(N, S, K, K)`` the covariance block of each filter; ``free``: ``(S, K, N)`` 0/1."""

    coef: Any
    cov: Any
    free: Any


def _check_model(model):
    if not isinstance(model, PopulationGLM):
        raise ValueError("`model` must be a coupling_tutorial PopulationGLM or GLM; got "
                         f"{_describe(model)}.")
    model._check_fitted()


def _coupling_index(model, n_basis):
    """``(S, K)`` indices of the coupling columns in the model's (flattened) features.

    ``X`` is either the coupling design itself (every column a coupling column) or a dict
    whose ``"coupling"`` entry is; other entries are inputs that are not tested.
    """
    n_basis = check_int(n_basis, "n_basis")
    structure = model._structure
    if structure is None:
        offset, n_cols = 0, model._W.shape[0]
    else:
        keys = [k for k, _ in structure]
        if COUPLING_KEY not in keys:
            raise ValueError(f"`X` must be the coupling design or a dict with a "
                             f"'{COUPLING_KEY}' entry; got a dict with keys {keys}.")
        at = keys.index(COUPLING_KEY)
        offset, n_cols = sum(size for _, size in structure[:at]), structure[at][1]
    if n_cols % n_basis:
        raise ValueError(f"`n_basis` must divide the number of coupling columns of `X` "
                         f"({n_cols} = n_senders * n_basis); got {n_basis}.")
    return offset + jnp.arange(n_cols).reshape(n_cols // n_basis, n_basis)


def _coupling_blocks(model, X, y, n_basis):
    """The :class:`_Blocks` of a fitted model on the data it was fitted to."""
    _check_model(model)
    idx = _coupling_index(model, n_basis)
    cov = _covariance(model, X, y)
    C = cov.matrix[:, idx[:, :, None], idx[:, None, :]]
    return _Blocks(cov.coef[idx], C, cov.free[idx])
