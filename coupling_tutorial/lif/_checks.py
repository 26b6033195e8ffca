"""Argument checks of the LIF simulators (private): scalars, step counts, thresholds."""

from __future__ import annotations

from .._validation import check_scalar


def _scalar(value, name, *, positive=None):
    """A finite Python float; ``positive`` in {None, 'strict', 'nonneg'} (the package's
    :func:`~coupling_tutorial._validation.check_scalar`)."""
    kind = {None: "real", "strict": "positive", "nonneg": "nonneg"}[positive]
    return float(check_scalar(value, name, kind))


#: The most time steps a simulation may take: 1e8 steps run for minutes to hours (the
#: fuzzer's t_sim = 2e4 s at dt = 0.1 ms did not finish in 60 s), and beyond 2^31 the
#: step index overflows int32; more is almost surely a unit mistake (ms for s).
_MAX_STEPS = 10**8


def _n_steps(value, dt, name, *, exact, minimum):
    """Number of time steps in ``value`` seconds (a multiple of ``dt`` if ``exact``), at
    most :data:`_MAX_STEPS`."""
    ratio = value / dt
    if not ratio <= _MAX_STEPS:  # (also inf, from value=1e300 or dt=1e-300)
        raise ValueError(f"`{name}` must be at most {_MAX_STEPS:.0e} time steps of `dt` "
                         f"({_MAX_STEPS * dt:.3g} s at dt = {dt:.3g} s); got {value:.3g}, "
                         f"which is {ratio:.3g} steps.")
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
