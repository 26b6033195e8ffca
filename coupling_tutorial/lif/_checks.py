"""Argument checks of the LIF simulators (private): scalars, step counts, thresholds."""

from __future__ import annotations

from .._validation import check_scalar


def _scalar(value, name, *, positive=None):
    """A finite Python float; ``positive`` in {None, 'strict', 'nonneg'} (the package's
    :func:`~coupling_tutorial._validation.check_scalar`)."""
    kind = {None: "real", "strict": "positive", "nonneg": "nonneg"}[positive]
    return float(check_scalar(value, name, kind))


def _n_steps(value, dt, name, *, exact, minimum):
    """Number of time steps in ``value`` seconds (a multiple of ``dt`` if ``exact``)."""
    ratio = value / dt
    n = int(round(ratio))
    if n < minimum:
        what = "at least one time step" if minimum == 1 else "non-negative"
        raise ValueError(f"`{name}` must be {what} (`dt` = {dt!r}); got {value!r}.")
    if exact and abs(ratio - n) > 1e-6 * max(1.0, abs(ratio)):
        raise ValueError(f"`{name}` must be a multiple of `dt` ({dt!r}); got {value!r}.")
    return n


def _scalar_thresholds(V_th, V_r):
    V_th = _scalar(V_th, "V_th")
    V_r = _scalar(V_r, "V_r")
    if not V_th > V_r:
        raise ValueError(f"`V_th` must be greater than `V_r` ({V_r!r}); got {V_th!r}.")
    return V_th, V_r
