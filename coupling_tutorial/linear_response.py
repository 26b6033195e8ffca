r"""Linear response of a coupled Poisson GLM network: rates, spectra, covariances (Chapter 5).

A Poisson GLM network with an exponential link,

.. math::

    \mu_i(t) = \bar\nu_i \exp\Big(\sum_j \sum_{\ell=0}^{W-1} h_{ij}[\ell]\,
        x_j(t-1-\ell)\Big),\qquad x_i(t) \sim \mathrm{Poisson}(\mu_i(t)),

(:math:`\bar\nu_i = e^{b_i}` the baseline expected count per bin, filters in the book's
layout ``(window_size, n_receivers, n_senders)``, row 0 the most recent bin) is
linearised around its stationary expected counts :math:`\nu`, the fixed point of

.. math::

    \nu_i = \bar\nu_i \exp\Big(\sum_j H_{ij}\, \nu_j\Big),\qquad H = \sum_\ell h[\ell].

To first order in the fluctuations :math:`x - \nu` the network is a discrete-time
(multivariate Hawkes / VAR) process,

.. math::

    x(t) - \nu = \sum_{\ell=0}^{W-1} G[\ell]\,\big(x(t-1-\ell) - \nu\big) + \varepsilon(t),
    \qquad G_{ij}[\ell] = \nu_i\, h_{ij}[\ell],

with innovations :math:`\varepsilon` that are uncorrelated in time and across neurons and
have the Poisson variance :math:`D = \mathrm{diag}(\nu)`. Its cross-spectrum and
cross-covariance function are

.. math::

    C(\omega) = \big(I - G(\omega)\big)^{-1} D \big(I - G(\omega)\big)^{-H},\quad
    G(\omega) = \sum_\ell G[\ell]\, e^{-i\omega(\ell+1)},\qquad
    C_{ij}[\tau] = \mathrm{Cov}\big(x_i(t+\tau),\, x_j(t)\big)
      = \frac{1}{2\pi}\int_{-\pi}^{\pi} C_{ij}(\omega)\, e^{i\omega\tau}\, d\omega.

For the network model of spikeometric / Das & Fiete
(:class:`coupling_tutorial.simulate.PoissonGLMNetwork`) the filters are
:math:`h_{ij}[\ell] = \beta r W_0[j, i]\, c(\ell)` and
:math:`\bar\nu_i = \frac{\Delta t}{\alpha} e^{\beta b_i}` (:func:`network_filters`).

The same quantities are estimated from spike counts by :func:`empirical_covariance` and
:func:`correlation_coefficients`, so theory and simulation can be compared lag by lag.
Only JAX and NumPy are used.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._errors import FixedPointError
from ._validation import (_describe, as_array, check_counts, check_finite, check_int,
                          check_positive, validate)
from ._validation import float_dtype as _float
from .links import EXP

__all__ = [
    "StationaryRates",
    "Linearization",
    "network_filters",
    "stationary_rates",
    "linear_kernel",
    "linearize",
    "linearize_network",
    "spectral_radius",
    "cross_spectrum",
    "predicted_covariance",
    "empirical_covariance",
    "correlation_coefficients",
]


def _default_newton_tol():
    return 1e-12 if _float() == jnp.float64 else 1e-5


def _check_filters(filters, name="filters"):
    f = as_array(filters, name, ndim=3, dtype=_float())
    if f.shape[1] != f.shape[2]:
        raise ValueError(
            f"`{name}` must have shape (window_size, n_neurons, n_neurons) (a network: "
            f"receivers = senders); got shape {f.shape}.")
    if f.shape[0] == 0 or f.shape[1] == 0:
        raise ValueError(f"`{name}` must be non-empty; got shape {f.shape}.")
    check_finite(f, name)
    return f


def _check_rates(rates, n, name):
    r = as_array(rates, name, ndim=1, dtype=_float())
    if r.shape[0] != n:
        raise ValueError(f"`{name}` must have shape ({n},) (one entry per neuron); got "
                         f"shape {r.shape}.")
    check_positive(r, name)
    return r


def _check_max_lag(max_lag):
    return check_int(max_lag, "max_lag", minimum=0)


# --------------------------------------------------------------------------------------
# Stationary rates and the linear kernel
# --------------------------------------------------------------------------------------
class StationaryRates(NamedTuple):
    """Result of :func:`stationary_rates`.

    Attributes
    ----------
    rates : jax.Array, shape ``(n_neurons,)``
        Stationary expected counts per bin :math:`\\nu`.
    converged : bool
        Whether the residual reached ``tol``.
    n_iter : int
        Newton iterations used.
    residual : float
        :math:`\\max_i |\\log\\nu_i - \\log\\bar\\nu_i - (H\\nu)_i|` at the returned rates.
    """

    rates: jax.Array
    converged: bool
    n_iter: int
    residual: float


class Linearization(NamedTuple):
    """Result of :func:`linearize` and :func:`linearize_network`.

    Attributes
    ----------
    rates : jax.Array, shape ``(n_neurons,)``
        Stationary expected counts per bin :math:`\\nu`.
    kernel : jax.Array, shape ``(window_size, n_neurons, n_neurons)``
        :math:`G[\\ell]`, receivers on axis 1, senders on axis 2.
    spectral_radius : float
        Of the companion matrix of the kernel (see :func:`spectral_radius`); the linear
        theory describes a stationary state only if it is below 1.
    n_iter : int
        Newton iterations used for the rates.
    residual : float
        Residual of the rate equation at the returned rates.
    """

    rates: jax.Array
    kernel: jax.Array
    spectral_radius: float
    n_iter: int
    residual: float


def network_filters(net):
    r"""Coupling filters and baseline counts of a :class:`~coupling_tutorial.PoissonGLMNetwork`.

    .. math::

        h_{ij}[\ell] = \beta\, r\, W_0[j, i]\, c(\ell),\qquad
        c(\ell) = e^{-\Delta t\,\ell/\tau},\qquad
        \bar\nu_i = \frac{\Delta t}{\alpha}\, e^{\beta b_i},

    so that the network's expected count is
    :math:`\mu_i(t) = \bar\nu_i\exp(\sum_{j,\ell} h_{ij}[\ell]\, x_j(t-1-\ell))`.

    Parameters
    ----------
    net : PoissonGLMNetwork

    Returns
    -------
    filters : jax.Array, shape ``(T, n_neurons, n_neurons)``
        Layout ``(window_size, n_receivers, n_senders)``, row 0 the most recent bin.
    baseline_rates : jax.Array, shape ``(n_neurons,)``
        :math:`\bar\nu`, the expected count per bin without any input spikes.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> W0 = jnp.array([[0.0, 2.0], [0.0, 0.0]])          # 0 -> 1
    >>> net = ct.PoissonGLMNetwork(W0, 1.0, 0.5, 3, tau=1.0, dt=1.0, r=1.0, b=0.0)
    >>> h, nu0 = ct.network_filters(net)
    >>> h.shape, float(h[0, 1, 0]), float(h[0, 0, 1]), nu0.tolist()
    ((3, 2, 2), 1.0, 0.0, [1.0, 1.0])
    """
    from .simulate import PoissonGLMNetwork, network_as_recurrent

    if not isinstance(net, PoissonGLMNetwork):
        raise ValueError(f"`net` must be a PoissonGLMNetwork; got {_describe(net)}.")
    coef, intercepts, _ = network_as_recurrent(net)  # coef[i, j, l], identity basis
    return jnp.transpose(coef, (2, 0, 1)), EXP.inverse(intercepts)


@partial(jax.jit, static_argnames=("max_iter",))
def _newton_rates(H, log_nu0, tol, max_iter):
    """Damped Newton on F(x) = x - log_nu0 - H exp(x), x = log nu.

    Backtracking on the merit |F|^2 (the Newton step is always a descent direction for
    it); convergence is judged on max |F|."""
    n = H.shape[0]
    eye = jnp.eye(n, dtype=H.dtype)

    def resid(x):
        f = x - log_nu0 - H @ EXP.inverse(x)
        ok = jnp.all(jnp.isfinite(f))
        merit = jnp.where(ok, jnp.sum(f * f), jnp.inf)
        return f, merit, jnp.where(ok, jnp.max(jnp.abs(f)), jnp.inf)

    f0, m0, r0 = resid(log_nu0)

    def cond(s):
        _, _, _, r, it, stalled = s
        return (r > tol) & (it < max_iter) & ~stalled

    def body(s):
        x, f, m, r, it, _ = s
        J = eye - H * EXP.derivative(x)[None, :]
        dx = -jnp.linalg.solve(J, f)
        dx = jnp.where(jnp.isfinite(dx), dx, 0.0)
        dx = dx * jnp.minimum(1.0, 5.0 / jnp.maximum(jnp.max(jnp.abs(dx)), 1e-300))

        def bt_cond(c):
            _, _, mn, _, k = c
            return ~(mn < m) & (k < 60)

        def bt_body(c):
            t, _, _, _, k = c
            t = 0.5 * t
            fn, mn, rn = resid(x + t * dx)
            return t, fn, mn, rn, k + 1

        f1, m1, r1 = resid(x + dx)
        t, f_new, m_new, r_new, _ = jax.lax.while_loop(
            bt_cond, bt_body, (jnp.asarray(1.0, x.dtype), f1, m1, r1, 0))
        ok = m_new < m
        # no decrease even for tiny steps: rounding level reached (or no fixed point)
        return (jnp.where(ok, x + t * dx, x), jnp.where(ok, f_new, f), jnp.where(ok, m_new, m),
                jnp.where(ok, r_new, r), it + 1, ~ok)

    x, f, m, r, it, _ = jax.lax.while_loop(
        cond, body, (log_nu0, f0, m0, r0, 0, jnp.asarray(False)))
    return EXP.inverse(x), r, it


@validate(tol="positive?", max_iter="size")
def stationary_rates(filters, baseline_rates, tol=None, max_iter=100):
    r"""Stationary expected counts of an exp-link GLM network (the mean-field fixed point).

    Solves

    .. math::

        \nu_i = \bar\nu_i \exp\Big(\sum_j H_{ij}\,\nu_j\Big),\qquad
        H = \sum_{\ell} h[\ell],

    by Newton's method on :math:`x = \log\nu`,
    :math:`F(x) = x - \log\bar\nu - H e^{x}`, Jacobian
    :math:`I - H\,\mathrm{diag}(e^{x})`, with backtracking so that
    :math:`\lVert F\rVert_2` decreases (steps capped at 5 in log-rate). Starting from
    :math:`\nu = \bar\nu` it finds the low-rate fixed point, the one the linear theory
    expands around. This is the rate of the linearised (Hawkes) network: the exp-link
    network's own mean is larger by the fluctuation term that
    :func:`coupling_tutorial.mean_field_rate` adds.

    Parameters
    ----------
    filters : array_like, shape ``(window_size, n_neurons, n_neurons)``
        :math:`h_{ij}[\ell]`, receivers on axis 1, senders on axis 2.
    baseline_rates : array_like, shape ``(n_neurons,)``
        :math:`\bar\nu_i > 0` (``exp(intercept)`` of a fitted GLM).
    tol : float, optional
        Convergence threshold on :math:`\max_i |F_i|` (default 1e-12 in float64,
        1e-5 in float32).
    max_iter : int
        Maximum Newton iterations.

    Returns
    -------
    StationaryRates
        ``(rates, converged, n_iter, residual)``. ``converged`` is False when there is no
        fixed point (runaway excitation) or ``max_iter`` was too small.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> res = ct.stationary_rates(jnp.full((1, 1, 1), 0.5), jnp.array([0.2]))
    >>> bool(res.converged), round(float(res.rates[0]), 6)   # nu = 0.2 exp(0.5 nu)
    (True, 0.223665)
    """
    filters = _check_filters(filters)
    n = filters.shape[1]
    nu0 = _check_rates(baseline_rates, n, "baseline_rates")
    tol = _default_newton_tol() if tol is None else float(check_positive(tol, "tol"))
    max_iter = check_int(max_iter, "max_iter")
    H = jnp.sum(filters, axis=0)
    nu, res, it = _newton_rates(H, jnp.log(nu0), jnp.asarray(tol, H.dtype), max_iter)
    res = float(res)
    converged = bool(np.isfinite(res) and res <= tol and np.all(np.isfinite(np.asarray(nu))))
    return StationaryRates(nu, converged, int(it), res)


def linear_kernel(filters, rates):
    r"""Linear kernel :math:`G_{ij}[\ell] = \nu_i\, h_{ij}[\ell]` of an exp-link GLM network.

    For :math:`\mu_i = \bar\nu_i\exp(\sum h_{ij}[\ell] x_j(t-1-\ell))` the derivative of
    the expected count with respect to one past count, at the stationary state, is
    :math:`\partial\mu_i/\partial x_j(t-1-\ell) = \nu_i\, h_{ij}[\ell]`.

    Parameters
    ----------
    filters : array_like, shape ``(window_size, n_neurons, n_neurons)``
    rates : array_like, shape ``(n_neurons,)``
        Stationary expected counts :math:`\nu > 0`.

    Returns
    -------
    jax.Array, shape ``(window_size, n_neurons, n_neurons)``

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> G = ct.linear_kernel(jnp.ones((2, 2, 2)), jnp.array([0.1, 0.3]))
    >>> G[0].tolist()
    [[0.1, 0.1], [0.3, 0.3]]
    """
    filters = _check_filters(filters)
    nu = _check_rates(rates, filters.shape[1], "rates")
    return nu[None, :, None] * filters


def _companion(kernel):
    """Companion matrix (N W, N W) of the VAR(W) x(t) = sum_l G[l] x(t-1-l) + e(t)."""
    W, N, _ = kernel.shape
    top = jnp.concatenate(list(kernel), axis=1)  # [G0 G1 ... G_{W-1}]
    if W == 1:
        return top
    shift = jnp.eye(N * (W - 1), N * W, dtype=kernel.dtype)
    return jnp.concatenate([top, shift], axis=0)


def spectral_radius(kernel):
    r"""Stability margin of the linearised network: the largest :math:`|z|` with
    :math:`\det\big(z^{W} I - \sum_\ell G[\ell]\, z^{W-1-\ell}\big) = 0`.

    This is the spectral radius of the companion matrix of the VAR process
    :math:`x(t) = \sum_\ell G[\ell]\, x(t-1-\ell) + \varepsilon(t)`. The process is
    stationary (fluctuations decay) if and only if it is below 1. For non-negative
    kernels (purely excitatory Hawkes processes) it is below 1 exactly when the spectral
    radius of :math:`G(0) = \sum_\ell G[\ell]` is (the classical Hawkes branching
    condition); with inhibition the two differ, and only this one decides.

    Parameters
    ----------
    kernel : array_like, shape ``(window_size, n_neurons, n_neurons)``

    Returns
    -------
    float

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> G = jnp.array([[[0.3]], [[0.2]]])              # one neuron, two lags
    >>> round(ct.spectral_radius(G), 6)                # root of z^2 - 0.3 z - 0.2
    0.621699
    """
    kernel = _check_filters(kernel, "kernel")
    A = np.asarray(_companion(kernel), dtype=np.float64)
    if A.shape[0] == 1:
        return float(abs(A[0, 0]))
    return float(np.max(np.abs(np.linalg.eigvals(A))))


def _check_stable(kernel):
    rho = spectral_radius(kernel)
    if not rho < 1.0:
        raise ValueError(
            "`kernel` must describe a stable linear system (spectral radius of its companion "
            f"matrix below 1); got spectral radius {rho:.6g}. The linearised network amplifies "
            "its own fluctuations without bound here: the linear-response (Hawkes) theory has "
            "no stationary state and cannot describe this network (it is past the edge of "
            "stability; lower the coupling).")
    return rho


@validate(tol="positive?", max_iter="size")
def linearize(filters, baseline_rates, tol=None, max_iter=100):
    r"""Linearise an exp-link GLM network around its stationary state.

    Computes the stationary expected counts :math:`\nu` (:func:`stationary_rates`), the
    kernel :math:`G_{ij}[\ell] = \nu_i h_{ij}[\ell]` (:func:`linear_kernel`) and its
    :func:`spectral_radius`. Works for any coupling filters in the book's layout: those
    of a fitted :class:`~coupling_tutorial.PopulationGLM` (``ct.coupling_filters``, with
    ``baseline_rates = exp(intercept_)``), of :func:`~coupling_tutorial.simulate_recurrent`
    with an exp link, or of a :class:`~coupling_tutorial.PoissonGLMNetwork`
    (:func:`linearize_network`).

    Parameters
    ----------
    filters : array_like, shape ``(window_size, n_neurons, n_neurons)``
    baseline_rates : array_like, shape ``(n_neurons,)``
    tol : float, optional
    max_iter : int

    Returns
    -------
    Linearization
        ``(rates, kernel, spectral_radius, n_iter, residual)``.

    Raises
    ------
    FixedPointError
        (a ``RuntimeError``) If the rate equation has no solution that Newton's method
        can reach (runaway excitation: the exp-link network has no low-rate stationary
        state).

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> lin = ct.linearize(jnp.zeros((4, 3, 3)), jnp.full(3, 0.1))   # uncoupled
    >>> lin.rates.tolist(), float(abs(lin.kernel).max()), lin.spectral_radius
    ([0.1, 0.1, 0.1], 0.0, 0.0)
    """
    filters = _check_filters(filters)
    res = stationary_rates(filters, baseline_rates, tol=tol, max_iter=max_iter)
    if not res.converged:
        raise FixedPointError(
            f"No stationary rates found: Newton's method stopped after {res.n_iter} "
            f"iterations with residual {res.residual:.3g}. The rate equation "
            "nu = nu0 * exp(H nu) has no low-rate solution when excitation is too strong "
            "(the exp-link network runs away), so there is nothing to linearise around; "
            "lower the coupling or the baseline rates (or raise `max_iter`).",
            rates=res.rates, residual=res.residual)
    G = linear_kernel(filters, res.rates)
    return Linearization(res.rates, G, spectral_radius(G), res.n_iter, res.residual)


@validate(tol="positive?", max_iter="size")
def linearize_network(net, tol=None, max_iter=100):
    r"""Linearise a :class:`~coupling_tutorial.PoissonGLMNetwork` (Hawkes approximation).

    The stationary counts solve
    :math:`\nu_i = \frac{\Delta t}{\alpha}\exp\big(\beta(r\,C_1\sum_j W_0[j,i]\,\nu_j
    + b_i)\big)` with :math:`C_1 = \sum_\ell c(\ell)`, and the kernel is
    :math:`G_{ij}[\ell] = \beta\,\nu_i\, r\, W_0[j, i]\, c(\ell)`.
    See :func:`linearize`.

    Parameters
    ----------
    net : PoissonGLMNetwork
    tol : float, optional
    max_iter : int

    Returns
    -------
    Linearization

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> W0 = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> net = ct.PoissonGLMNetwork(W0, 1.0, 1.0, 5, tau=2.0, dt=1.0, r=0.2, b=-2.0)
    >>> lin = ct.linearize_network(net)
    >>> lin.kernel.shape, bool(lin.spectral_radius < 1)
    ((5, 2, 2), True)
    """
    filters, nu0 = network_filters(net)
    return linearize(filters, nu0, tol=tol, max_iter=max_iter)


# --------------------------------------------------------------------------------------
# Spectra and covariances
# --------------------------------------------------------------------------------------
def _kernel_spectrum(kernel, omegas):
    """G(omega) = sum_l G[l] exp(-i omega (l + 1)), shape (n_omegas, N, N)."""
    W = kernel.shape[0]
    phase = jnp.exp(-1j * omegas[:, None] * jnp.arange(1, W + 1, dtype=omegas.dtype)[None, :])
    return jnp.einsum("wl,lij->wij", phase, kernel.astype(phase.dtype))


@jax.jit
def _spectrum(kernel, rates, omegas):
    N = kernel.shape[1]
    Gw = _kernel_spectrum(kernel, omegas)
    eye = jnp.eye(N, dtype=Gw.dtype)
    P = jnp.linalg.inv(eye[None] - Gw)  # propagator (I - G(omega))^{-1}
    return jnp.einsum("wik,k,wjk->wij", P, rates.astype(Gw.dtype), jnp.conj(P))


def cross_spectrum(kernel, rates, omegas):
    r"""Cross-spectrum of the linearised network.

    .. math::

        C(\omega) = \big(I - G(\omega)\big)^{-1}\, \mathrm{diag}(\nu)\,
            \big(I - G(\omega)\big)^{-H},\qquad
        G(\omega) = \sum_{\ell=0}^{W-1} G[\ell]\, e^{-i\omega(\ell + 1)},

    the Fourier transform :math:`\sum_\tau C[\tau] e^{-i\omega\tau}` of the
    cross-covariance function of :func:`predicted_covariance` (counts per bin,
    :math:`\omega` in radians per bin). Hermitian at every frequency; for an uncoupled
    network it is the flat Poisson spectrum :math:`\mathrm{diag}(\nu)`.

    Parameters
    ----------
    kernel : array_like, shape ``(window_size, n_neurons, n_neurons)``
        :math:`G[\ell]`, e.g. ``linearize(...).kernel``.
    rates : array_like, shape ``(n_neurons,)``
        Stationary expected counts per bin (the Poisson innovation variances).
    omegas : array_like, shape ``(n_omegas,)``
        Angular frequencies in radians per bin.

    Returns
    -------
    jax.Array (complex), shape ``(n_omegas, n_neurons, n_neurons)``

    Raises
    ------
    ValueError
        If the kernel is unstable (:func:`spectral_radius` >= 1): the formula then has no
        meaning as a stationary spectrum.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> G = jnp.zeros((1, 2, 2)).at[0, 0, 1].set(0.5)   # neuron 1 drives neuron 0
    >>> S = ct.cross_spectrum(G, jnp.array([0.1, 0.2]), jnp.array([0.0]))
    >>> S.real.round(6).tolist()   # [[nu0 + g^2 nu1, g nu1], [g nu1, nu1]] at omega = 0
    [[[0.15, 0.1], [0.1, 0.2]]]
    """
    kernel = _check_filters(kernel, "kernel")
    rates = _check_rates(rates, kernel.shape[1], "rates")
    omegas = as_array(omegas, "omegas", ndim=(0, 1), dtype=_float())
    check_finite(omegas, "omegas")
    _check_stable(kernel)
    return _spectrum(kernel, rates, jnp.atleast_1d(omegas))


@partial(jax.jit, static_argnames=("n_doubling",))
def _stationary_state_cov(A, Q, n_doubling):
    """Sigma = sum_k A^k Q A^kT by doubling: S <- S + A S A^T, A <- A A."""
    def body(_, c):
        S, Ak = c
        return S + Ak @ S @ Ak.T, Ak @ Ak

    S, _ = jax.lax.fori_loop(0, n_doubling, body, (Q, A))
    return S


def _exact_covariance(kernel, rates, max_lag, rho):
    W, N, _ = kernel.shape
    A = _companion(kernel)
    Q = jnp.zeros((N * W, N * W), kernel.dtype).at[:N, :N].set(jnp.diag(rates))
    # terms up to A^K with rho^(2K) < 1e-18 (relative), K = 2^n_doubling
    n_terms = 1.0 if rho == 0 else max(1.0, math.log(1e-18) / (2.0 * math.log(rho)))
    n_doubling = min(64, max(1, math.ceil(math.log2(n_terms + 1)) + 2))
    S = _stationary_state_cov(A, Q, n_doubling)
    # block (a, b) of S = Cov(x(t - a), x(t - b)) = C[b - a]
    C = [S[:N, b * N:(b + 1) * N] for b in range(min(W, max_lag + 1))]
    for tau in range(len(C), max_lag + 1):  # Yule-Walker: C[tau] = sum_l G[l] C[tau-1-l]
        acc = jnp.zeros((N, N), kernel.dtype)
        for l in range(W):
            k = tau - 1 - l
            acc = acc + kernel[l] @ (C[k] if k >= 0 else C[-k].T)
        C.append(acc)
    pos = jnp.stack(C[: max_lag + 1])
    return pos


def _fft_covariance(kernel, rates, max_lag, rho, n_freq):
    W = kernel.shape[0]
    if n_freq is None:
        decay = 64 if rho == 0 else math.log(1e-17) / math.log(rho)
        need = max(4 * (max_lag + W), 2 * decay, 256)
        n_freq = 1 << math.ceil(math.log2(min(need, 2 ** 22)))
    omegas = 2 * jnp.pi * jnp.arange(n_freq, dtype=_float()) / n_freq
    S = _spectrum(kernel, rates, omegas)
    c = jnp.fft.ifft(S, axis=0).real  # c[tau] = (1/M) sum_k S(w_k) e^{i w_k tau}
    return c[: max_lag + 1]


@validate(max_lag="count", n_freq="size?")
def predicted_covariance(kernel, rates, max_lag, method="exact", n_freq=None):
    r"""Cross-covariance function of the linearised network for lags ``-max_lag..max_lag``.

    .. math::

        C_{ij}[\tau] = \mathrm{Cov}\big(x_i(t+\tau),\, x_j(t)\big)
          = \frac{1}{2\pi}\int_{-\pi}^{\pi} C_{ij}(\omega)\, e^{i\omega\tau}\,d\omega,
        \qquad C_{ij}[-\tau] = C_{ji}[\tau],

    for counts per bin, with :math:`C(\omega)` of :func:`cross_spectrum`. A positive
    peak at :math:`\tau > 0` in :math:`C_{ij}` means that :math:`i` tends to fire after
    :math:`j`.

    ``method="exact"`` writes the VAR process in companion form
    :math:`s(t) = A\,s(t-1) + e(t)`, :math:`s(t) = (x(t), \dots, x(t-W+1))`, solves the
    discrete Lyapunov equation :math:`\Sigma = A\Sigma A^\top + Q` by doubling (exact to
    rounding; cost :math:`O((NW)^3 \log)`), reads :math:`C[0..W-1]` off :math:`\Sigma` and
    continues with the Yule-Walker recursion
    :math:`C[\tau] = \sum_\ell G[\ell]\, C[\tau-1-\ell]` for :math:`\tau \ge 1`.
    ``method="fft"`` samples :math:`C(\omega)` on ``n_freq`` frequencies
    :math:`2\pi k/M` and inverts with one FFT (cost :math:`O(M N^3)`); the result is the
    periodic sum :math:`\sum_m C[\tau + mM]`, whose error decays like
    :math:`\rho^{M}` with the :func:`spectral_radius` :math:`\rho`. By default
    :math:`M` is chosen so that this is below rounding.

    Parameters
    ----------
    kernel : array_like, shape ``(window_size, n_neurons, n_neurons)``
    rates : array_like, shape ``(n_neurons,)``
    max_lag : int
        Largest lag :math:`L \ge 0`, in bins.
    method : {"exact", "fft"}
    n_freq : int, optional
        Number of frequencies for ``"fft"`` (default: automatic).

    Returns
    -------
    jax.Array, shape ``(2 * max_lag + 1, n_neurons, n_neurons)``
        ``out[L + tau, i, j]`` is :math:`C_{ij}[\tau]`, the layout of
        :func:`empirical_covariance`.

    Raises
    ------
    ValueError
        If the kernel is unstable (:func:`spectral_radius` >= 1).

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> C = ct.predicted_covariance(jnp.zeros((3, 2, 2)), jnp.array([0.1, 0.2]), 2)
    >>> C.shape, C[2].tolist(), float(abs(C[jnp.array([0, 1, 3, 4])]).max())   # uncoupled: nu delta
    ((5, 2, 2), [[0.1, 0.0], [0.0, 0.2]], 0.0)
    """
    kernel = _check_filters(kernel, "kernel")
    rates = _check_rates(rates, kernel.shape[1], "rates")
    max_lag = _check_max_lag(max_lag)
    if method not in ("exact", "fft"):
        raise ValueError(f"`method` must be 'exact' or 'fft'; got {method!r}.")
    if n_freq is not None:
        n_freq = check_int(n_freq, "n_freq", minimum=2 * max_lag + 1)
    rho = _check_stable(kernel)
    if method == "exact":
        pos = _exact_covariance(kernel, rates, max_lag, rho)
    else:
        pos = _fft_covariance(kernel, rates, max_lag, rho, n_freq)
    neg = jnp.transpose(pos[1:][::-1], (0, 2, 1))  # C[-tau] = C[tau]^T
    return jnp.concatenate([neg, pos], axis=0)


# --------------------------------------------------------------------------------------
# Estimates from spike counts
# --------------------------------------------------------------------------------------
@partial(jax.jit, static_argnames=("max_lag", "nfft"))
def _fft_xcov(xc, max_lag, nfft):
    F = jnp.fft.rfft(xc, n=nfft, axis=0)  # (nfft//2 + 1, N)
    lags = jnp.arange(-max_lag, max_lag + 1) % nfft

    def one(Fi):  # sum_t x_i(t + tau) x_j(t) for all j
        r = jnp.fft.irfft(Fi[:, None] * jnp.conj(F), n=nfft, axis=0)
        return r[lags]

    return jnp.transpose(jax.lax.map(one, F.T), (1, 0, 2))  # (2L+1, N_i, N_j)


@partial(jax.jit, static_argnames=("max_lag",))
def _direct_xcov(xc, max_lag):
    n, N = xc.shape
    padded = jnp.concatenate([xc, jnp.zeros((max_lag, N), xc.dtype)], axis=0)

    def one(tau):  # sum_t x_i(t + tau) x_j(t), t = 0..n-1-tau
        shifted = jax.lax.dynamic_slice_in_dim(padded, tau, n, axis=0)
        return shifted.T @ xc

    pos = jax.lax.map(one, jnp.arange(max_lag + 1))
    neg = jnp.transpose(pos[1:][::-1], (0, 2, 1))
    return jnp.concatenate([neg, pos], axis=0)


@validate(max_lag="count", unbiased="bool")
def empirical_covariance(counts, max_lag, unbiased=True, method="auto"):
    r"""Cross-covariance functions (correlograms) of spike counts for lags ``-L..L``.

    .. math::

        \hat C_{ij}[\tau] = \frac{1}{n - |\tau|}\sum_{t} \big(x_i(t+\tau) - \bar x_i\big)
            \big(x_j(t) - \bar x_j\big),

    the sum over the :math:`n - |\tau|` bins where both factors exist, :math:`\bar x` the
    sample means (``unbiased=False`` divides by :math:`n` instead). Same convention and
    layout as :func:`predicted_covariance`: a peak at :math:`\tau > 0` in
    :math:`\hat C_{ij}` means :math:`i` fires after :math:`j`.

    ``method="fft"`` zero-pads to at least :math:`n + L` bins and uses one forward FFT per
    neuron and one inverse FFT per pair (memory :math:`O(nN)`); ``"direct"`` does one
    matrix product per lag, :math:`O(n N^2 L)` but BLAS-fast for short lag ranges;
    ``"auto"`` picks ``"direct"`` when :math:`L \le 4\log_2 n` and ``"fft"`` otherwise.

    Parameters
    ----------
    counts : array_like, shape ``(n_samples, n_neurons)``
        Spike counts (a 1-D array is one neuron).
    max_lag : int
        Largest lag, ``0 <= max_lag < n_samples``.
    unbiased : bool
        Divide by :math:`n - |\tau|` (default) or by :math:`n`.
    method : {"auto", "fft", "direct"}

    Returns
    -------
    jax.Array, shape ``(2 * max_lag + 1, n_neurons, n_neurons)``
        ``out[max_lag + tau, i, j]`` is :math:`\hat C_{ij}[\tau]`.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> x = jnp.array([[0, 1], [1, 0], [0, 0], [0, 1], [1, 0], [0, 0]])  # 0 copies 1, a bin later
    >>> C = ct.empirical_covariance(x, 1)
    >>> [round(c, 4) for c in C[:, 0, 1].tolist()]        # lags -1, 0, 1: peak at +1
    [-0.0889, -0.1111, 0.2444]
    """
    counts = as_array(counts, "counts", ndim=(1, 2))
    if counts.ndim == 1:
        counts = counts[:, None]
    check_counts(counts, "counts")
    max_lag = _check_max_lag(max_lag)
    n = counts.shape[0]
    if max_lag >= n:
        raise ValueError(f"`max_lag` must be smaller than the number of samples ({n}); got "
                         f"{max_lag}.")
    if method not in ("auto", "fft", "direct"):
        raise ValueError(f"`method` must be 'auto', 'fft' or 'direct'; got {method!r}.")
    if method == "auto":
        method = "direct" if max_lag <= 4 * math.log2(max(n, 2)) else "fft"
    x = counts.astype(_float())
    xc = x - jnp.mean(x, axis=0)
    if method == "fft":
        nfft = 1 << math.ceil(math.log2(n + max_lag))
        raw = _fft_xcov(xc, max_lag, nfft)
    else:
        raw = _direct_xcov(xc, max_lag)
    taus = jnp.abs(jnp.arange(-max_lag, max_lag + 1))
    norm = (n - taus) if unbiased else jnp.full_like(taus, n)
    return raw / norm.astype(raw.dtype)[:, None, None]


def correlation_coefficients(covariance):
    r"""Cross-correlation coefficients from a cross-covariance function.

    .. math::

        \rho_{ij}[\tau] = \frac{C_{ij}[\tau]}{\sqrt{C_{ii}[0]\, C_{jj}[0]}},

    so :math:`\rho_{ii}[0] = 1`. Works on the output of :func:`empirical_covariance` and
    of :func:`predicted_covariance` alike (lag 0 in the middle).

    Parameters
    ----------
    covariance : array_like, shape ``(2 * max_lag + 1, n_neurons, n_neurons)``
        Zero-lag variances on the diagonal of the middle slice must be positive.

    Returns
    -------
    jax.Array, shape ``(2 * max_lag + 1, n_neurons, n_neurons)``

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> C = jnp.array([[[4.0, 1.0], [1.0, 1.0]]])          # max_lag = 0
    >>> ct.correlation_coefficients(C).tolist()
    [[[1.0, 0.5], [0.5, 1.0]]]
    """
    C = as_array(covariance, "covariance", ndim=3, dtype=_float())
    if C.shape[0] % 2 == 0 or C.shape[1] != C.shape[2]:
        raise ValueError("`covariance` must have shape (2 * max_lag + 1, n_neurons, "
                         f"n_neurons); got shape {C.shape}.")
    check_finite(C, "covariance")
    var = jnp.diagonal(C[C.shape[0] // 2])
    if not bool(jnp.all(var > 0)):
        bad = [int(i) for i in np.flatnonzero(np.asarray(var) <= 0)]
        raise ValueError(f"`covariance` must have positive zero-lag variances; got "
                         f"non-positive ones for neuron(s) {bad[:10]} (silent neurons?).")
    s = jnp.sqrt(var)
    return C / (s[:, None] * s[None, :])[None]
