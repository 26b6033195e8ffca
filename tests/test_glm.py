"""PopulationGLM / GLM against independent references.

References: statsmodels' IRLS (unpenalised and masked fits), numpy/scipy formulas for the
KKT conditions of penalised fits, closed forms (lambda_max of the Lasso, the null model),
scipy.stats for the log-likelihood, statsmodels' pseudo-R2 and deviances.
"""

import subprocess
import sys
import textwrap
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm

import coupling_tutorial as ct
from coupling_tutorial.glm import ConvergenceWarning, GLM, PopulationGLM

T, F, N = 3000, 12, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(T, F)) * 0.5
    W = rng.normal(size=(F, N)) * 0.3
    y = rng.poisson(np.exp(X @ W - 1.0)).astype(float)
    mask = (rng.random((F, N)) < 0.6).astype(float)
    return X, y, mask


def _statsmodels(X, y):
    res = sm.GLM(y, sm.add_constant(X, has_constant="add"),
                 family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200)
    return res


# ----------------------------------------------------------------------------- optimum
@pytest.mark.parametrize("solver", ["newton", "newton-cg"])
def test_unpenalised_matches_statsmodels(data, solver):
    X, y, _ = data
    model = PopulationGLM(solver=solver).fit(X, y)
    for i in range(N):
        ref = _statsmodels(X, y[:, i]).params
        np.testing.assert_allclose(model.coef_[:, i], ref[1:], rtol=0, atol=1e-9)
        np.testing.assert_allclose(model.intercept_[i], ref[0], rtol=0, atol=1e-9)
    assert model.converged_.all() and model.n_iter_.max() <= 10, model.n_iter_


@pytest.mark.parametrize("solver", ["newton", "newton-cg"])
def test_masked_matches_statsmodels_on_active_columns(data, solver):
    X, y, mask = data
    model = PopulationGLM(solver=solver, feature_mask=mask).fit(X, y)
    coef = np.asarray(model.coef_)
    assert np.all(coef[mask == 0] == 0.0)  # exactly zero
    for i in range(N):
        cols = np.flatnonzero(mask[:, i])
        ref = _statsmodels(X[:, cols], y[:, i]).params
        np.testing.assert_allclose(coef[cols, i], ref[1:], rtol=0, atol=1e-8)
        np.testing.assert_allclose(model.intercept_[i], ref[0], rtol=0, atol=1e-8)


def test_population_equals_single_neuron_fits(data):
    X, y, mask = data
    pop = PopulationGLM(feature_mask=mask).fit(X, y)
    for i in range(N):
        single = GLM(feature_mask=mask[:, i]).fit(X, y[:, i])
        np.testing.assert_allclose(pop.coef_[:, i], single.coef_, rtol=0, atol=1e-11)
        np.testing.assert_allclose(pop.intercept_[i], single.intercept_[0], rtol=0, atol=1e-11)
        assert single.intercept_.shape == (1,) and isinstance(single.converged_, bool)


def test_glm_single_neuron_matches_statsmodels(data):
    X, y, _ = data
    model = GLM().fit(X, y[:, 0])
    ref = _statsmodels(X, y[:, 0]).params
    np.testing.assert_allclose(model.coef_, ref[1:], rtol=0, atol=1e-9)
    assert model.coef_.shape == (F,)


def test_nan_rows_are_dropped(data):
    X, y, _ = data
    Xn = np.concatenate([np.full((5, F), np.nan), X])
    yn = np.concatenate([np.ones((5, N)), y])
    a = PopulationGLM().fit(X, y)
    b = PopulationGLM().fit(Xn, yn)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-13)
    assert np.isnan(np.asarray(b.predict(Xn))[:5]).all()
    np.testing.assert_allclose(a.score(X, y), b.score(Xn, yn), rtol=1e-14)


def test_coupling_design_matches_statsmodels():
    """A real causal coupling design (NaN first window) from simulated spikes."""
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.3, size=(2000, 3)).astype(float)
    B = ct.raised_cosine_log_basis(3, 10)
    X = np.asarray(ct.coupling_features(counts, B))
    model = PopulationGLM().fit(X, counts)
    ok = ~np.isnan(X).any(axis=1)
    for i in range(3):
        ref = _statsmodels(X[ok], counts[ok, i]).params
        np.testing.assert_allclose(model.coef_[:, i], ref[1:], rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- penalties
def _np_grad(X, y, coef, intercept):
    rate = np.exp(X @ coef + intercept)
    return X.T @ (rate - y) / len(y), (rate - y).mean(axis=0)


def _kkt_numpy(X, y, model, kind, alpha, ratio=0.5, groups=None, mask=None):
    """Largest violation of the optimality conditions, computed from scratch."""
    coef = np.asarray(model.coef_)
    gW, gb = _np_grad(X, y, coef, np.asarray(model.intercept_))
    l2 = {"ridge": alpha, "elasticnet": alpha * (1 - ratio)}.get(kind, 0.0)
    l1 = {"lasso": alpha, "elasticnet": alpha * ratio}.get(kind, 0.0)
    g = gW + l2 * coef
    viol = [np.abs(gb).max()]
    active = np.ones_like(coef, bool) if mask is None else mask.astype(bool)
    if groups is None:
        nz = coef != 0
        v = np.where(nz, np.abs(g + l1 * np.sign(coef)), np.maximum(np.abs(g) - l1, 0))
        viol.append(v[active].max())
    else:
        for grp in groups:
            idx = np.flatnonzero(grp)
            a = alpha * np.sqrt(len(idx))
            for i in range(coef.shape[1]):
                w, gg = coef[idx, i], g[idx, i]
                nrm = np.linalg.norm(w)
                viol.append(np.linalg.norm(gg + a * w / nrm) if nrm > 0
                            else max(np.linalg.norm(gg) - a, 0))
    return max(viol)


@pytest.mark.parametrize("solver", ["newton", "proximal-gradient"])
@pytest.mark.parametrize("kind,strength", [
    ("Ridge", 0.05), ("Lasso", 0.01), ("ElasticNet", (0.02, 0.3)), ("GroupLasso", 0.02)])
def test_penalised_fits_satisfy_kkt(data, solver, kind, strength):
    X, y, _ = data
    groups = None
    if kind == "GroupLasso":
        groups = np.zeros((3, F))
        groups[0, :4] = groups[1, 4:8] = groups[2, 8:] = 1
    model = PopulationGLM(regularizer=kind, regularizer_strength=strength, solver=solver,
                          group_mask=groups).fit(X, y)
    alpha, ratio = strength if isinstance(strength, tuple) else (strength, 0.5)
    viol = _kkt_numpy(X, y, model, kind.lower(), alpha, ratio, groups)
    assert viol < 1e-6, viol
    assert model.converged_.all()
    if kind != "Ridge":  # the non-smooth penalties must produce exact zeros here
        assert (np.asarray(model.coef_) == 0).sum() > 0


def test_ridge_newton_cg_matches_scipy(data):
    import scipy.optimize
    X, y, _ = data
    alpha = 0.05
    model = PopulationGLM(regularizer="Ridge", regularizer_strength=alpha,
                          solver="newton-cg").fit(X, y)

    def f(beta):
        eta = X @ beta[:F] + beta[F]
        r = np.exp(eta)
        obj = np.mean(r - y[:, 0] * eta) + 0.5 * alpha * beta[:F] @ beta[:F]
        grad = np.concatenate([X.T @ (r - y[:, 0]) / T + alpha * beta[:F], [np.mean(r - y[:, 0])]])
        return obj, grad

    res = scipy.optimize.minimize(f, np.zeros(F + 1), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-13, ftol=1e-16, maxiter=5000))
    np.testing.assert_allclose(model.coef_[:, 0], res.x[:F], rtol=0, atol=1e-6)
    assert model.objective_[0] <= res.fun + 1e-15


def test_masked_penalised_fit_kkt(data):
    X, y, mask = data
    model = PopulationGLM(regularizer="Lasso", regularizer_strength=0.01,
                          feature_mask=mask).fit(X, y)
    assert np.all(np.asarray(model.coef_)[mask == 0] == 0)
    assert _kkt_numpy(X, y, model, "lasso", 0.01, mask=mask) < 1e-6


def test_lasso_lambda_max_gives_all_zero(data):
    X, y, _ = data
    # at w = 0 the intercept is log(mean y) and the gradient is X^T (mean(y) - y) / T
    lam_max = np.abs(X.T @ (y.mean(axis=0) - y) / T).max(axis=0)
    above = PopulationGLM(regularizer="Lasso", regularizer_strength=lam_max.max() * 1.001).fit(X, y)
    assert np.all(np.asarray(above.coef_) == 0)
    np.testing.assert_allclose(above.intercept_, np.log(y.mean(axis=0)), rtol=1e-12)
    below = PopulationGLM(regularizer="Lasso", regularizer_strength=lam_max.min() * 0.9).fit(X, y)
    assert np.all(np.any(np.asarray(below.coef_) != 0, axis=0))


def test_elastic_net_ratio_limits(data):
    X, y, _ = data
    ridge = PopulationGLM(regularizer="Ridge", regularizer_strength=0.05).fit(X, y)
    en0 = PopulationGLM(regularizer="ElasticNet", regularizer_strength=(0.05, 0.0)).fit(X, y)
    np.testing.assert_allclose(ridge.coef_, en0.coef_, rtol=0, atol=1e-9)
    lasso = PopulationGLM(regularizer="Lasso", regularizer_strength=0.01).fit(X, y)
    en1 = PopulationGLM(regularizer="ElasticNet", regularizer_strength=(0.01, 1.0)).fit(X, y)
    np.testing.assert_allclose(lasso.coef_, en1.coef_, rtol=0, atol=1e-8)


def test_penalty_value_conventions(data):
    """objective() = mean data term + penalty not divided by T (NeMoS conventions)."""
    X, y, _ = data
    for kind, st, pen in [
        ("Ridge", 0.3, lambda w: 0.5 * 0.3 * (w**2).sum(0)),
        ("Lasso", 0.3, lambda w: 0.3 * np.abs(w).sum(0)),
        ("ElasticNet", (0.3, 0.2), lambda w: 0.3 * (0.8 * 0.5 * (w**2).sum(0) + 0.2 * np.abs(w).sum(0))),
    ]:
        model = PopulationGLM(regularizer=kind, regularizer_strength=st, maxiter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        w, b = np.asarray(model.coef_), np.asarray(model.intercept_)
        eta = X @ w + b
        expect = np.mean(np.exp(eta) - y * eta, axis=0) + pen(w)
        np.testing.assert_allclose(model.objective(X, y), expect, rtol=1e-13)


# ----------------------------------------------------------------------------- pytrees
def test_pytree_inputs_and_group_masks(data):
    X, y, _ = data
    Xd = {"stim": X[:, :5], "coupling": X[:, 5:]}
    # one flag per (input group, neuron); keys are ordered alphabetically (as JAX pytrees)
    mask_d = {"coupling": np.array([1, 0, 1, 1.0]), "stim": np.array([1, 1, 0, 1.0])}
    model = PopulationGLM(feature_mask=mask_d).fit(Xd, y)
    assert set(model.coef_) == {"stim", "coupling"}
    assert model.coef_["stim"].shape == (5, N) and model.coef_["coupling"].shape == (F - 5, N)
    Xflat = np.concatenate([X[:, 5:], X[:, :5]], axis=1)
    mflat = np.concatenate([np.tile(mask_d["coupling"], (F - 5, 1)), np.tile(mask_d["stim"], (5, 1))])
    flat = PopulationGLM(feature_mask=mflat).fit(Xflat, y)
    np.testing.assert_allclose(model.coef_["coupling"], flat.coef_[:F - 5], atol=1e-12)
    np.testing.assert_allclose(model.coef_["stim"], flat.coef_[F - 5:], atol=1e-12)
    # coefficient-shaped leaves give the same fit
    mask_full = {"coupling": mflat[:F - 5], "stim": mflat[F - 5:]}
    full = PopulationGLM(feature_mask=mask_full).fit(Xd, y)
    np.testing.assert_allclose(full.coef_["stim"], model.coef_["stim"], atol=1e-12)
    np.testing.assert_allclose(model.predict(Xd), flat.predict(Xflat), rtol=1e-12)
    # GroupLasso defaults to one group per entry of a dict X
    gl = PopulationGLM(regularizer="GroupLasso", regularizer_strength=0.02).fit(Xd, y)
    groups = np.zeros((2, F))
    groups[0, :F - 5] = groups[1, F - 5:] = 1
    gl_flat = PopulationGLM(regularizer="GroupLasso", regularizer_strength=0.02,
                            group_mask=groups).fit(Xflat, y)
    np.testing.assert_allclose(gl.coef_["coupling"], gl_flat.coef_[:F - 5], atol=1e-9)


# ----------------------------------------------------------------------------- scores
def test_scores_match_scipy_and_statsmodels(data):
    X, y, _ = data
    model = PopulationGLM().fit(X, y)
    rate = np.asarray(model.predict(X))
    ll = scipy.stats.poisson.logpmf(y, rate)
    np.testing.assert_allclose(model.score(X, y), ll.mean(), rtol=1e-12)
    np.testing.assert_allclose(model.score(X, y, aggregate_sample_scores=lambda s: s.sum(0)),
                               ll.sum(0), rtol=1e-12)
    single = GLM().fit(X, y[:, 1])
    ref = _statsmodels(X, y[:, 1])
    np.testing.assert_allclose(single.score(X, y[:, 1], "pseudo-r2-McFadden"), ref.pseudo_rsquared(kind="mcf"),
                               rtol=1e-9)
    cohen = 1 - ref.deviance / ref.null_deviance
    np.testing.assert_allclose(single.score(X, y[:, 1], "pseudo-r2-Cohen"), cohen, rtol=1e-9)
    np.testing.assert_allclose(single.score(X, y[:, 1], aggregate_sample_scores=jnp.sum),
                               ref.llf, rtol=1e-11)


# ----------------------------------------------------------------------------- failures
def test_convergence_warning(data):
    X, y, _ = data
    with pytest.warns(ConvergenceWarning, match=r"did not converge for neuron\(s\) \[0, 1, 2, 3\]"):
        model = PopulationGLM(maxiter=2).fit(X, y)
    assert not model.converged_.any() and (model.n_iter_ == 2).all()


def test_never_spiking_neuron_raises(data):
    X, y, _ = data
    y = y.copy()
    y[:, 2] = 0
    with pytest.raises(ValueError, match=r"at least one spike per neuron .* neuron\(s\) \[2\]"):
        PopulationGLM().fit(X, y)


def test_separation_warns_and_ridge_fixes_it():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 2))
    y = rng.poisson(np.exp(0.3 * x[:, 0] - 1.0)).astype(float)
    sep = (y == 0) & (rng.random(2000) < 0.3)  # non-zero only in bins without spikes
    X = np.column_stack([x, sep.astype(float)])
    with pytest.warns(ConvergenceWarning, match="maximum-likelihood estimate probably does not exist"):
        GLM().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = GLM(regularizer="Ridge", regularizer_strength=1e-3).fit(X, y)
    assert model.converged_ and model.coef_[2] < -1


def test_float32_accuracy():
    """float32 fits reach the float64 optimum to ~1e-4 in the coefficients (documented)."""
    code = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", False)
        from coupling_tutorial.glm import PopulationGLM
        rng = np.random.default_rng(0)
        X = (rng.normal(size=(3000, 12)) * 0.5).astype(np.float32)
        y = rng.poisson(np.exp(X @ (rng.normal(size=(12, 4)) * 0.3) - 1.0)).astype(np.float32)
        for solver in ("newton", "newton-cg"):
            m = PopulationGLM(solver=solver).fit(X, y)
            assert m.coef_.dtype == np.float32 and m.converged_.all(), m.kkt_residual_
            print(" ".join(map(str, np.asarray(m.coef_, float).ravel().tolist())))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 12)) * 0.5).astype(np.float32).astype(float)
    y = rng.poisson(np.exp(X @ (rng.normal(size=(12, 4)) * 0.3) - 1.0)).astype(float)
    ref = np.asarray(PopulationGLM().fit(X, y).coef_).ravel()
    for line in out.stdout.strip().splitlines():
        err = np.abs(np.array(line.split(), float) - ref).max()
        assert err < 1e-4, err


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(regularizer="ridge2"), r"`regularizer` must be one of None, 'UnRegularized'.*got 'ridge2'"),
    (dict(regularizer="Ridge"), r"`regularizer_strength` must be given for regularizer 'Ridge'; got None"),
    (dict(regularizer="Ridge", regularizer_strength=-1.0), r"`regularizer_strength` must be non-negative and finite; got -1.0"),
    (dict(regularizer_strength=1.0), r"`regularizer_strength` must be None without a regularizer; got 1.0"),
    (dict(regularizer="ElasticNet", regularizer_strength=(1.0, 1.5)), r"ratio must be in \[0, 1\]; got 1.5"),
    (dict(solver="lbfgs"), r"`solver` must be one of None, 'newton', 'newton-cg', 'proximal-gradient'; got 'lbfgs'"),
    (dict(regularizer="Lasso", regularizer_strength=0.1, solver="newton-cg"), r"non-smooth regularizer 'Lasso'; got 'newton-cg'"),
    (dict(tol=0.0), r"`tol` must be positive and finite; got 0.0"),
    (dict(maxiter=0), r"`maxiter` must be an integer >= 1; got 0"),
    (dict(group_mask=np.ones((1, 3))), r"`group_mask` must be None unless regularizer='GroupLasso'"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PopulationGLM(**kwargs)


def test_bad_data(data):
    X, y, mask = data
    with pytest.raises(ValueError, match=r"`y` must have as many samples as `X` \(3000\); got 2999"):
        PopulationGLM().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"`y` must be 2-D; got a 1-D array"):
        PopulationGLM().fit(X, y[:, 0])
    with pytest.raises(ValueError, match=r"`y` must be 1-D; got a 2-D array"):
        GLM().fit(X, y)
    with pytest.raises(ValueError, match=r"`y` must hold non-negative spike counts; got a minimum of -1.0"):
        PopulationGLM().fit(X, np.where(y == 0, -1.0, y))
    with pytest.raises(ValueError, match=r"`y` must hold integer spike counts"):
        PopulationGLM().fit(X, y + 0.5)
    Xbad = X.copy()
    Xbad[7, 0] = np.inf  # inf is an error; NaN rows would be dropped
    with pytest.raises(ValueError, match=r"`X` must contain only finite values; got 1 NaN or inf entry"):
        PopulationGLM().fit(Xbad, y)
    with pytest.raises(ValueError, match=r"`feature_mask` must have shape \(12, 4\); got shape \(12, 3\)"):
        PopulationGLM(feature_mask=mask[:, :3]).fit(X, y)
    with pytest.raises(ValueError, match=r"`feature_mask` must contain only 0 and 1"):
        PopulationGLM(feature_mask=mask * 2).fit(X, y)
    with pytest.raises(ValueError, match=r"`feature_mask\['a'\]` must have shape \(4,\) .* or \(5, 4\); got shape \(3,\)"):
        PopulationGLM(feature_mask={"a": np.ones(3), "b": np.ones(4)}).fit({"a": X[:, :5], "b": X[:, 5:]}, y)
    with pytest.raises(ValueError, match=r"`feature_mask` must have the keys of X \['a', 'b'\]; got \['a'\]"):
        PopulationGLM(feature_mask={"a": np.ones(4)}).fit({"a": X[:, :5], "b": X[:, 5:]}, y)
    with pytest.raises(ValueError, match=r"`group_mask` must be given for GroupLasso when X is an array"):
        PopulationGLM(regularizer="GroupLasso", regularizer_strength=0.1).fit(X, y)
    g = np.zeros((2, F))
    g[0, :6] = g[1, 4:] = 1
    with pytest.raises(ValueError, match=r"`group_mask` must assign each feature to at most one group"):
        PopulationGLM(regularizer="GroupLasso", regularizer_strength=0.1, group_mask=g).fit(X, y)


def test_mask_changed_after_fit_and_unfitted_use(data):
    X, y, mask = data
    with pytest.raises(ValueError, match=r"must be fitted before use"):
        PopulationGLM().predict(X)
    model = PopulationGLM(feature_mask=mask).fit(X, y)
    model.feature_mask = 1.0 - mask
    with pytest.raises(ValueError, match=r"`feature_mask` must be the mask used in fit; it was changed"):
        model.predict(X)
    model.feature_mask = mask
    assert model.predict(X).shape == (T, N)
    with pytest.raises(ValueError, match=r"`X` must have 12 features; got 11"):
        model.predict(X[:, :-1])
    with pytest.raises(ValueError, match=r"`score_type` must be one of 'log-likelihood'"):
        model.score(X, y, score_type="r2")
    with pytest.raises(ValueError, match=r"`X` must have the structure used in fit \(an array\)"):
        model.predict({"a": X})
