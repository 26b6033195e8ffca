"""Chapter 6 (inference) functions against independent references.

References: statsmodels' Poisson GLM (bse, cov_params, wald_test, llf), statsmodels'
multipletests, brute-force numpy (inverse penalised Hessians, band variances), scipy.stats.
"""

# ======================================================================================
# Standard errors, coupling tests, FDR and confidence bands (issue 15, part a)
# ======================================================================================
import doctest
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

import coupling_tutorial as ct
from coupling_tutorial.glm.fisher import (_centred_grams, _column_blocks, _covariance,
                                          _mixed_hessians)
from coupling_tutorial.glm.newton import _hessians

K, WINDOW = 3, 12


def _simulate(n, T, seed, K=K, window=WINDOW):
    """Spikes of a small coupled network (some filters zero) and its coupling design."""
    rng = np.random.default_rng(seed)
    B = ct.raised_cosine_log_basis(K, window)
    coef = rng.normal(0, 0.8 / np.sqrt(n), (n, n, K)) * (rng.random((n, n, 1)) < 0.5)
    coef[np.arange(n), np.arange(n)] = -0.6
    b = np.log(0.15) + rng.normal(0, 0.2, n)
    spikes, _ = ct.simulate_recurrent(jnp.asarray(coef), None, jnp.asarray(b),
                                      jax.random.key(seed), None, B,
                                      jnp.zeros((window, n)), n_steps=T + window)
    X = np.asarray(ct.coupling_features(spikes, B))[window:]
    y = np.asarray(spikes, dtype=np.float64)[window:]
    return B, X, y


@pytest.fixture(scope="module")
def net():
    B, X, y = _simulate(4, 4000, seed=0)
    return dict(B=B, X=X, y=y, model=ct.PopulationGLM().fit(X, y))


def _sm_fit(X, y):
    # intercept last, as in coef_/intercept_; tight tolerance: statsmodels' default stops
    # ~1e-7 (relative) short of the optimum
    A = np.column_stack([X, np.ones(len(X))])
    return sm.GLM(y, A, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200)


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b)))


# ----------------------------------------------------------------- standard errors
def test_standard_errors_equal_statsmodels_bse(net):
    X, y, model = net["X"], net["y"], net["model"]
    coef_se, intercept_se = model.standard_errors(X, y)
    assert coef_se.shape == model.coef_.shape and intercept_se.shape == model.intercept_.shape
    for i in range(y.shape[1]):
        bse = _sm_fit(X, y[:, i]).bse
        assert _rel(coef_se[:, i], bse[:-1]) < 1e-6
        assert _rel(intercept_se[i], bse[-1]) < 1e-6


def test_standard_errors_with_many_features_equal_statsmodels():
    # 16 senders x 4 basis functions = 64 features > 63: centred float32 blocks for
    # receiver 0; receiver 1's estimated rounding error (variance inflation 6, only 8000
    # samples) is just above 1e-6, so its Hessian is recomputed with float64 products
    B, X, y = _simulate(16, 8000, seed=1, K=4, window=30)
    y = y[:, :2]
    model = ct.PopulationGLM().fit(X, y)
    assert _covariance(model, X, y).exact.tolist() == [False, True]
    coef_se, intercept_se = model.standard_errors(X, y)
    for i in range(2):
        bse = _sm_fit(X, y[:, i]).bse
        assert _rel(coef_se[:, i], bse[:-1]) < 1e-6
        assert _rel(intercept_se[i], bse[-1]) < 1e-6


def test_mixed_precision_hessians_equal_float64_hessians():
    rng = np.random.default_rng(2)
    T, F, N = 3000, 70, 3
    X = jnp.asarray(rng.poisson(0.3, (T, F)) + rng.random((T, F)))  # offset columns
    R = jnp.asarray(np.exp(rng.normal(-1, 0.3, (T, N))))
    M = jnp.ones((F, N))
    exact = _hessians(X, R, M, 0.2)
    mixed, _ = _mixed_hessians(X, R, M, 0.2)
    assert np.max(np.abs(mixed - exact)) < 1e-7 * np.max(np.abs(exact))
    # what counts is the inverse: centring keeps its error near float32 rounding
    var = jnp.diagonal(jnp.linalg.inv(exact), axis1=1, axis2=2)
    assert _rel(jnp.diagonal(jnp.linalg.inv(mixed), axis1=1, axis2=2), var) < 1e-6


@pytest.mark.parametrize("F", [70, 300, 450])
def test_centred_grams_in_column_blocks_equal_brute_force_float64(F):
    # 1, 2 and 4 blocks of columns (only those on and above the diagonal are multiplied,
    # the rest mirrored): each Gram equals numpy's float64 sum_t r_t (x_t - g)(x_t - g)^T
    rng = np.random.default_rng(F)
    T, N = 1000, 2
    X = rng.poisson(0.3, (T, F)) + rng.random((T, F))
    R = np.exp(rng.normal(-1, 0.3, (T, N)))
    assert len(_column_blocks(F)) - 1 == {70: 1, 300: 2, 450: 4}[F]
    Xc = X - X.mean(axis=0)
    want = np.einsum("ti,tf,tg->ifg", R, Xc, Xc)
    got = np.asarray(_centred_grams(jnp.asarray(X), jnp.asarray(R)))
    assert np.max(np.abs(got - want)) < 1e-6 * np.max(np.abs(want))
    assert np.array_equal(got, np.swapaxes(got, 1, 2))


def test_masked_standard_errors_are_zero_and_free_ones_equal_statsmodels(net):
    X, y = net["X"], net["y"]
    conn = np.ones((4, 4))
    conn[0, 1] = conn[2, 3] = 0  # filters 0 -> 1 and 2 -> 3 fixed at 0
    mask = np.asarray(ct.coupling_mask_to_feature_mask(conn, K))
    model = ct.PopulationGLM(feature_mask=mask).fit(X, y)
    coef_se, _ = model.standard_errors(X, y)
    assert np.all(np.asarray(coef_se)[mask == 0] == 0)
    for i in range(4):
        free = mask[:, i] == 1
        bse = _sm_fit(X[:, free], y[:, i]).bse
        assert _rel(np.asarray(coef_se)[free, i], bse[:-1]) < 1e-6


def test_ridge_covariance_is_inverse_penalised_hessian_brute_force(net):
    X, y = net["X"], net["y"]
    alpha = 0.03
    model = ct.PopulationGLM(regularizer="Ridge", regularizer_strength=alpha).fit(X, y)
    cov = _covariance(model, X, y)
    se = model.standard_errors(X, y)
    T, F = X.shape
    A = np.column_stack([X, np.ones(T)])
    for i in range(y.shape[1]):
        lam = np.exp(A @ np.r_[np.asarray(model.coef_[:, i]), float(model.intercept_[i])])
        H = A.T @ (lam[:, None] * A) + T * alpha * np.diag(np.r_[np.ones(F), 0.0])
        ref = np.linalg.inv(H)
        assert _rel(cov.matrix[i], ref) < 1e-8
        assert _rel(se.coef[:, i], np.sqrt(np.diag(ref))[:-1]) < 1e-8
    # the penalty shrinks the posterior covariance below the unpenalised one
    assert np.all(np.asarray(se.coef) < np.asarray(net["model"].standard_errors(X, y).coef))


def test_glm_and_dict_inputs_have_the_shapes_of_coef(net):
    X, y = net["X"], net["y"]
    pop_coef, pop_int = net["model"].standard_errors(X, y)
    single = ct.GLM().fit(X, y[:, 2])
    coef_se, intercept_se = single.standard_errors(X, y[:, 2])
    assert coef_se.shape == (X.shape[1],) and intercept_se.shape == (1,)
    np.testing.assert_allclose(coef_se, pop_coef[:, 2], rtol=1e-8)
    np.testing.assert_allclose(intercept_se, pop_int[2:3], rtol=1e-8)
    stim = np.random.default_rng(3).normal(size=(len(y), 2))
    Xd = {"coupling": X, "stimulus": stim}
    model = ct.PopulationGLM().fit(Xd, y)
    se = model.standard_errors(Xd, y)
    assert set(se.coef) == {"coupling", "stimulus"}
    assert se.coef["stimulus"].shape == (2, 4)
    bse = _sm_fit(np.column_stack([X, stim]), y[:, 0]).bse  # sorted keys: coupling first
    assert _rel(se.coef["stimulus"][:, 0], bse[-3:-1]) < 1e-6


def test_standard_errors_docstring_example_runs():
    finder = doctest.DocTestFinder()
    test = finder.find(ct.PopulationGLM.standard_errors, "standard_errors",
                       globs={})[0]
    result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test)
    assert result.failed == 0 and result.attempted >= 4


def test_covariance_is_cached_for_jax_arrays_only(net):
    X, y = jnp.asarray(net["X"]), jnp.asarray(net["y"])
    model = ct.PopulationGLM().fit(X, y)
    first = _covariance(model, X, y)
    assert _covariance(model, X, y) is first
    assert _covariance(model, jnp.array(X), y) is not first  # another array: recomputed
    assert _covariance(model, net["X"], net["y"]) is not first  # numpy: never cached
    model.fit(X, y)  # a refit invalidates it
    assert _covariance(model, X, y) is not first


def test_standard_errors_bad_input(net):
    X, y = net["X"], net["y"]
    with pytest.raises(ValueError, match=r"`model` must be fitted before use"):
        ct.PopulationGLM().standard_errors(X, y)
    with pytest.raises(ValueError, match=r"`model` must be unpenalised or ridge-penalised "
                                         r"to have standard errors; got regularizer 'Lasso'"):
        ct.PopulationGLM(regularizer="Lasso", regularizer_strength=1e-3).fit(
            X, y).standard_errors(X, y)
    with pytest.raises(ValueError, match=r"got regularizer 'GroupLasso'"):
        ct.PopulationGLM(regularizer="GroupLasso", regularizer_strength=1e-3,
                         group_mask=np.eye(X.shape[1])[:3]).fit(X, y).standard_errors(X, y)
    model = ct.PopulationGLM().fit(X, y)
    with pytest.raises(ValueError, match=r"`y` must have 4 neurons; got 3"):
        model.standard_errors(X, y[:, :3])
    with pytest.raises(ValueError, match=r"`y` must have as many samples as `X` \(4000\); "
                                         r"got 3999"):
        model.standard_errors(X, y[:-1])
    with pytest.raises(ValueError, match=r"`X` must have 12 features; got 11"):
        model.standard_errors(X[:, :-1], y)
    with pytest.raises(ValueError, match=r"`X` and `y` must be the data the model was fitted "
                                         r"to.*Newton decrement"):
        model.standard_errors(X[::-1], y)
    model.feature_mask = np.ones(model.coef_.shape)
    with pytest.raises(ValueError, match=r"`feature_mask` must be the mask used in fit"):
        model.standard_errors(X, y)


# ----------------------------------------------------------------- coupling tests
def test_wald_tests_equal_statsmodels_wald_test(net):
    X, y, model = net["X"], net["y"], net["model"]
    tests = ct.coupling_tests(model, X, y, n_basis=K)
    assert tests.statistic.shape == tests.p_value.shape == tests.df.shape == (4, 4)
    assert np.all(tests.df == K)
    for i in range(4):
        res = _sm_fit(X, y[:, i])
        for j in range(4):
            R = np.zeros((K, X.shape[1] + 1))
            R[np.arange(K), j * K + np.arange(K)] = 1.0
            ref = res.wald_test(R, scalar=True, use_f=False)
            assert _rel(tests.statistic[j, i], float(ref.statistic)) < 1e-6
            assert _rel(tests.p_value[j, i], float(ref.pvalue)) < 1e-6
    # the simulated network has strong filters: some p-values are tiny, and chi-square
    # survival of the statistic agrees with scipy
    np.testing.assert_allclose(tests.p_value, scipy.stats.chi2.sf(tests.statistic, K),
                               rtol=1e-10)
    assert tests.p_value.min() < 1e-6


def test_likelihood_ratio_tests_equal_statsmodels(net):
    X, y, model = net["X"], net["y"], net["model"]
    tests = ct.coupling_tests(model, X, y, n_basis=K, test="lr")
    for i in (0, 3):
        full = _sm_fit(X, y[:, i]).llf
        for j in range(4):
            keep = np.ones(X.shape[1], bool)
            keep[j * K:(j + 1) * K] = False
            stat = 2 * (full - _sm_fit(X[:, keep], y[:, i]).llf)
            assert abs(tests.statistic[j, i] - stat) < 1e-6 * max(stat, 1.0)
            assert _rel(tests.p_value[j, i], scipy.stats.chi2.sf(stat, K)) < 1e-6
    wald = ct.coupling_tests(model, X, y, n_basis=K)
    # asymptotically equivalent: the same filters are clearly non-zero
    assert np.array_equal(tests.p_value < 1e-4, wald.p_value < 1e-4)


def test_masked_filters_are_not_tested_and_partial_blocks_have_fewer_df(net):
    X, y = net["X"], net["y"]
    conn = np.ones((4, 4))
    conn[0, 1] = 0
    mask = np.array(ct.coupling_mask_to_feature_mask(conn, K))
    mask[2 * K, 3] = 0  # one basis function of 2 -> 3
    model = ct.PopulationGLM(feature_mask=mask).fit(X, y)
    for test in ("wald", "lr"):
        t = ct.coupling_tests(model, X, y, K, test=test)
        assert t.df[0, 1] == 0 and t.statistic[0, 1] == 0 and t.p_value[0, 1] == 1
        assert t.df[2, 3] == K - 1 and np.sum(t.df == K) == 14
        assert not np.any(np.isnan(t.p_value))
    free = mask[:, 3] == 1
    res = _sm_fit(X[:, free], y[:, 3])
    cols = np.flatnonzero(free)
    R = np.zeros((K - 1, free.sum() + 1))
    R[np.arange(K - 1), np.searchsorted(cols, [2 * K + 1, 2 * K + 2])] = 1.0
    ref = res.wald_test(R, scalar=True, use_f=False)
    wald = ct.coupling_tests(model, X, y, K)
    assert _rel(wald.p_value[2, 3], float(ref.pvalue)) < 1e-6


def test_coupling_tests_with_extra_inputs_and_single_glm(net):
    X, y, model = net["X"], net["y"], net["model"]
    ref = ct.coupling_tests(model, X, y, K)
    stim = np.random.default_rng(4).normal(size=(len(y), 1))
    Xd = {"coupling": X, "a_stimulus": stim}  # sorts before "coupling"
    dmodel = ct.PopulationGLM().fit(Xd, y)
    t = ct.coupling_tests(dmodel, Xd, y, K)
    res = _sm_fit(np.column_stack([stim, X]), y[:, 1])
    R = np.zeros((K, X.shape[1] + 2))
    R[np.arange(K), 1 + 2 * K + np.arange(K)] = 1.0
    assert _rel(t.p_value[2, 1], float(res.wald_test(R, scalar=True, use_f=False).pvalue)) < 1e-6
    single = ct.GLM().fit(X, y[:, 1])
    s = ct.coupling_tests(single, X, y[:, 1], K)
    assert s.statistic.shape == (4,)
    np.testing.assert_allclose(s.statistic, ref.statistic[:, 1], rtol=1e-8)


def test_coupling_tests_bad_input(net):
    X, y, model = net["X"], net["y"], net["model"]
    with pytest.raises(ValueError, match=r"`test` must be one of 'wald', 'lr'; got 'f'"):
        ct.coupling_tests(model, X, y, K, test="f")
    with pytest.raises(ValueError, match=r"`n_basis` must divide the number of coupling "
                                         r"columns of `X` \(12 = n_senders \* n_basis\); got 5"):
        ct.coupling_tests(model, X, y, 5)
    with pytest.raises(ValueError, match=r"`n_basis` must be an integer >= 1; got 0"):
        ct.coupling_tests(model, X, y, 0)
    with pytest.raises(ValueError, match=r"`model` must be a coupling_tutorial PopulationGLM "
                                         r"or GLM; got str"):
        ct.coupling_tests("model", X, y, K)
    with pytest.raises(ValueError, match=r"`model` must be fitted before use"):
        ct.coupling_tests(ct.PopulationGLM(), X, y, K)
    ridge = ct.PopulationGLM(regularizer="Ridge", regularizer_strength=0.1).fit(X, y)
    with pytest.raises(ValueError, match=r"`test` must be 'wald' for a penalised model"):
        ct.coupling_tests(ridge, X, y, K, test="lr")
    with pytest.raises(ValueError, match=r"`X` and `y` must be the data the model was fitted"):
        ct.coupling_tests(model, X, y[::-1], K, test="lr")
    other = ct.PopulationGLM().fit({"a": X[:, :6], "b": X[:, 6:]}, y)
    with pytest.raises(ValueError, match=r"`X` must be the coupling design or a dict with a "
                                         r"'coupling' entry; got a dict with keys \['a', 'b'\]"):
        ct.coupling_tests(other, {"a": X[:, :6], "b": X[:, 6:]}, y, K)
    with pytest.raises(ValueError, match=r"`X` must have the structure used in fit"):
        ct.coupling_tests(model, {"coupling": X}, y, K)


# ----------------------------------------------------------------- Benjamini-Hochberg
@pytest.mark.parametrize("case", ["uniform", "mixture", "ties", "zeros_ones", "all_equal",
                                  "single", "boundary"])
def test_benjamini_hochberg_equals_statsmodels(case):
    rng = np.random.default_rng(5)
    p = {
        "uniform": rng.random(200),
        "mixture": np.concatenate([rng.random(150), rng.random(50) * 1e-3]),
        "ties": np.repeat(rng.random(20) * 0.05, 5),
        "zeros_ones": np.array([0.0, 0.0, 1.0, 1.0, 0.02, 0.03, 0.5, 0.0, 1.0]),
        "all_equal": np.full(10, 0.04),
        "single": np.array([0.05]),
        # p_(k) exactly k q / m (in binary: q / m a power of two): rejected (<=)
        "boundary": np.array([1, 2, 3, 4, 6, 7, 8, 8]) / 2.0**8 * 8 * 0.25 / 8,
    }[case]
    for q in (0.05, 0.25):
        expected = multipletests(p, alpha=q, method="fdr_bh")[0]
        assert np.array_equal(ct.benjamini_hochberg(p, q), expected)
    P = p.reshape(1, -1) if p.size % 2 else p.reshape(2, -1)
    assert ct.benjamini_hochberg(P, 0.25).shape == P.shape


def test_benjamini_hochberg_mask_tests_only_masked_entries():
    rng = np.random.default_rng(6)
    P = rng.random((10, 10)) ** 3
    off = ~np.eye(10, dtype=bool)
    got = ct.benjamini_hochberg(P, 0.1, mask=off)
    assert not got[~off].any()
    assert np.array_equal(got[off], multipletests(P[off], alpha=0.1, method="fdr_bh")[0])
    assert not ct.benjamini_hochberg(P, 0.1, mask=np.zeros((10, 10))).any()


@pytest.mark.parametrize("p, q, mask, msg", [
    ([0.1, 1.5], 0.05, None, r"`p_values` must be in \[0, 1\] \(no NaN\); got 1.5"),
    ([-0.1, 0.5], 0.05, None, r"`p_values` must be in \[0, 1\] \(no NaN\); got -0.1"),
    ([0.1, np.nan], 0.05, None, r"`p_values` must be in \[0, 1\] \(no NaN\); got nan"),
    ([0.1, 0.2], 0.0, None, r"`q` must be a number in \(0, 1\); got 0.0"),
    ([0.1, 0.2], 1, None, r"`q` must be a number in \(0, 1\); got 1"),
    ([0.1, 0.2], "a", None, r"`q` must be a number in \(0, 1\); got 'a'"),
    ([0.1, 0.2], 0.05, [True], r"`mask` must have the shape of `p_values` \(2,\); got "
                               r"shape \(1,\)"),
    ([0.1, 0.2], 0.05, [0, 2], r"`mask` must be boolean \(or 0/1\); got other values"),
])
def test_benjamini_hochberg_bad_input(p, q, mask, msg):
    with pytest.raises(ValueError, match=msg):
        ct.benjamini_hochberg(p, q, mask=mask)


# ----------------------------------------------------------------- confidence bands
def test_filter_confidence_band_brute_force(net):
    X, y, B, model = net["X"], net["y"], net["B"], net["model"]
    band = ct.filter_confidence_band(model, X, y, B, level=0.9)
    assert band.filters.shape == (WINDOW, 4, 4)
    z = scipy.stats.norm.ppf(0.95)
    B = np.asarray(B)[:-1]  # the last lag of the basis is 0 (decays to zero)
    coef = np.asarray(model.coef_)
    np.testing.assert_allclose(band.filters[:-1],
                               ct.coupling_filters(ct.split_coupling(coef, K), B), rtol=1e-12)
    for i in (0, 2):
        cov = _sm_fit(X, y[:, i]).cov_params()
        for j in range(4):
            blk = slice(j * K, (j + 1) * K)
            h = np.asarray(B) @ coef[blk, i]
            sd = np.sqrt(np.einsum("lk,kq,lq->l", B, cov[blk, blk], B))
            assert _rel(band.lower[:-1, i, j], h - z * sd) < 1e-6
            assert _rel(band.upper[:-1, i, j], h + z * sd) < 1e-6


def test_filter_confidence_band_masked_and_single(net):
    X, y, B = net["X"], net["y"], net["B"]
    conn = np.ones((4, 4))
    conn[1, 0] = 0
    model = ct.PopulationGLM(
        feature_mask=ct.coupling_mask_to_feature_mask(conn, K)).fit(X, y)
    band = ct.filter_confidence_band(model, X, y, B)
    for a in band:
        assert np.all(np.asarray(a)[:, 0, 1] == 0)
    single = ct.GLM().fit(X, y[:, 2])  # receiver 2: no masked filter
    s = ct.filter_confidence_band(single, X, y[:, 2], B)
    assert s.filters.shape == (WINDOW, 4)
    np.testing.assert_allclose(s.upper[:, 1], band.upper[:, 2, 1], rtol=1e-6)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2, "x", None])
def test_filter_confidence_band_bad_level(net, level):
    with pytest.raises(ValueError, match=r"`level` must be a number in \(0, 1\); got"):
        ct.filter_confidence_band(net["model"], net["X"], net["y"], net["B"], level=level)


def test_filter_confidence_band_bad_basis(net):
    with pytest.raises(ValueError, match=r"`n_basis` must divide the number of coupling"):
        ct.filter_confidence_band(net["model"], net["X"], net["y"],
                                  ct.raised_cosine_log_basis(5, WINDOW))
    with pytest.raises(ValueError, match=r"`basis` must be 2-D"):
        ct.filter_confidence_band(net["model"], net["X"], net["y"], np.ones(3))


def test_float32_in_float32_out():
    from conftest import float32_mode

    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    y = rng.poisson(np.exp(X @ np.array([[0.3], [0.0], [-0.2]]) - 1)).astype(np.float32)
    with float32_mode():
        model = ct.PopulationGLM().fit(X, y)
        se = model.standard_errors(X, y)
        t = ct.coupling_tests(model, X, y, 1)
        assert se.coef.dtype == se.intercept.dtype == t.p_value.dtype == jnp.float32
    np.testing.assert_allclose(se.coef[:, 0], _sm_fit(X.astype(float), y[:, 0]).bse[:-1],
                               rtol=1e-3)
