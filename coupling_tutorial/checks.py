r"""Self-checks for the book's implement-it-yourself exercises.

Each ``check_*`` function takes the reader's function, runs it on fixed inputs (fixed
seeds, fixed shapes), compares the result with the package's reference implementation,
prints **one line** (a success line, or what is wrong: shape, off-by-one lag, sign,
ordering, tolerance) and returns ``True`` or ``False``. Pure Python + NumPy + JAX, so the
checks run anywhere the package does, Google Colab included. In a notebook::

    import coupling_tutorial as ct

    def my_coupling_features(counts, basis):
        ...

    ct.checks.check_coupling_features(my_coupling_features)

A function that still raises :class:`NotImplementedError` (an unfinished exercise stub
of the student edition) is not a wrong answer: the error propagates unchanged. Any other
exception raised by the reader's function is reported and counts as a failure.

Reuse in autograders
--------------------
The checks are plain functions returning a boolean, so any grader that can run Python
can use them; pass ``verbose=False`` to silence the printed line.

* **pytest** (e.g. a GitHub Classroom autograder): import the student's function from
  their submission (a module, or a notebook converted with ``jupyter nbconvert --to
  script``) and assert the check::

      # test_exercises.py
      import coupling_tutorial as ct
      from submission import my_coupling_features

      def test_coupling_features():
          assert ct.checks.check_coupling_features(my_coupling_features, verbose=False)

* **otter-grader**: make each check the body of a question's test case, e.g. the file
  ``tests/q1_1.py`` of an otter assignment::

      OK_FORMAT = True
      test = {"name": "q1_1", "points": 2, "suites": [{"type": "doctest",
          "scored": True, "setup": "", "teardown": "", "cases": [{"hidden": False,
          "code": ">>> ct.checks.check_coupling_features(my_coupling_features, "
                  "verbose=False)\nTrue"}]}]}

  (with ``import coupling_tutorial as ct`` in the notebook). ``otter assign`` can
  generate the same from a ``# TEST`` cell holding that line.

:data:`CHECKS` maps each check's name to the function, for graders that loop over them;
:data:`EXERCISES` maps each implement-it-yourself exercise's label in the book (e.g.
``"ex-ch1-features"``) to its check.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ._answers import ANSWERS, check_answer  # the conceptual exercises' answer checks

__all__ = [
    "check_coupling_features",
    "check_raised_cosine_log_basis",
    "check_poisson_loglik",
    "check_newton_fit",
    "check_simulate_recurrent",
    "check_siegert_mean_driven",
    "check_relaxation",
    "check_empirical_covariance",
    "CHECKS",
    "EXERCISES",
    "check_answer",
    "ANSWERS",
]


# --------------------------------------------------------------------------------------
# Helpers shared by every check
# --------------------------------------------------------------------------------------
class _Fail(Exception):
    """A diagnosed mistake: the message is what the reader sees."""


def _report(name: str, ok: bool, message: str, verbose: bool) -> bool:
    if verbose:
        print(f"{'✓' if ok else '✗'} {name}: {message}")
    return ok


def _run(name: str, fn, args, kwargs=None, verbose: bool = True):
    """Call the reader's function; NotImplementedError propagates, other errors fail."""
    if not callable(fn):
        raise _Fail(f"expected a function, got {type(fn).__name__}.")
    try:
        out = fn(*args, **(kwargs or {}))
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - any error of the reader's code is reported
        call = ", ".join([_short(a) for a in args]
                         + [f"{k}={v!r}" for k, v in (kwargs or {}).items()])
        raise _Fail(f"your function raised {type(err).__name__}: {err} "
                    f"(called as fn({call})).") from None
    if out is None:
        raise _Fail("your function returned None: did you forget `return`?")
    try:
        arr = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise _Fail(f"your function must return an array; got {type(out).__name__}.") from None
    return arr


def _short(a) -> str:
    if hasattr(a, "shape") and getattr(a, "ndim", 0) > 0:
        return f"<array {tuple(a.shape)}>"
    return repr(a)


def _rtol(*arrays) -> float:
    """Relative tolerance: tight for float64 results, loose for float32."""
    import jax.numpy as jnp

    x64 = jnp.result_type(float) == jnp.float64
    if not x64 or any(getattr(a, "dtype", np.float64) == np.float32 for a in arrays):
        return 1e-4
    return 1e-9


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    if got.shape != want.shape:
        return False
    both = np.isfinite(got) & np.isfinite(want)
    if not np.array_equal(np.isfinite(got), np.isfinite(want)):
        return False
    scale = max(1.0, float(np.max(np.abs(want[both]), initial=0.0)))
    return bool(np.all(np.abs(got[both] - want[both]) <= rtol * scale))


def _max_err(got: np.ndarray, want: np.ndarray, mask=None) -> tuple[float, tuple]:
    diff = np.abs(got - want)
    if mask is not None:
        diff = np.where(mask, diff, 0.0)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return float(diff[idx]), tuple(int(i) for i in idx)


def _tolerance_message(rel_err: float, rtol: float) -> str | None:
    """The message for a result that is nearly right (relative error ``rel_err``)."""
    if rel_err <= 1e-5:
        return (f"close, but not within the tolerance {rtol:g}: compute in float64 "
                f"(jax.config.update('jax_enable_x64', True)), not float32")
    if rel_err <= 1e-3:
        return (f"close, but not within the tolerance {rtol:g}: an approximation or a "
                f"slightly wrong constant?")
    return None


def _float_inputs(*arrays):
    import jax.numpy as jnp

    dtype = jnp.result_type(float)
    return tuple(jnp.asarray(a, dtype=dtype) for a in arrays)


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# --------------------------------------------------------------------------------------
# Chapter 1: causal convolution (coupling_features)
# --------------------------------------------------------------------------------------
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
    from .filters import raised_cosine_log_basis

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


def check_coupling_features(fn, verbose: bool = True) -> bool:
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
    from .features import coupling_features

    name = "check_coupling_features"
    try:
        cases = _features_cases()
        for counts, basis in cases:
            y, b = _float_inputs(counts, basis)
            want = np.asarray(coupling_features(y, b), dtype=float)
            got = _run(name, fn, (y, b))
            message = _diagnose_features(got, np.asarray(counts, float),
                                         np.asarray(basis, float), want, _rtol(y))
            if message:
                raise _Fail(message)
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"matches ct.coupling_features on {len(cases)} test inputs.",
                   verbose)


# --------------------------------------------------------------------------------------
# Chapter 1: raised-cosine log basis
# --------------------------------------------------------------------------------------
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


def check_raised_cosine_log_basis(fn, verbose: bool = True) -> bool:
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
    from .filters import raised_cosine_log_basis

    name = "check_raised_cosine_log_basis"
    cases = [((5, 100), {}), ((3, 20), {}), ((8, 61), {})]
    for kw, value in (("width", 3.0), ("time_scaling", 10.0), ("enforce_decay_to_zero", False)):
        if _accepts(fn, kw):
            cases.append(((4, 50), {kw: value}))
    try:
        for args, kwargs in cases:
            want = np.asarray(raised_cosine_log_basis(*args, **kwargs), dtype=float)
            got = _run(name, fn, args, kwargs)
            message = _diagnose_basis(got, want, args, kwargs, _rtol(got))
            if message:
                raise _Fail(message)
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"matches ct.raised_cosine_log_basis on {len(cases)} test "
                   f"inputs.", verbose)


# --------------------------------------------------------------------------------------
# Chapter 2: the Poisson log-likelihood and Newton's method for one neuron
# --------------------------------------------------------------------------------------
def _poisson_loglik_terms(y, rate):
    """Per-entry y log(rate) - rate - log y!, as ``PopulationGLM.score`` computes it."""
    import jax.numpy as jnp
    from jax.scipy.special import gammaln, xlogy

    y = jnp.asarray(y, dtype=jnp.result_type(float))
    return np.asarray(xlogy(y, rate) - rate - gammaln(y + 1.0), dtype=float)


def _loglik_cases():
    rng = np.random.default_rng(20260102)
    rate_a = rng.gamma(2.0, 0.4, size=(200, 3))
    y_a = rng.poisson(rate_a)
    y_b = np.array([[0, 3], [0, 0], [2, 1], [5, 0]])
    rate_b = np.array([[0.0, 2.5], [1e-300, 0.0], [1.5, 0.7], [4.0, 0.2]])  # y = 0, rate = 0
    return [(y_a, rate_a), (y_b, rate_b)]


def check_poisson_loglik(fn, verbose: bool = True) -> bool:
    r"""Check a reader's Poisson log-likelihood against ``PopulationGLM.score``'s.

    ``fn(y, rate)`` must return the mean over all entries of

    .. math:: y \log\lambda - \lambda - \log y!,

    with :math:`y\log\lambda = 0` where :math:`y = 0` (even if :math:`\lambda = 0`).

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(y, rate)`` for arrays of shape
        ``(n_samples, n_neurons)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> from jax.scipy.special import gammaln, xlogy
    >>> ct.checks.check_poisson_loglik(
    ...     lambda y, rate: jnp.mean(xlogy(y, rate) - rate - gammaln(y + 1.0)))
    ✓ check_poisson_loglik: matches the GLM's log-likelihood on 2 test inputs.
    True
    """
    name = "check_poisson_loglik"
    cases = _loglik_cases()
    try:
        for y, rate in cases:
            terms = _poisson_loglik_terms(y, rate)
            want = float(terms.mean())
            y_in, rate_in = _float_inputs(y, rate)
            got = _run(name, fn, (y_in, rate_in))
            where = f"(y and rate of shape {y.shape})"
            if got.shape != ():
                if got.shape == y.shape:
                    raise _Fail(f"you return one value per entry {where}: return their "
                                f"mean over all entries, a single number.")
                if got.shape in ((y.shape[1],), (y.shape[0],)):
                    raise _Fail(f"shape {got.shape} {where}: average over ALL entries "
                                f"(samples and neurons), not along one axis.")
                raise _Fail(f"expected a single number; got an array of shape {got.shape}.")
            got = float(got)
            if math.isnan(got):
                raise _Fail(f"got nan {where}: where y = 0 the term y log(rate) must be 0 "
                            f"even where rate = 0 (use xlogy(y, rate)).")
            if math.isinf(got):
                raise _Fail(f"got {got} {where}: log y! is gammaln(y + 1) (gammaln(0) is "
                            f"inf), and y log(rate) is 0 where y = 0 (use xlogy).")
            from jax.scipy.special import gammaln

            log_fact = np.asarray(gammaln(np.asarray(y, float) + 1.0), float)
            variants = [
                (want + log_fact.mean(), "the -log y! term is missing (log y! = "
                 "gammaln(y + 1))."),
                (-want, "sign flipped: that is the NEGATIVE log-likelihood; return "
                 "y log(rate) - rate - log y!."),
                (float(terms.sum()), "you return the sum; return the mean over all entries."),
                (want + 2 * np.asarray(rate, float).mean(), "the -rate term has the wrong "
                 "sign: y log(rate) - rate - log y!."),
            ]
            tol = _rtol(y_in) * max(1.0, abs(want))
            if abs(got - want) <= tol:
                continue
            for value, message in variants:
                if abs(got - value) <= tol * max(1.0, abs(value)):
                    raise _Fail(f"{message} {where}")
            rel = abs(got - want) / max(1.0, abs(want))
            message = _tolerance_message(rel, _rtol(y_in))
            if message:
                raise _Fail(f"{message} (error {abs(got - want):.2e}) {where}.")
            raise _Fail(f"expected {want:.10g}, got {got:.10g} {where}.")
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"matches the GLM's log-likelihood on {len(cases)} test "
                   f"inputs.", verbose)


def _newton_case():
    rng = np.random.default_rng(20260104)
    n_samples, n_features = 3000, 4
    X = 0.5 * rng.normal(size=(n_samples, n_features))
    w = np.array([0.6, -0.4, 0.25, 0.0])
    y = rng.poisson(np.exp(X @ w - 0.7)).astype(float)
    return X, y


def check_newton_fit(fn, verbose: bool = True) -> bool:
    r"""Check a reader's single-neuron Newton fit against :class:`GLM`.

    ``fn(X, y, n_iter=20)`` must fit the unpenalised Poisson GLM (exp link) of one neuron,
    minimising :math:`\frac1T\sum_t (\lambda_t - y_t\log\lambda_t)` with
    :math:`\lambda = \exp(Xw + b)`, and return ``(coef, intercept)``; the result must
    match ``ct.GLM().fit(X, y)`` to ``1e-8``.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(X, y, n_iter=20)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> def mine(X, y, n_iter=20):
    ...     model = ct.GLM().fit(X, y)
    ...     return model.coef_, model.intercept_[0]
    >>> ct.checks.check_newton_fit(mine)
    ✓ check_newton_fit: matches ct.GLM().fit to 1e-08 (4 coefficients and the intercept).
    True
    """
    from .glm import GLM

    name = "check_newton_fit"
    X, y = _newton_case()
    n_features = X.shape[1]
    where = f"(X of shape {X.shape})"
    try:
        ref = GLM().fit(*_float_inputs(X, y))
        want_w = np.asarray(ref.coef_, float)
        want_b = float(np.asarray(ref.intercept_).reshape(-1)[0])
        if not callable(fn):
            raise _Fail(f"expected a function, got {type(fn).__name__}.")
        try:
            out = fn(X.copy(), y.copy(), n_iter=20) if _accepts(fn, "n_iter") else \
                fn(X.copy(), y.copy())
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001
            raise _Fail(f"your function raised {type(err).__name__}: {err} {where}.") from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            shape = np.shape(out) if out is not None else None
            if shape == (n_features + 1,):
                raise _Fail(f"return (coef, intercept) separately, not one vector of "
                            f"{n_features + 1} numbers.")
            raise _Fail("return a pair (coef, intercept).")
        got_w = np.asarray(out[0], dtype=float).reshape(-1) if np.size(out[0]) else np.array([])
        got_b = np.asarray(out[1], dtype=float)
        if got_w.shape != (n_features,):
            raise _Fail(f"coef has {got_w.size} entries; expected {n_features} (one per "
                        f"column of X) {where}.")
        if got_b.size != 1:
            raise _Fail(f"the intercept must be one number; got shape {got_b.shape}.")
        got_b = float(got_b.reshape(-1)[0])
        if not (np.isfinite(got_w).all() and math.isfinite(got_b)):
            raise _Fail(f"NaN or inf coefficients {where}: is your step going uphill? Update "
                        f"by -H^-1 g with g = X~^T (rate - y) / T, and halve the step while "
                        f"the objective does not decrease.")
        err = max(float(np.max(np.abs(got_w - want_w))), abs(got_b - want_b))
        if err <= 1e-8:
            return _report(name, True, f"matches ct.GLM().fit to 1e-08 ({n_features} "
                           f"coefficients and the intercept).", verbose)
        if np.all(got_w == 0):
            raise _Fail(f"coef is still all zeros {where}: the Newton steps never update "
                        f"it.")
        if abs(got_b - np.log(y.mean())) < 1e-12 and err > 1e-3:
            raise _Fail(f"the intercept never moves from log(mean(y)) {where}: append a "
                        f"column of ones to X (X~ = [X, 1]) so the intercept is fitted too.")
        if np.allclose(got_w, -want_w, atol=1e-6, rtol=0):
            raise _Fail(f"the coefficients have the wrong sign {where}.")
        start = np.r_[np.zeros(n_features), np.log(y.mean())]
        d_got = np.r_[got_w, got_b] - start
        d_want = np.r_[want_w, want_b] - start
        cos = float(d_got @ d_want / (np.linalg.norm(d_got) * np.linalg.norm(d_want) + 1e-300))
        if err > 1e-3 and cos > 0.99 and np.linalg.norm(d_got) < 0.9 * np.linalg.norm(d_want):
            raise _Fail(f"your iterates head for the optimum but stop short (max error "
                        f"{err:.1e}) {where}: the steps are too small. Divide both g and H by "
                        f"T (or neither), and take the full step -H^-1 g when it decreases "
                        f"the loss.")
        if err <= 1e-3:
            raise _Fail(f"close but not converged: max error {err:.1e} > 1e-08 {where}. "
                        f"Check that g and H are divided by the same T and that each "
                        f"iteration takes the full Newton step when it decreases the loss.")
        raise _Fail(f"coefficients differ from ct.GLM().fit by up to {err:.2e} {where}: "
                    f"expected coef {np.round(want_w, 4).tolist()}, intercept "
                    f"{want_b:.4f}; got {np.round(got_w, 4).tolist()}, {got_b:.4f}.")
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)


# --------------------------------------------------------------------------------------
# Chapter 3: the recurrent simulation loop (simulate_recurrent, exp link, coupling only)
# --------------------------------------------------------------------------------------
def _teacher_forced_rates(coef, intercepts, basis, init_y, spikes, *, flip=True, swap=False,
                          intercept=True, link="exp", slide=True):
    """Rates of every bin given the reader's own spikes as history, NumPy float64.

    The switches reproduce typical mistakes: ``flip=False`` lets the oldest bin of the
    window meet basis row 0; ``swap`` exchanges receivers and senders; ``slide=False``
    never updates the window.
    """
    n_steps, n = spikes.shape
    window = basis.shape[0]
    history = np.concatenate([init_y, spikes], axis=0)  # last row of a window = newest
    b = basis[::-1] if flip else basis
    w = coef.transpose(1, 0, 2) if swap else coef
    flat = w.reshape(n, -1)
    rates = np.empty((n_steps, n))
    for t in range(n_steps):
        win = history[t:t + window] if slide else init_y
        eta = flat @ np.einsum("wn,wb->nb", win, b).reshape(-1)
        if intercept:
            eta = eta + intercepts
        rates[t] = np.exp(eta) if link == "exp" else np.log1p(np.exp(eta))
    return rates


def check_simulate_recurrent(fn, verbose: bool = True) -> bool:
    r"""Check a reader's simulation loop against :func:`simulate_recurrent`.

    ``fn(coupling_coef, intercepts, key, basis, init_y, n_steps)`` must simulate the
    coupling-only recurrent Poisson GLM with the exponential link and return
    ``(spikes, rates)``, both ``(n_steps, n_neurons)``:

    .. math::

        \lambda_{t,i} = \exp\Big(\sum_{j,k} w_{ijk} \sum_{\ell} B[\ell,k]\,
            y_{t-1-\ell,\,j} + b_i\Big),\qquad
        y_{t,i} \sim \mathrm{Poisson}(\lambda_{t,i}),

    bin :math:`t` sampled with ``jax.random.split(key, n_steps)[t]`` (``init_y``'s last
    row is the most recent bin). The rates are checked bin by bin against the formula
    applied to the reader's *own* spike history, so a last-digit difference in one rate
    cannot derail the comparison of the bins after it; then the spikes are checked
    against the Poisson draws of those rates with the right keys.

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
    >>> def mine(coupling_coef, intercepts, key, basis, init_y, n_steps):
    ...     return ct.simulate_recurrent(coupling_coef, None, intercepts, key, None,
    ...                                  basis, init_y, n_steps=n_steps)
    >>> ct.checks.check_simulate_recurrent(mine)
    ✓ check_simulate_recurrent: same rates and spikes as ct.simulate_recurrent for 150 bins.
    True
    """
    import jax
    import jax.numpy as jnp

    from .filters import raised_cosine_log_basis

    name = "check_simulate_recurrent"
    rng = np.random.default_rng(20260103)
    n, n_basis, window, n_steps = 3, 4, 12, 150
    basis = np.asarray(raised_cosine_log_basis(n_basis, window), dtype=float)
    coef = -0.3 * np.abs(rng.normal(size=(n, n, n_basis)))  # inhibitory: stays stable
    coef[0, 1] = 0.5 * np.abs(rng.normal(size=n_basis))  # one excitatory 1 -> 0 filter
    intercepts = np.log(np.array([0.3, 0.15, 0.2]))
    init_y = rng.poisson(0.6, size=(window, n)).astype(float)
    key = jax.random.key(20260103)
    args = (*_float_inputs(coef, intercepts), key, *_float_inputs(basis, init_y), n_steps)
    rtol = _rtol(args[0])
    where = f"(n_neurons={n}, window_size={window}, n_basis={n_basis}, n_steps={n_steps})"
    try:
        if not callable(fn):
            raise _Fail(f"expected a function, got {type(fn).__name__}.")
        try:
            out = fn(*args)
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001
            raise _Fail(f"your function raised {type(err).__name__}: {err} "
                        f"{where}.") from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise _Fail("return a pair (spikes, rates), each (n_steps, n_neurons).")
        spikes = np.asarray(out[0], dtype=float)
        rates = np.asarray(out[1], dtype=float)
        for what, arr in (("spikes", spikes), ("rates", rates)):
            if arr.shape != (n_steps, n):
                hint = " (transposed?)" if arr.shape == (n, n_steps) else ""
                raise _Fail(f"{what} has shape {arr.shape}; expected (n_steps, n_neurons) = "
                            f"{(n_steps, n)}{hint} {where}.")
        if not np.isfinite(rates).all():
            raise _Fail(f"non-finite rates {where}.")
        if np.any(spikes < 0) or np.any(spikes != np.round(spikes)):
            raise _Fail(f"spikes must be non-negative integer counts {where}.")
        want = _teacher_forced_rates(coef, intercepts, basis, init_y, spikes)
        bad_bins = np.flatnonzero(~np.all(np.abs(rates - want) <= rtol * np.abs(want), axis=1))
        if bad_bins.size:
            variants = [
                (dict(flip=False), "the basis meets the window the wrong way round: the "
                 "LAST row of the window is the most recent bin and must meet basis row 0 "
                 "(lag 1), e.g. use basis[::-1] against the window."),
                (dict(swap=True), "receivers and senders are swapped: coupling_coef[i, j, k] "
                 "is the weight from sender j to receiver i (sum over j for neuron i)."),
                (dict(intercept=False), "the intercepts b_i are missing from the rate."),
                (dict(link="softplus"), "wrong link: use the exponential, rate = exp(...)."),
                (dict(slide=False), "the window is never updated: after each bin drop its "
                 "oldest row and append the new counts as the last row."),
            ]
            for kw, message in variants:
                alt = _teacher_forced_rates(coef, intercepts, basis, init_y, spikes, **kw)
                if np.all(np.abs(rates - alt) <= rtol * np.abs(alt)):
                    raise _Fail(f"{message} {where}")
            t = int(bad_bins[0])
            i = int(np.argmax(np.abs(rates[t] - want[t]) / np.abs(want[t])))
            rel = float(np.max(np.abs(rates - want) / np.abs(want)))
            message = _tolerance_message(rel, rtol)
            if message:
                raise _Fail(f"{message} (max relative error {rel:.2e}) {where}.")
            raise _Fail(f"rates differ from bin {t} on {where}: neuron {i} expected "
                        f"{want[t, i]:.6g}, got {rates[t, i]:.6g}, given the counts "
                        f"before it. Check the convolution, the window update and the "
                        f"intercepts.")
        subkeys = jax.random.split(key, n_steps)
        draws = np.asarray(jax.vmap(jax.random.poisson)(subkeys, jnp.asarray(rates)), float)
        if not np.array_equal(draws, spikes):
            same_key = np.asarray(jax.vmap(lambda r: jax.random.poisson(key, r))(
                jnp.asarray(rates)), float)
            if np.array_equal(same_key, spikes):
                raise _Fail(f"every bin uses the same key: sample bin t with "
                            f"jax.random.split(key, n_steps)[t] {where}.")
            t = int(np.flatnonzero(np.any(draws != spikes, axis=1))[0])
            raise _Fail(f"the rates are right but the spikes differ from bin {t} on: draw "
                        f"bin t as jax.random.poisson(subkeys[t], rate) with subkeys = "
                        f"jax.random.split(key, n_steps) {where}.")
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"same rates and spikes as ct.simulate_recurrent for "
                   f"{n_steps} bins.", verbose)


# --------------------------------------------------------------------------------------
# Chapter 4: the mean-driven Siegert rate
# --------------------------------------------------------------------------------------
def _erfcx_integral(lo, hi, order: int = 64) -> float:
    """Gauss-Legendre quadrature of erfcx on [lo, hi] (erfcx from the package)."""
    from .meanfield import erfcx

    nodes, weights = np.polynomial.legendre.leggauss(order)
    s = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    return float(0.5 * (hi - lo) * np.sum(weights * np.asarray(erfcx(s), dtype=float)))


def check_siegert_mean_driven(fn, verbose: bool = True) -> bool:
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
    from .meanfield import siegert_rate

    name = "check_siegert_mean_driven"
    cases = [(0.021, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.025, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.040, 0.002, 0.01, 0.002, 0.02, 0.01),
             (0.030, 0.005, 0.02, 0.0, 0.015, 0.0)]
    try:
        for case in cases:
            mu, sigma, tau_m, tau_r, V_th, V_r = case
            where = (f"(mu={mu * 1e3:g} mV, sigma={sigma * 1e3:g} mV, tau_m={tau_m * 1e3:g} ms, "
                     f"tau_r={tau_r * 1e3:g} ms, V_th={V_th * 1e3:g} mV, V_r={V_r * 1e3:g} mV)")
            want = float(siegert_rate(*case))
            got = _run(name, fn, case)
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
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"matches ct.siegert_rate at {len(cases)} mean-driven inputs.",
                   verbose)


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


def check_relaxation(fn, verbose: bool = True) -> bool:
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
    name = "check_relaxation"
    A1 = np.array([[-0.5, 0.2], [0.1, -0.8]])
    A2 = np.array([[0.3, -1.8], [0.6, -1.2]])  # an eigenvalue with real part < -1: h = 1 fails

    def linear(A, c):
        return lambda nu: c + A @ np.asarray(nu, dtype=float)

    runs = [(linear(A1, np.array([3.0, 4.0])), [1.0, 2.0], 0.3, 25),
            (linear(A2, np.array([6.0, 5.0])), [1.0, 1.0], 0.1, 40),
            (linear(A1, np.array([3.0, 4.0])), [0.5, 0.5], 1.0, 7)]
    try:
        for phi, nu0, h, n_steps in runs:
            where = f"(h={h}, n_steps={n_steps}, nu0={nu0})"
            want = _relaxation(phi, nu0, h, n_steps)
            got = _run(name, fn, (phi, np.array(nu0), h, n_steps))
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
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, f"the same iterates as explicit Euler in {len(runs)} runs.",
                   verbose)


# --------------------------------------------------------------------------------------
# Chapter 5: the empirical cross-covariance
# --------------------------------------------------------------------------------------
def _covariance_case():
    rng = np.random.default_rng(20260105)
    n, n_neurons = 600, 3
    x = rng.poisson(0.3, size=(n, n_neurons)).astype(float)
    x[2:, 0] += x[:-2, 1]  # neuron 0 copies neuron 1 two bins later: an asymmetric C
    return x


def check_empirical_covariance(fn, verbose: bool = True) -> bool:
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
    from .linear_response import empirical_covariance

    name = "check_empirical_covariance"
    x = _covariance_case()
    n, n_neurons = x.shape
    try:
        for max_lag in (6, 1, 0):
            where = f"(counts {x.shape}, max_lag={max_lag})"
            want = np.asarray(empirical_covariance(x, max_lag), dtype=float)
            got = _run(name, fn, (x.copy(), max_lag))
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
    except _Fail as fail:
        return _report(name, False, str(fail), verbose)
    return _report(name, True, "matches ct.empirical_covariance for max_lag 0, 1 and 6.",
                   verbose)


CHECKS = {
    "check_coupling_features": check_coupling_features,
    "check_raised_cosine_log_basis": check_raised_cosine_log_basis,
    "check_poisson_loglik": check_poisson_loglik,
    "check_newton_fit": check_newton_fit,
    "check_simulate_recurrent": check_simulate_recurrent,
    "check_siegert_mean_driven": check_siegert_mean_driven,
    "check_relaxation": check_relaxation,
    "check_empirical_covariance": check_empirical_covariance,
}

#: The check of each implement-it-yourself exercise, by the exercise's label in the book.
EXERCISES = {
    "ex-ch1-features": check_coupling_features,
    "ex-ch1-basis": check_raised_cosine_log_basis,
    "ex-ch2-loglik": check_poisson_loglik,
    "ex-ch2-newton": check_newton_fit,
    "ex-ch3-scan": check_simulate_recurrent,
    "ex-ch4-siegert": check_siegert_mean_driven,
    "ex-ch4-relaxation": check_relaxation,
    "ex-ch5-xcov": check_empirical_covariance,
}
