r"""Coupling filters and the bases they are expressed in (Chapter 1).

A *coupling filter* :math:`h_{j\to i}(\ell)` says how much a spike of neuron :math:`j`
emitted :math:`\ell + 1` bins ago changes the log-rate of neuron :math:`i` now. All
filters and bases here are sampled on **lags**: row :math:`\ell = 0` is the most recent
bin (lag 1), row ``window_size - 1`` the oldest. This is the same convention as NeMoS's
convolution kernels, so a basis from this module and one from NeMoS can be swapped.

Shape conventions (the same everywhere in the package)
------------------------------------------------------
* a single filter: ``(window_size,)``
* a bank of filters: ``(window_size, n_receivers, n_senders)``
* a basis: ``(window_size, n_basis)``, one column per basis function
* basis weights of a bank: ``(n_receivers, n_senders, n_basis)``, the layout that
  :func:`coupling_tutorial.simulate.simulate_recurrent` takes as ``coupling_coef``.
"""

from __future__ import annotations

import math
import sys

import jax.numpy as jnp
from jax.scipy.stats import gamma as _gamma_dist

from ._validation import as_array, check_finite, check_int, check_size, validate

__all__ = [
    "difference_of_gammas",
    "exponential_filter",
    "raised_cosine_log_basis",
    "raised_cosine_linear_basis",
    "history_basis",
    "regress_filter",
    "gamma_ppf",
]


# --------------------------------------------------------------------------------------
# Gamma quantile (needed to size the difference-of-gammas window). Plain Python floats:
# it is evaluated once per filter, must be accurate to ~1e-15 whatever JAX's precision
# setting is, and must not need scipy.
# --------------------------------------------------------------------------------------
def _gammainc_pq(a: float, x: float) -> tuple[float, float]:
    """Regularized incomplete gammas (P, Q) = (lower, upper), each to ~1e-15 relative.

    Series for P when x < a + 1, continued fraction for Q otherwise (Numerical Recipes
    6.2); the other one is 1 minus it, so the small one is always computed directly.
    """
    if x <= 0.0:
        return 0.0, 1.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # series
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        p = total * math.exp(log_prefactor)
        return p, 1.0 - p
    # continued fraction for Q(a, x) (modified Lentz)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-17:
            break
    q = math.exp(log_prefactor) * h
    return 1.0 - q, q


@validate(q="quantile", a="positive", b="positive")
def gamma_ppf(q: float, a: float, b: float = 1.0) -> float:
    r"""Quantile function of the gamma distribution with shape ``a`` and rate ``b``.

    Solves :math:`P(a, b x) = q` for :math:`x`, where :math:`P` is the regularized lower
    incomplete gamma function, by safeguarded Newton iterations (bisection whenever a
    Newton step leaves the bracket). Agrees with ``scipy.stats.gamma(a, scale=1/b).ppf(q)``
    to ~1e-14 relative.

    Parameters
    ----------
    q : float
        Probability in ``[0, 1)``.
    a, b : float
        Shape and rate (> 0).

    Returns
    -------
    float
        The quantile (a Python float).

    Examples
    --------
    >>> round(gamma_ppf(0.5, 1.0), 12)  # median of Exp(1) is ln 2
    0.69314718056
    """
    return _gamma_quantile(q, a, b)


def _gamma_quantile(q: float, a: float, b: float, names=("a", "b")) -> float:
    """:func:`gamma_ppf`; a quantile that is not a finite float raises a ValueError naming
    the caller's arguments ``names`` (e.g. ``excit_a``, ``excit_b``)."""
    if q == 0.0:
        return 0.0
    try:
        x = _gamma_ppf_unit_rate(q, a)
    except (ZeroDivisionError, OverflowError):
        x = math.nan
    if not math.isfinite(x / b):
        na, nb = names
        raise ValueError(f"`{na}` and `{nb}` must give a finite quantile (at most "
                         f"{sys.float_info.max:.3g}); got {na} = {a}, {nb} = {b} (q = {q}), "
                         f"whose quantile is not representable.")
    return x / b


def _gamma_ppf_unit_rate(q: float, a: float) -> float:
    """The quantile of Gamma(a, rate 1), by safeguarded Newton iterations."""
    # Solve P(a, x) = q, or Q(a, x) = 1 - q in the upper tail where P is ill-conditioned.
    upper = q > 0.5

    def residual(x):
        p_val, q_val = _gammainc_pq(a, x)
        return (1.0 - q) - q_val if upper else p_val - q  # increasing in x either way

    lo, hi = 0.0, max(1.0, a)
    while residual(hi) < 0:
        lo, hi = hi, 2.0 * hi
    x = 0.5 * (lo + hi)
    for _ in range(200):
        f = residual(x)
        if f > 0:
            hi = x
        else:
            lo = x
        log_pdf = (a - 1.0) * math.log(x) - x - math.lgamma(a)
        step = f / math.exp(log_pdf) if log_pdf > -700 else math.inf
        x_new = x - step
        if not lo < x_new < hi:
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 1e-16 * max(1.0, x):
            x = x_new
            break
        x = x_new
    return x


@validate(window_size="size", upper_percentile="quantile", inhib_a="positive",
          excit_a="positive", inhib_b="positive", excit_b="positive")
def difference_of_gammas(
    window_size: int,
    upper_percentile: float = 0.99,
    inhib_a: float = 1.0,
    excit_a: float = 2.0,
    inhib_b: float = 1.0,
    excit_b: float = 2.0,
):
    r"""Difference of two gamma densities, normalised to unit Euclidean norm.

    .. math::

        h(x) = \frac{f_E(x) - f_I(x)}{\lVert f_E - f_I \rVert_2},\qquad
        f(x; a, b) = \frac{b^a}{\Gamma(a)}\, x^{a-1} e^{-b x},

    sampled on ``x = linspace(0, x_max, window_size)`` where
    :math:`x_\max = \max(F_I^{-1}(q), F_E^{-1}(q))` is the larger of the two gammas'
    ``upper_percentile`` quantiles. ``a`` is the shape and ``b`` the **rate** of each
    gamma (NeMoS's docstring drops the rate from the exponent; its code, like this
    function, uses :math:`e^{-bx}`). With the defaults the filter is negative at short
    lags (self-inhibition, a refractory dip) and positive later.

    Parameters
    ----------
    window_size : int
        Number of lags, >= 1. Row 0 is the most recent bin.
    upper_percentile : float
        Quantile in ``[0, 1)`` that sets the time span covered.
    inhib_a, excit_a : float
        Shapes of the inhibitory and excitatory gammas, >= 1 (for a shape below 1 the
        density is infinite at lag 0).
    inhib_b, excit_b : float
        Rates of the inhibitory and excitatory gammas, > 0.

    Returns
    -------
    jax.Array, shape ``(window_size,)``
        The filter, with unit L2 norm.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> h = ct.difference_of_gammas(80)
    >>> h.shape
    (80,)
    >>> bool(h[0] < 0 < h.max())
    True
    """
    for name, val in (("inhib_a", inhib_a), ("excit_a", excit_a)):
        if val < 1:
            raise ValueError(
                f"`{name}` must be >= 1 (a gamma density with shape < 1 is infinite at "
                f"lag 0); got {val}."
            )
    x_max = max(_gamma_quantile(upper_percentile, inhib_a, inhib_b, ("inhib_a", "inhib_b")),
                _gamma_quantile(upper_percentile, excit_a, excit_b, ("excit_a", "excit_b")))
    x = jnp.linspace(0.0, x_max, window_size)
    h = (_gamma_dist.pdf(x, excit_a, scale=1.0 / excit_b)
         - _gamma_dist.pdf(x, inhib_a, scale=1.0 / inhib_b))
    if float(inhib_a) == float(excit_a) and float(inhib_b) == float(excit_b):
        raise ValueError(
            "`inhib_a`, `inhib_b` must differ from `excit_a`, `excit_b` (identical gammas "
            f"have a zero difference); got both ({float(inhib_a)!r}, {float(inhib_b)!r}).")
    h = h / jnp.max(jnp.abs(h))  # first to the largest entry: |h|^2 may underflow (b=1e-300)
    norm = jnp.linalg.norm(h)
    if not float(norm) > 0.0:  # different gammas, equal (or underflowing) at every sample
        raise ValueError(
            f"`window_size` must sample the gammas where they differ; got {window_size}: "
            f"the two densities are equal at all {window_size} sample(s) of "
            f"[0, {float(x_max):.3g}] (e.g. both 0 at lag 0). Use a larger `window_size`.")
    return h / norm


@validate(window_size="size", tau="positive", dt="positive")
def exponential_filter(window_size: int, tau, dt=1.0):
    r"""Exponentially decaying coupling filter.

    .. math:: c[\ell] = \exp(-\Delta t\,\ell / \tau),\qquad \ell = 0,\dots,\text{window\_size}-1,

    with :math:`\ell = 0` the most recent bin (so :math:`c[0] = 1`). This is the kernel of
    the spikeometric / Das & Fiete network model, truncated after ``window_size`` bins.

    Parameters
    ----------
    window_size : int
        Number of lags T, >= 1.
    tau : float
        Decay time constant, > 0, in the same unit as ``dt``.
    dt : float
        Bin width, > 0.

    Returns
    -------
    jax.Array, shape ``(window_size,)``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.exponential_filter(3, tau=1.0).round(4).tolist()
    [1.0, 0.3679, 0.1353]
    """
    lags = jnp.arange(window_size)
    return jnp.exp(-(dt / tau) * lags)


def _raised_cosine(u, peaks, width):
    delta = peaks[1] - peaks[0]
    shifted = u[:, None] - peaks[None, :]
    return 0.5 * (jnp.cos(jnp.clip(jnp.pi * shifted / (delta * width), -jnp.pi, jnp.pi)) + 1.0)


@validate(width="positive")
def _check_basis_args(n_basis_funcs, window_size, width):
    """The raised-cosine bases' arguments (both bases, as NeMoS: 2 * width an integer)."""
    n_basis_funcs = check_int(n_basis_funcs, "n_basis_funcs", minimum=2)
    window_size = check_int(window_size, "window_size", minimum=2)
    if width <= 1:
        raise ValueError(f"`width` must be > 1 so that neighbouring bumps overlap; got {width}.")
    if abs(2 * width - round(2 * width)) > 1e-12:
        raise ValueError(f"`width` must be a multiple of 0.5 (2*width an integer); got {width}.")
    check_size((window_size, n_basis_funcs), "window_size")
    return n_basis_funcs, window_size


@validate(time_scaling="positive", enforce_decay_to_zero="bool")
def raised_cosine_log_basis(
    n_basis_funcs: int,
    window_size: int,
    width: float = 2.0,
    time_scaling: float = 50.0,
    enforce_decay_to_zero: bool = True,
):
    r"""Raised-cosine bumps on a logarithmically stretched time axis.

    With :math:`x = \ell/(\text{window\_size}-1) \in [0, 1]`,

    .. math::

        u(x) = \frac{\log(s x + 1)}{\log(s + 1)},\qquad
        B_j(x) = \tfrac12\left[\cos\!\left(\operatorname{clip}\!\left(
            \frac{\pi (u(x) - c_j)}{\Delta\, w}, -\pi, \pi\right)\right) + 1\right],

    with peaks :math:`c_j` evenly spaced from 0 to ``last`` (``last = 1 - w/(n + w - 1)``
    when ``enforce_decay_to_zero``, else 1), :math:`\Delta = c_1 - c_0`, width :math:`w`
    and time scaling :math:`s`. Bumps are narrow at short lags, where filters change
    fast, and wide at long lags. Identical to NeMoS's ``RaisedCosineLogConv`` kernel.

    Parameters
    ----------
    n_basis_funcs : int
        Number of basis functions, >= 2.
    window_size : int
        Number of lags, >= 2. Row 0 is lag 1 (the most recent bin).
    width : float
        Overlap of neighbouring bumps, > 1, with ``2 * width`` an integer (as NeMoS
        requires, and :func:`raised_cosine_linear_basis`).
    time_scaling : float
        How strongly the time axis is stretched, > 0 (large: more log-like).
    enforce_decay_to_zero : bool
        Place the last peak so that every bump has decayed to 0 at the window's end.

    Returns
    -------
    jax.Array, shape ``(window_size, n_basis_funcs)``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(5, 100)
    >>> B.shape
    (100, 5)
    >>> float(B[0, 0]), float(B[-1].sum())
    (1.0, 0.0)
    """
    n_basis_funcs, window_size = _check_basis_args(n_basis_funcs, window_size, width)
    x = jnp.linspace(0.0, 1.0, window_size)
    u = jnp.log1p(time_scaling * x) / jnp.log1p(time_scaling)
    last = 1.0 - width / (n_basis_funcs + width - 1.0) if enforce_decay_to_zero else 1.0
    if not last > 0:
        raise ValueError(f"`width` must leave room for {n_basis_funcs} distinct peaks "
                         f"(width / (n_basis_funcs + width - 1) < 1); got {width}.")
    peaks = jnp.linspace(0.0, last, n_basis_funcs)
    return _raised_cosine(u, peaks, width)


def raised_cosine_linear_basis(n_basis_funcs: int, window_size: int, width: float = 2.0):
    r"""Raised-cosine bumps evenly spaced in time.

    As :func:`raised_cosine_log_basis` with :math:`u(x) = x` and peaks evenly spaced on
    ``[0, 1]``. When ``2 * width`` is an integer the bumps sum to a constant in the
    interior, which is why NeMoS requires it; so does this function.

    Parameters
    ----------
    n_basis_funcs : int
        Number of basis functions, >= 2.
    window_size : int
        Number of lags, >= 2.
    width : float
        Overlap of neighbouring bumps, > 1, with ``2 * width`` an integer.

    Returns
    -------
    jax.Array, shape ``(window_size, n_basis_funcs)``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.raised_cosine_linear_basis(6, 100).shape
    (100, 6)
    """
    n_basis_funcs, window_size = _check_basis_args(n_basis_funcs, window_size, width)
    x = jnp.linspace(0.0, 1.0, window_size)
    peaks = jnp.linspace(0.0, 1.0, n_basis_funcs)
    return _raised_cosine(x, peaks, width)


def history_basis(window_size: int):
    r"""The raw-history basis: one indicator per lag (the identity matrix).

    Coefficients on this basis *are* the filter values, one free parameter per lag.

    Parameters
    ----------
    window_size : int
        Number of lags, >= 1.

    Returns
    -------
    jax.Array, shape ``(window_size, window_size)``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.history_basis(3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    window_size = check_int(window_size, "window_size")
    check_size((window_size, window_size), "window_size")
    return jnp.eye(window_size)


def regress_filter(coupling_filters, basis):
    r"""Least-squares weights that best express each filter in a basis.

    For every receiver :math:`i` and sender :math:`j` solves

    .. math:: \hat w_{ij} = \arg\min_w \lVert h_{j\to i} - B w \rVert_2^2
              = (B^\top B)^{-1} B^\top h_{j\to i}.

    Parameters
    ----------
    coupling_filters : array_like, shape ``(window_size, n_receivers, n_senders)``
        The filters, lag along axis 0 (row 0 = most recent bin).
    basis : array_like, shape ``(window_size, n_basis)``

    Returns
    -------
    jax.Array, shape ``(n_receivers, n_senders, n_basis)``
        The simulation layout (NeMoS's docstring says ``(n_basis, ...)``; its code,
        like this function, returns receivers first).

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(6, 80)
    >>> bank = jnp.stack([ct.difference_of_gammas(80)] * 2, axis=1)[:, :, None]
    >>> ct.regress_filter(bank, B).shape
    (2, 1, 6)
    """
    filters = as_array(coupling_filters, "coupling_filters", ndim=3, dtype=float)
    basis = as_array(basis, "basis", ndim=2, dtype=float)
    check_finite(filters, "coupling_filters")
    check_finite(basis, "basis")
    if filters.shape[0] != basis.shape[0]:
        raise ValueError(
            "`coupling_filters` and `basis` must have the same window size (axis 0); got "
            f"{filters.shape[0]} and {basis.shape[0]}."
        )
    ws, n_recv, n_send = filters.shape
    weights, *_ = jnp.linalg.lstsq(basis, filters.reshape(ws, -1))
    return weights.reshape(basis.shape[1], n_recv, n_send).transpose(1, 2, 0)
