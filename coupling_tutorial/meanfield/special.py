"""Special functions of the Siegert formula: :func:`erfcx` and :func:`dawson`.

Weideman (1994), "Computation of the complex error function", SIAM J. Numer. Anal. 31:
w(z) = 2 p(Z) / (L - iz)^2 + pi^(-1/2) / (L - iz), Z = (L + iz)/(L - iz), with a
degree-(N-1) polynomial p whose coefficients come from one FFT (computed once, here).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_not_nan
from ._dtypes import as_float

__all__ = ["erfcx", "dawson"]


_SQRT_PI = math.sqrt(math.pi)


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
    """erfcx(x) for x >= 0 by Weideman's rational expansion (real arithmetic); 0 at inf."""
    big = x > 1e30  # Z = (L - x)/(L + x) is -1 to round-off there (and NaN at x = inf)
    denom = _WEIDEMAN_L + x
    inv = 1.0 / denom
    z = jnp.where(big, -1.0, (_WEIDEMAN_L - x) * inv)
    return (2.0 * _weideman_poly(z) * inv + 1.0 / _SQRT_PI) * inv


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
    # 2 x erfcx(x) - 2/sqrt(pi) -> -1/(sqrt(pi) x^2) cancels for large x; its asymptotic
    # form beyond 1e4 (relative error < 1e-12), and 0 at x = inf instead of inf * 0
    big = x > 1e4
    xb = jnp.where(big, x, 1e4)
    tail = -1.0 / (_SQRT_PI * xb * xb) * (1.0 - 1.5 / (xb * xb))
    return y, jnp.where(big, tail, 2.0 * x * y - 2.0 / _SQRT_PI) * dx


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
    For :math:`x < -26.6` the value exceeds the float64 range and is ``inf``
    (``erfcx(-inf) = inf``, ``erfcx(inf) = 0``). float32 input gives float32 output.

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
    return _erfcx(check_not_nan(as_float(x, "x", allow_empty=True), "x"))


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


def _dawson_slope_asymptotic(x):
    """D'(x) = 1 - 2x D(x) ~ -sum_{k>=1} (2k-1)!! / (2x^2)^k for |x| >= 50: the series of
    :func:`_dawson_asymptotic` without its leading 1, so nothing cancels, and 0 (the
    limit) at +-inf, where 1 - 2x D(x) is inf * 0 = NaN."""
    u = 1.0 / (2.0 * x * x)
    total = jnp.zeros_like(x)
    for k in range(10, 0, -1):
        total = total * u + float(np.prod(np.arange(1, 2 * k, 2)))
    return -u * total


@_dawson.defjvp
def _dawson_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _dawson(x)
    large = jnp.abs(x) >= _DAWSON_ASYMPTOTIC_FROM
    x_large = jnp.where(large, x, _DAWSON_ASYMPTOTIC_FROM)
    slope = jnp.where(large, _dawson_slope_asymptotic(x_large),
                      1.0 - 2.0 * jnp.where(large, 0.0, x) * y)
    return y, slope * dx


def dawson(x):
    r"""Dawson's integral :math:`D(x) = e^{-x^2}\int_0^x e^{t^2}\,dt`.

    Maclaurin series for :math:`|x| < 0.2`, Weideman's rational expansion of the
    Faddeeva function, :math:`D(x) = \tfrac{\sqrt\pi}{2}\operatorname{Im} w(x)`, up to
    50 (see :func:`erfcx`), and the asymptotic series
    :math:`D(x) \sim \frac{1}{2x}\sum_k (2k-1)!!/(2x^2)^k` beyond. Odd in :math:`x`;
    derivative :math:`D'(x) = 1 - 2xD(x)`, for :math:`|x| \ge 50` from the same series
    (:math:`-\sum_{k\ge1}(2k-1)!!/(2x^2)^k`: no cancellation, and 0 at :math:`\pm\infty`,
    so ``jax.grad`` is finite everywhere).

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
    return _dawson(check_not_nan(as_float(x, "x", allow_empty=True), "x"))
