"""Self-check of the Chapter 5 exercise: the empirical cross-covariance.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import numpy as np

from ._harness import _Fail, _max_err, _run, exercise_check

__all__ = ["check_empirical_covariance"]


def _covariance_case():
    rng = np.random.default_rng(20260105)
    n, n_neurons = 600, 3
    x = rng.poisson(0.3, size=(n, n_neurons)).astype(float)
    x[2:, 0] += x[:-2, 1]  # neuron 0 copies neuron 1 two bins later: an asymmetric C
    return x


@exercise_check("ex-ch5-xcov")
def check_empirical_covariance(fn) -> str:
    r"""Check a reader's cross-covariance against :func:`empirical_covariance`.

    ``fn(counts, max_lag)`` must return the unbiased estimate

    .. math:: \hat C_{ij}[\tau] = \frac{1}{n - |\tau|}\sum_t
              \big(x_i(t+\tau) - \bar x_i\big)\big(x_j(t) - \bar x_j\big),

    for :math:`\tau = -L, \dots, L`, shape ``(2 * max_lag + 1, n_neurons, n_neurons)``
    (``out[max_lag + tau, i, j]``).

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(counts, max_lag)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_empirical_covariance(ct.empirical_covariance)
    ✓ check_empirical_covariance: matches ct.empirical_covariance for max_lag 0, 1 and 6.
    True
    """
    from ..linear_response import empirical_covariance

    x = _covariance_case()
    n, n_neurons = x.shape
    for max_lag in (6, 1, 0):
        where = f"(counts {x.shape}, max_lag={max_lag})"
        want = np.asarray(empirical_covariance(x, max_lag), dtype=float)
        got = _run(fn, (x.copy(), max_lag))
        shape = (2 * max_lag + 1, n_neurons, n_neurons)
        if got.shape != shape:
            if got.shape == (max_lag + 1, n_neurons, n_neurons):
                raise _Fail(f"shape {got.shape} {where}: include the negative lags too, "
                            f"tau = -max_lag..max_lag, so {shape}.")
            if got.shape == (n_neurons, n_neurons, 2 * max_lag + 1):
                raise _Fail(f"shape {got.shape} {where}: put the lag first, {shape}.")
            raise _Fail(f"shape {got.shape} {where}: expected {shape}.")
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        raw = np.stack([
            (x[t:].T @ x[:n - t] if t >= 0 else (x[:n + t].T @ x[-t:])) / (n - abs(t))
            for t in range(-max_lag, max_lag + 1)])
        variants = [
            (np.asarray(empirical_covariance(x, max_lag, unbiased=False), float),
             "you divide by n: the unbiased estimate divides lag tau by n - |tau|, the "
             "number of bin pairs."),
            (want[::-1], "lag sign flipped: out[max_lag + tau, i, j] pairs x_i(t + tau) "
             "with x_j(t), so a peak at tau > 0 in C_ij means i fires AFTER j."),
            (raw, "the means are not subtracted: use x - x.mean(axis=0)."),
            (want * n / (n - 1), "divide lag 0 by n (and lag tau by n - |tau|), not by "
             "n - 1."),
        ]
        for value, message in variants:
            if np.allclose(got, value, rtol=1e-9, atol=1e-12):
                raise _Fail(f"{message} {where}")
        err, idx = _max_err(got, want)
        lag, i, j = idx
        raise _Fail(f"values differ {where}: at tau={lag - max_lag}, i={i}, j={j} "
                    f"expected {want[idx]:.6g}, got {got[idx]:.6g}.")
    return "matches ct.empirical_covariance for max_lag 0, 1 and 6."
