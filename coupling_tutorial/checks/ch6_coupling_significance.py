"""Self-checks of the Chapter 6 exercises: the Benjamini-Hochberg rule and the Wald test.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import numpy as np

from ._harness import _Fail, _run, exercise_check

__all__ = ["check_benjamini_hochberg", "check_wald_test"]


def _bh_cases():
    """Fixed p-value sets ``(p, q)``: a textbook set, ties, a step-up case (a p-value
    above its line followed by one below it), an exact boundary, nothing rejected, a
    2-D map."""
    rng = np.random.default_rng(20260601)
    shuffled = rng.permutation(np.array(
        [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]))
    return [
        (shuffled, 0.05),
        (np.array([0.02, 0.001, 0.02, 0.5, 0.02, 0.9]), 0.1),          # ties
        (np.array([0.5, 0.03, 0.9, 0.001, 0.032, 0.012]), 0.05),  # step-up: rank 3 fails
        (np.array([0.7, 0.125, 0.9, 0.95]), 0.5),                      # p = q/m exactly
        (np.array([0.3, 0.04, 0.02, 0.9]), 0.05),                      # no discovery
        (rng.uniform(0, 0.1, (4, 5)) ** 2, 0.05),                      # a 2-D map
    ]


def _bh_variants(p, q):
    """What typical wrong implementations return on ``(p, q)``, by diagnosis."""
    flat = p.ravel()
    m = flat.size
    order = np.argsort(flat, kind="stable")
    ps = flat[order]
    ranks = np.arange(1, m + 1)

    def unsort(rej_sorted):
        out = np.zeros(m, bool)
        out[order] = rej_sorted
        return out.reshape(p.shape)

    def step_up(line, strict=False):
        below = ps < line if strict else ps <= line
        k = np.flatnonzero(below)[-1] + 1 if below.any() else 0
        return unsort(ranks <= k)

    step_down = np.cumprod(ps <= ranks * q / m).astype(bool)
    return [
        ((p <= q), "you compared every p-value with q itself: that is no correction at "
                   "all. Compare the j-th smallest p-value with j q / m."),
        ((p <= q / m), "that is the Bonferroni rule (p <= q / m), which controls the "
                       "family-wise error and is stricter: BH compares the j-th smallest "
                       "p-value with j q / m."),
        (unsort(ps <= ranks * q / m), "you rejected exactly the p-values below their own "
         "line j q / m; BH is a step-up rule: find the largest j with p_(j) <= j q / m and "
         "reject all j smallest p-values, including those above their own line."),
        (unsort(step_down), "you stopped at the first p-value above its line (a step-down "
         "rule); BH steps up: the largest j with p_(j) <= j q / m counts."),
        (step_up(ranks * q / m, strict=True), "the rule is p_(j) <= j q / m, not <: a "
         "p-value exactly on the line is a discovery."),
        (step_up((ranks - 1) * q / m), "off by one in the rank: the smallest p-value has "
         "rank j = 1, not 0 (compare p_(j) with j q / m for j = 1 ... m)."),
        (step_up((ranks + 1) * q / m), "off by one in the rank: the smallest p-value has "
         "rank j = 1, compared with q / m."),
        ((ranks <= (np.flatnonzero(ps <= ranks * q / m)[-1] + 1
                    if (ps <= ranks * q / m).any() else 0)).reshape(p.shape),
         "your result is in the order of the sorted p-values: put the decisions back in "
         "the original order (the discoveries must be where their p-values are)."),
    ]


@exercise_check("ex-ch6-bh")
def check_benjamini_hochberg(fn) -> str:
    r"""Check a reader's Benjamini-Hochberg rule against :func:`benjamini_hochberg`.

    ``fn(p_values, q)`` must return a boolean array of the shape of ``p_values``: with the
    :math:`m` p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, and
    :math:`k = \max\{j : p_{(j)} \le j q / m\}`, the :math:`k` smallest are discoveries.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(p_values, q)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_benjamini_hochberg(ct.benjamini_hochberg)
    ✓ check_benjamini_hochberg: matches ct.benjamini_hochberg on 6 sets (ties, step-up, 2-D).
    True
    """
    from ..inference import benjamini_hochberg

    for p, q in _bh_cases():
        where = f"(p-values of shape {p.shape}, q = {q})"
        want = np.asarray(benjamini_hochberg(p, q))
        got = _run(fn, (p.copy(), q))
        if got.shape != want.shape:
            raise _Fail(f"shape {got.shape}, expected {want.shape} {where}: return one "
                        "decision per p-value, in the shape of `p_values`.")
        if not np.all((got == 0) | (got == 1)):
            raise _Fail(f"return booleans (True = discovery), not p-values or ranks {where}.")
        got = got.astype(bool)
        if np.array_equal(got, want):
            continue
        for wrong, diagnosis in _bh_variants(p, q):
            if np.array_equal(got, wrong):
                raise _Fail(f"{diagnosis} {where}")
        n_more = int((got & ~want).sum())
        n_less = int((want & ~got).sum())
        raise _Fail(f"{n_more} discoveries too many and {n_less} missing {where}: sort the "
                    "p-values, find the largest j with p_(j) <= j q / m, reject the j "
                    "smallest, and return the decisions in the original order.")
    return "matches ct.benjamini_hochberg on 6 sets (ties, step-up, 2-D)."


def _wald_cases():
    """Coefficients and covariance blocks (1, 3 and 5 coefficients, correlated)."""
    rng = np.random.default_rng(20260602)
    cases = []
    for k, scale in ((1, 0.3), (3, 0.2), (5, 0.05)):
        A = rng.normal(size=(k, k))
        cov = scale ** 2 * (A @ A.T + 0.5 * np.eye(k))
        beta = rng.normal(size=k) * 2 * scale
        cases.append((beta, cov))
    return cases


def _wald_reference(beta, cov):
    from scipy import stats

    stat = float(beta @ np.linalg.solve(cov, beta))
    return stat, float(stats.chi2.sf(stat, beta.size))


@exercise_check("ex-ch6-wald")
def check_wald_test(fn) -> str:
    r"""Check a reader's Wald test of one filter against :mod:`scipy.stats`.

    ``fn(beta, cov)`` must return ``(statistic, p_value)``: :math:`W = \hat\beta^\top
    \Sigma^{-1}\hat\beta` for the :math:`K` coefficients ``beta`` and their covariance
    ``cov`` (:math:`K \times K`), and the chi-square survival function of :math:`W` with
    :math:`K` degrees of freedom.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(beta, cov)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np, scipy.stats as st, coupling_tutorial as ct
    >>> def wald(beta, cov):
    ...     w = beta @ np.linalg.solve(cov, beta)
    ...     return w, st.chi2.sf(w, len(beta))
    >>> ct.checks.check_wald_test(wald)
    ✓ check_wald_test: statistic and p-value match for filters of 1, 3 and 5 coefficients.
    True
    """
    from scipy import stats

    for beta, cov in _wald_cases():
        k = beta.size
        where = f"(beta of shape ({k},), cov ({k}, {k}))"
        got = _run(fn, (beta.copy(), cov.copy())).ravel()
        if got.size != 2:
            raise _Fail(f"return two numbers (statistic, p_value); got {got.size} {where}.")
        stat, p = float(got[0]), float(got[1])
        want_stat, want_p = _wald_reference(beta, cov)
        if not np.isclose(stat, want_stat, rtol=1e-6):
            guesses = [
                (float(np.sqrt(want_stat)), "that is the square root of the statistic; "
                 "the chi-square statistic is the quadratic form itself."),
                (float(beta @ cov @ beta), "you multiplied by the covariance; the Wald "
                 "statistic uses its inverse (np.linalg.solve(cov, beta))."),
                (float(np.sum(beta ** 2 / np.diag(cov))), "you used only the variances "
                 "(the diagonal); the coefficients of one filter are correlated: use the "
                 "whole covariance block."),
                (float(np.sum(np.abs(beta) / np.sqrt(np.diag(cov)))), "you summed "
                 "|beta| / se; the statistic is a quadratic form, beta^T cov^-1 beta."),
            ]
            for value, diagnosis in guesses:
                if np.isclose(stat, value, rtol=1e-6):
                    raise _Fail(f"{diagnosis} {where}")
            raise _Fail(f"statistic {stat:.6g}, expected {want_stat:.6g} {where}.")
        if not np.isclose(p, want_p, rtol=1e-6, atol=1e-300):
            guesses = [
                (float(stats.chi2.cdf(want_stat, k)), "that is the chi-square CDF; the "
                 "p-value is the probability of a statistic at least this large, the "
                 "survival function chi2.sf."),
                (float(stats.chi2.sf(want_stat, 1)), f"wrong degrees of freedom: the "
                 f"filter has {k} coefficients, so the statistic is chi-square with {k} "
                 "degrees of freedom under the null."),
            ]
            for value, diagnosis in guesses:
                if np.isclose(p, value, rtol=1e-6):
                    raise _Fail(f"{diagnosis} {where}")
            raise _Fail(f"p-value {p:.6g}, expected {want_p:.6g} {where}.")
    return "statistic and p-value match for filters of 1, 3 and 5 coefficients."
