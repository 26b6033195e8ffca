"""Self-checks of the Chapter 2 exercises: Poisson log-likelihood, Newton's method.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import math
import numpy as np

from ._harness import (
    _accepts,
    _Fail,
    _real_output,
    _float_inputs,
    _rtol,
    _run,
    _tolerance_message,
    exercise_check,
)

__all__ = ["check_poisson_loglik", "check_newton_fit"]


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


@exercise_check("ex-ch2-loglik")
def check_poisson_loglik(fn) -> str:
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
    cases = _loglik_cases()
    for y, rate in cases:
        terms = _poisson_loglik_terms(y, rate)
        want = float(terms.mean())
        y_in, rate_in = _float_inputs(y, rate)
        got = _run(fn, (y_in, rate_in))
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
    return (f"matches the GLM's log-likelihood on {len(cases)} test "
            f"inputs.")


def _newton_case():
    rng = np.random.default_rng(20260104)
    n_samples, n_features = 3000, 4
    X = 0.5 * rng.normal(size=(n_samples, n_features))
    w = np.array([0.6, -0.4, 0.25, 0.0])
    y = rng.poisson(np.exp(X @ w - 0.7)).astype(float)
    return X, y


@exercise_check("ex-ch2-newton")
def check_newton_fit(fn) -> str:
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
    from ..glm import GLM

    X, y = _newton_case()
    n_features = X.shape[1]
    where = f"(X of shape {X.shape})"
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
    got_w = _real_output(out[0], "coef").reshape(-1)
    got_b = _real_output(out[1], "intercept")
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
        return (f"matches ct.GLM().fit to 1e-08 ({n_features} "
                f"coefficients and the intercept).")
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
