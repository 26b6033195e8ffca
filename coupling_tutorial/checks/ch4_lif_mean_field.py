"""Self-checks of the Chapter 4 exercises: mean-driven Siegert rate, relaxation.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import math
import numpy as np

from ._harness import _Fail, _run, exercise_check

__all__ = ["check_siegert_mean_driven", "check_relaxation"]


def _erfcx_integral(lo, hi, order: int = 64) -> float:
    """Gauss-Legendre quadrature of erfcx on [lo, hi] (erfcx from the package)."""
    from ..meanfield import erfcx

    nodes, weights = np.polynomial.legendre.leggauss(order)
    s = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    return float(0.5 * (hi - lo) * np.sum(weights * np.asarray(erfcx(s), dtype=float)))


@exercise_check("ex-ch4-siegert")
def check_siegert_mean_driven(fn) -> str:
    r"""Check a reader's mean-driven Siegert rate against :func:`siegert_rate`.

    ``fn(mu, sigma, tau_m, tau_r, V_th, V_r)`` (scalars in V and s, ``mu > V_th``) must
    return the rate in Hz

    .. math::

        \nu = \Big(\tau_r + \tau_m\sqrt\pi\int_{|y_\mathrm{th}|}^{|y_r|}
            \operatorname{erfcx}(s)\,ds\Big)^{-1},\qquad
        y = \frac{V - \mu}{\sigma}.

    Parameters
    ----------
    fn : callable
        The reader's function.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_siegert_mean_driven(lambda *a: float(ct.siegert_rate(*a)))
    ✓ check_siegert_mean_driven: matches ct.siegert_rate at 4 mean-driven inputs.
    True
    """
    from ..meanfield import siegert_rate

    cases = [(0.021, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.025, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.040, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.030, 0.005, 0.02, 0.0, 0.015, 0.0)]
    for case in cases:
        mu, sigma, tau_m, tau_r, V_th, V_r = case
        where = (f"(mu={mu * 1e3:g} mV, sigma={sigma * 1e3:g} mV, tau_m={tau_m * 1e3:g} ms, "
                 f"tau_r={tau_r * 1e3:g} ms, V_th={V_th * 1e3:g} mV, V_r={V_r * 1e3:g} mV)")
        want = float(siegert_rate(*case))
        got = _run(fn, case)
        if got.size != 1:
            raise _Fail(f"expected one rate; got an array of shape {got.shape} {where}.")
        got = float(got.reshape(-1)[0])
        if abs(got - want) <= 1e-9 * abs(want):
            continue
        a, b = (mu - V_th) / sigma, (mu - V_r) / sigma
        integral = _erfcx_integral(a, b)
        rp = tau_m * math.sqrt(math.pi)
        variants = [
            (1.0 / want, "you return 1/nu (the mean interspike interval); return the rate "
             "1 / (tau_r + tau_m sqrt(pi) * integral)."),
            (1.0 / (tau_r + tau_m * integral), "the factor sqrt(pi) is missing: "
             "1 / (tau_r + tau_m sqrt(pi) * integral)."),
            (1.0 / (tau_r + rp * -integral), "the integration limits are swapped: "
             "integrate from |y_th| = (mu - V_th)/sigma up to |y_r| = (mu - V_r)/sigma."),
            (1.0 / (tau_r + rp * _erfcx_integral(-a, -b)), "the limits must be |y_th| and "
             "|y_r| (positive in the mean-driven region): erfcx(s) at s = (mu - V)/sigma, "
             "not (V - mu)/sigma."),
            (1.0 / (rp * integral) if tau_r > 0 else math.nan, "the refractory time "
             "tau_r is missing from the denominator."),
            (1.0 / (tau_r + rp * _erfcx_integral(a * sigma, b * sigma)), "divide by sigma: "
             "the limits are (mu - V_th)/sigma and (mu - V_r)/sigma."),
        ]
        for value, message in variants:
            if math.isfinite(value) and abs(got - value) <= 1e-6 * abs(value):
                raise _Fail(f"{message} {where}")
        rel = abs(got / want - 1.0)
        if rel <= 1e-3:
            raise _Fail(f"close but not within 1e-9 (relative error {rel:.1e}) {where}: "
                        f"use enough quadrature points (64 Gauss-Legendre nodes) and "
                        f"float64.")
        raise _Fail(f"expected {want:.8g} Hz, got {got:.8g} {where}.")
    return f"matches ct.siegert_rate at {len(cases)} mean-driven inputs."


def _relaxation(phi, nu0, h, n_steps, *, naive=False, sign=1.0, extra=0, swap=False):
    """Explicit Euler for d nu/ds = -nu + phi(nu), with switches for typical mistakes."""
    nu = np.asarray(nu0, dtype=float)
    for _ in range(n_steps + extra):
        target = np.asarray(phi(nu), dtype=float)
        if naive:
            nu = target
        elif swap:
            nu = (1.0 - h) * target + h * nu
        else:
            nu = nu + sign * h * (target - nu)
        nu = np.maximum(nu, 0.0)
    return nu


@exercise_check("ex-ch4-relaxation")
def check_relaxation(fn) -> str:
    r"""Check a reader's relaxation (explicit Euler) for a self-consistent rate.

    ``fn(phi, nu0, h, n_steps)`` must take ``n_steps`` steps of
    :math:`\nu \leftarrow \nu + h\,(\Phi(\nu) - \nu)` (rates clipped at 0) from ``nu0``
    and return the last iterate. Checked on two linear maps :math:`\Phi(\nu) = c + A\nu`
    (one where :math:`h = 1` oscillates) against the formula.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(phi, nu0, h, n_steps)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> def mine(phi, nu0, h, n_steps):
    ...     nu = nu0
    ...     for _ in range(n_steps):
    ...         nu = nu + h * (phi(nu) - nu)
    ...     return nu
    >>> ct.checks.check_relaxation(mine)
    ✓ check_relaxation: the same iterates as explicit Euler in 3 runs.
    True
    """
    A1 = np.array([[-0.5, 0.2], [0.1, -0.8]])
    A2 = np.array([[0.3, -1.8], [0.6, -1.2]])  # an eigenvalue with real part < -1: h = 1 fails

    def linear(A, c):
        return lambda nu: c + A @ np.asarray(nu, dtype=float)

    runs = [(linear(A1, np.array([3.0, 4.0])), [1.0, 2.0], 0.3, 25),
            (linear(A2, np.array([6.0, 5.0])), [1.0, 1.0], 0.1, 40),
            (linear(A1, np.array([3.0, 4.0])), [0.5, 0.5], 1.0, 7)]
    for phi, nu0, h, n_steps in runs:
        where = f"(h={h}, n_steps={n_steps}, nu0={nu0})"
        want = _relaxation(phi, nu0, h, n_steps)
        got = _run(fn, (phi, np.array(nu0), h, n_steps))
        if got.shape != want.shape:
            if got.ndim == 2 and got.shape[-1] == want.size:
                raise _Fail(f"you return {got.shape[0]} iterates {where}: return only the "
                            f"last one, shape {want.shape}.")
            raise _Fail(f"shape {got.shape} {where}: expected {want.shape}.")
        if np.allclose(got, want, rtol=1e-10, atol=1e-12):
            continue
        variants = [
            (dict(naive=True), "you ignore h: each step is nu + h * (phi(nu) - nu), not "
             "phi(nu)."),
            (dict(sign=-1.0), "sign flipped: step towards phi(nu), "
             "nu + h * (phi(nu) - nu)."),
            (dict(extra=-1), "one step too few: take exactly n_steps steps."),
            (dict(extra=1), "one step too many: take exactly n_steps steps."),
            (dict(swap=True), "h weighs the wrong term: nu + h * (phi(nu) - nu) = "
             "(1 - h) * nu + h * phi(nu)."),
        ]
        for kw, message in variants:
            with np.errstate(over="ignore", invalid="ignore"):
                alt = _relaxation(phi, nu0, h, n_steps, **kw)
            if np.all(np.isfinite(alt)) and np.allclose(got, alt, rtol=1e-10, atol=1e-12):
                raise _Fail(f"{message} {where}")
        raise _Fail(f"expected {np.round(want, 6).tolist()}, got "
                    f"{np.round(got, 6).tolist()} {where}.")
    return f"the same iterates as explicit Euler in {len(runs)} runs."
