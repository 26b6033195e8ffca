"""Self-consistent rates of a network of populations.

Chapter 4, "Self-consistent rates and three solvers"; the solvers are in
:mod:`._solvers`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import FixedPointError
from .._validation import (
    check_finite,
    check_positive,
    check_scalar,
    check_thresholds as _check_thresholds,
    float_dtype as _float_dtype,
    np_float_dtype as _np_float,
)
from ._solvers import (
    NetworkParams,
    _least_squares,
    _mu_sigma_jit,
    _newton,
    _newton_jit,
    _relax,
    _residual,
    _residual_and_jacobian,
)
from ._dtypes import result_float_dtype
from .inputs import _arr, _network_args
from .synapses import _check_tau_s, synapse_model

__all__ = ["self_consistent_rates", "FixedPointResult", "FixedPointError"]


class FixedPointResult(NamedTuple):
    """Self-consistent rates and how they were found (returned by :func:`self_consistent_rates`).

    Attributes
    ----------
    rates : jax.Array, shape ``(n_populations,)``
        Stationary rates in Hz.
    mu, sigma : jax.Array, shape ``(n_populations,)``
        Mean and standard deviation of the input at the fixed point, in V.
    residual : float
        :math:`\\max_i |\\nu_i - \\Phi_i(\\nu)|` in Hz at the returned rates.
    n_iter : int
        Iterations (Newton steps, relaxation steps or least-squares steps) used.
    method : str
        The method that produced the rates (``"newton"``, ``"ode"``, ``"lstsq"``, or
        ``"ode+newton"`` when Newton fell back to the relaxation).
    stable : bool
        Whether the fixed point is stable under the relaxation dynamics
        :math:`d\\nu/ds = -\\nu + \\Phi(\\nu)` (all eigenvalues of
        :math:`\\partial\\Phi/\\partial\\nu - I` have negative real part). This says nothing
        about oscillations of the spiking network, which depend on delays.
    """

    rates: jax.Array
    mu: jax.Array
    sigma: jax.Array
    residual: float
    n_iter: int
    method: str
    stable: bool


_DEFAULT_TOL = 1e-7  # Hz (Hz^2 for "lstsq"); the float resolution is added (see tol)


def self_consistent_rates(J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s=None,
                          method="newton", nu0=None, tol=None, max_iter=None):
    r"""Stationary rates of a network of LIF populations: the fixed point :math:`\nu = \Phi(\nu)`.

    :math:`\Phi_i(\nu)` is the rate of population :math:`i` given the input statistics
    :math:`\mu_i(\nu), \sigma_i(\nu)` (:func:`mean_input`, :func:`std_input`): the Siegert
    rate for delta synapses (``tau_s=None``) or the shifted one for exponential synapses
    (:func:`firing_rate_exp_synapses`). Three solvers:

    * ``"newton"`` (default): damped Newton on :math:`F(\nu) = \Phi(\nu) - \nu` with the
      Jacobian from ``jax.jacfwd``; if it fails, falls back to ``"ode"`` and polishes the
      result with Newton (``method`` of the result is then ``"ode+newton"``).
    * ``"ode"``: relaxation :math:`d\nu/ds = -\nu + \Phi(\nu)` from ``nu0`` (0 Hz by
      default, NNMT's default method), integrated with linearly implicit Euler steps
      whose size grows as the solution settles, until :math:`\max|\nu - \Phi(\nu)|` <
      ``tol``.
    * ``"lstsq"``: bounded (:math:`\nu \ge 0`) Levenberg-Marquardt minimisation of
      :math:`\tfrac12|\nu - \Phi(\nu)|^2`, accepted only if the mean squared residual is
      below ``tol`` (as NNMT). Like NNMT's ``scipy.optimize.least_squares`` it can stop
      in a local minimum that is not a fixed point, e.g. the Brunel network at
      :math:`g = 4, \eta = 1` from 1 Hz.

    Parameters
    ----------
    J, K : array_like, shape ``(n_populations, n_populations)``
        Weights (V) and in-degrees, ``[post, pre]``.
    tau_m, tau_r : float or array_like, shape ``(n_populations,)``
        Membrane and refractory time constants in s.
    V_th, V_r : float or array_like, shape ``(n_populations,)``
        Threshold and reset in V, relative to rest.
    J_ext, K_ext, nu_ext
        External input, as in :func:`mean_input`.
    tau_s : float or array_like, optional
        Synaptic time constant in s; ``None`` for delta synapses.
    method : {"newton", "ode", "lstsq"}
    nu0 : array_like, shape ``(n_populations,)``, optional
        Initial rates in Hz (default 0 Hz for all).
    tol : float, optional
        Convergence tolerance (default, also for ``None``: 1e-7): max residual in Hz
        (``"newton"``, ``"ode"``), or mean squared residual in Hz^2 (``"lstsq"``, as NNMT). For ``"newton"`` and ``"ode"``
        the float resolution of the residual, :math:`256\,\epsilon\max_i\nu_i`, is
        added (in float32 1e-7 Hz is below one unit in the last place at 38 Hz; in
        float64 the floor is ~2e-12 Hz at 38 Hz).
    max_iter : int, optional
        Iteration limit (default 100 for Newton, 5000 for the relaxation, 200 for lstsq).

    Returns
    -------
    FixedPointResult
        ``rates`` (Hz), ``mu``, ``sigma`` (V), ``residual`` (Hz), ``n_iter``, ``method``,
        ``stable``.

    Raises
    ------
    FixedPointError
        If no fixed point is found; the message says why and what to try. The last
        iterate is in the exception's ``rates`` attribute.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> fp = ct.self_consistent_rates(**ct.brunel_parameters(g=5.0, eta=2.0))
    >>> round(float(fp.rates[0]), 4), fp.method, fp.stable
    (37.9497, 'newton', True)
    """
    if method not in ("newton", "ode", "lstsq"):
        raise ValueError(f"`method` must be one of 'newton', 'ode', 'lstsq'; got {method!r}.")
    dtype = _float_dtype()  # (float32 inputs give float32 results: see the returns)
    out = result_float_dtype(J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext)
    n = _arr(K, "K", ndim=2).shape[0]
    start = np.zeros(n, dtype=_np_float()) if nu0 is None else nu0
    _, J, K, tau_m, J_ext, K_ext, nu_ext, matrix = _network_args(
        start, J, K, tau_m, J_ext, K_ext, nu_ext)
    nu_start = np.asarray(_arr(start, "nu0", ndim=1))
    check_positive(nu_start, "nu0", strict=False)
    tau_r = check_positive(_arr(tau_r, "tau_r", ndim=(0, 1)), "tau_r", strict=False)
    V_th = check_finite(_arr(V_th, "V_th", ndim=(0, 1)), "V_th")
    V_r = check_finite(_arr(V_r, "V_r", ndim=(0, 1)), "V_r")
    _check_thresholds(V_th, V_r)
    for name, arr in (("tau_r", tau_r), ("V_th", V_th), ("V_r", V_r)):
        if arr.ndim == 1 and arr.shape[0] not in (1, n):
            raise ValueError(f"`{name}` must be a scalar or have shape ({n},); "
                             f"got shape {tuple(arr.shape)}.")
    if tau_s is not None:
        tau_s = np.asarray(_check_tau_s(tau_s, tau_m))
    synapse = synapse_model(tau_s)
    tol = _DEFAULT_TOL if tol is None else check_scalar(tol, "tol", "positive")
    params = NetworkParams(J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, synapse)
    res = lambda x: _residual(jnp.asarray(x, dtype), params, matrix)  # noqa: E731
    jac_fn = lambda x: _residual_and_jacobian(jnp.asarray(x, dtype), params, matrix)  # noqa: E731

    if method == "lstsq":
        nu, f, it = _least_squares(nu_start, res, jac_fn, max_iter or 200)
        mean_sq = float(f @ f) / (2 * n)  # NNMT: res.cost / dimension, cost = |f|^2 / 2
        if not mean_sq < tol:
            raise FixedPointError(
                f"Least squares stopped in a local minimum of |nu - Phi(nu)|^2 after {it} "
                f"steps: mean squared residual {mean_sq:.3g} Hz^2 >= tol = {tol:g} at "
                f"nu = {np.round(nu, 4).tolist()} Hz, which is not a fixed point. "
                "Try method='ode' or method='newton', or another `nu0`.",
                rates=jnp.asarray(nu), residual=float(np.max(np.abs(f))))
        used = "lstsq"
    elif method == "ode":
        nu, norm, it, ok = _relax(nu_start, res, jac_fn, tol, max_iter or 5000)
        if not ok:
            raise FixedPointError(
                f"ODE relaxation did not converge in {it} steps: max|nu - Phi(nu)| = "
                f"{norm:.3g} Hz > tol = {tol:g} Hz at nu = {np.round(nu, 4).tolist()} Hz. "
                "The rates may oscillate or run away; try a larger `max_iter`, another "
                "`nu0`, or check the parameters.", rates=jnp.asarray(nu), residual=norm)
        used = "ode"
    else:
        nu_j, f_j, jac_j, norm_j, it_j, ok_j, mu_j, sigma_j = _newton_jit(
            jnp.asarray(nu_start, dtype), params, tol, matrix=matrix, max_iter=max_iter or 100)
        if bool(ok_j):  # the common case: everything came out of one compiled call
            jac = np.asarray(jac_j)
            stable = bool(np.max(np.linalg.eigvals(jac).real) < 0)
            return FixedPointResult(nu_j.astype(out), mu_j.astype(out), sigma_j.astype(out),
                                    float(np.max(np.abs(np.asarray(f_j)))), int(it_j),
                                    "newton", stable)
        nu, norm, it, ok = np.asarray(nu_j), float(norm_j), int(it_j), False
        used = "newton"
        if not ok:
            nu2, norm2, it2, ok2 = _relax(nu_start, res, jac_fn, tol, 5000)
            if not ok2:
                raise FixedPointError(
                    f"Newton's method failed (max|nu - Phi(nu)| = {norm:.3g} Hz after {it} "
                    f"steps) and the ODE relaxation fallback did not converge either "
                    f"({norm2:.3g} Hz after {it2} steps). The rates may oscillate or run "
                    "away; try another `nu0` or check the parameters.",
                    rates=jnp.asarray(nu2), residual=norm2)
            nu, norm, it3, _ = _newton(nu2, jac_fn, tol, 20)
            it = it + it2 + it3
            used = "ode+newton"
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    stable = bool(np.max(np.linalg.eigvals(jac).real) < 0)
    rates = jnp.asarray(nu, dtype=dtype)
    mu, sigma = _mu_sigma_jit(rates, params, matrix)
    return FixedPointResult(rates.astype(out), mu.astype(out), sigma.astype(out),
                            float(np.max(np.abs(f))), int(it), used, stable)
