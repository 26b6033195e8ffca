r"""Will a fitted coupled GLM run away when simulated? Predicted before simulating (Chapter 6).

A fitted :class:`~coupling_tutorial.PopulationGLM` on coupling features is a recurrent
network; simulated with :func:`~coupling_tutorial.simulate_recurrent` its rates can grow
without bound (a :class:`~coupling_tutorial.RunawayError`). :func:`predict_stability` says
so from Chapter 5's linear-response theory (:func:`coupling_tutorial.linearize`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from .._errors import FixedPointError
from .._validation import as_array, check_finite, check_positive
from ..features import coupling_filters, split_coupling
from ..linear_response import linearize

__all__ = ["Stability", "predict_stability"]


class Stability(NamedTuple):
    """Result of :func:`predict_stability`.

    Attributes
    ----------
    stable : bool
        Predicted: the simulation stays near a stationary state (no ``RunawayError``).
    spectral_radius : float
        Of the linearisation at the stationary rates (``inf`` without a fixed point).
    rates : jax.Array, shape ``(n_neurons,)``
        Stationary expected counts per bin :math:`\\nu` of the linearisation (the last
        Newton iterate, possibly non-finite, when there is no fixed point).
    fixed_point : bool
        Whether the rate equation :math:`\\nu = \\bar\\nu\\,e^{H\\nu}` has a (low-rate)
        solution at all.
    """

    stable: bool
    spectral_radius: float
    rates: jnp.ndarray
    fixed_point: bool


def _model_filters(model, basis):
    """Coupling filters ``(window_size, N, N)`` and baseline counts ``(N,)`` of a fitted model."""
    if not hasattr(model, "_check_fitted"):
        raise ValueError(f"`model` must be a fitted PopulationGLM; got {type(model).__name__}.")
    model._check_fitted()
    if getattr(model, "_single", False) or getattr(model, "_structure", None) is not None:
        raise ValueError("`model` must be a PopulationGLM fitted on an array "
                         "X = ct.coupling_features(counts, basis); got a GLM or a dict X.")
    basis = as_array(basis, "basis", ndim=2)
    check_finite(basis, "basis")
    W = model._W
    n_features, n_neurons = W.shape
    n_basis = basis.shape[1]
    if n_features != n_neurons * n_basis:
        raise ValueError(
            f"`basis` must have n_features / n_neurons = {n_features} / {n_neurons} columns "
            f"(the model must be fitted on ct.coupling_features(counts, basis) alone); "
            f"got {n_basis} columns.")
    filters = coupling_filters(split_coupling(W, n_basis), basis.astype(W.dtype))
    return filters, jnp.exp(model._b)


def predict_stability(model, basis, threshold=1.0):
    r"""Predict whether a fitted coupled GLM runs away when simulated, before simulating.

    The fitted model is the network
    :math:`\mu_i(t) = \bar\nu_i\exp\big(\sum_j\sum_\ell h_{ij}[\ell]\,y_j(t-1-\ell)\big)`,
    :math:`\bar\nu = e^{b}`, :math:`h` the filters ``ct.coupling_filters`` makes of its
    coefficients. Chapter 5's :func:`~coupling_tutorial.linearize` finds its stationary
    expected counts, the low fixed point of :math:`\nu = \bar\nu\,e^{H\nu}`
    (:math:`H = \sum_\ell h[\ell]`), and the spectral radius :math:`\rho` of the linear
    (Hawkes) kernel :math:`G_{ij}[\ell] = \nu_i h_{ij}[\ell]` there. The prediction is

    * **runaway** if the rate equation has no fixed point: excitation feeds back through
      the exponential faster than any rate can balance it, and every path diverges;
    * **runaway** if :math:`\rho \ge` ``threshold``: the fixed point exists but
      fluctuations around it grow;
    * **stable** otherwise.

    The exponential makes this a prediction, not a theorem: with :math:`\rho < 1` the
    low-rate state is locally stable, but a high-rate branch still exists beyond a
    saddle, and a large enough fluctuation escapes to it (the exp-link network is
    metastable). How often that happens within a simulation grows with its length and
    with how close :math:`\rho` is to 1; ``threshold`` below 1 trades missed runaways for
    false alarms. The benchmark ``benchmarks/model_checks.py`` measures the agreement with
    :func:`~coupling_tutorial.simulate_recurrent` over fitted models from stable to
    runaway (see Chapter 6).

    Parameters
    ----------
    model : PopulationGLM
        Fitted on ``X = ct.coupling_features(counts, basis)`` (all neurons' coupling
        features and nothing else), with the exponential link.
    basis : array_like, shape ``(window_size, n_basis)``
        The basis of the coupling features.
    threshold : float
        Spectral radius at or above which a runaway is predicted (default 1, the edge of
        linear stability).

    Returns
    -------
    Stability
        ``(stable, spectral_radius, rates, fixed_point)``.

    Raises
    ------
    ValueError
        If ``model`` is not fitted, its features are not the coupling features of
        ``basis``, or ``threshold`` is not positive.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(3, 10)
    >>> y = jax.random.poisson(jax.random.key(0), 0.1, (3000, 2))
    >>> model = ct.PopulationGLM().fit(ct.coupling_features(y, B), y)
    >>> res = ct.predict_stability(model, B)     # independent neurons: weak fitted coupling
    >>> res.stable, res.fixed_point, bool(res.spectral_radius < 0.5)
    (True, True, True)
    """
    filters, baseline = _model_filters(model, basis)
    check_positive(threshold, "threshold")
    try:
        lin = linearize(filters, baseline)
    except FixedPointError as err:
        rates = err.rates if err.rates is not None else jnp.full(baseline.shape, jnp.nan)
        return Stability(False, float("inf"), rates, False)
    rho = float(lin.spectral_radius)
    return Stability(bool(np.isfinite(rho) and rho < float(threshold)), rho, lin.rates, True)
