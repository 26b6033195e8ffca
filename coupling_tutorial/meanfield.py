r"""Mean-field theory of leaky integrate-and-fire networks (Chapter 4).

A leaky integrate-and-fire (LIF) neuron driven by many small, independent inputs sees,
in the *diffusion approximation*, a Gaussian white-noise input with mean :math:`\mu` and
standard deviation :math:`\sigma`; its stationary firing rate is the Siegert formula. In a
network of populations the input statistics depend on the rates themselves, and the
stationary rates are a *fixed point* of that map. Around the fixed point the linear
response of each population to a modulation of its input is the *transfer function*.

Conventions (the same as NNMT 1.3.0, so numbers can be compared directly)
---------------------------------------------------------------------------
* SI units throughout: volts, seconds, hertz; angular frequencies :math:`\omega = 2\pi f`
  in rad/s; the transfer function in Hz/V.
* Potentials (``V_th``, ``V_r``, ``mu``) are relative to the resting potential.
* Connectivity matrices are ``[post, pre]``: ``K[i, j]`` is the number of inputs a neuron
  of population ``i`` receives from population ``j`` (in-degree) and ``J[i, j]`` their
  weight, a voltage (the PSP jump for delta synapses).
* Rates are returned in the float dtype JAX is configured with. Everything here is
  accurate to about ``1e-10`` relative in float64 (``jax_enable_x64``); in float32 expect
  about ``1e-5`` relative for the rates (the tests measure it).

Numerics
--------
The Siegert integral is evaluated with the three-region formulas used by NNMT, with the
scaled complementary error function :func:`erfcx` (exact for large arguments, unlike
``jax.scipy.special.erfcx``, which returns 0 in a band near 26.6 in float64 and 9.3 in
float32) and :func:`dawson`. The remaining integral of ``erfcx`` is computed by
Gauss-Legendre quadrature in the variable :math:`t = \log(1 + s)`, in which the integrand
is smooth and bounded; the quadrature order is chosen per point from the length of the
integration interval in :math:`t` (from 8 nodes for ordinary inputs to 64 for extreme
ones). Inside ``jax.jit``/``jax.grad`` (traced inputs) the highest order is used.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from importlib import resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import _is_traced, as_array, check_finite, check_positive

__all__ = [
    "erfcx",
    "dawson",
    "mean_input",
    "std_input",
    "siegert_rate",
    "firing_rate_exp_synapses",
    "threshold_shift",
    "self_consistent_rates",
    "FixedPointResult",
    "FixedPointError",
    "parabolic_cylinder_u",
    "transfer_function",
    "fit_transfer_function",
    "brunel_parameters",
    "microcircuit_parameters",
    "MICROCIRCUIT_POPULATIONS",
    "ALPHA_SHIFT",
]

_SQRT_PI = math.sqrt(math.pi)

#: :math:`\alpha = \sqrt{2}\,|\zeta(1/2)|`, the coloured-noise threshold-shift constant of
#: Fourcaud & Brunel (2002).
ALPHA_SHIFT = 2.0652531522312170


def _float_dtype():
    return jnp.result_type(float)


def _np_float():
    return np.float64 if jax.config.jax_enable_x64 else np.float32


def _any_traced(*args) -> bool:
    return any(_is_traced(a) for a in args)


# --------------------------------------------------------------------------------------
# Special functions
# --------------------------------------------------------------------------------------
# Weideman (1994), "Computation of the complex error function", SIAM J. Numer. Anal. 31:
# w(z) = 2 p(Z) / (L - iz)^2 + pi^(-1/2) / (L - iz), Z = (L + iz)/(L - iz), with a
# degree-(N-1) polynomial p whose coefficients come from one FFT (computed once, here).
# N = 40 gives ~7e-16 relative for erfcx(x) = w(ix), x >= 0 (all real arithmetic), and
# for Dawson's integral D(x) = sqrt(pi)/2 Im w(x), x >= 0.2.
_WEIDEMAN_N = 40


def _weideman_coefficients(n: int):
    m = 2 * n
    k = np.arange(-m + 1, m)
    length = math.sqrt(n / math.sqrt(2.0))
    t = length * np.tan(k * np.pi / (2 * m))
    f = np.concatenate([[0.0], np.exp(-t**2) * (length**2 + t**2)])
    a = np.real(np.fft.fft(np.fft.fftshift(f))) / (2 * m)
    return tuple(np.flipud(a[1:n + 1]).tolist()), length


_WEIDEMAN_A, _WEIDEMAN_L = _weideman_coefficients(_WEIDEMAN_N)


def _weideman_poly(z):
    acc = jnp.zeros_like(z) + _WEIDEMAN_A[0]
    for coef in _WEIDEMAN_A[1:]:
        acc = acc * z + coef
    return acc


def _erfcx_nonneg(x):
    """erfcx(x) for x >= 0 by Weideman's rational expansion (real arithmetic)."""
    denom = _WEIDEMAN_L + x
    inv = 1.0 / denom
    return (2.0 * _weideman_poly((_WEIDEMAN_L - x) * inv) * inv + 1.0 / _SQRT_PI) * inv


@jax.custom_jvp
def _erfcx(x):
    ax = jnp.abs(x)
    pos = _erfcx_nonneg(ax)
    # x < 0: erfcx(x) = 2 exp(x^2) - erfcx(-x) (inf below about -26.6 in float64)
    return jnp.where(x >= 0, pos, 2.0 * jnp.exp(ax * ax) - pos)


@_erfcx.defjvp
def _erfcx_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _erfcx(x)
    return y, (2.0 * x * y - 2.0 / _SQRT_PI) * dx


def erfcx(x):
    r"""Scaled complementary error function, correct for every real argument.

    .. math:: \operatorname{erfcx}(x) = e^{x^2}\operatorname{erfc}(x)
              = \frac{2}{\sqrt\pi}\int_0^\infty e^{-t^2 - 2xt}\,dt .

    For :math:`x \ge 0` it evaluates Weideman's (1994) rational expansion
    :math:`\operatorname{erfcx}(x) = 2p(Z)/(L + x)^2 + \pi^{-1/2}/(L + x)`,
    :math:`Z = (L - x)/(L + x)`, with a fixed polynomial :math:`p` of degree 39: one
    branch-free formula, ~7e-16 relative from 0 to :math:`\infty` (its second term is the
    exact large-:math:`x` behaviour :math:`1/(x\sqrt\pi)`); for :math:`x < 0`,
    :math:`\operatorname{erfcx}(x) = 2e^{x^2} - \operatorname{erfcx}(-x)`.
    ``jax.scipy.special.erfcx`` returns exactly 0 for
    :math:`x` in about 26.54-26.64 (float64) and 9.2-9.4 (float32); this function does
    not. The derivative is the exact :math:`\operatorname{erfcx}'(x) = 2x\operatorname{erfcx}(x) - 2/\sqrt\pi`.
    For :math:`x < -26.6` the value exceeds the float64 range and is ``inf``.

    Parameters
    ----------
    x : array_like
        Real argument(s), any shape.

    Returns
    -------
    jax.Array, same shape as ``x``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> round(float(ct.erfcx(26.6) * 26.6 * 1.7724538509055159), 9)  # ~ 1 - 1/(2 x^2)
    0.999294839
    """
    x = jnp.asarray(x, dtype=_float_dtype())
    return _erfcx(x)


_DAWSON_ASYMPTOTIC_FROM = 50.0


def _dawson_weideman(x):
    """D(x) = sqrt(pi)/2 Im w(x) by Weideman's expansion (for 0.2 <= x < 50)."""
    denom = _WEIDEMAN_L - 1j * x
    inv = 1.0 / denom
    z = (_WEIDEMAN_L + 1j * x) * inv
    w = (2.0 * _weideman_poly(z) * inv + 1.0 / _SQRT_PI) * inv
    return 0.5 * _SQRT_PI * jnp.imag(w)


def _dawson_taylor(x):
    """Maclaurin series for |x| < 0.2: sum_k (-2)^k x^(2k+1) / (2k+1)!!."""
    x2 = x * x
    total = jnp.zeros_like(x)
    for k in range(12, -1, -1):
        dfact = float(np.prod(np.arange(1, 2 * k + 2, 2)))
        total = total * x2 + (-2.0) ** k / dfact
    return x * total


def _dawson_asymptotic(x):
    """D(x) ~ 1/(2x) sum_k (2k-1)!! / (2x^2)^k for x >= 50."""
    u = 1.0 / (2.0 * x * x)
    total = jnp.zeros_like(x)
    for k in range(10, -1, -1):
        dfact = float(np.prod(np.arange(1, 2 * k, 2))) if k > 0 else 1.0
        total = total * u + dfact
    return total / (2.0 * x)


@jax.custom_jvp
def _dawson(x):
    ax = jnp.abs(x)
    small = ax < 0.2
    large = ax >= _DAWSON_ASYMPTOTIC_FROM
    x_mid = jnp.where(small | large, 1.0, ax)
    x_large = jnp.where(large, ax, _DAWSON_ASYMPTOTIC_FROM)
    x_small = jnp.where(small, x, 0.0)
    mid_or_large = jnp.where(large, _dawson_asymptotic(x_large), _dawson_weideman(x_mid))
    return jnp.where(small, _dawson_taylor(x_small), jnp.sign(x) * mid_or_large)


@_dawson.defjvp
def _dawson_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _dawson(x)
    return y, (1.0 - 2.0 * x * y) * dx


def dawson(x):
    r"""Dawson's integral :math:`D(x) = e^{-x^2}\int_0^x e^{t^2}\,dt`.

    Maclaurin series for :math:`|x| < 0.2`, Weideman's rational expansion of the
    Faddeeva function, :math:`D(x) = \tfrac{\sqrt\pi}{2}\operatorname{Im} w(x)`, up to
    50 (see :func:`erfcx`), and the asymptotic series
    :math:`D(x) \sim \frac{1}{2x}\sum_k (2k-1)!!/(2x^2)^k` beyond. Odd in :math:`x`;
    derivative :math:`D'(x) = 1 - 2xD(x)`.

    Parameters
    ----------
    x : array_like
        Real argument(s), any shape.

    Returns
    -------
    jax.Array, same shape as ``x``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> round(float(ct.dawson(0.9241388730)), 10)  # the maximum of D
    0.5410442246
    """
    x = jnp.asarray(x, dtype=_float_dtype())
    return _dawson(x)


# --------------------------------------------------------------------------------------
# Gauss-Legendre quadrature of erfcx over [lo, hi], lo >= 0, in t = log(1 + s)
# --------------------------------------------------------------------------------------
# Orders and the largest interval length L = log1p(hi) - log1p(lo) each handles with a
# relative error below ~1e-13 (measured against a 30-digit mpmath quadrature).
_GL_ORDERS = (8, 12, 16, 24, 32, 48, 64)
_GL_MAX_LENGTH = (1.2, 2.5, 3.5, 7.0, 11.0, 22.0, np.inf)
_GL_MAX_ORDER = _GL_ORDERS[-1]
_GL_MAX_LENGTH_ARRAY = np.asarray(_GL_MAX_LENGTH)


@functools.lru_cache(maxsize=None)
def _gauss_legendre(order: int):
    return np.polynomial.legendre.leggauss(order)


def _erfcx_integral(lo, hi, order: int):
    r""":math:`\int_{lo}^{hi} \operatorname{erfcx}(s)\,ds` with ``order``-point Gauss-Legendre in log1p(s)."""
    nodes, weights = _gauss_legendre(order)
    nodes = jnp.asarray(nodes, dtype=lo.dtype)
    weights = jnp.asarray(weights, dtype=lo.dtype)
    ta, tb = jnp.log1p(lo), jnp.log1p(hi)
    half, mid = 0.5 * (tb - ta), 0.5 * (tb + ta)
    t = mid[..., None] + half[..., None] * nodes
    s = jnp.expm1(t)
    integrand = _erfcx(s) * (1.0 + s)
    return half * jnp.sum(weights * integrand, axis=-1)


def _integration_limits(y_th, y_r, xp=jnp):
    """Limits lo <= hi (both >= 0) of the erfcx integral for each of the three regions."""
    mean_driven = y_th < 0          # region 1: V_th below the mean
    noise_driven = y_r > 0          # region 2: V_r above the mean
    a = xp.where(mean_driven, -y_th, xp.where(noise_driven, y_r, xp.minimum(y_th, -y_r)))
    b = xp.where(mean_driven, -y_r, xp.where(noise_driven, y_th, xp.maximum(y_th, -y_r)))
    return a, b, mean_driven, noise_driven


def _order_index(lo, hi):
    """Per-point index into _GL_ORDERS (host side, numpy)."""
    length = np.log1p(hi) - np.log1p(lo)
    return np.searchsorted(np.asarray(_GL_MAX_LENGTH), length, side="left")


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


@functools.partial(jax.jit, static_argnames=("order", "n", "shape"))
def _siegert_stacked(stacked, order, n, shape):
    """One compiled call on a (6, n_padded) host array; returns the exact output shape."""
    rate = _siegert_core(*stacked, order=order)
    return rate[:n].reshape(shape)


_CHUNK = 1 << 16
_SMALL = 4096


@functools.partial(jax.jit, static_argnames=("order", "n", "shape"))
def _siegert_scalar_params(musig, params, order, n, shape):
    """Fast path: arrays of (mu, sigma) and scalar (tau_m, tau_r, V_th, V_r)."""
    tau_m, tau_r, V_th, V_r = params
    rate = _siegert_core(musig[0], musig[1], tau_m, tau_r, V_th, V_r, order=order)
    return rate[:n].reshape(shape)


def _siegert_fast(arrs, dtype):
    """Scalar neuron parameters, at most 4096 points, plain V_th > V_r: minimal host work."""
    mu, sigma = arrs[0], arrs[1]
    tau_m, tau_r, V_th, V_r = (float(a) for a in arrs[2:])
    if not (tau_m > 0 and tau_r >= 0 and V_th > V_r and math.isfinite(tau_m)
            and math.isfinite(tau_r) and math.isfinite(V_th) and math.isfinite(V_r)):
        return None
    shape = mu.shape if mu.shape == sigma.shape else np.broadcast_shapes(mu.shape, sigma.shape)
    n = math.prod(shape)
    if n == 0 or n > _SMALL:
        return None
    size = max(8, 1 << (n - 1).bit_length())
    musig = np.empty((2, size), dtype=dtype)
    musig[0, :n] = mu.ravel() if mu.shape == shape else np.broadcast_to(mu, shape).ravel()
    musig[1, :n] = sigma.ravel() if sigma.shape == shape else np.broadcast_to(sigma, shape).ravel()
    musig[:, n:] = musig[:, :1]
    m_lo, m_hi = float(musig[0].min()), float(musig[0].max())
    s_lo, s_hi = float(musig[1].min()), float(musig[1].max())
    # min/max propagate NaN, so this also checks finiteness
    if not (math.isfinite(m_lo) and math.isfinite(m_hi) and math.isfinite(s_hi) and s_lo > 0):
        return None  # let the general path raise the standard message
    # conservative interval length: L <= log1p(max |y|) (lo >= 0)
    y_max = max(abs(V_th - m_lo), abs(V_th - m_hi), abs(V_r - m_lo), abs(V_r - m_hi)) / s_lo
    k = int(np.searchsorted(_GL_MAX_LENGTH_ARRAY, math.log1p(y_max), side="left"))
    params = np.array([tau_m, tau_r, V_th, V_r], dtype=dtype)
    return _siegert_scalar_params(musig, params, order=_GL_ORDERS[k], n=n, shape=shape)


_NAMES = ("mu", "sigma", "tau_m", "tau_r", "V_th", "V_r")


def _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r, tau_s=None):
    """Concrete inputs: validate and choose the quadrature order per point on the host.

    Up to 4096 points: one compiled call at the largest order any of them needs (inputs
    padded to a power of 2 to limit recompilation). More: points are grouped by order
    and evaluated in chunks of 65536, each group with its own order. Validation is
    vectorised over the stacked inputs; the package's helpers produce the message when
    a check fails.
    """
    dtype = _np_float()
    raw = (mu, sigma, tau_m, tau_r, V_th, V_r)
    arrs = []
    for name, value in zip(_NAMES, raw):
        try:
            arrs.append(np.asarray(value, dtype=dtype))
        except (TypeError, ValueError):
            as_array(value, name, dtype=dtype)  # raises the package's standard message
            raise
    if tau_s is None and arrs[2].ndim == arrs[3].ndim == arrs[4].ndim == arrs[5].ndim == 0:
        fast = _siegert_fast(arrs, dtype)
        if fast is not None:
            return fast
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
    except ValueError as err:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(_NAMES, arrs))
        raise ValueError(f"`mu`, `sigma`, `tau_m`, `tau_r`, `V_th`, `V_r` must have "
                         f"broadcastable shapes; got {shapes}.") from err
    n = math.prod(shape)
    if n == 0:
        return jnp.zeros(shape, dtype=dtype)
    size = max(8, 1 << (n - 1).bit_length()) if n <= _SMALL else n
    stacked = np.empty((6, size), dtype=dtype)
    for row, a in enumerate(arrs):
        stacked[row, :n] = (a if a.shape == shape else np.broadcast_to(a, shape)).ravel()
        stacked[row, n:] = stacked[row, 0]
    m, sg, tm, tr, vth, vr = stacked
    if not (np.isfinite(stacked).all() and (sg > 0).all() and (tm > 0).all()
            and (tr >= 0).all() and (vth > vr).all()):
        check_finite(arrs[0], "mu")
        check_positive(arrs[1], "sigma")
        check_positive(arrs[2], "tau_m")
        check_positive(arrs[3], "tau_r", strict=False)
        check_finite(arrs[4], "V_th")
        check_finite(arrs[5], "V_r")
        _check_thresholds(arrs[4], arrs[5])
    if tau_s is not None:
        ts = np.asarray(_check_tau_s(tau_s, arrs[2]), dtype=dtype)
        ts_row = _pad_like(np.broadcast_to(ts, shape).ravel(), size)
        shift = sg * (ALPHA_SHIFT / 2.0) * np.sqrt(ts_row / tm)
        stacked[4] = vth + shift
        stacked[5] = vr + shift
    y_th = (stacked[4] - m) / sg
    y_r = (stacked[5] - m) / sg
    lo, hi, _, _ = _integration_limits(y_th, y_r, xp=np)
    idx = _order_index(lo, hi)
    if n <= _SMALL:
        return _siegert_stacked(stacked, order=_GL_ORDERS[int(idx.max())], n=n, shape=shape)
    out = np.empty(n, dtype=dtype)
    for k, order in enumerate(_GL_ORDERS):
        sel = np.nonzero(idx == k)[0]
        for start in range(0, sel.size, _CHUNK):
            part = sel[start:start + _CHUNK]
            chunk = _CHUNK if sel.size > _CHUNK else max(8, 1 << (part.size - 1).bit_length())
            block = np.empty((6, chunk), dtype=dtype)
            block[:, :part.size] = stacked[:, part]
            block[:, part.size:] = stacked[:, part[:1]]
            out[part] = np.asarray(_siegert_stacked(block, order=order, n=part.size,
                                                    shape=(part.size,)))
    return jnp.asarray(out.reshape(shape))


def _pad_like(a, size):
    out = np.empty(size, dtype=a.dtype)
    out[:a.size] = a
    out[a.size:] = a[0]
    return out


# --------------------------------------------------------------------------------------
# Validation shared by the rate functions
# --------------------------------------------------------------------------------------
def _check_thresholds(V_th, V_r):
    if _any_traced(V_th, V_r):
        return
    a, b = np.broadcast_arrays(np.asarray(V_th), np.asarray(V_r))
    bad = ~(a > b)
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        raise ValueError(
            f"`V_th` must be greater than `V_r`; got V_th = {a.ravel()[i].item()} "
            f"<= V_r = {b.ravel()[i].item()}."
        )


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
        return _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r)
    args = jnp.broadcast_arrays(*_neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r))
    return _siegert_core(*args)


def threshold_shift(sigma, tau_m, tau_s):
    r"""Coloured-noise shift of threshold and reset, :math:`\sigma\,\frac{\alpha}{2}\sqrt{\tau_s/\tau_m}`.

    With :math:`\alpha = \sqrt2\,|\zeta(1/2)|` (:data:`ALPHA_SHIFT`), Fourcaud & Brunel
    (2002). Both threshold and reset move up by this amount before the delta-synapse
    Siegert formula is applied (:func:`firing_rate_exp_synapses`).

    Parameters
    ----------
    sigma : array_like
        Standard deviation of the input, V.
    tau_m, tau_s : array_like
        Membrane and synaptic time constants, s (broadcast with ``sigma``).

    Returns
    -------
    jax.Array, shape ``broadcast(sigma, tau_m, tau_s)``
        The shift, V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> round(float(ct.threshold_shift(0.005, 0.01, 0.0005)) * 1e3, 6)  # mV
    1.154512
    """
    return jnp.asarray(sigma) * ALPHA_SHIFT / 2.0 * jnp.sqrt(jnp.asarray(tau_s) / jnp.asarray(tau_m))


def _check_tau_s(tau_s, tau_m):
    tau_s = as_array(tau_s, "tau_s", dtype=_float_dtype())
    check_positive(tau_s, "tau_s")
    if not _any_traced(tau_s, tau_m):
        ratio = np.sqrt(np.asarray(tau_s) / np.asarray(tau_m))
        if np.any(ratio > np.sqrt(0.1)):
            warnings.warn(
                f"sqrt(tau_s / tau_m) = {float(np.max(ratio)):.3g} > sqrt(0.1): the "
                "coloured-noise threshold shift assumes fast synapses and becomes "
                "inaccurate here.", UserWarning, stacklevel=3)
    return tau_s


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
        return _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r, tau_s=tau_s)
    mu, sigma, tau_m, tau_r, V_th, V_r = _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r)
    tau_s = _check_tau_s(tau_s, tau_m)
    shift = threshold_shift(sigma, tau_m, tau_s)
    args = jnp.broadcast_arrays(mu, sigma, tau_m, tau_r, V_th + shift, V_r + shift)
    return _siegert_core(*args)


# --------------------------------------------------------------------------------------
# Input statistics
# --------------------------------------------------------------------------------------
def _arr(x, name, ndim=None):
    """``as_array`` for traced values; for concrete ones a host (numpy) array, which
    avoids a device round trip per argument (same checks and messages)."""
    if _is_traced(x):
        return as_array(x, name, ndim=ndim, dtype=_float_dtype())
    try:
        a = np.asarray(x, dtype=_np_float())
    except (TypeError, ValueError):
        return as_array(x, name, ndim=ndim, dtype=_float_dtype())  # raises the message
    if ndim is not None and a.ndim not in ((ndim,) if isinstance(ndim, int) else tuple(ndim)):
        as_array(a, name, ndim=ndim)  # raises the standard message
    return a


def _network_args(nu, J, K, tau_m, J_ext, K_ext, nu_ext, check_nu=True):
    nu = _arr(nu, "nu", ndim=1)
    if check_nu:
        check_positive(nu, "nu", strict=False)
    n = nu.shape[0]
    J = check_finite(_arr(J, "J", ndim=2), "J")
    K = _arr(K, "K", ndim=2)
    for name, arr in (("J", J), ("K", K)):
        if arr.shape != (n, n):
            raise ValueError(
                f"`{name}` must have shape {(n, n)} ([post, pre], one row and column per "
                f"population of `nu`); got shape {tuple(arr.shape)}.")
    check_positive(K, "K", strict=False)
    tau_m = _arr(tau_m, "tau_m", ndim=(0, 1))
    check_positive(tau_m, "tau_m")
    J_ext = check_finite(_arr(J_ext, "J_ext", ndim=(0, 1, 2)), "J_ext")
    K_ext = _arr(K_ext, "K_ext", ndim=(0, 1, 2))
    check_positive(K_ext, "K_ext", strict=False)
    nu_ext = _arr(nu_ext, "nu_ext", ndim=(0, 1))
    check_positive(nu_ext, "nu_ext", strict=False)
    if tau_m.ndim == 1 and tau_m.shape[0] not in (1, n):
        raise ValueError(f"`tau_m` must be a scalar or have shape ({n},); "
                         f"got shape {tuple(tau_m.shape)}.")
    matrix = max(J_ext.ndim, K_ext.ndim) == 2
    if matrix:
        n_ext = nu_ext.shape[0] if nu_ext.ndim == 1 else 1
        for name, arr in (("J_ext", J_ext), ("K_ext", K_ext)):
            try:
                np.broadcast_shapes(arr.shape, (n, n_ext))
            except ValueError:
                raise ValueError(
                    f"`{name}` must broadcast to shape {(n, n_ext)} (populations x "
                    f"external sources); got shape {tuple(arr.shape)}.") from None
    else:
        for name, arr in (("J_ext", J_ext), ("K_ext", K_ext), ("nu_ext", nu_ext)):
            if arr.ndim == 1 and arr.shape[0] not in (1, n):
                raise ValueError(
                    f"`{name}` must be a scalar or have shape (1,) or ({n},) (one entry "
                    f"per population); got shape {tuple(arr.shape)}.")
    return nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix


def _external(J_ext, K_ext, nu_ext, power, matrix, n):
    if matrix:
        return jnp.sum(K_ext * J_ext**power * jnp.atleast_1d(nu_ext)[None, :], axis=-1) \
            * jnp.ones(n)
    return jnp.broadcast_to(K_ext * J_ext**power * nu_ext, (n,))


def _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix):
    n = nu.shape[0]
    mu = tau_m * (jnp.dot(K * J, nu) + _external(J_ext, K_ext, nu_ext, 1, matrix, n))
    var = tau_m * (jnp.dot(K * J**2, nu) + _external(J_ext, K_ext, nu_ext, 2, matrix, n))
    tiny = jnp.finfo(var.dtype).tiny
    return mu, jnp.sqrt(jnp.maximum(var, tiny))


def mean_input(nu, J, K, tau_m, J_ext, K_ext, nu_ext):
    r"""Mean input :math:`\mu_i` to each population (Fourcaud & Brunel 2002, eq. 3.4).

    .. math:: \mu_i = \tau_{m,i}\Bigl(\sum_j K_{ij}J_{ij}\nu_j
              + \sum_k K^\mathrm{ext}_{ik}J^\mathrm{ext}_{ik}\nu^\mathrm{ext}_k\Bigr)

    Parameters
    ----------
    nu : array_like, shape ``(n_populations,)``
        Rates in Hz, >= 0.
    J : array_like, shape ``(n_populations, n_populations)``
        Synaptic weights in V, ``[post, pre]`` (PSP jumps for delta synapses; for
        exponential synapses NNMT's convention :math:`J = \tau_s w / C`).
    K : array_like, shape ``(n_populations, n_populations)``
        In-degrees, ``[post, pre]``, >= 0.
    tau_m : float or array_like, shape ``(n_populations,)``
        Membrane time constants in s.
    J_ext, K_ext : float, array_like of shape ``(n_populations,)``, or ``(n_populations, n_ext)``
        External weights (V) and in-degrees. 1-D or scalar values act elementwise
        (one external source per population); 2-D ones are summed over sources.
    nu_ext : float or array_like, shape ``(1,)``, ``(n_populations,)`` or ``(n_ext,)``
        External rates in Hz.

    Returns
    -------
    jax.Array, shape ``(n_populations,)``
        Mean input in V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> mu = ct.mean_input([38.0, 38.0], p["J"], p["K"], p["tau_m"], p["J_ext"],
    ...                    p["K_ext"], p["nu_ext"])
    >>> (mu * 1e3).round(3).tolist()  # mV
    [21.0, 21.0]
    """
    nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix = _network_args(
        nu, J, K, tau_m, J_ext, K_ext, nu_ext)
    return _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)[0]


def std_input(nu, J, K, tau_m, J_ext, K_ext, nu_ext):
    r"""Standard deviation :math:`\sigma_i` of the input (Fourcaud & Brunel 2002, eq. 3.4).

    .. math:: \sigma_i^2 = \tau_{m,i}\Bigl(\sum_j K_{ij}J_{ij}^2\nu_j
              + \sum_k K^\mathrm{ext}_{ik}(J^\mathrm{ext}_{ik})^2\nu^\mathrm{ext}_k\Bigr)

    Parameters and shapes as in :func:`mean_input`.

    Returns
    -------
    jax.Array, shape ``(n_populations,)``
        Standard deviation in V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> sd = ct.std_input([10.0, 10.0], p["J"], p["K"], p["tau_m"], p["J_ext"],
    ...                   p["K_ext"], p["nu_ext"])
    >>> (sd * 1e3).round(4).tolist()  # mV
    [4.3012, 4.3012]
    """
    nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix = _network_args(
        nu, J, K, tau_m, J_ext, K_ext, nu_ext)
    return _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)[1]


# --------------------------------------------------------------------------------------
# Self-consistent rates of a network of populations
# --------------------------------------------------------------------------------------
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


class FixedPointError(RuntimeError):
    """No fixed point was found. ``rates`` holds the last iterate, ``residual`` its max residual (Hz)."""

    def __init__(self, message, rates=None, residual=None):
        super().__init__(message)
        self.rates = rates
        self.residual = residual


def _phi(nu, params, matrix: bool):
    J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s = params
    nu = jnp.maximum(nu, 0.0)
    mu, sigma = _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)
    n = nu.shape[0]
    shift = 0.0 if tau_s is None else threshold_shift(sigma, tau_m, tau_s)
    args = jnp.broadcast_arrays(mu, sigma, tau_m * jnp.ones(n), tau_r * jnp.ones(n),
                                V_th + shift, V_r + shift)
    return _siegert_core(*args)


@functools.partial(jax.jit, static_argnames="matrix")
def _residual(nu, params, matrix):
    return _phi(nu, params, matrix) - nu


@functools.partial(jax.jit, static_argnames="matrix")
def _residual_and_jacobian(nu, params, matrix):
    f = lambda x: _phi(x, params, matrix) - x  # noqa: E731
    return f(nu), jax.jacfwd(f)(nu)


@functools.partial(jax.jit, static_argnames="matrix")
def _mu_sigma_jit(nu, params, matrix):
    J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s = params
    return _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)


def _solve(a, b):
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def _newton(nu, jac_fn, tol, max_iter):
    """Damped Newton on F(nu) = Phi(nu) - nu with backtracking, kept in nu >= 0."""
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    norm = np.max(np.abs(f))
    for it in range(1, max_iter + 1):
        step = _solve(jac, -f)
        if not np.all(np.isfinite(step)):
            return nu, norm, it, False
        alpha, accepted = 1.0, False
        while alpha > 1e-6:
            trial = np.maximum(nu + alpha * step, 0.0)
            f_trial, jac_trial = (np.asarray(a) for a in jac_fn(trial))
            norm_trial = np.max(np.abs(f_trial))
            if np.isfinite(norm_trial) and norm_trial <= (1.0 - 1e-4 * alpha) * norm:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            return nu, norm, it, norm < tol
        small_step = np.max(np.abs(trial - nu)) <= tol
        nu, f, jac, norm = trial, f_trial, jac_trial, norm_trial
        if norm < tol and small_step:
            return nu, norm, it, True
    return nu, norm, max_iter, norm < tol


@functools.partial(jax.jit, static_argnames=("matrix", "max_iter"))
def _newton_jit(nu0, params, tol, matrix, max_iter):
    """The whole damped Newton iteration in one compiled call (lax.while_loop).

    Same algorithm as :func:`_newton`: solve ``J step = -F``, halve the step until
    max|F| decreases by the Armijo factor, keep ``nu >= 0``; converged when
    max|F| < tol and the last step was < tol.
    """
    def residual(x):
        return _phi(x, params, matrix) - x

    jacobian = jax.jacfwd(residual)
    f0 = residual(nu0)
    state = (nu0, f0, jacobian(nu0), jnp.max(jnp.abs(f0)), 0, False, False)

    def cond(c):
        return (~c[5]) & (c[4] < max_iter)

    def body(c):
        nu, f, jac, norm, it, _, _ = c
        step = jnp.linalg.solve(jac, -f)
        finite = jnp.all(jnp.isfinite(step))
        step = jnp.where(finite, step, 0.0)

        def ls_cond(ls):
            return (~ls[1]) & (ls[0] > 1e-6)

        def ls_body(ls):
            alpha, _, _ = ls
            trial = jnp.maximum(nu + alpha * step, 0.0)
            n_trial = jnp.max(jnp.abs(residual(trial)))
            ok = jnp.isfinite(n_trial) & (n_trial <= (1.0 - 1e-4 * alpha) * norm)
            return jnp.where(ok, alpha, 0.5 * alpha), ok, trial

        _, accepted, trial = jax.lax.while_loop(
            ls_cond, ls_body, (jnp.asarray(1.0, nu.dtype), jnp.asarray(False), nu))
        accepted = accepted & finite
        f_t = residual(trial)
        j_t = jacobian(trial)
        n_t = jnp.max(jnp.abs(f_t))
        small = jnp.max(jnp.abs(trial - nu)) <= tol
        nu_n = jnp.where(accepted, trial, nu)
        f_n = jnp.where(accepted, f_t, f)
        j_n = jnp.where(accepted, j_t, jac)
        norm_n = jnp.where(accepted, n_t, norm)
        converged = accepted & (n_t < tol) & small
        done = (~accepted) | converged
        ok = jnp.where(accepted, converged, norm < tol)
        return nu_n, f_n, j_n, norm_n, it + 1, done, ok

    nu, f, jac, norm, it, done, ok = jax.lax.while_loop(cond, body, state)
    ok = jnp.where(done, ok, norm < tol)
    J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s = params
    mu, sigma = _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)
    return nu, f, jac, norm, it, ok, mu, sigma


def _relax(nu, res, jac_fn, tol, max_iter):
    """Relaxation d nu/ds = Phi(nu) - nu with linearly implicit (Rosenbrock-Euler) steps.

    The step ``h`` starts small, so the iterates follow the relaxation trajectory from
    ``nu0``, and grows by 1.5 per accepted step, so that the last steps converge like
    Newton's. A step is rejected (and ``h`` halved) if it would change any rate by more
    than half its value plus 1 Hz or make a rate negative.
    """
    h = 0.1
    n = nu.size
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    norm = np.max(np.abs(f))
    for it in range(1, max_iter + 1):
        step = _solve(np.eye(n) - h * jac, h * f)
        if (np.all(np.isfinite(step)) and np.all(nu + step >= -1e-12)
                and np.all(np.abs(step) <= 0.5 * nu + 1.0)):
            nu = np.maximum(nu + step, 0.0)
            f, jac = (np.asarray(a) for a in jac_fn(nu))
            norm = np.max(np.abs(f))
            if norm < tol and np.max(np.abs(step)) < tol:
                return nu, norm, it, True
            h = min(1.5 * h, 1e6)
        else:
            h *= 0.5
            if h < 1e-8:
                break
    return nu, norm, it, False


def _least_squares(nu, res, jac_fn, max_iter, ftol=1e-8, xtol=1e-8, gtol=1e-8):
    """Bounded (nu >= 0) Levenberg-Marquardt on 0.5 |Phi(nu) - nu|^2.

    Stops, like ``scipy.optimize.least_squares``, when the cost stops decreasing
    (relative change < ftol), the step is tiny (xtol) or the projected gradient vanishes
    (gtol), whether or not the residual is zero: it can stop in a local minimum.
    """
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    cost = 0.5 * float(f @ f)
    lam = 1e-3
    for it in range(1, max_iter + 1):
        grad = jac.T @ f
        projected = np.where((nu <= 0) & (grad > 0), 0.0, grad)
        if np.max(np.abs(projected)) < gtol:
            return nu, f, it
        jtj = jac.T @ jac
        improved = False
        while lam < 1e12:
            step = _solve(jtj + lam * np.diag(np.maximum(np.diag(jtj), 1e-12)), -grad)
            trial = np.maximum(nu + step, 0.0)
            f_trial = np.asarray(res(trial))
            cost_trial = 0.5 * float(f_trial @ f_trial)
            if np.isfinite(cost_trial) and cost_trial < cost:
                improved = True
                break
            lam *= 4.0
        if not improved:
            return nu, f, it
        lam = max(lam / 3.0, 1e-12)
        dx = np.linalg.norm(trial - nu)
        dcost = cost - cost_trial
        nu, cost = trial, cost_trial
        f, jac = (np.asarray(a) for a in jac_fn(nu))
        if dcost < ftol * cost or dx < xtol * (xtol + np.linalg.norm(nu)):
            return nu, f, it
    return nu, f, max_iter


def self_consistent_rates(J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s=None,
                          method="newton", nu0=None, tol=1e-7, max_iter=None):
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
    tol : float
        Convergence tolerance: max residual in Hz (``"newton"``, ``"ode"``), or mean
        squared residual in Hz^2 (``"lstsq"``, as NNMT).
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
    dtype = _float_dtype()
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
    check_positive(tol, "tol")
    params = (J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s)
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
            return FixedPointResult(nu_j, mu_j, sigma_j, float(np.max(np.abs(np.asarray(f_j)))),
                                    int(it_j), "newton", stable)
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
    return FixedPointResult(rates, mu, sigma, float(np.max(np.abs(f))), int(it), used, stable)


# --------------------------------------------------------------------------------------
# Parameter sets shipped with the package
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _load(name: str) -> dict:
    text = resources.files("coupling_tutorial").joinpath("data", name).read_text()
    return json.loads(text)


MICROCIRCUIT_POPULATIONS = tuple(_load("microcircuit_bos2016.json")["populations"])


def brunel_parameters(g=5.0, eta=2.0):
    r"""Brunel (2000) E/I network (delta synapses) as arguments of :func:`self_consistent_rates`.

    Two populations (E, I), in-degrees :math:`C_E = 1000`, :math:`C_I = 250` from each,
    PSP :math:`J = 0.1` mV, inhibitory weights :math:`-gJ`, :math:`\tau_m = 20` ms,
    :math:`\tau_r = 2` ms, :math:`V_\mathrm{th} = 20` mV, :math:`V_r = 10` mV, and
    :math:`C_E` external Poisson inputs of weight :math:`J` at
    :math:`\nu_\mathrm{ext} = \eta\,\nu_\mathrm{thr}`,
    :math:`\nu_\mathrm{thr} = V_\mathrm{th}/(J C_E \tau_m) = 10` Hz. The full network
    (:math:`N_E = 10\,000`, :math:`N_I = 2500`, delay 1.5 ms) is in
    ``coupling_tutorial/data/brunel2000.json``.

    Parameters
    ----------
    g : float
        Relative inhibitory strength, >= 0.
    eta : float
        External rate in units of :math:`\nu_\mathrm{thr}`, >= 0.

    Returns
    -------
    dict
        Keys ``J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext`` (SI units).

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> p["J"].tolist(), p["nu_ext"]
    ([[0.0001, -0.0005], [0.0001, -0.0005]], 20.0)
    """
    check_positive(g, "g", strict=False)
    check_positive(eta, "eta", strict=False)
    d = _load("brunel2000.json")
    J, C_E, C_I = d["J"], d["C_E"], d["C_I"]
    nu_thr = d["V_th"] / (J * C_E * d["tau_m"])
    dtype = _float_dtype()
    return {
        "J": jnp.asarray([[J, -g * J], [J, -g * J]], dtype=dtype),
        "K": jnp.asarray([[C_E, C_I], [C_E, C_I]], dtype=dtype),
        "tau_m": d["tau_m"], "tau_r": d["tau_r"], "V_th": d["V_th"], "V_r": d["V_r"],
        "J_ext": J, "K_ext": float(C_E), "nu_ext": float(eta * nu_thr),
    }


def microcircuit_parameters():
    r"""Potjans & Diesmann (2014) microcircuit, Bos et al. (2016) variant, as NNMT builds it.

    Eight populations (:data:`MICROCIRCUIT_POPULATIONS`: L2/3, L4, L5, L6, each E and I),
    exponential synapses (:math:`\tau_s = 0.5` ms), :math:`\tau_m = 10` ms,
    :math:`\tau_r = 2` ms, :math:`V_\mathrm{th} = 15` mV, reset at rest. Bos et al.
    change the L4E external in-degree (2100 -> 1780) and the L4I->L4I in-degree
    (794.6 -> 675). Weights are :math:`J = \tau_s w / C`, inhibitory columns multiplied by
    :math:`-g`, L4E->L2/3E doubled (NNMT's convention). Data from
    ``coupling_tutorial/data/microcircuit_bos2016.json``.

    Returns
    -------
    dict
        Keys ``J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s`` (SI units;
        matrices ``[post, pre]``, shape ``(8, 8)``).

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.microcircuit_parameters()
    >>> p["K"].shape, p["tau_s"]
    ((8, 8), 0.0005)
    """
    d = _load("microcircuit_bos2016.json")
    dtype = _float_dtype()
    return {
        "J": jnp.asarray(d["J"], dtype=dtype), "K": jnp.asarray(d["K"], dtype=dtype),
        "tau_m": d["tau_m"], "tau_r": d["tau_r"], "V_th": d["V_th"], "V_r": d["V_r"],
        "J_ext": jnp.asarray(d["J_ext"], dtype=dtype),
        "K_ext": jnp.asarray(d["K_ext"], dtype=dtype),
        "nu_ext": jnp.asarray(d["nu_ext"], dtype=dtype), "tau_s": d["tau_s"],
    }


# --------------------------------------------------------------------------------------
# Parabolic cylinder function U(a, x) of complex order and the transfer function
# --------------------------------------------------------------------------------------
_PCF_LOG_RANGE = 46.0   # integrate where the Gaussian envelope is > exp(-46) of its peak
_PCF_SERIES_TERMS = 32  # Taylor terms of exp(x t - t^2/2) on [0, t_s], t_s <= 1/(1+|x|)
_PCF_NODES = 16         # Gauss-Legendre nodes per panel in u = log t


def _taylor_coefficients(x, n_terms):
    """Coefficients c_k of exp(x t - t^2 / 2) = sum_k c_k t^k: (k+1) c_{k+1} = x c_k - c_{k-1}."""
    coefs = [jnp.ones_like(x), x]
    for k in range(1, n_terms - 1):
        coefs.append((x * coefs[k] - coefs[k - 1]) / (k + 1))
    return jnp.stack(coefs, axis=-1)


def _window(x):
    """Integration window [t_lo, t_hi] in t and the series radius t_s, for exp(x t - t^2/2)."""
    width = math.sqrt(2.0 * _PCF_LOG_RANGE)
    t_hi = x + jnp.sqrt(x * x + 2.0 * _PCF_LOG_RANGE)
    t_lo = jnp.maximum(x - width, 0.0)
    return t_lo, t_hi


def _gl_panels(u_lo, u_hi, n_panels):
    """Composite Gauss-Legendre nodes and weights on [u_lo, u_hi] (last axis)."""
    nodes, weights = _gauss_legendre(_PCF_NODES)
    edges = jnp.linspace(0.0, 1.0, n_panels + 1)
    left, right = edges[:-1], edges[1:]
    frac = (0.5 * (right - left)[:, None] * nodes[None, :]
            + 0.5 * (right + left)[:, None]).ravel()
    wfrac = (0.5 * (right - left)[:, None] * weights[None, :]).ravel()
    span = (u_hi - u_lo)[..., None]
    return u_lo[..., None] + span * frac, span * wfrac


def _pcf_integrals(b, x_t, x_r, n_panels):
    r"""Scaled integrals for the transfer function and for U.

    With :math:`c = \max(x_t, 0)^2/2`, returns

    * :math:`A(x) = \int_0^\infty t^{b-1} e^{-t^2/2 + x t - c}\,dt` for ``x_t`` and ``x_r``,
    * :math:`B = \int_0^\infty t^{b-2} e^{-t^2/2 - c}\,(e^{x_t t} - e^{x_r t})\,dt`.

    ``b`` has shape ``(n_omegas, n)`` with ``Re b >= 1``; ``x_t > x_r`` shape ``(n,)``.
    Each integral is split at :math:`t_s = 1/(1 + |x|)`: on :math:`[0, t_s]` the exact
    integral of the Taylor series of the Gaussian factor, on :math:`[t_s, t_\mathrm{hi}]`
    composite Gauss-Legendre in :math:`u = \log t`, where :math:`t^{i\omega\tau}` is a
    plain oscillation. Where the envelope peaks far from 0 (:math:`x > 9.6`) only the
    window around the peak is integrated.
    """
    c = 0.5 * jnp.maximum(x_t, 0.0) ** 2

    def one(x, coefs, radius, modifier):
        t_lo, t_hi = _window(x)
        use_series = t_lo <= 0.0
        t_s = jnp.minimum(radius, t_hi)
        t_start = jnp.where(use_series, t_s, t_lo)
        u, w = _gl_panels(jnp.log(t_start), jnp.log(t_hi), n_panels)
        t = jnp.exp(u)
        log_env = -0.5 * t * t + x[..., None] * t - c[..., None] + jnp.log(modifier(t))
        real_weight = w * jnp.exp(log_env)                        # (n, N)
        phase = b[..., None] * u[None]                           # (n_omegas, n, N)
        quad = jnp.sum(real_weight[None] * jnp.exp(phase), axis=-1)
        k = jnp.arange(coefs.shape[-1])
        log_ts = jnp.log(t_s)
        powers = jnp.exp((b[..., None] + k) * log_ts[None, :, None] - c[None, :, None])
        series = jnp.sum(coefs[None] * powers / (b[..., None] + k), axis=-1)
        return quad + jnp.where(use_series, series, 0.0)

    ones = lambda t: jnp.ones_like(t)  # noqa: E731
    radius_t = 1.0 / (1.0 + jnp.abs(x_t))
    radius_r = 1.0 / (1.0 + jnp.abs(x_r))
    a_t = one(x_t, _taylor_coefficients(x_t, _PCF_SERIES_TERMS), radius_t, ones)
    a_r = one(x_r, _taylor_coefficients(x_r, _PCF_SERIES_TERMS), radius_r, ones)
    delta = x_t - x_r
    diff = (_taylor_coefficients(x_t, _PCF_SERIES_TERMS + 1)
            - _taylor_coefficients(x_r, _PCF_SERIES_TERMS + 1))[..., 1:]
    b_int = one(x_t, diff, jnp.minimum(radius_t, radius_r),
                lambda t: -jnp.expm1(-delta[..., None] * t) / t)
    return a_t, a_r, b_int


def _n_panels(omega_tau_max: float) -> int:
    """Static panel count: <= 3 rad of t^{i omega tau} per panel, at least 32 panels."""
    n = max(32, int(math.ceil(5.6 * omega_tau_max / 3.0)))
    return 16 * int(math.ceil(n / 16))


_ASYMPTOTIC_TERMS = 40


def _scaled_u_start(a, s0):
    r"""g(s0), g'(s0) from the asymptotic series of :math:`g_a(s) = e^{s^2/4}U(a, s)`.

    :math:`g_a(s) \sim s^{-a-1/2}\sum_k (-1)^k (a+\tfrac12)_{2k} / (k!\,(2s^2)^k)`
    (DLMF 12.9.1), summed until the terms stop decreasing (s0 is chosen so that the
    smallest term is far below round-off).
    """
    p = -a - 0.5
    log_s = jnp.log(s0)
    inv = 1.0 / (2.0 * s0 * s0)
    term = jnp.ones_like(a)
    g = jnp.zeros_like(a)
    dg = jnp.zeros_like(a)
    done = jnp.zeros(a.shape, dtype=bool)
    prev = jnp.full(a.shape, jnp.inf)
    for k in range(_ASYMPTOTIC_TERMS):
        mag = jnp.abs(term)
        done = done | (mag > prev)  # asymptotic series: stop at the smallest term
        g = g + jnp.where(done, 0.0, term)
        dg = dg + jnp.where(done, 0.0, term * (p - 2 * k))
        prev = mag
        term = -term * (a + 0.5 + 2 * k) * (a + 1.5 + 2 * k) / (k + 1) * inv
    power = jnp.exp(p * log_s)
    return g * power, dg * power / s0


def _asymptotic_start(a_abs, s_needed):
    """Start point of the backward integration: asymptotic series accurate there."""
    return jnp.maximum(jnp.maximum(s_needed + 1.0, math.sqrt(2.0) * a_abs + 8.0), 10.0)


_TAYLOR_TERMS = 26


def _taylor_leg(a, g, dg, log_scale, s_start, s_end, n_steps: int):
    r"""Integrate :math:`g'' = s g' + (a + \tfrac12)\,g` from ``s_start`` to ``s_end``.

    Taylor-series steps: around :math:`s_c`, :math:`g(s_c + \tau) = \sum_n c_n\tau^n` with
    :math:`c_{n+2} = [s_c (n+1) c_{n+1} + (n + a + \tfrac12) c_n] / ((n+1)(n+2))`, 26
    terms, and a step :math:`h` with :math:`h(|s| + |a|^{1/2} + 1) \le 1`, so the
    truncation error is below round-off. The state is renormalised every step; the
    logarithm of the scale is carried separately (nothing overflows).
    """
    k = a + 0.5
    h = (s_end - s_start) / n_steps

    def step(i, state):
        g, dg, log_scale = state
        s_c = s_start + i * h
        c_prev, c_cur = g, dg  # c_0, c_1
        val, der = g + dg * h, dg
        power = h  # h^(n+1) for c_{n+2}
        for n in range(_TAYLOR_TERMS - 2):
            c_next = (s_c * (n + 1) * c_cur + (n + k) * c_prev) / ((n + 1) * (n + 2))
            der = der + (n + 2) * c_next * power
            power = power * h
            val = val + c_next * power
            c_prev, c_cur = c_cur, c_next
        scale = jnp.abs(val) + jnp.abs(der)
        return val / scale, der / scale, log_scale + jnp.log(scale)

    return jax.lax.fori_loop(0, n_steps, step, (g, dg, log_scale))


def _integrate_scaled_u(a, s_start, s_end, n_steps: int):
    g, dg = _scaled_u_start(a, s_start)
    return _taylor_leg(a, g, dg, jnp.zeros(a.shape, dtype=jnp.real(g).dtype),
                       s_start, s_end, n_steps)


def _n_steps(length: float, s_max: float, a_max: float) -> int:
    n = int(math.ceil(length * (s_max + math.sqrt(a_max) + 1.0)))
    return 1 << max(6, (n - 1).bit_length())  # a power of 2 >= 64: fewer recompilations


def parabolic_cylinder_u(a, x):
    r"""Parabolic cylinder function :math:`U(a, x)` for complex order ``a`` and real ``x``.

    :math:`U(a, x)` is the solution of :math:`w'' = (x^2/4 + a)\,w` that decays as
    :math:`e^{-x^2/4}x^{-a-1/2}` for :math:`x \to +\infty` (DLMF 12.2, 12.9). Neither
    scipy nor JAX provides it for complex order. Here :math:`g(s) = e^{s^2/4}U(a, s)`,
    which satisfies :math:`g'' = s g' + (a + \tfrac12)\,g`, is started from its
    asymptotic series at a large :math:`s_0` (:math:`s_0 \ge \sqrt2|a| + 8`, where the
    series is exact to round-off) and integrated down to :math:`x` with the classical
    Taylor-series method (26 terms per step, see ``_taylor_leg``). Integrating towards smaller :math:`s` is stable:
    the other solution, :math:`\sim e^{s^2/2}`, shrinks in that direction for
    :math:`s > 0`, and for :math:`s < 0` the wanted solution is the growing one.
    Agrees with ``mpmath.pcfu`` to ~1e-12 relative for :math:`|x| \le 20`,
    :math:`|a| \le 60` (tested), except where :math:`U` is exponentially small on both
    sides (real :math:`a = -\tfrac12 - n`, :math:`x \to -\infty`), where only absolute
    accuracy relative to :math:`e^{x^2/4}` is obtained.

    Parameters
    ----------
    a : complex or array_like
        Order(s).
    x : float or array_like
        Real argument(s); broadcast against ``a``.

    Returns
    -------
    jax.Array (complex), the broadcast shape of ``a`` and ``x``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> # U(-1/2, x) = exp(-x^2/4)
    >>> abs(complex(ct.parabolic_cylinder_u(-0.5, 1.3)) - 0.6554062543) < 1e-9
    True
    """
    cdtype = jnp.result_type(complex)
    a = jnp.asarray(a, dtype=cdtype)
    x = check_finite(jnp.asarray(x, dtype=_float_dtype()), "x")
    a, x = jnp.broadcast_arrays(a, x)
    shape = a.shape
    a, x = a.ravel(), x.ravel()
    if _any_traced(a, x):
        raise ValueError("`a` and `x` must be concrete (the number of integration steps "
                         "depends on them); got a traced value.")
    s0 = _asymptotic_start(jnp.abs(a), x)
    n_steps = _n_steps(float(np.max(np.asarray(s0 - x))),
                       float(np.max(np.abs(np.asarray(jnp.concatenate([s0, x]))))),
                       float(np.max(np.abs(np.asarray(a)))))
    g, _, log_scale = _integrate_scaled_u_jit(a, s0, x, n_steps)
    return (g * jnp.exp(log_scale - 0.25 * x * x)).reshape(shape)


_integrate_scaled_u_jit = jax.jit(_integrate_scaled_u, static_argnames="n_steps")


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
        Membrane, synaptic (>= 0; 0 for delta synapses) and refractory time constants in s.
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

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import coupling_tutorial as ct
    >>> H = ct.transfer_function(0.012, 0.004, 0.01, 0.0005, 0.002, 0.015, 0.0,
    ...                          omegas=2 * jnp.pi * jnp.array([1.0, 10.0, 100.0]))
    >>> H.shape, bool(abs(H[2, 0]) < abs(H[0, 0]))
    ((3, 1), True)
    """
    dtype = _float_dtype()
    mu, sigma, tau_m, tau_r, V_th, V_r = _neuron_args(mu, sigma, tau_m, tau_r, V_th, V_r)
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
    shift = sigma_ * ALPHA_SHIFT / 2.0 * np.sqrt(tau_s_ / tau_m_)
    s_r = -math.sqrt(2.0) * (V_r_ + shift - mu_) / sigma_
    s_t = -math.sqrt(2.0) * (V_th_ + shift - mu_) / sigma_
    s_max = float(np.max(np.abs(np.concatenate([np.maximum(s_r, 0) + 8.0, s_t]))))
    n1 = _n_steps(8.0 + float(np.max(np.maximum(-s_r, 0))), s_max, omega_tau_max + 1.0)
    n2 = _n_steps(float(np.max(s_r - s_t)), s_max, omega_tau_max + 1.0)
    return _transfer_function_jit(omegas, *arrays, synaptic_filter=bool(synaptic_filter),
                                  n_panels=_n_panels(_TF_SMALL_OMEGA_TAU), n1=n1, n2=n2)


_TF_SMALL_OMEGA_TAU = 4.0  # below: Gamma-free integrals (exact at omega = 0); above: ODE


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
    shift = threshold_shift(sigma, tau_m, tau_s)
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


# --------------------------------------------------------------------------------------
# Low-pass fit of a transfer function (Senk et al. 2020)
# --------------------------------------------------------------------------------------
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
    H = as_array(H, "H", ndim=(1, 2))
    if H.ndim == 1:
        H = H[:, None]
    omegas = as_array(omegas, "omegas", ndim=1, dtype=_float_dtype())
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
    dtype = _float_dtype()
    return (jnp.asarray(taus, dtype=dtype), jnp.asarray(gains, dtype=dtype),
            jnp.asarray(errors, dtype=dtype))
