"""Chapter 6's model checks: time rescaling, cross-validation in time, stability prediction.

Every result is compared with an independent reference: a brute-force loop over spikes
for the rescaled values, scipy's KS test, refitting each fold from scratch with
PopulationGLM and scoring with scipy's Poisson log-pmf, Chapter 5's linearisation and
simulate_recurrent itself.
"""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import lambertw, rel_entr

import coupling_tutorial as ct
from coupling_tutorial.glm.solve import _solve


# ------------------------------------------------------------------ time rescaling
def brute_force_rescaled(y, rate, u):
    """Rescaled values by an explicit loop: spike m of bin k at time k + u (u sorted within
    the bin), Lambda(t) = sum of the full bins before t plus the part of bin k."""
    times = []
    i = 0
    for k in range(len(y)):
        us = sorted(u[i:i + int(y[k])])
        i += int(y[k])
        times += [k + v for v in us]

    def big_lambda(t):
        k = int(np.floor(t))
        return sum(rate[:k]) + (t - k) * rate[k]

    lam = [big_lambda(t) for t in times]
    return np.array([1.0 - np.exp(-(b - a)) for a, b in zip(lam[:-1], lam[1:])])


def test_rescaled_values_equal_a_brute_force_loop_with_the_same_uniforms():
    rng = np.random.default_rng(0)
    T = 400
    rate = np.stack([np.full(T, 0.4), 0.2 + 0.6 * rng.random(T)], axis=1)  # const, varying
    y = rng.poisson(rate)
    key = jax.random.key(3)
    res = ct.time_rescaling_test(y, rate, key)
    m = 1 << (int(y.sum()) - 1).bit_length()                     # the documented draw
    u = np.asarray(jax.random.uniform(key, (max(m, 1024),), jnp.float64))[:int(y.sum())]
    n0 = int(y[:, 0].sum())
    for i, uu in enumerate([u[:n0], u[n0:]]):
        ref = brute_force_rescaled(y[:, i], rate[:, i], uu)
        np.testing.assert_allclose(res.rescaled[i], ref, rtol=1e-10, atol=1e-12)  # cumulative sums
        assert res.n_intervals[i] == y[:, i].sum() - 1
        ks = stats.kstest(ref, "uniform", method="exact")
        assert res.statistic[i] == pytest.approx(ks.statistic, rel=1e-12)
        assert res.p_value[i] == pytest.approx(ks.pvalue, rel=1e-9)
    one = ct.time_rescaling_test(y[:, 0], rate[:, 0], key)   # 1-D: scalars, one array
    assert one.statistic == res.statistic[0] and one.n_intervals == res.n_intervals[0]
    np.testing.assert_array_equal(one.rescaled, res.rescaled[0])


def test_time_rescaling_float32_in_float32_out_and_few_spikes():
    y = np.zeros((50, 2))
    y[10, 0] = 1
    y[[3, 30], 1] = 1
    res = ct.time_rescaling_test(y, np.full((50, 2), 0.1, np.float32), jax.random.key(0))
    assert res.rescaled[1].dtype == np.float32 and res.n_intervals.tolist() == [0, 1]
    assert np.isnan(res.statistic[0]) and np.isnan(res.p_value[0])   # no interval
    assert np.isfinite(res.p_value[1])


def inhomogeneous_sample(seed, T=4000):
    k_y, k_u = jax.random.split(jax.random.key(seed))
    rate = 0.5 + 0.4 * np.sin(2 * np.pi * np.arange(T) / 300.0)   # up to 0.9 per bin
    y = np.asarray(jax.random.poisson(k_y, rate))
    return y, rate, k_u


def test_time_rescaling_size_and_power_small_sample():
    # 60 data sets from the true rates: the number rejected at 5 % is Binomial(60, 0.05)
    # (mean 3) for a correct test; <= 9 fails with probability 0.0015. Rates up to 0.9 per
    # bin are where the uncorrected test (spikes at bin ends) or a fixed mid-bin position
    # reject almost every time, so the bound is not vacuous; the same data against a rate
    # 15 % too high must be rejected nearly always (power).
    p_true, p_wrong = [], []
    for s in range(60):
        y, rate, k = inhomogeneous_sample(s)
        p_true.append(ct.time_rescaling_test(y, rate, k).p_value)
        p_wrong.append(ct.time_rescaling_test(y, 1.15 * rate, k).p_value)
    assert np.sum(np.array(p_true) < 0.05) <= 9
    assert np.sum(np.array(p_wrong) < 0.05) >= 50


def driven_receiver(seed, T=10_000):
    """A receiver whose rate triples (0.05 to 0.15) in the bin after a sender's spike:
    counts, true rate, the predictable selection (the sender spiked in the previous bin),
    the sender's counts and a test key."""
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    x = np.asarray(jax.random.poisson(k1, 0.3, (T,)))
    after = np.r_[False, x[:-1] > 0]
    rate = np.where(after, 0.15, 0.05)
    return np.asarray(jax.random.poisson(k2, rate)), rate, after, x, k3


def test_time_rescaling_on_a_predictable_subset_of_bins_size_and_power():
    # The docstring's claim: on a predictable selection of bins the test is exact, and it
    # sees a missing coupling that the pooled test misses. 60 data sets: the number of
    # true-model rejections at 5 % is Binomial(60, 0.05) per half (<= 9: p = 0.0015);
    # the model without the coupling (its average rate) must be rejected on the selected
    # bins nearly always, while the pooled test rarely does (2 of 60 here). A selection
    # that looks at the current bin (here: the receiver's own count) is not predictable,
    # and the test on it rejects the true model nearly always.
    rej_true, rej_pooled, rej_split, rej_peek = [], [], [], []
    for s in range(60):
        y, rate, after, x, key = driven_receiver(s)
        wrong = np.full(y.size, rate.mean())
        rej_true.append([ct.time_rescaling_test(y[w], rate[w], key).p_value < 0.05
                         for w in (after, ~after)])
        rej_pooled.append(ct.time_rescaling_test(y, wrong, key).p_value < 0.05)
        rej_split.append(ct.time_rescaling_test(y[after], wrong[after], key).p_value < 0.05)
        peek = y > 0
        rej_peek.append(ct.time_rescaling_test(y[peek], rate[peek], key).p_value < 0.05)
    assert (np.sum(rej_true, axis=0) <= 9).all()
    assert np.sum(rej_split) >= 57
    assert np.sum(rej_pooled) <= 12
    assert np.sum(rej_peek) >= 57


@pytest.mark.slow
def test_time_rescaling_rejection_rate_of_the_true_recurrent_model():
    # 1000 simulations of a refractory, coupled 3-neuron network (the benchmark's): the
    # rejection rate at 5 % of the exact conditional rates must be 5 +- 1.5 % (for a test
    # of exact size 5 %, outside with probability 0.03), and the p-values must be uniform
    # as a whole (KS test of the 1000 p-values).
    B = ct.raised_cosine_log_basis(4, 20)
    coef = np.zeros((3, 3, 4))
    coef[np.arange(3), np.arange(3), 0] = -2.0
    coef[0, 1, 1:3] = 0.8
    coef[1, 2, 1:3] = 0.6
    b = np.full(3, np.log(0.05))
    p = []
    for s in range(1000):
        k_sim, k_test = jax.random.split(jax.random.key(10_000 + s))
        y, rate = ct.simulate_recurrent(coef, None, b, k_sim, None, B, jnp.zeros((20, 3)),
                                        n_steps=20_000)
        p.append(ct.time_rescaling_test(y[:, 0], rate[:, 0], k_test).p_value)
    assert 0.035 <= np.mean(np.array(p) < 0.05) <= 0.065
    assert stats.kstest(p, "uniform").pvalue > 0.01


@pytest.mark.parametrize("y, rate, key, match", [
    (np.ones((10, 2)), np.ones((10, 3)), jax.random.key(0), r"`rate` must have the shape"),
    (np.ones(10), np.r_[np.nan, np.ones(9)], jax.random.key(0), r"`rate` must not contain NaN"),
    (np.ones(10), np.r_[0.0, np.ones(9)], jax.random.key(0), r"`rate` must be positive"),
    (np.ones(10), -np.ones(10), jax.random.key(0), r"`rate` must be positive"),
    (np.r_[-1.0, np.ones(9)], np.ones(10), jax.random.key(0), r"`y` must hold non-negative"),
    (np.full(10, 0.5), np.ones(10), jax.random.key(0), r"`y` must hold integer"),
    (np.ones(10), np.ones(10), 3, r"`key` must be a JAX PRNG key"),
    (np.ones((2, 2, 2)), np.ones((2, 2, 2)), jax.random.key(0), r"`y` must be 1-D or 2-D"),
])
def test_time_rescaling_bad_input(y, rate, key, match):
    with pytest.raises(ValueError, match=match):
        ct.time_rescaling_test(y, rate, key)


# ------------------------------------------------------------------ cross-validation
@pytest.mark.parametrize("n, k, gap", [(10, 3, 1), (101, 5, 7), (20, 2, 0), (50, 4, 12)])
def test_time_folds_brute_force(n, k, gap):
    folds = ct.time_folds(n, k, gap)
    assert len(folds) == k
    tests = np.concatenate([f.test for f in folds])
    np.testing.assert_array_equal(tests, np.arange(n))          # each row tested once
    sizes = [f.test.size for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for f in folds:
        a, b = f.test[0], f.test[-1] + 1
        np.testing.assert_array_equal(f.test, np.arange(a, b))  # contiguous
        ref = [t for t in range(n) if t < a - gap or t >= b + gap]
        np.testing.assert_array_equal(f.train, ref)
        # no training row within `gap` rows of a test row, on either side
        assert np.min(np.abs(f.train[:, None] - f.test[None, :])) > gap


def coupled_data(T=3000, seed=0):
    B = ct.raised_cosine_log_basis(3, 10)
    coef = np.zeros((3, 3, 3))
    coef[np.arange(3), np.arange(3), 0] = -2.0
    coef[0, 1, 1] = 1.0
    y, _ = ct.simulate_recurrent(coef, None, np.full(3, np.log(0.1)), jax.random.key(seed),
                                 None, B, jnp.zeros((10, 3)), n_steps=T)
    y = np.asarray(y)
    return np.asarray(ct.coupling_features(y, B)), y, B


# (3 folds test an interior block, with a gap on both sides; the lasso's path runs on 2,
# to keep the number of compiled shapes small)
# (the Ridge cases run the compiled path, glm.ridge_path, with and without a feature mask)
@pytest.mark.parametrize("regularizer, strengths, n_folds, masked", [
    ("Ridge", [1e-4, 1e-2], 3, False), ("Ridge", [1e-5, 1e-3, 1e-1], 3, True),
    ("Lasso", [1e-3, 1e-2], 2, False)])
def test_cross_validate_equals_refitting_each_fold_from_scratch(regularizer, strengths,
                                                                n_folds, masked):
    X, y, B = coupled_data()
    mask = PATH_MASK if masked else None
    # tol 1e-10 on both sides: at the default 1e-8 two correct fits differ by ~1e-6 in
    # their coefficients along the flat directions of the lasso
    cv = ct.cross_validate(X, y, strengths, n_folds=n_folds, gap=10, regularizer=regularizer,
                           tol=1e-10, feature_mask=mask)
    assert cv.bits_per_spike.shape == (len(strengths), n_folds, 3) and cv.converged.all()
    for k, f in enumerate(ct.time_folds(len(y), n_folds, 10)):
        tr = f.train[~np.isnan(X[f.train]).any(axis=1)]
        te = f.test[~np.isnan(X[f.test]).any(axis=1)]
        null = y[tr].mean(axis=0)
        for j, a in enumerate(strengths):
            m = ct.PopulationGLM(regularizer, a, tol=1e-10, feature_mask=mask).fit(X[tr], y[tr])
            lam = np.asarray(m.predict(X[te]))
            gain = (stats.poisson.logpmf(y[te], lam).sum(0)
                    - stats.poisson.logpmf(y[te], null).sum(0))
            np.testing.assert_allclose(cv.bits_per_spike[j, k],
                                       gain / y[te].sum(0) / np.log(2), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(cv.mean, cv.bits_per_spike.mean(axis=1))
    np.testing.assert_array_equal(cv.best_index, np.argmax(cv.mean, axis=0))
    np.testing.assert_array_equal(cv.best_strength, np.asarray(strengths)[cv.best_index])
    assert cv.mean[:, 0].max() > 0.02   # neuron 0 gets its coupling: better than its mean


# a feature mask for coupled_data's 9 features x 3 neurons (each neuron loses some inputs)
PATH_MASK = (np.arange(27).reshape(9, 3) % 4 != 1).astype(float)


def numpy_hessians(X, W, b, mask):
    """Augmented Hessians (N, F+1, F+1) of the mean Poisson loss at (W, b), by numpy in
    float64; masked coordinates decoupled with the mean diagonal (as _augmented_hessian)."""
    T, F = X.shape
    A = np.hstack([X, np.ones((T, 1))])
    out = []
    for i in range(W.shape[1]):
        r = np.exp(X @ (W[:, i] * mask[:, i]) + b[i])
        H = A.T @ (A * r[:, None]) / T
        keep = np.append(mask[:, i], 1.0)
        out.append(H * np.outer(keep, keep) + np.diag((1 - keep) * np.mean(np.diag(H))))
    return np.array(out)


@pytest.fixture(scope="module")
def path_fold():
    """The training rows of fold 1 of 3 (an interior block) of coupled_data."""
    X, y, _ = coupled_data(T=2000)
    tr = ct.time_folds(len(y), 3, 10)[1].train
    tr = tr[~np.isnan(X[tr]).any(axis=1)]
    return X[tr], y[tr].astype(float)


@pytest.mark.parametrize("masked", [False, True])
def test_ridge_path_equals_independent_fits_at_every_strength(path_fold, masked):
    # every fit of the compiled path (predictor + Hessian-preconditioned Newton-CG) equals
    # a PopulationGLM fit from scratch ("newton": exact Hessians, another solver)
    from coupling_tutorial.glm.ridge_path import _ridge_path
    X, y = path_fold
    mask = PATH_MASK if masked else np.ones((9, 3))
    alphas = np.array([1e-1, 1e-2, 1e-3, 1e-4, 1e-6])
    out = _ridge_path(jnp.asarray(X), jnp.asarray(y), jnp.asarray(mask), jnp.asarray(alphas),
                      1e-10, 100, masked=masked, refresh_cg=1)
    assert np.asarray(out["converged"]).all()
    assert np.asarray(out["kkt"]).max() <= 1e-10
    for j, a in enumerate(alphas):
        m = ct.PopulationGLM("Ridge", a, tol=1e-12,
                             feature_mask=mask if masked else None).fit(X, y)
        W = np.asarray(m.coef_)
        np.testing.assert_allclose(out["W"][j], W, rtol=1e-6, atol=1e-6 * np.abs(W).max())
        np.testing.assert_allclose(out["b"][j], m.intercept_, rtol=1e-6)
        assert np.all(np.asarray(out["W"][j])[mask == 0] == 0)


@pytest.mark.parametrize("masked", [False, True])
def test_path_predictor_is_the_derivative_of_the_optimum(path_fold, masked):
    # d beta / d alpha = -(H + alpha E)^-1 E beta, against central differences of exact
    # fits; the intercept is coupled to the features (their mean is not 0), so a predictor
    # that left it out (or penalised it) would miss
    from coupling_tutorial.glm.ridge_path import _path_factors, _path_predictor
    X, y = path_fold
    mask = PATH_MASK if masked else np.ones((9, 3))
    fm = mask if masked else None
    a, h = 1e-2, 1e-4

    def fit(alpha):
        m = ct.PopulationGLM("Ridge", alpha, tol=1e-13, feature_mask=fm).fit(X, y)
        return np.asarray(m.coef_), np.asarray(m.intercept_)

    W, b = fit(a)
    (Wp, bp), (Wm, bm) = fit(a * (1 + h)), fit(a * (1 - h))
    dW, db = (Wp - Wm) / (2 * a * h), (bp - bm) / (2 * a * h)
    H = numpy_hessians(X, W, b, mask)
    chol = _path_factors(jnp.asarray(H), jnp.asarray(mask), a)
    Wn, bn = _path_predictor(chol, jnp.asarray(W), jnp.asarray(b), 1.0)
    np.testing.assert_allclose(np.asarray(Wn) - W, dW, rtol=1e-3, atol=1e-3 * np.abs(dW).max())
    np.testing.assert_allclose(np.asarray(bn) - b, db, rtol=1e-3, atol=1e-3 * np.abs(db).max())
    # a real check: the same derivative without the intercept's coupling is far off
    F = W.shape[0]
    no_b = [-np.linalg.solve(H[i, :F, :F] + a * np.diag(mask[:, i]), W[:, i])
            for i in range(W.shape[1])]
    assert np.abs(np.array(no_b).T - dW).max() > 0.01 * np.abs(dW).max()  # 10x the rtol


@pytest.mark.parametrize("refresh_cg, last", [(0, -1), (10**6, 0)])
def test_ridge_path_refreshes_its_reference_hessian(path_fold, refresh_cg, last):
    # the reference Hessians are the Hessians at the optimum of the last refreshed fit:
    # refresh_cg=0 refreshes after every fit (the last one), 10**6 never after the first
    from coupling_tutorial.glm.ridge_path import _reference_hessians, _ridge_path
    X, y = path_fold
    mask = PATH_MASK
    alphas = jnp.asarray([1e-1, 1e-3, 1e-5])
    out = _ridge_path(jnp.asarray(X), jnp.asarray(y), jnp.asarray(mask), alphas, 1e-8, 100,
                      masked=True, refresh_cg=refresh_cg)
    n_cg, n_iter = np.asarray(out["n_cg"]), np.asarray(out["n_iter"]).max(axis=1)
    np.testing.assert_array_equal(np.asarray(out["refreshed"])[1:],
                                  n_cg[1:] > refresh_cg * n_iter[1:])
    W, b = np.asarray(out["W"][last]), np.asarray(out["b"][last])
    ref = numpy_hessians(X, W, b, mask)
    np.testing.assert_allclose(out["hessians"], ref, rtol=2e-5, atol=1e-6 * np.abs(ref).max())
    H = _reference_hessians(jnp.asarray(X), jnp.asarray(X @ W + b), jnp.asarray(mask))
    assert H.dtype == jnp.float64
    np.testing.assert_allclose(H, ref, rtol=2e-5, atol=1e-6 * np.abs(ref).max())


def test_solve_starts_from_the_given_initial_point():
    # the warm start is used: started at the optimum, the solver stops at once
    X, y, _ = coupled_data(T=1000)
    X, y = X[10:], y[10:]
    M = jnp.ones((X.shape[1], 3))
    args = (X, y.astype(float), M, None, 1e-2, 0.5, 1e-8, 100)
    cold = _solve(*args, kind="ridge", solver="newton", masked=False)
    warm = _solve(*args, (cold["W"], cold["b"]), kind="ridge", solver="newton", masked=False)
    assert np.asarray(cold["n_iter"]).min() >= 3
    assert np.asarray(warm["n_iter"]).max() <= 1
    np.testing.assert_allclose(warm["W"], cold["W"], atol=1e-8)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_folds=1), r"`n_folds` must be an integer >= 2; got 1"),
    (dict(n_folds=2.5), r"`n_folds` must be an integer >= 2; got 2.5"),
    (dict(n_folds=40), r"`n_folds` must be at most n_samples = 30; got 40"),
    (dict(n_folds=3, gap=10), r"`n_folds` must leave training rows"),
    (dict(gap=-1), r"`gap` must be an integer >= 0; got -1"),
    (dict(strengths=[]), r"`strengths` must hold at least one strength"),
    (dict(strengths=[1.0, 0.1]), r"`strengths` must be strictly increasing"),
    (dict(strengths=[0.1, 0.1]), r"`strengths` must be strictly increasing"),
    (dict(strengths=[-1.0, 0.1]), r"`strengths` must be finite and non-negative; got -1.0"),
    (dict(strengths=[[0.1]]), r"`strengths` must be a 1-D sequence"),
    (dict(regularizer=None), r"`regularizer` must be a penalty"),
    (dict(y=np.ones((29, 2))), r"`y` must have as many samples as `X` \(30\); got 29"),
    (dict(y=np.full((30, 2), -1.0)), r"`y` must hold non-negative spike counts"),
])
def test_cross_validate_bad_input(kwargs, match):
    args = dict(X=np.random.default_rng(0).standard_normal((30, 2)), y=np.ones((30, 2)),
                strengths=[0.1, 1.0], n_folds=3, gap=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ct.cross_validate(**args)


def test_cross_validate_rejects_a_neuron_silent_in_a_training_set():
    y = np.zeros((30, 1))
    y[:10] = 1   # only in the first block: silent in fold 0's training rows
    with pytest.raises(ValueError, match=r"none for neuron\(s\) \[0\] in fold 0"):
        ct.cross_validate(np.ones((30, 1)), y, [0.1], n_folds=3, gap=0)


# ------------------------------------------------------------------ stability
@pytest.fixture(scope="module")
def fitted_network():
    B = ct.raised_cosine_log_basis(4, 20)
    coef = np.zeros((4, 4, 4))
    coef[np.arange(4), np.arange(4), 0] = -3.0
    coef[0, 1, 1:3] = 0.8
    coef[2, 3, 1:3] = 0.8
    y, _ = ct.simulate_recurrent(coef, None, np.full(4, np.log(0.05)), jax.random.key(0),
                                 None, B, jnp.zeros((20, 4)), n_steps=10_000)
    return ct.PopulationGLM().fit(ct.coupling_features(y, B), y), B


def scaled(model, factor):
    m = copy.copy(model)
    m.coef_ = model.coef_ * factor
    return m


def test_predict_stability_is_linearize_on_the_poisson_averaged_filters(fitted_network):
    model, B = fitted_network
    res = ct.predict_stability(model, B)
    coef = np.asarray(model.coef_).reshape(4, 4, 4)               # (sender, basis, receiver)
    h = np.einsum("lk,jki->lij", np.asarray(B), coef)             # (lag, receiver, sender)
    lin = ct.linearize(np.expm1(h), np.exp(np.asarray(model.intercept_)))
    assert res.fixed_point and res.stable
    assert res.spectral_radius == pytest.approx(lin.spectral_radius, rel=1e-10)
    np.testing.assert_allclose(res.rates, lin.rates, rtol=1e-10)
    G0 = np.asarray(lin.rates)[:, None] * np.expm1(h).sum(0)      # static gain nu_i sum(e^h-1)
    assert res.branching_ratio == pytest.approx(np.linalg.eigvals(G0).real.max(), rel=1e-10)
    # the rates solve nu = nu0 exp(sum_l (e^h - 1) nu), checked directly
    nu = np.asarray(res.rates)
    rhs = np.exp(np.asarray(model.intercept_)) * np.exp(np.expm1(h).sum(0) @ nu)
    np.testing.assert_allclose(nu, rhs, rtol=1e-9)


def test_predict_stability_agrees_with_simulate_recurrent_on_clear_cases(fitted_network):
    model, B = fitted_network
    for factor, runs_away in [(1.0, False), (4.0, True)]:
        m = scaled(model, factor)
        pred = ct.predict_stability(m, B)
        coef = ct.to_simulation_layout(ct.split_coupling(m._W, 4))
        try:
            ct.simulate_recurrent(coef, None, m._b, jax.random.key(1), None, B,
                                  jnp.zeros((20, 4)), n_steps=5000)
            ran = False
        except ct.RunawayError:
            ran = True
        assert ran == runs_away and pred.stable == (not runs_away)
    strong = ct.predict_stability(scaled(model, 4.0), B)
    assert not strong.fixed_point and strong.spectral_radius == np.inf
    assert strong.branching_ratio == np.inf
    # Chapter 5's linearisation in h itself calls the same model stable (the refractory
    # filters dominate it): the Poisson average is what sees the runaway
    coef = np.asarray(scaled(model, 4.0)._W).reshape(4, 4, 4)
    h = np.einsum("lk,jki->lij", np.asarray(B), coef)
    assert ct.linearize(h, np.exp(np.asarray(model.intercept_))).spectral_radius < 1


def test_predict_stability_bad_input(fitted_network):
    model, B = fitted_network
    with pytest.raises(ValueError, match=r"`model` must be fitted before use"):
        ct.predict_stability(ct.PopulationGLM(), B)
    with pytest.raises(ValueError, match=r"`model` must be a fitted PopulationGLM; got dict"):
        ct.predict_stability({}, B)
    with pytest.raises(ValueError, match=r"`basis` must have n_features / n_neurons = 16 / 4 "
                                         r"columns .*; got 3 columns"):
        ct.predict_stability(model, B[:, :3])
    with pytest.raises(ValueError, match=r"`max_radius` must be positive and finite; got 0.0"):
        ct.predict_stability(model, B, max_radius=0.0)
    with pytest.raises(ValueError, match=r"`max_branching` must be positive and finite; got"):
        ct.predict_stability(model, B, max_branching=-1.0)
    with pytest.raises(ValueError, match=r"`horizon` must be an integer >= 1; got 0\."):
        ct.predict_stability(model, B, horizon=0)
    with pytest.raises(TypeError, match=r"`horizon` must be an integer >= 1; got 2.5\."):
        ct.predict_stability(model, B, horizon=2.5)
    with pytest.raises(ValueError, match=r"`escape_offset` must be finite; got nan\."):
        ct.predict_stability(model, B, escape_offset=np.nan)
    glm = ct.GLM().fit(np.random.default_rng(0).standard_normal((100, 4)), np.ones(100))
    with pytest.raises(ValueError, match=r"`model` must be a PopulationGLM fitted on an array"):
        ct.predict_stability(glm, B[:, :1])


def one_neuron_model(h, nu0, window=3):
    """A 1-neuron model whose only filter is ``h`` at lag 1 (basis: the first lag)."""
    B = np.eye(window)[:, :1]
    y = np.asarray(jax.random.poisson(jax.random.key(0), 0.1, (500, 1)))
    model = ct.PopulationGLM().fit(ct.coupling_features(y, B), y)
    m = copy.copy(model)
    m.coef_, m.intercept_ = jnp.full((1, 1), h), jnp.full((1,), np.log(nu0))
    return m, B


@pytest.mark.parametrize("h, nu0", [(1.0, 0.05), (0.5, 0.2), (2.0, 0.01)])
def test_escape_cost_closed_form_one_neuron(h, nu0):
    # one neuron, self-excitation h at lag 1 only, g = e^h - 1. The stationary rate of the
    # Poisson-averaged equation nu = nu0 exp(g nu) is nu = -W_0(-g nu0) / g (Lambert W);
    # its unstable fixed point is x_u = -W_{-1}(-g nu0) / g. A burst of c spikes makes the
    # next rate nu0 exp(h c), from which the mean field x -> nu0 exp(g x) runs away iff
    # nu0 exp(h c) > x_u, i.e. c > c* = log(x_u / nu0) / h. The burst's bin has rate nu,
    # so one bin costs I(c*; nu) = c* log(c* / nu) - c* + nu; longer bursts escape no
    # sooner and cost more.
    m, B = one_neuron_model(h, nu0)
    res = ct.predict_stability(m, B)
    g = np.expm1(h)
    nu = -lambertw(-g * nu0, 0).real / g
    x_u = -lambertw(-g * nu0, -1).real / g
    c_star = np.log(x_u / nu0) / h
    cost = rel_entr(c_star, nu) - c_star + nu
    np.testing.assert_allclose(np.asarray(res.rates), [nu], rtol=1e-8)
    assert res.fixed_point and res.escape_cost == pytest.approx(cost, rel=1e-5)
    # the rule: a runaway iff the cost is below log(horizon) + escape_offset (rho < 1 here)
    assert res.spectral_radius < 1 and res.branching_ratio < 1
    for horizon in [10, 1000, 20_000, 10**7]:
        for offset in [0.0, 1.1]:
            pred = ct.predict_stability(m, B, horizon=horizon, escape_offset=offset)
            assert pred.stable == (cost >= np.log(horizon) + offset)
            assert pred.escape_cost == res.escape_cost


def burst_path(filters, nu0, rates, k, L, c, max_rate=1000.0, n_follow=100):
    """One path, one bin after another: from the stationary history, neuron k fires c
    spikes in L bins, the rest follows mu = nu0 exp(sum_l (e^h[l] - 1) y) (a forced count
    enters as h[l] c); returns (away, cost)."""
    W, N, _ = filters.shape
    past = np.tile(rates, (W, 1))                       # past[l] = y(t - 1 - l)
    known = np.zeros((W, N), bool)                      # past[l, j] a forced count
    away, cost = False, 0.0
    for t in range(L + n_follow):
        effect = np.where(known[:, None, :], filters * past[:, None, :],
                          np.expm1(filters) * past[:, None, :])    # (lag, receiver, sender)
        with np.errstate(over="ignore"):
            mu = nu0 * np.exp(effect.sum(axis=(0, 2)))
        away = away or bool((mu > max_rate).any())
        y = np.minimum(mu, 2 * max_rate)                 # a rate past max_rate: capped
        now = np.zeros(N, bool)
        if t < L:
            cost += rel_entr(c, y[k]) - c + y[k]
            y[k], now[k] = c, True
        past = np.concatenate([y[None], past[:-1]])
        known = np.concatenate([now[None], known[:-1]])
    return away, cost


def brute_force_escape_cost(filters, nu0, rates, lengths=(1, 2, 3, 5)):
    """The escape cost path by path: the counts predict_stability scans (nu_k, then 64
    geometric steps from 0.01 to 64 above it), the first that runs away, bisection
    between it and the count before (20 halvings), the cost at the end; minimised over
    the burst shapes."""
    W, N, _ = filters.shape
    best = np.inf
    for k in range(N):
        for L in lengths:
            grid = rates[k] + np.r_[0.0, 0.01 * (6400.0 ** (np.arange(64) / 63))]
            away = [burst_path(filters, nu0, rates, k, L, c)[0] for c in grid]
            if not any(away):
                continue
            i = int(np.argmax(away))
            lo, hi = grid[max(i - 1, 0)], grid[i]
            for _ in range(20):
                mid = 0.5 * (lo + hi)
                ran = burst_path(filters, nu0, rates, k, L, mid)[0]
                lo, hi = (lo, mid) if ran else (mid, hi)
            best = min(best, burst_path(filters, nu0, rates, k, L, hi)[1])
    return best


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_escape_cost_matches_a_brute_force_scan(fitted_network, factor):
    model, B = fitted_network
    m = scaled(model, factor)
    res = ct.predict_stability(m, B)
    coef = np.asarray(m._W).reshape(4, 4, 4)                      # (sender, basis, receiver)
    h = np.einsum("lk,jki->lij", np.asarray(B), coef)             # (lag, receiver, sender)
    brute = brute_force_escape_cost(h, np.exp(np.asarray(m._b)), np.asarray(res.rates))
    assert np.isfinite(brute)
    assert res.escape_cost == pytest.approx(brute, rel=1e-6)


def test_burst_paths_match_the_step_by_step_reference(fitted_network):
    # every burst shape and several counts, the vectorised paths against the loop above:
    # whether they run away, and the cost of the burst at the rates its own path gives
    # (for L > 1 the burster's refractoriness lowers its later rates: dearer bins)
    from coupling_tutorial.inference.stability import _burst_paths
    model, B = fitted_network
    m = scaled(model, 2.0)
    res = ct.predict_stability(m, B)
    coef = np.asarray(m._W).reshape(4, 4, 4)
    h = np.einsum("lk,jki->lij", np.asarray(B), coef)
    nu0, rates = np.exp(np.asarray(m._b)), np.asarray(res.rates)
    shapes = [(k, L, c) for k in range(4) for L in (1, 2, 3, 5) for c in (0.5, 2.0, 6.0)]
    k, L, c = (np.array(v) for v in zip(*shapes))
    away, cost = _burst_paths(h, nu0, rates, k, L, c.astype(float), 1000.0)
    ref = [burst_path(h, nu0, rates, *s) for s in shapes]
    np.testing.assert_array_equal(away, [a for a, _ in ref])
    np.testing.assert_allclose(cost, [cst for _, cst in ref], rtol=1e-9)
    assert away.any() and not away.all()
    assert (cost[L > 1] > 0).all() and (cost[L == 1] > 0).all()
