"""Parabolic cylinder function U(a, x) of complex order (for the transfer function)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import (
    as_array,
    any_traced as _any_traced,
    check_finite,
)
from ._dtypes import result_float_dtype
from ._quadrature import _gauss_legendre

__all__ = ["parabolic_cylinder_u"]


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


_MAX_ODE_STEPS = 1 << 20


def _n_ode_steps(length: float, s_max: float, a_max: float, names: str = "`a` and `x`") -> int:
    """Static step count of the Taylor ODE integration (a power of 2 >= 64).

    Bounded: the count grows like ``length * s_max``, i.e. with the square of the order
    or of the argument; beyond ``_MAX_ODE_STEPS`` (2^20) the integration would run for
    minutes or hours, and a ValueError naming the arguments is raised instead.
    """
    n = length * (s_max + math.sqrt(a_max) + 1.0)
    if not n <= _MAX_ODE_STEPS:  # (also NaN)
        raise ValueError(
            f"{names} must keep the parabolic cylinder integration below "
            f"{_MAX_ODE_STEPS} steps (|a| up to ~700, |x| up to ~1000); got arguments that "
            f"need {n:.3g} steps.")
    n = int(math.ceil(n))
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
    dtype = result_float_dtype(x, a)
    cdtype = jnp.result_type(dtype, jnp.complex64)
    a = check_finite(as_array(a, "a", dtype=cdtype, allow_complex=True), "a")
    x = check_finite(as_array(x, "x", dtype=dtype), "x")
    a, x = jnp.broadcast_arrays(a, x)
    shape = a.shape
    a, x = a.ravel(), x.ravel()
    if _any_traced(a, x):
        raise ValueError("`a` and `x` must be concrete (the number of integration steps "
                         "depends on them); got a traced value.")
    s0 = _asymptotic_start(jnp.abs(a), x)
    n_steps = _n_ode_steps(float(np.max(np.asarray(s0 - x))),
                       float(np.max(np.abs(np.asarray(jnp.concatenate([s0, x]))))),
                       float(np.max(np.abs(np.asarray(a)))))
    g, _, log_scale = _integrate_scaled_u_jit(a, s0, x, n_steps)
    return (g * jnp.exp(log_scale - 0.25 * x * x)).reshape(shape)


_integrate_scaled_u_jit = jax.jit(_integrate_scaled_u, static_argnames="n_steps")
