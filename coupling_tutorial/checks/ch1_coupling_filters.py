"""Self-checks of the Chapter 1 exercises: causal design matrix, raised-cosine log basis.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import numpy as np

from ._harness import (
    _accepts,
    _close,
    _Fail,
    _float_inputs,
    _max_err,
    _rtol,
    _run,
    _tolerance_message,
    exercise_check,
)

__all__ = ["check_coupling_features", "check_raised_cosine_log_basis"]


def _brute_conv(counts, basis, first_lag=1, neuron_major=True):
    """out[t, j*K + k] = sum_l counts[t - first_lag - l, j] * basis[l, k] (NaN if early)."""
    counts = np.asarray(counts, float)
    basis = np.asarray(basis, float)
    n_samples, n_neurons = counts.shape
    window, n_basis = basis.shape
    out = np.full((n_samples, n_neurons, n_basis), np.nan)
    for t in range(n_samples):
        oldest = t - first_lag - (window - 1)
        if oldest < 0 or t - first_lag >= n_samples:
            continue
        past = counts[t - first_lag - np.arange(window)]  # (window, n_neurons), lag order
        out[t] = past.T @ basis
    if not neuron_major:
        out = out.transpose(0, 2, 1)
    return out.reshape(n_samples, n_neurons * n_basis)


def _features_cases():
    from ..filters import raised_cosine_log_basis

    rng = np.random.default_rng(20260101)
    counts_a = rng.poisson(0.8, size=(40, 2))
    basis_a = rng.normal(size=(6, 3))  # asymmetric in lag: flips and shifts show
    counts_b = rng.poisson(0.5, size=(50, 3))
    basis_b = np.asarray(raised_cosine_log_basis(4, 10))
    return [(counts_a, basis_a), (counts_b, basis_b)]


def _diagnose_features(got, counts, basis, want, rtol) -> str | None:
    """None if ``got`` is right, else the message saying what is wrong."""
    n_samples, n_neurons = counts.shape
    window, n_basis = basis.shape
    shape = (n_samples, n_neurons * n_basis)
    where = f"(counts {counts.shape}, basis {basis.shape})"
    if got.shape != shape:
        if got.shape == (n_samples, n_neurons, n_basis):
            return (f"shape {got.shape} {where}: flatten to 2-D {shape}, neuron-major "
                    f"(column j * n_basis + k), e.g. with .reshape(n_samples, -1).")
        if got.shape == (n_samples, n_basis, n_neurons):
            return (f"shape {got.shape} {where}: the last two axes are (basis, neuron); "
                    f"transpose to (neuron, basis) and flatten to {shape}.")
        if got.shape == (n_samples - window, n_neurons * n_basis):
            return (f"shape {got.shape} {where}: keep all {n_samples} rows; the first "
                    f"{window} (window_size) rows must be NaN, not dropped.")
        if got.shape == shape[::-1]:
            return f"shape {got.shape} {where}: transposed; rows must be time bins {shape}."
        return f"shape {got.shape} {where}: expected {shape} (n_samples, n_neurons * n_basis)."
    body = np.zeros(n_samples, bool)
    body[window:] = True
    if np.isnan(got[window:]).any():
        t = window + int(np.argwhere(np.isnan(got[window:]).any(axis=1))[0, 0])
        return (f"NaN in row {t} {where}: from row window_size = {window} on, a full "
                f"window of past bins exists, so the value must be a number.")
    if _close(got[window:], want[window:], rtol):
        if np.isnan(got[:window]).all():
            return None
        return (f"rows 0..{window - 1} must be NaN (their window reaches before the "
                f"recording; the GLM drops NaN rows); yours hold numbers "
                f"(e.g. {float(got[0, 0])!r}) {where}.")
    rows = slice(window + 1, n_samples - 1)  # rows where every shifted variant is defined
    variants = [
        (_brute_conv(counts, basis, first_lag=0),
         "off by one lag: you include the current bin t. Row 0 of the basis is lag 1, so "
         "bin t must see counts[t-1-l] (strictly before t)."),
        (_brute_conv(counts, basis, first_lag=2),
         "off by one lag: you start at lag 2. Row 0 of the basis is lag 1: bin t must "
         "see counts[t-1-l], starting with the bin right before t."),
        (_brute_conv(counts, basis[::-1]),
         "the basis is time-reversed: row 0 of the basis is the MOST RECENT bin (lag 1), "
         "so multiply counts[t-1-l] by basis[l] (no flip)."),
        (_brute_conv(counts, basis, neuron_major=False),
         "columns in basis-major order (k * n_neurons + j); the package is neuron-major: "
         "column j * n_basis + k (neuron j, basis function k)."),
        (-want, "sign flipped: the features are sums of counts times basis values, "
         "with a plus sign."),
    ]
    for variant, message in variants:
        if _close(got[rows], variant[rows], rtol):
            return message + f" {where}"
    err, (t, c) = _max_err(got, want, mask=body[:, None])
    message = _tolerance_message(err / max(1.0, float(np.nanmax(np.abs(want)))), rtol)
    if message:
        return f"{message} (max error {err:.2e} at row {t}, column {c}) {where}."
    j, k = divmod(c, n_basis)
    return (f"values differ {where}: at row {t}, column {c} (neuron {j}, basis function "
            f"{k}) expected {want[t, c]:.6g}, got {got[t, c]:.6g}. Check which axis you "
            f"sum over: X[t, j*K + k] = sum_l counts[t-1-l, j] * basis[l, k].")


@exercise_check("ex-ch1-features")
def check_coupling_features(fn) -> str:
    r"""Check a reader's causal convolution against :func:`coupling_features`.

    ``fn(counts, basis)`` must return, for counts of shape ``(n_samples, n_neurons)``
    and a basis of shape ``(window_size, n_basis)``, the design matrix

    .. math:: X[t,\; j K + k] = \sum_{\ell=0}^{W-1} y[t-1-\ell,\, j]\; B[\ell, k]

    of shape ``(n_samples, n_neurons * n_basis)`` with the first ``window_size`` rows NaN.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(counts, basis)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool
        Whether ``fn`` agrees with :func:`coupling_tutorial.coupling_features` on every
        test input.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_coupling_features(ct.coupling_features)
    ✓ check_coupling_features: matches ct.coupling_features on 2 test inputs.
    True
    """
    from ..features import coupling_features

    cases = _features_cases()
    for counts, basis in cases:
        y, b = _float_inputs(counts, basis)
        want = np.asarray(coupling_features(y, b), dtype=float)
        got = _run(fn, (y, b))
        message = _diagnose_features(got, np.asarray(counts, float),
                                     np.asarray(basis, float), want, _rtol(y))
        if message:
            raise _Fail(message)
    return f"matches ct.coupling_features on {len(cases)} test inputs."


def _rc_log(n, window, width=2.0, time_scaling=50.0, enforce=True, *, log=True, clip=True,
            grid="linspace", half=True, plus_one=True, delta=True):
    """NumPy raised-cosine log basis with switches that reproduce typical mistakes."""
    x = np.linspace(0.0, 1.0, window) if grid == "linspace" else np.arange(window) / window
    u = np.log(time_scaling * x + 1.0) / np.log(time_scaling + 1.0) if log else x
    last = 1.0 - width / (n + width - 1.0) if enforce else 1.0
    peaks = np.linspace(0.0, last, n)
    d = peaks[1] - peaks[0] if delta else 1.0
    arg = np.pi * (u[:, None] - peaks[None, :]) / (d * width)
    if clip:
        arg = np.clip(arg, -np.pi, np.pi)
    out = np.cos(arg) + (1.0 if plus_one else 0.0)
    return 0.5 * out if half else out


def _diagnose_basis(got, want, args, kwargs, rtol) -> str | None:
    n, window = args
    call = ", ".join([str(n), str(window)] + [f"{k}={v!r}" for k, v in kwargs.items()])
    where = f"(for fn({call}))"
    shape = (window, n)
    if got.shape != shape:
        if got.shape == shape[::-1]:
            return (f"shape {got.shape} {where}: transposed; return (window_size, "
                    f"n_basis_funcs) {shape}, lags along rows, one column per function.")
        return f"shape {got.shape} {where}: expected (window_size, n_basis_funcs) = {shape}."
    if not np.isfinite(got).all():
        return f"NaN or inf in your basis {where}."
    if _close(got, want, rtol):
        return None
    params = dict(width=kwargs.get("width", 2.0),
                  time_scaling=kwargs.get("time_scaling", 50.0),
                  enforce=kwargs.get("enforce_decay_to_zero", True))
    variants = [
        (want[::-1], "the lag axis is reversed: row 0 must be lag 1 (the most recent bin), "
         "where the narrowest bump peaks."),
        (want[:, ::-1], "the basis functions are in reverse order: column 0 must be the "
         "narrow bump peaking at lag 0, the last column the widest."),
        (_rc_log(n, window, **params, log=False),
         "the bumps are evenly spaced in time: stretch the time axis with "
         "u(x) = log(s*x + 1) / log(s + 1) (s = time_scaling) before placing them."),
        (_rc_log(n, window, **params, clip=False),
         "the cosine argument is not clipped to [-pi, pi]: without the clip the cosine "
         "repeats and the bumps come back far from their peak."),
        (_rc_log(n, window, **{**params, "enforce": not params["enforce"]}),
         "the last peak is misplaced: with enforce_decay_to_zero=True it sits at "
         "1 - w/(n + w - 1), so every bump has decayed to 0 at the window's end "
         "(and at 1 when enforce_decay_to_zero=False)."),
        (_rc_log(n, window, **params, grid="arange"),
         "off by one on the time grid: x = l / (window_size - 1) runs from 0 to 1 "
         "inclusive (np.linspace(0, 1, window_size))."),
        (2.0 * want, "the bumps peak at 2: missing the factor 1/2 in (cos(...) + 1) / 2."),
        (_rc_log(n, window, **params, plus_one=False),
         "the bumps go negative: missing the +1 in (cos(...) + 1) / 2."),
        (_rc_log(n, window, **params, delta=False),
         "the bump width is wrong: divide by (Delta * width), Delta being the spacing "
         "between neighbouring peaks."),
    ]
    for variant, message in variants:
        if _close(got, variant, rtol):
            return message + f" {where}"
    for kw in kwargs:  # a keyword argument accepted but ignored
        if _close(got, _rc_log(n, window), rtol):
            return f"your function ignores `{kw}` {where}: it returns the default basis."
    err, (lag, k) = _max_err(got, want)
    message = _tolerance_message(err, rtol)
    if message:
        return f"{message} (max error {err:.2e} at lag row {lag}, function {k}) {where}."
    return (f"values differ {where}: at lag row {lag}, function {k} expected "
            f"{want[lag, k]:.6g}, got {got[lag, k]:.6g}.")


@exercise_check("ex-ch1-basis")
def check_raised_cosine_log_basis(fn) -> str:
    r"""Check a reader's raised-cosine log basis against :func:`raised_cosine_log_basis`.

    ``fn(n_basis_funcs, window_size)`` must return the ``(window_size, n_basis_funcs)``
    basis with the defaults of :func:`coupling_tutorial.raised_cosine_log_basis`
    (``width=2``, ``time_scaling=50``, ``enforce_decay_to_zero=True``). If ``fn`` also
    accepts any of those keyword arguments, they are checked too.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(n_basis_funcs, window_size, ...)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_raised_cosine_log_basis(ct.raised_cosine_log_basis)
    ✓ check_raised_cosine_log_basis: matches ct.raised_cosine_log_basis on 6 test inputs.
    True
    """
    from ..filters import raised_cosine_log_basis

    cases = [((5, 100), {}), ((3, 20), {}), ((8, 61), {})]
    for kw, value in (("width", 3.0), ("time_scaling", 10.0), ("enforce_decay_to_zero", False)):
        if _accepts(fn, kw):
            cases.append(((4, 50), {kw: value}))
    for args, kwargs in cases:
        want = np.asarray(raised_cosine_log_basis(*args, **kwargs), dtype=float)
        got = _run(fn, args, kwargs)
        message = _diagnose_basis(got, want, args, kwargs, _rtol(got))
        if message:
            raise _Fail(message)
    return (f"matches ct.raised_cosine_log_basis on {len(cases)} test "
            f"inputs.")
