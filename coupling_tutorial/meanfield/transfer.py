"""The transfer function and its low-pass fit (Chapter 4, "The transfer function")."""

from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import (
    any_traced as _any_traced,
    as_array,
    check_finite,
    check_positive,
)
from .parabolic_cylinder import (
    _n_panels,
    _n_ode_steps,
    _pcf_integrals,
    _scaled_u_start,
    _taylor_leg,
)
from ._dtypes import result_float_dtype
from .siegert import _neuron_args, _siegert_core
from .synapses import ExponentialSynapse

__all__ = ["transfer_function", "fit_transfer_function"]


def transfer_function(mu, sigma, tau_m, tau_s, tau_r, V_th, V_r, omegas, synaptic_filter=True):
    r"""Linear response of a LIF population's rate to a modulation of its mean input.

    Schuecker et al. (2015), shift method, as in NNMT: with thresholds shifted by
    :func:`threshold_shift` (primes), :math:`x_t = \sqrt2 (V_\mathrm{th}' - \mu)/\sigma`,
    :math:`x_r = \sqrt2 (V_r' - \mu)/\sigma`, :math:`z = -\tfrac12 + i\omega\tau_m` and
    :math:`\Psi(z, x) = e^{x^2/4}U(z, -x)`,

    .. math::

        H(\omega) = \frac{\sqrt2}{\sigma}\,\frac{\nu}{1 + i\omega\tau_m}\,
        \frac{\Psi'(z, x_t) - \Psi'(z, x_r)}{\Psi(z, x_t) - \Psi(z, x_r)}
        \;\Bigl[\times\frac{1}{1 + i\omega\tau_s}\Bigr],\qquad
        \Psi'(z, x) = (z + \tfrac12)\,\Psi(z + 1, x),

    where :math:`\nu` is :func:`firing_rate_exp_synapses` and the synaptic low-pass
    factor is applied when ``synaptic_filter`` is true. Since
    :math:`\Psi(z, x_t) - \Psi(z, x_r) = (z + \tfrac12)\int_{x_r}^{x_t}\Psi(z+1, x)\,dx`,
    the ratio is evaluated as

    .. math::

        \frac{\int_0^\infty t^{i\omega\tau_m} e^{-t^2/2}(e^{x_t t} - e^{x_r t})\,dt}
             {\int_0^\infty t^{i\omega\tau_m - 1} e^{-t^2/2}(e^{x_t t} - e^{x_r t})\,dt},

    from the integral representation of :math:`U` (see :func:`parabolic_cylinder_u`):
    the Gamma normalisation and the factor :math:`z + \tfrac12` cancel, nothing cancels
    catastrophically, and :math:`\omega = 0` needs no special case. At :math:`\omega = 0`
    this is the limit of the formula, which equals :math:`d\nu/d\mu` for
    :math:`\tau_r = 0`; with refractoriness the formula (which neglects it) is larger by
    the factor :math:`1/(1 - \nu\tau_r)`. NNMT instead substitutes the exact
    :math:`d\nu/d\mu` at exactly :math:`\omega = 0`; elsewhere the two agree to ~1e-9.
    Accurate for :math:`\omega\tau_m` up to a few hundred (the quadrature is refined with
    the largest :math:`\omega\tau_m`).

    Parameters
    ----------
    mu, sigma : array_like, shape ``(n_populations,)`` or scalar
        Mean and standard deviation of the input in V (``sigma > 0``).
    tau_m, tau_s, tau_r : float or array_like, shape ``(n_populations,)``
        Membrane, synaptic (>= 0; 0 or ``tau_s=None`` for delta synapses) and refractory
        time constants in s.
    V_th, V_r : float or array_like, shape ``(n_populations,)``
        Threshold and reset in V, relative to rest.
    omegas : array_like, shape ``(n_omegas,)``
        **Angular** frequencies :math:`\omega = 2\pi f` in rad/s, >= 0.
    synaptic_filter : bool
        Multiply by :math:`1/(1 + i\omega\tau_s)` (NNMT's default: the response to a
        modulation of the input *current*).

    Returns
    -------
    jax.Array (complex), shape ``(n_omegas, n_populations)``
        :math:`H(\omega)` in Hz/V.

    Raises
    ------
    ValueError
        Outside the range where the result is finite and accurate in the working dtype
        (measured; float32 / float64): :math:`|x_t|, |x_r| \le` 180 / 500,
        :math:`\omega\tau_m \le` 1e4 / 1e5 and :math:`x_t - x_r \ge` 1e-4 / 1e-12 (for
        a smaller difference, i.e. ``sigma`` much larger than ``V_th - V_r``, rounding
        swamps it). The message names the arguments of the quantity out of range.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import coupling_tutorial as ct
    >>> H = ct.transfer_function(0.012, 0.004, 0.01, 0.0005, 0.002, 0.015, 0.0,
    ...                          omegas=2 * jnp.pi * jnp.array([1.0, 10.0, 100.0]))
    >>> H.shape, bool(abs(H[2, 0]) < abs(H[0, 0]))
    ((3, 1), True)
    """
    dtype = result_float_dtype(mu, sigma, tau_m, tau_s, tau_r, V_th, V_r, omegas)
    mu, sigma, tau_m, tau_r, V_th, V_r = _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r)
    if tau_s is None:  # delta synapses, as in the other functions (same as tau_s = 0)
        tau_s = 0.0
    tau_s = as_array(tau_s, "tau_s", dtype=dtype)
    check_positive(tau_s, "tau_s", strict=False)
    omegas = check_finite(as_array(omegas, "omegas", ndim=(0, 1), dtype=dtype), "omegas")
    check_positive(omegas, "omegas", strict=False)
    omegas = jnp.atleast_1d(omegas)
    arrays = [jnp.atleast_1d(a) for a in (mu, sigma, tau_m, tau_r, V_th, V_r, tau_s)]
    try:
        arrays = jnp.broadcast_arrays(*arrays)
    except ValueError as err:
        raise ValueError("`mu`, `sigma`, `tau_m`, `tau_s`, `tau_r`, `V_th`, `V_r` must be "
                         "scalars or have one common shape (n_populations,); got shapes "
                         f"{[tuple(a.shape) for a in arrays]}.") from err
    if arrays[0].ndim != 1:
        raise ValueError(f"`mu` must be a scalar or 1-D (one entry per population); got "
                         f"shape {tuple(arrays[0].shape)}.")
    if not _any_traced(tau_s, tau_m):
        ratio = np.sqrt(np.asarray(arrays[6]) / np.asarray(arrays[2]))
        if np.any(ratio > np.sqrt(0.1)):
            warnings.warn(f"sqrt(tau_s / tau_m) = {float(ratio.max()):.3g} > sqrt(0.1): the "
                          "shift method assumes fast synapses.", UserWarning, stacklevel=2)
    mu_, sigma_, tau_m_, tau_r_, V_th_, V_r_, tau_s_ = (np.asarray(a) for a in arrays)
    omega_tau_max = float(np.max(np.asarray(omegas)[:, None] * tau_m_[None, :]))
    shift = ExponentialSynapse(tau_s_).shift(sigma_, tau_m_, xp=np)
    s_r = -math.sqrt(2.0) * (V_r_ + shift - mu_) / sigma_
    s_t = -math.sqrt(2.0) * (V_th_ + shift - mu_) / sigma_
    _check_tf_range(s_t, s_r, shift, V_th_ - mu_, V_r_ - mu_, sigma_, omega_tau_max,
                    np.dtype(dtype))
    s_max = float(np.max(np.abs(np.concatenate([np.maximum(s_r, 0) + 8.0, s_t]))))
    names = ("`mu`, `sigma`, `V_th`, `V_r`, `tau_s`, `tau_m` and `omegas`")
    n1 = _n_ode_steps(8.0 + float(np.max(np.maximum(-s_r, 0))), s_max, omega_tau_max + 1.0,
                      names)
    n2 = _n_ode_steps(float(np.max(s_r - s_t)), s_max, omega_tau_max + 1.0, names)
    h = _transfer_function_jit(omegas, *arrays, synaptic_filter=bool(synaptic_filter),
                               n_panels=_n_panels(_TF_SMALL_OMEGA_TAU), n1=n1, n2=n2)
    return h.astype(jnp.result_type(dtype, jnp.complex64))  # float32 in, complex64 out


_TF_SMALL_OMEGA_TAU = 4.0  # below: Gamma-free integrals (exact at omega = 0); above: ODE

# The representable range of transfer_function per dtype (float32 measured against the
# float64 path; outside it float32 gave NaN or > 1% error; the float64 bounds are those of
# the ODE step limit and of the eps / (x_t - x_r) error scaling, not measured at the edge):
#   |x_t|, |x_r| (x = sqrt(2)(V' - mu)/sigma): float32 NaN from |x| ~ 250 (fine at 181);
#     float64 bounded by the ODE step limit (2^20 steps: |x| <= 500 with omega tau_m <= 1e5)
#   omega * tau_m: float32 NaN at 1e5 (fine at 1e4)
#   x_t - x_r = sqrt(2)(V_th - V_r)/sigma: the error grows like eps / (x_t - x_r) (float32:
#     1% at 5e-5, 8% at 5e-6, NaN below ~1e-7; float64 NaN at 2e-22)
_TF_RANGE = {np.dtype(np.float32): (180.0, 1e4, 1e-4), np.dtype(np.float64): (500.0, 1e5, 1e-12)}


def _check_tf_range(s_t, s_r, shift, dth, dr, sigma, omega_tau_max, dtype):
    """Raise a ValueError naming the arguments when they leave the representable range
    of :func:`transfer_function` in ``dtype`` (``_TF_RANGE``), instead of NaN."""
    x_max, wt_max, delta_min = _TF_RANGE[dtype]
    prec = f"in {dtype}" + (" (enable x64 for a wider range)" if dtype == np.float32 else "")
    for x, d, v in ((-s_t, dth, "V_th"), (-s_r, dr, "V_r")):
        bad = ~(np.abs(x) <= x_max)
        if np.any(bad):
            i = int(np.flatnonzero(bad.ravel())[0])
            xi = float(np.ravel(np.broadcast_to(x, bad.shape))[i])
            raise ValueError(
                f"`{v}`, `mu` and `sigma` (with the threshold shift of `tau_s`, `tau_m`) must "
                f"give |x| = sqrt(2)|{v} + shift - mu| / sigma <= {x_max:g} {prec}; got "
                f"x = {xi:.4g} ({v} - mu = {float(np.ravel(np.broadcast_to(d, bad.shape))[i]):.3g}"
                f", sigma = {float(np.ravel(np.broadcast_to(sigma, bad.shape))[i]):.3g}).")
    if not omega_tau_max <= wt_max:
        raise ValueError(f"`omegas` times `tau_m` must be at most {wt_max:g} {prec}; got "
                         f"max(omega * tau_m) = {omega_tau_max:.4g}.")
    delta = s_r - s_t  # = x_t - x_r > 0
    bad = ~(delta >= delta_min)
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        raise ValueError(
            f"`sigma` must be small enough relative to `V_th` - `V_r`: sqrt(2)(V_th - V_r) / "
            f"sigma >= {delta_min:g} {prec} (below, the difference of the two boundary terms "
            f"is lost to rounding); got {float(np.ravel(delta)[i]):.3g}.")


def _tf_ratio_ode(wt, x_t, x_r, n1: int, n2: int):
    r"""(Psi'(x_t) - Psi'(x_r)) / (Psi(x_t) - Psi(x_r)) from the ODE of g = Psi(z, -s).

    :math:`\Psi(z, x) = g(-x)` with :math:`g(s) = e^{s^2/4}U(z, s)`, integrated from
    :math:`s_0 = \max(s_r, 0) + 8` down to :math:`s_r = -x_r` and on to :math:`s_t = -x_t`.
    The start only needs the right direction: the unwanted solution shrinks by
    :math:`e^{-(s_0^2 - s_r^2)/2} < e^{-32}` before :math:`s_r` is reached.
    """
    a = -0.5 + 1j * wt
    s_r = jnp.broadcast_to(-x_r, wt.shape)
    s_t = jnp.broadcast_to(-x_t, wt.shape)
    s0 = jnp.maximum(s_r, 0.0) + 8.0
    g, dg = _scaled_u_start(a, s0)
    zero = jnp.zeros(wt.shape, dtype=wt.dtype)
    g_r, p_r, l_r = _taylor_leg(a, g, dg, zero, s0, s_r, n1)
    g_t, p_t, l_t = _taylor_leg(a, g_r, p_r, l_r, s_r, s_t, n2)
    rel = jnp.exp(l_r - l_t)
    return (-p_t + p_r * rel) / (g_t - g_r * rel)


@functools.partial(jax.jit, static_argnames=("synaptic_filter", "n_panels", "n1", "n2"))
def _transfer_function_jit(omegas, mu, sigma, tau_m, tau_r, V_th, V_r, tau_s, *,
                           synaptic_filter, n_panels, n1, n2):
    shift = ExponentialSynapse(tau_s).shift(sigma, tau_m)  # (0 where tau_s = 0)
    nu = _siegert_core(mu, sigma, tau_m, tau_r, V_th + shift, V_r + shift)
    x_t = math.sqrt(2.0) * (V_th + shift - mu) / sigma
    x_r = math.sqrt(2.0) * (V_r + shift - mu) / sigma
    wt = omegas[:, None] * tau_m[None, :]
    small = wt <= _TF_SMALL_OMEGA_TAU
    b = 1.0 + 1j * jnp.where(small, wt, 0.0)
    a_t, a_r, b_int = _pcf_integrals(b, x_t, x_r, n_panels)
    ratio_small = (a_t - a_r) / b_int
    ratio_large = _tf_ratio_ode(jnp.where(small, 2.0 * _TF_SMALL_OMEGA_TAU, wt), x_t, x_r,
                                n1, n2)
    ratio = jnp.where(small, ratio_small, ratio_large)
    h = math.sqrt(2.0) / sigma * nu / (1.0 + 1j * wt) * ratio
    if synaptic_filter:
        h = h / (1.0 + 1j * omegas[:, None] * tau_s[None, :])
    return h


def _fit_lowpass(omegas, magnitude, max_iter=200):
    """Levenberg-Marquardt for |h0 / (1 + i w tau)| = h0 / sqrt(1 + w^2 tau^2) (numpy)."""
    # start: 1/|H|^2 = 1/h0^2 + (tau^2/h0^2) w^2 is linear in w^2
    design = np.stack([np.ones_like(omegas), omegas**2], axis=1)
    coef = np.linalg.lstsq(design, 1.0 / magnitude**2, rcond=None)[0]
    h0 = 1.0 / np.sqrt(coef[0]) if coef[0] > 0 else magnitude[0]
    tau = np.sqrt(max(coef[1], 0.0)) * h0 if coef[1] > 0 else 1.0 / omegas.max()
    params = np.array([tau, h0], dtype=float)

    def model(p):
        q = 1.0 + (omegas * p[0]) ** 2
        f = p[1] / np.sqrt(q)
        jac = np.stack([-p[1] * omegas**2 * p[0] / q**1.5, 1.0 / np.sqrt(q)], axis=1)
        return f, jac

    f, jac = model(params)
    r = magnitude - f
    cost = r @ r
    lam = 1e-3
    for _ in range(max_iter):
        jtj, g = jac.T @ jac, jac.T @ r
        step = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj)), g)
        trial = params + step
        f_t, jac_t = model(trial)
        r_t = magnitude - f_t
        cost_t = r_t @ r_t
        if cost_t < cost:
            converged = (cost - cost_t) <= 1e-15 * cost or np.all(np.abs(step) <= 1e-12 * np.abs(trial))
            params, f, jac, r, cost = trial, f_t, jac_t, r_t, cost_t
            lam = max(lam / 10.0, 1e-15)
            if converged:
                break
        else:
            lam *= 10.0
            if lam > 1e15:
                break
    dof = max(omegas.size - 2, 1)
    cov = np.linalg.pinv(jac.T @ jac) * cost / dof
    return params, np.sqrt(np.diag(cov))


def fit_transfer_function(H, omegas):
    r"""Fit a first-order low-pass filter to each population's transfer function.

    Least squares of :math:`|h_0/(1 + i\omega\tau)|` to :math:`|H(\omega)|` per population
    (Senk et al. 2020), by Levenberg-Marquardt started from the exact fit of the
    linearised model :math:`1/|H|^2 = (1 + \omega^2\tau^2)/h_0^2`. As in NNMT the sign of
    :math:`\tau` is set so that the imaginary part of the fit has the sign of
    :math:`\operatorname{Im} H` at the last frequency, and the fit error is
    :math:`\sqrt{(s_\tau/\tau)^2 + (s_{h_0}/h_0)^2}` with :math:`s` the standard errors
    from the covariance :math:`(J^\top J)^{-1}\,\mathrm{SSR}/(n - 2)` (what
    ``scipy.optimize.curve_fit`` reports).

    Parameters
    ----------
    H : array_like (complex), shape ``(n_omegas, n_populations)``
        Transfer functions, e.g. from :func:`transfer_function` (Hz/V).
    omegas : array_like, shape ``(n_omegas,)``
        The **angular** frequencies :math:`\omega = 2\pi f` (rad/s) at which ``H`` was
        evaluated (NNMT's docstring says Hz, but its model uses :math:`\omega\tau`).

    Returns
    -------
    tau : jax.Array, shape ``(n_populations,)``
        Time constant of the low-pass filter in s.
    h0 : jax.Array, shape ``(n_populations,)``
        Gain in the unit of ``H`` (Hz/V).
    fit_error : jax.Array, shape ``(n_populations,)``
        Relative fit error (dimensionless).

    Examples
    --------
    >>> import numpy as np
    >>> import coupling_tutorial as ct
    >>> w = 2 * np.pi * np.linspace(1.0, 200.0, 50)
    >>> H = (300.0 / (1 + 1j * w * 0.005))[:, None]
    >>> tau, h0, err = ct.fit_transfer_function(H, w)
    >>> round(float(tau[0]), 6), round(float(h0[0]), 6), bool(err[0] < 1e-8)
    (0.005, 300.0, True)
    """
    H = as_array(H, "H", ndim=(1, 2), allow_complex=True)
    if H.ndim == 1:
        H = H[:, None]
    dtype = result_float_dtype(H, omegas)
    omegas = as_array(omegas, "omegas", ndim=1, dtype=dtype)
    check_positive(omegas, "omegas", strict=False)
    if omegas.shape[0] != H.shape[0]:
        raise ValueError(f"`omegas` must have shape ({H.shape[0]},) (one entry per row of "
                         f"`H`); got shape {tuple(omegas.shape)}.")
    if H.shape[0] < 3:
        raise ValueError(f"`H` must have at least 3 frequencies to fit 2 parameters; got "
                         f"{H.shape[0]}.")
    check_finite(H, "H")
    Hn = np.asarray(H)
    w = np.asarray(omegas, dtype=float)
    taus, gains, errors = [], [], []
    for i in range(Hn.shape[1]):
        (tau, h0), (sd_tau, sd_h0) = _fit_lowpass(w, np.abs(Hn[:, i]))
        h0 = abs(h0)
        tau = abs(tau)
        if Hn[-1, i].imag > 0:  # the fit's imaginary part is negative for tau > 0
            tau = -tau
        taus.append(tau)
        gains.append(h0)
        errors.append(math.sqrt((sd_tau / tau) ** 2 + (sd_h0 / h0) ** 2))
    return (jnp.asarray(taus, dtype=dtype), jnp.asarray(gains, dtype=dtype),
            jnp.asarray(errors, dtype=dtype))
