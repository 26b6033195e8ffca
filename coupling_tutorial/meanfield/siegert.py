"""The Siegert formula: the rate of a LIF neuron driven by white noise.

Chapter 4, "The Siegert formula".

:func:`_siegert_core` is the formula (three regions, traceable); :func:`siegert_rate`
validates and, for concrete inputs, hands over to the host fast paths of
:mod:`._siegert_host`, which choose the quadrature order per point.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._validation import (
    ArgumentTypeError,
    any_traced as _any_traced,
    as_array,
    check_finite,
    check_positive,
    check_thresholds as _check_thresholds,
)
from ._dtypes import result_float_dtype
from ._quadrature import _erfcx_integral, _gauss_legendre, _GL_MAX_ORDER, _integration_limits
from .special import _dawson, _SQRT_PI
from .synapses import _check_tau_s, threshold_shift

__all__ = ["siegert_rate", "firing_rate_exp_synapses"]


def _siegert_core(mu, sigma, tau_m, tau_r, V_th, V_r, order: int = _GL_MAX_ORDER):
    """Siegert rate for already validated, broadcast arrays (traceable)."""
    mu, sigma, dead = _safe_inputs(mu, sigma, V_th, V_r)
    y_th = (V_th - mu) / sigma
    y_r = (V_r - mu) / sigma
    lo, hi, mean_driven, noise_driven = _integration_limits(y_th, y_r)
    # hi - lo = (V_th - V_r)/sigma in regions 1 and 2, exactly (the difference of the
    # rounded limits is 0 when |mu| >> V_th - V_r, and the rate would be inf)
    width = jnp.where(mean_driven | noise_driven, (V_th - V_r) / sigma, hi - lo)
    integral = _erfcx_integral(lo, hi, order, width)

    # region 1 (mean-driven): 1/nu = tau_r + tau_m sqrt(pi) int_{|y_th|}^{|y_r|} erfcx
    # (1 where not selected: with tau_r = 0 an empty integral of another region gives
    # 1/0, whose gradient, multiplied by where's 0, would be NaN)
    rate_mean_driven = 1.0 / (tau_r + tau_m * _SQRT_PI * jnp.where(mean_driven, integral, 1.0))

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
    # region 2 with y_th^2 - y_r^2 < 1: the first two terms cancel (to 0 or below when
    # V_th - V_r << sigma); the scaled integral itself, by Gauss-Legendre in u, instead
    narrow = noise_driven & (width * (y_th_s + y_r_s) < 1.0)
    scaled = jnp.where(narrow, _narrow_integral(y_th_s, jnp.where(narrow, width, 0.0), order),
                       scaled)
    denominator = jnp.exp(-y_th_s**2) * tau_r + tau_m * _SQRT_PI * scaled
    rate_other = jnp.exp(-y_th_s**2 - jnp.log(denominator))
    return jnp.where(dead, 0.0, jnp.where(mean_driven, rate_mean_driven, rate_other))


def _narrow_integral(y_th, width, order):
    r""":math:`\int_{y_r}^{y_\mathrm{th}} e^{u^2 - y_\mathrm{th}^2}(1 + \operatorname{erf} u)\,du`
    with :math:`y_r = y_\\mathrm{th} - ` ``width``, by ``order``-point Gauss-Legendre in
    :math:`u` (for :math:`y_\mathrm{th}^2 - y_r^2 < 1`,
    where the integrand varies by less than a factor e)."""
    nodes, weights = _gauss_legendre(order)
    nodes = jnp.asarray(nodes, dtype=y_th.dtype)
    weights = jnp.asarray(weights, dtype=y_th.dtype)
    half = 0.5 * width[..., None]  # (y_th - y_r rounds to 0 when width << |y_th|)
    u = y_th[..., None] - half * (1.0 - nodes)
    f = jnp.exp((u - y_th[..., None]) * (u + y_th[..., None])) * (2.0 - jax.scipy.special.erfc(u))
    return jnp.sum(half * weights * f, axis=-1)


# beyond these |y| the extreme regimes are exact in closed form (see _safe_inputs)
_Y_MEAN_DRIVEN_MAX = 1e7
_Y_SILENT = 1e3


def _safe_inputs(mu, sigma, V_th, V_r):
    r"""``(mu, sigma)`` replaced where the result does not depend on them, and ``dead``.

    Both keep :math:`y = (V - \mu)/\sigma` finite for any ``sigma > 0`` (else it overflows,
    and values or gradients become NaN):

    * mean-driven, :math:`|y_\mathrm{th}| > 10^7`: there
      :math:`\operatorname{erfcx}(s) = 1/(s\sqrt\pi)` to round-off, so the integral is
      :math:`\log(|y_r|/|y_\mathrm{th}|)/\sqrt\pi`, which does not depend on
      :math:`\sigma` (the deterministic LIF), and :math:`\sigma` is raised to
      :math:`(\mu - V_\mathrm{th})/10^7`;
    * :math:`y_\mathrm{th} > 10^3` (``dead``): the rate is below :math:`e^{-10^6}`, 0 in
      any float format; :math:`(\mu, \sigma)` are set to :math:`(V_r, V_\mathrm{th} - V_r)`
      (a benign point, whose value is then replaced by 0).
    """
    gap = V_th - mu
    dead = gap > _Y_SILENT * sigma
    sigma = jnp.where(gap < 0, jnp.maximum(sigma, -gap / _Y_MEAN_DRIVEN_MAX), sigma)
    return jnp.where(dead, V_r, mu), jnp.where(dead, V_th - V_r, sigma), dead


def _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r):
    dtype = result_float_dtype(mu, sigma, tau_m, tau_r, V_th, V_r)
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
    float32. Vectorised, jit-able and differentiable; gradients are finite everywhere (see Notes).

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
        Firing rate in Hz, finite and >= 0 for every valid input (0 where it underflows),
        in the float dtype of the inputs (float32 in, float32 out).

    Notes
    -----
    At the edges: where :math:`|y_\mathrm{th}| > 10^7` in the mean-driven regime the rate
    is that of the deterministic LIF (independent of :math:`\sigma`, gradient 0 in
    :math:`\sigma`); where :math:`y_\mathrm{th} > 10^3` it is exactly 0 (below
    :math:`e^{-10^6}`); the integration interval is :math:`(V_\mathrm{th} - V_r)/\sigma`
    even when :math:`|\mu| \gg V_\mathrm{th} - V_r` rounds the two limits to one
    number. In float32 the gradient in :math:`\sigma` overflows for
    :math:`\sigma \lesssim 10^{-19}` (:math:`\sigma^2` underflows).

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
        Membrane, synaptic and refractory time constants in s (``tau_s > 0``, required:
        :func:`siegert_rate` is the white-noise case; ``tau_r >= 0``).
    V_th, V_r : array_like
        Threshold and reset in V, relative to rest, ``V_th > V_r``.

    Returns
    -------
    jax.Array, the broadcast shape of the inputs (``tau_s`` included)
        Firing rate in Hz.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> nu = ct.firing_rate_exp_synapses(0.012, 0.005, 0.01, 0.0005, 0.002, 0.015, 0.0)
    >>> bool(nu < ct.siegert_rate(0.012, 0.005, 0.01, 0.002, 0.015, 0.0))
    True
    """
    if tau_s is None:  # (None means white noise in the shared host path below)
        raise ArgumentTypeError("`tau_s` must be a positive synaptic time constant in s; got "
                                "None (for white noise, delta synapses, use siegert_rate).")
    if not _any_traced(mu, sigma, tau_m, tau_s, tau_r, V_th, V_r):
        from ._siegert_host import _siegert_concrete  # (host fast path; imports this module)
        return _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r, tau_s=tau_s)
    mu, sigma, tau_m, tau_r, V_th, V_r = _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r)
    tau_s = _check_tau_s(tau_s, tau_m)
    shift = threshold_shift(sigma, tau_m, tau_s)
    args = jnp.broadcast_arrays(mu, sigma, tau_m, tau_r, V_th + shift, V_r + shift)
    return _siegert_core(*args)
