r"""Pointwise confidence bands on fitted coupling filters (Chapter 6, "Confidence bands")."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from .._validation import _check_array_type, as_array, check_finite
from ._coupling_blocks import _check_model, _coupling_blocks

__all__ = ["FilterBand", "filter_confidence_band"]


class FilterBand(NamedTuple):
    """Fitted filters and a pointwise band (unpacks as ``filters, lower, upper``).

    Each is ``(window_size, n_receivers, n_senders)``, the layout of
    :func:`coupling_tutorial.features.coupling_filters` (``(window_size, n_senders)`` for a
    :class:`~coupling_tutorial.glm.GLM`).
    """

    filters: Any
    lower: Any
    upper: Any


def _check_level(level):
    if np.iscomplexobj(level):
        _check_array_type(level, "level")  # a TypeError: `level` must be real
    try:
        ok = 0.0 < float(level) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`level` must be a number in (0, 1); got {level!r}.")
    return float(level)


def filter_confidence_band(model, X, y, basis, level=0.95):
    r"""Fitted coupling filters with pointwise normal confidence bands.

    The filter from sender :math:`j` to receiver :math:`i` at lag :math:`\ell` is
    :math:`h[\ell] = b_\ell^\top \hat\beta` with :math:`b_\ell` row :math:`\ell` of the
    basis and :math:`\hat\beta` its :math:`K` coefficients, so its variance is

    .. math::

        \operatorname{Var} h[\ell] = b_\ell^\top \hat\Sigma_{jj}\, b_\ell,

    with :math:`\hat\Sigma_{jj}` the covariance block of
    :meth:`~coupling_tutorial.glm.PopulationGLM.standard_errors` (inverse observed Fisher
    information). The band is :math:`h[\ell] \pm z\,\sqrt{\operatorname{Var} h[\ell]}`,
    :math:`z = \Phi^{-1}((1 + \text{level})/2)` (1.96 for 95 %): each lag separately, not
    simultaneously for the whole filter. With a ridge penalty it is a pointwise credible
    band of the Laplace posterior. Filters masked out of the fit are 0 with a band of
    width 0 (fixed, not estimated).

    Parameters
    ----------
    model : PopulationGLM or GLM
        Fitted, unpenalised or ridge-penalised.
    X : array_like or dict
        The design the model was fitted to: the coupling design (every column a coupling
        column) or a dict with a ``"coupling"`` entry (see :func:`coupling_tests`).
    y : array_like, shape ``(n_samples, n_receivers)``
        The counts the model was fitted to.
    basis : array_like, shape ``(window_size, n_basis)``
        The basis the coupling design was built with.
    level : float in (0, 1)

    Returns
    -------
    FilterBand
        ``filters``, ``lower``, ``upper``, each ``(window_size, n_receivers, n_senders)``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> basis = ct.raised_cosine_log_basis(2, 8)
    >>> counts = jax.random.poisson(jax.random.key(2), jnp.full((2000, 3), 0.3))
    >>> X = ct.coupling_features(counts, basis)   # first 8 rows NaN: dropped by the fit
    >>> model = ct.PopulationGLM().fit(X, counts)
    >>> band = ct.filter_confidence_band(model, X, counts, basis, level=0.9)
    >>> band.filters.shape   # (window_size, n_receivers, n_senders)
    (8, 3, 3)
    >>> bool((band.lower <= band.filters).all() and (band.filters <= band.upper).all())
    True
    """
    level = _check_level(level)
    basis = check_finite(as_array(basis, "basis", ndim=2), "basis")
    _check_model(model)
    coef, C, _ = _coupling_blocks(model, X, y, basis.shape[1])
    B = basis.astype(C.dtype)
    filters = jnp.einsum("lk,ski->lis", B, coef)
    var = jnp.einsum("lk,nskq,lq->lns", B, C, B)
    half = ndtri(jnp.asarray(0.5 + 0.5 * level, C.dtype)) * jnp.sqrt(jnp.maximum(var, 0.0))
    band = FilterBand(filters, filters - half, filters + half)
    if model._single:
        return FilterBand(*(a[:, 0] for a in band))
    return band
