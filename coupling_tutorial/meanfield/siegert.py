"""The Siegert formula: the rate of a LIF neuron driven by white noise.

Chapter 4, "The Siegert formula".

:func:`_siegert_core` is the formula (three regions, traceable); :func:`siegert_rate`
validates and, for concrete inputs, hands over to the host fast paths of
:mod:`._siegert_host`, which choose the quadrature order per point.
"""

from __future__ import annotations

import jax.numpy as jnp

from .._validation import (
    any_traced as _any_traced,
    as_array,
    check_finite,
    check_positive,
    check_thresholds as _check_thresholds,
    float_dtype as _float_dtype,
)
from ._quadrature import _erfcx_integral, _GL_MAX_ORDER, _integration_limits
from .special import _dawson, _SQRT_PI
from .synapses import _check_tau_s, threshold_shift

__all__ = ["siegert_rate", "firing_rate_exp_synapses"]


def _siegert_core(mu, sigma, tau_m, tau_r, V_th, V_r, order: int = _GL_MAX_ORDER):
    """Siegert rate for already validated, broadcast arrays (traceable)."""
    y_th = (V_th - mu) / sigma
    y_r = (V_r - mu) / sigma
    lo, hi, mean_driven, noise_driven = _integration_limits(y_th, y_r)
    integral = _erfcx_integral(lo, hi, order)

    # region 1 (mean-driven): 1/nu = tau_r + tau_m sqrt(pi) int_{|y_th|}^{|y_r|} erfcx
    rate_mean_driven = 1.0 / (tau_r + tau_m * _SQRT_PI * integral)

    # regions 2 and 3, scaled by exp(-y_th^2); safe values where not selected so that
    # neither the value nor the gradient of the unused branch can be NaN.
    y_th_s = jnp.where(mean_driven, 1.0, y_th)
    y_r_s = jnp.where(noise_driven, y_r, 0.5 * y_th_s)
    in_between = ~(mean_driven | noise_driven)
    sign = jnp.where(-y_r >= y_th, 1.0, -1.0)
    coef = jnp.where(noise_driven, -1.0, jnp.where(in_between, sign, 0.0))
    scaled = (2.0 * _dawson(y_th_s)
              - jnp.where(noise_driven,
                          2.0 * jnp.exp((y_r_s - y_th_s) * (y_r_s + y_th_s)) * _dawson(y_r_s),
                          0.0)
              + coef * jnp.exp(-y_th_s**2) * integral)
    denominator = jnp.exp(-y_th_s**2) * tau_r + tau_m * _SQRT_PI * scaled
    rate_other = jnp.exp(-y_th_s**2 - jnp.log(denominator))
    return jnp.where(mean_driven, rate_mean_driven, rate_other)


def _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r):
    dtype = _float_dtype()
    mu = check_finite(as_array(mu, "mu", dtype=dtype), "mu")
    sigma = as_array(sigma, "sigma", dtype=dtype)
    check_positive(sigma, "sigma")
    tau_m = as_array(tau_m, "tau_m", dtype=dtype)
    check_positive(tau_m, "tau_m")
    tau_r = as_array(tau_r, "tau_r", dtype=dtype)
    check_positive(tau_r, "tau_r", strict=False)
    V_th = check_finite(as_array(V_th, "V_th", dtype=dtype), "V_th")
    V_r = check_finite(as_array(V_r, "V_r", dtype=dtype), "V_r")
    _check_thresholds(V_th, V_r)
    try:
        jnp.broadcast_shapes(mu.shape, sigma.shape, tau_m.shape, tau_r.shape,
                             V_th.shape, V_r.shape)
    except ValueError as err:
        shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in
                           (("mu", mu), ("sigma", sigma), ("tau_m", tau_m),
                            ("tau_r", tau_r), ("V_th", V_th), ("V_r", V_r)))
        raise ValueError(f"`mu`, `sigma`, ... must have broadcastable shapes; got {shapes}.") from err
    return mu, sigma, tau_m, tau_r, V_th, V_r


def siegert_rate(mu, sigma, tau_m, tau_r, V_th, V_r):
    r"""Stationary firing rate of a LIF neuron driven by Gaussian white noise (Siegert).

    The membrane potential obeys :math:`\tau_m \dot V = -V + \mu + \sigma\sqrt{\tau_m}\,\xi(t)`
    with threshold :math:`V_\mathrm{th}`, reset :math:`V_r` and refractory time
    :math:`\tau_r`. Its rate is

    .. math::

        \frac{1}{\nu} = \tau_r + \tau_m\sqrt\pi \int_{y_r}^{y_\mathrm{th}}
        e^{u^2}\bigl(1 + \operatorname{erf} u\bigr)\,du,\qquad
        y_\mathrm{th} = \frac{V_\mathrm{th} - \mu}{\sigma},\;
        y_r = \frac{V_r - \mu}{\sigma}.

    The integrand is :math:`\operatorname{erfcx}(-u)`, which overflows for
    :math:`u \gtrsim 27`, so the integral is rewritten in three regions (as in NNMT):

    * :math:`y_\mathrm{th} < 0` (mean-driven):
      :math:`\nu = 1/(\tau_r + \tau_m\sqrt\pi\int_{|y_\mathrm{th}|}^{|y_r|}\operatorname{erfcx}(s)\,ds)`;
    * :math:`y_r > 0` (noise-driven):
      :math:`I = 2D(y_\mathrm{th}) - 2e^{y_r^2 - y_\mathrm{th}^2}D(y_r)
      - e^{-y_\mathrm{th}^2}\int_{y_r}^{y_\mathrm{th}}\operatorname{erfcx}(s)\,ds`;
    * :math:`y_r \le 0 \le y_\mathrm{th}`:
      :math:`I = 2D(y_\mathrm{th}) + e^{-y_\mathrm{th}^2}\int_{y_\mathrm{th}}^{|y_r|}\operatorname{erfcx}(s)\,ds`;

    and in the last two :math:`\nu = e^{-y_\mathrm{th}^2}/(e^{-y_\mathrm{th}^2}\tau_r + \tau_m\sqrt\pi\, I)`,
    evaluated as the exponential of its logarithm, so rates down to the smallest float
    (~1e-170 Hz and below) come out without overflow. :math:`D` is :func:`dawson`.

    Accuracy: ~1e-13 relative in float64 (tested to 1e-10 against a 40-digit mpmath
    quadrature from 1e-170 Hz to the refractory limit :math:`1/\tau_r`), about 1e-5 in
    float32. Vectorised, jit-able and differentiable; gradients are finite everywhere.

    Parameters
    ----------
    mu : array_like
        Mean input :math:`\mu` in V (relative to rest). Any shape; all arguments broadcast.
    sigma : array_like
        Input standard deviation :math:`\sigma` in V, > 0.
    tau_m : array_like
        Membrane time constant in s, > 0.
    tau_r : array_like
        Refractory time in s, >= 0.
    V_th, V_r : array_like
        Threshold and reset in V (relative to rest), ``V_th > V_r``.

    Returns
    -------
    jax.Array, the broadcast shape of the inputs
        Firing rate in Hz.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> round(float(ct.siegert_rate(0.015, 0.003, 0.01, 0.002, 0.02, 0.01)), 9)
    4.555240857
    """
    if not _any_traced(mu, sigma, tau_m, tau_r, V_th, V_r):
        from ._siegert_host import _siegert_concrete  # (host fast path; imports this module)
        return _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r)
    args = jnp.broadcast_arrays(*_neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r))
    return _siegert_core(*args)


def firing_rate_exp_synapses(mu, sigma, tau_m, tau_s, tau_r, V_th, V_r):
    r"""Firing rate of a LIF neuron with exponential synapses (coloured noise), shift method.

    Fourcaud & Brunel (2002): to first order in :math:`\sqrt{\tau_s/\tau_m}` the rate is
    the white-noise Siegert rate (:func:`siegert_rate`) with threshold and reset both
    shifted up by

    .. math:: \Delta V = \sigma\,\frac{\alpha}{2}\sqrt{\frac{\tau_s}{\tau_m}},\qquad
              \alpha = \sqrt2\,|\zeta(1/2)| = 2.0652531522\ldots

    Warns (``UserWarning``) when :math:`\sqrt{\tau_s/\tau_m} > \sqrt{0.1}`, where the
    expansion is poor (as NNMT does).

    Parameters
    ----------
    mu, sigma : array_like
        Mean and standard deviation of the input in V (``sigma > 0``).
    tau_m, tau_s, tau_r : array_like
        Membrane, synaptic and refractory time constants in s (``tau_r >= 0``).
    V_th, V_r : array_like
        Threshold and reset in V, relative to rest, ``V_th > V_r``.

    Returns
    -------
    jax.Array, the broadcast shape of the inputs
        Firing rate in Hz.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> nu = ct.firing_rate_exp_synapses(0.012, 0.005, 0.01, 0.0005, 0.002, 0.015, 0.0)
    >>> bool(nu < ct.siegert_rate(0.012, 0.005, 0.01, 0.002, 0.015, 0.0))
    True
    """
    if not _any_traced(mu, sigma, tau_m, tau_s, tau_r, V_th, V_r):
        from ._siegert_host import _siegert_concrete  # (host fast path; imports this module)
        return _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r, tau_s=tau_s)
    mu, sigma, tau_m, tau_r, V_th, V_r = _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r)
    tau_s = _check_tau_s(tau_s, tau_m)
    shift = threshold_shift(sigma, tau_m, tau_s)
    args = jnp.broadcast_arrays(mu, sigma, tau_m, tau_r, V_th + shift, V_r + shift)
    return _siegert_core(*args)
