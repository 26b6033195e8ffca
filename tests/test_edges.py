"""Edges of the GLM fits and of the mean-field numerics (issue 17, classes 1, 3, 4 and 8).

References are independent: statsmodels / the deduplicated design for the GLM, mpmath for
the special functions and the Siegert rate, the closed-form deterministic LIF rate.
"""

import warnings

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import coupling_tutorial as ct
from conftest import float32_mode

# ----------------------------------------------------------------------------- GLM


def _poisson_data(T=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, 2))
    y = rng.poisson(np.exp(0.3 * x[:, 0] - 0.2 * x[:, 1] - 0.5)).astype(float)
    return x, y


def _statsmodels_objective(X, y):
    """Mean Poisson NLL (without log y!) at the statsmodels MLE of y ~ [X, 1]."""
    import statsmodels.api as sm
    res = sm.GLM(y, sm.add_constant(X, prepend=False), family=sm.families.Poisson()).fit(
        tol=1e-12)
    eta = sm.add_constant(X, prepend=False) @ res.params
    return float(np.mean(np.exp(eta) - y * eta))


@pytest.mark.parametrize("design", ["constant", "duplicate", "collinear"])
@pytest.mark.parametrize("solver", ["newton", "newton-cg"])
def test_glm_rank_deficient_design_gives_a_finite_optimum_and_warns(design, solver):
    x, y = _poisson_data()
    if design == "constant":  # the constant column duplicates the intercept
        X, X_dedup = np.c_[x, np.full(len(y), 2.0)], x
    elif design == "duplicate":
        X, X_dedup = np.c_[x, x[:, 0]], x
    else:
        X, X_dedup = np.c_[x, 0.5 * x[:, 0] - 2.0 * x[:, 1]], x
    with pytest.warns(ct.ConvergenceWarning, match=r"coefficients are not identifiable"):
        model = ct.GLM(solver=solver).fit(X, y)
    assert np.all(np.isfinite(np.asarray(model.coef_))) and np.isfinite(model.intercept_[0])
    assert model.converged_ and model.kkt_residual_ <= 1e-8
    # the optimum is not unique, its objective is: that of the full-rank design
    assert model.objective_ == pytest.approx(_statsmodels_objective(X_dedup, y), abs=1e-10)


def test_glm_constant_design_in_float32_is_finite_and_honest():
    """Old code: NaN coefficients with converged_=True and no warning."""
    _, y = _poisson_data()
    with float32_mode():
        with pytest.warns(ct.ConvergenceWarning, match=r"not identifiable"):
            model = ct.GLM().fit(np.ones((len(y), 1), np.float32), y)
        assert np.isfinite(float(model.intercept_[0])) and np.isfinite(float(model.coef_[0]))
        assert model.converged_
    # b + w = log(mean y) is the identifiable combination
    assert float(model.intercept_[0] + model.coef_[0]) == pytest.approx(
        np.log(y.mean()), abs=1e-5)


def test_glm_boolean_design_matches_statsmodels():
    x, y = _poisson_data()
    X = np.c_[x[:, 0] > 0, x[:, 1] > 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ct.GLM().fit(X, y)
    assert model.converged_
    assert model.objective_ == pytest.approx(_statsmodels_objective(X.astype(float), y),
                                             abs=1e-12)


def test_glm_badly_scaled_float32_design_reaches_the_optimum():
    """Old code: with a column in units 1e-5 its gradient is below tol = 1e-5 already at
    w = 0, and the float32 fit stopped there (coefficient 0, converged_=True)."""
    x, y = _poisson_data(T=2000, seed=1)
    x, scales = x[:, :1], np.array([1e-5])
    X = x * scales
    ref = ct.GLM().fit(x, y)  # float64, well scaled: coef = ref / scales
    with float32_mode():
        model = ct.GLM().fit(X.astype(np.float32), y.astype(np.float32))
        assert model.coef_.dtype == np.float32 and model.converged_
    np.testing.assert_allclose(np.asarray(model.coef_) * scales, np.asarray(ref.coef_),
                               rtol=1e-4)
    assert model.objective_ == pytest.approx(ref.objective_, rel=1e-6)


def test_glm_kkt_residual_is_in_column_units():
    """Scaling a column does not change the reported KKT residual (standardised units)."""
    x, y = _poisson_data()
    with pytest.warns(ct.ConvergenceWarning, match="did not converge"):
        a = ct.GLM(maxiter=1).fit(x, y)
    with pytest.warns(ct.ConvergenceWarning, match="did not converge"):
        b = ct.GLM(maxiter=1).fit(x * np.array([1e3, 1.0]), y)
    assert b.kkt_residual_ == pytest.approx(a.kkt_residual_, rel=1e-6)


def test_glm_converged_means_kkt_below_tol_at_the_returned_coefficients():
    """Old code: proximal-gradient in float32 said converged at a KKT residual of 2e-4."""
    x, y = _poisson_data(T=500)
    X = np.c_[x, x[:, 0]].astype(np.float32)
    with warnings.catch_warnings(), float32_mode():
        warnings.simplefilter("ignore")
        for solver in ("newton", "newton-cg", "proximal-gradient"):
            for maxiter in (3, 10000):
                m = ct.GLM(solver=solver, maxiter=maxiter).fit(X, y.astype(np.float32))
                assert m.converged_ == (m.kkt_residual_ <= 1e-5), (solver, maxiter)


def test_glm_nan_in_y_warns_and_drops_the_rows():
    x, y = _poisson_data()
    yn = y.copy()
    yn[[3, 7]] = np.nan
    with pytest.warns(UserWarning, match=r"`y` has NaN in 2 row\(s\) where `X` is finite"):
        model = ct.GLM().fit(x, yn)
    keep = ~np.isnan(yn)
    ref = ct.GLM().fit(x[keep], y[keep])
    np.testing.assert_allclose(np.asarray(model.coef_), np.asarray(ref.coef_), rtol=1e-12)


# ----------------------------------------------------------------------- special functions


@pytest.mark.parametrize("x", [-np.inf, -30.0, -1.0, 0.0, 3.0, 1e5, 1e20, 1e40, 1e300, np.inf])
def test_erfcx_and_dawson_at_extreme_arguments_match_mpmath(x):
    if not np.isfinite(x):
        want_e, want_d = (0.0 if x > 0 else np.inf), 0.0
    elif x > 1e20:  # (mpmath overflows) the asymptotic series, exact to double here
        want_e = 1.0 / (x * np.sqrt(np.pi))
        want_d = 1.0 / (2.0 * x)
    else:
        with mpmath.workdps(40):
            want_e = float(mpmath.exp(mpmath.mpf(x) ** 2) * mpmath.erfc(x))
            want_d = float(mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-mpmath.mpf(x) ** 2)
                           * mpmath.erfi(x))
    got_e, got_d = float(ct.erfcx(x)), float(ct.dawson(x))
    assert got_e == pytest.approx(want_e, rel=1e-13) or got_e == want_e
    assert got_d == pytest.approx(want_d, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("x", [1e3, 1e5, 1e10, 1e100, np.inf])
def test_erfcx_gradient_is_finite_for_large_x(x):
    with mpmath.workdps(500):  # erfcx' = 2 x erfcx - 2/sqrt(pi) cancels: many digits
        t = mpmath.mpf(x)
        want = 0.0 if not np.isfinite(x) else float(
            2 * t * mpmath.exp(t * t) * mpmath.erfc(t) - 2 / mpmath.sqrt(mpmath.pi))
    got = float(jax.grad(ct.erfcx)(x))
    assert np.isfinite(got)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-300)


# ----------------------------------------------------------------------- Siegert rate


def _siegert_mpmath(mu, sigma, tau_m, tau_r, V_th, V_r):
    """1/nu = tau_r + tau_m sqrt(pi) int_{y_r}^{y_th} erfcx(-u) du at 50 digits."""
    with mpmath.workdps(50):
        mu, sigma = mpmath.mpf(mu), mpmath.mpf(sigma)
        y_th, y_r = (mpmath.mpf(V_th) - mu) / sigma, (mpmath.mpf(V_r) - mu) / sigma
        f = lambda u: mpmath.exp(u * u) * mpmath.erfc(-u)  # noqa: E731
        integral = mpmath.quad(f, [y_r, (y_r + y_th) / 2, y_th])
        return float(1 / (tau_r + tau_m * mpmath.sqrt(mpmath.pi) * integral))


def _deterministic_rate(mu, tau_m, tau_r, V_th, V_r):
    return 1.0 / (tau_r + tau_m * np.log((mu - V_r) / (mu - V_th)))


@pytest.mark.parametrize("mu,sigma,tau_r,V_th,V_r", [
    (1.0, 1.0, 0.0, 1e-9, 0.0),      # |mu| >> V_th - V_r: the limits rounded to one
    (1e6, 1.0, 0.0, 0.02, 0.01),
    (0.02, 0.001, 0.002, 0.02, 0.01),
    (-10.0, 1.0, 0.002, 1e-9, 0.0),  # noise-driven, narrow interval
    (-0.01, 0.01, 0.0, 0.02, 0.02 - 1e-10),
])
def test_siegert_rate_extreme_inputs_match_mpmath(mu, sigma, tau_r, V_th, V_r):
    want = _siegert_mpmath(mu, sigma, 0.01, tau_r, V_th, V_r)
    got = float(ct.siegert_rate(mu, sigma, 0.01, tau_r, V_th, V_r))
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("mu,sigma", [(1e3, 1e-30), (0.05, 1e-12), (1e30, 1e-10)])
def test_siegert_rate_tiny_sigma_is_the_deterministic_lif(mu, sigma):
    want = _deterministic_rate(mu, 0.01, 0.002, 0.02, 0.01)
    got = float(ct.siegert_rate(mu, sigma, 0.01, 0.002, 0.02, 0.01))
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("mu,sigma", [(-1e30, 1e-30), (-1e3, 1e-3), (-1.0, 1e-10)])
def test_siegert_rate_far_below_threshold_is_zero(mu, sigma):
    assert float(ct.siegert_rate(mu, sigma, 0.01, 0.002, 0.02, 0.01)) == 0.0


def test_siegert_rate_is_finite_on_an_extreme_grid_in_both_precisions():
    mus = np.array([-1e30, -1e6, -10.0, -0.1, 0.0, 0.015, 0.02, 1.0, 1e3, 1e6, 1e30])
    sigmas = np.array([1e-30, 1e-10, 1e-3, 1.0, 1e6])
    m, s = (a.ravel() for a in np.meshgrid(mus, sigmas))
    for V_th, V_r in ((0.02, 0.01), (1e-9, 0.0), (1e3, -1e3)):
        for tau_r in (0.0, 0.002):
            rate = np.asarray(ct.siegert_rate(m, s, 0.01, tau_r, V_th, V_r))
            assert np.all(np.isfinite(rate)) and np.all(rate >= 0), (V_th, V_r, tau_r)
            with float32_mode():
                r32 = np.asarray(ct.siegert_rate(m.astype(np.float32), s.astype(np.float32),
                                                 0.01, tau_r, V_th, V_r))
            # (sigma = 1e-30 with |mu| = 1e30 overflows y in float32; and rates above the
            # float32 range are inf there)
            ok = (s >= 1e-10) & (rate < 1e37)
            assert np.all(np.isfinite(r32[ok])), (V_th, V_r, tau_r)


def test_siegert_gradients_are_finite_for_tiny_sigma_and_tau_r_zero():
    def grads(mu, sigma, tau_r):
        return jax.grad(lambda m, s: ct.siegert_rate(m, s, 0.01, tau_r, 0.02, 0.01),
                        argnums=(0, 1))(mu, sigma)
    for mu in (-1e3, 0.015, 0.02, 1e6):
        for sigma in (1e-30, 1e-3):
            for tau_r in (0.0, 0.002):
                g = np.asarray(grads(mu, sigma, tau_r))
                assert np.all(np.isfinite(g)), (mu, sigma, tau_r, g)
    # against a centred difference (mpmath) where the gradient is of order 1
    g = grads(0.015, 0.001, 0.0)
    h = 1e-9
    fd = (_siegert_mpmath(0.015 + h, 0.001, 0.01, 0.0, 0.02, 0.01)
          - _siegert_mpmath(0.015 - h, 0.001, 0.01, 0.0, 0.02, 0.01)) / (2 * h)
    assert float(g[0]) == pytest.approx(fd, rel=1e-6)


# ------------------------------------------------------------------ float32 in, float32 out


def test_meanfield_float32_inputs_give_float32_outputs_with_x64_on():
    f = np.float32
    assert ct.erfcx(f(1.0)).dtype == np.float32
    assert ct.dawson(np.array([1.0], f)).dtype == np.float32
    assert ct.siegert_rate(f(.015), f(.003), f(.01), f(.002), f(.02), f(.01)).dtype == f
    assert ct.siegert_rate(np.array([.015, .01], f), .003, .01, .002, .02, .01).dtype == f
    assert jax.jit(ct.siegert_rate)(f(.015), f(.003), f(.01), f(.002), f(.02),
                                    f(.01)).dtype == f
    assert ct.firing_rate_exp_synapses(f(.012), f(.005), f(.01), f(.0005), f(.002), f(.015),
                                       f(0)).dtype == f
    H = ct.transfer_function(f(.012), f(.004), f(.01), f(.0005), f(.002), f(.015), f(0),
                             omegas=np.array([1.0, 10.0], f))
    assert H.dtype == np.complex64
    assert ct.parabolic_cylinder_u(np.complex64(-0.5), f(1.3)).dtype == np.complex64
    w = np.linspace(1, 200, 10).astype(f)
    tau, h0, err = ct.fit_transfer_function((300 / (1 + 1j * w * .005))[:, None], w)
    assert tau.dtype == h0.dtype == err.dtype == np.float32
    # Python floats: JAX's default float (float64 here)
    assert ct.siegert_rate(.015, .003, .01, .002, .02, .01).dtype == np.float64


def test_network_inputs_and_fixed_point_float32_in_float32_out_with_x64_on():
    """Old code: mean_input, std_input and self_consistent_rates returned float64."""
    p = ct.brunel_parameters(g=5.0, eta=2.0)
    p32 = {k: np.asarray(v, np.float32) for k, v in p.items()}
    args = [p32[k] for k in ("J", "K", "tau_m", "J_ext", "K_ext", "nu_ext")]
    nu = np.float32([10.0, 10.0])
    assert ct.mean_input(nu, *args).dtype == ct.std_input(nu, *args).dtype == np.float32
    fp = ct.self_consistent_rates(**p32)
    assert fp.rates.dtype == fp.mu.dtype == fp.sigma.dtype == np.float32
    want = ct.self_consistent_rates(**p)  # float64 inputs: float64, same rates
    assert want.rates.dtype == np.float64
    np.testing.assert_allclose(np.asarray(fp.rates), np.asarray(want.rates), rtol=1e-5)


# ------------------------------------------------------------------ tolerances, solvers


def test_self_consistent_rates_converge_in_float32():
    """Old code: 1e-7 Hz is below float32's resolution at 29-38 Hz (FixedPointError)."""
    with jax.enable_x64(True) if hasattr(jax, "enable_x64") else float32_mode():
        want = ct.self_consistent_rates(**ct.brunel_parameters(g=4.0, eta=1.0)).rates
    with float32_mode():
        for method in ("newton", "ode"):
            fp = ct.self_consistent_rates(**ct.brunel_parameters(g=4.0, eta=1.0),
                                          method=method)
            np.testing.assert_allclose(np.asarray(fp.rates), np.asarray(want), rtol=1e-4)


def test_parabolic_cylinder_u_bounds_its_work_and_rejects_nan():
    with pytest.raises(ValueError, match=r"`a` and `x` must keep the parabolic cylinder "
                                         r"integration below 1048576 steps"):
        ct.parabolic_cylinder_u(1e8, 1.0)
    with pytest.raises(ValueError, match=r"`a` must contain only finite values"):
        ct.parabolic_cylinder_u(np.nan, 1.0)


def test_transfer_function_bounds_its_work_for_tiny_sigma():
    with pytest.raises(ValueError, match=r"`V_th`, `mu` and `sigma` \(with the threshold "
                       r"shift of `tau_s`, `tau_m`\) must give \|x\| = .* <= 500 in float64"):
        ct.transfer_function(0.01, 1e-9, 0.01, 0.0005, 0.002, 0.015, 0.0,
                             omegas=np.array([0.0, 10.0, 1000.0]))


# ------------------------------------------------------------------ filters


def test_difference_of_gammas_distinguishes_identical_from_unsampled():
    with pytest.raises(ValueError, match=r"`inhib_a`, `inhib_b` must differ from `excit_a`"):
        ct.difference_of_gammas(10, inhib_a=2.0, excit_a=2.0, inhib_b=1.0, excit_b=1.0)
    # different gammas, both 0 at the single sample x = 0: not "identical"
    with pytest.raises(ValueError, match=r"`window_size` must sample the gammas where they "
                                         r"differ; got 1"):
        ct.difference_of_gammas(1, inhib_a=2.0, excit_a=3.0)
