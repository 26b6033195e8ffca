"""Tests of coupling_tutorial.meanfield against independent references.

References: mpmath (40-digit quadrature of the defining Siegert integral, erfc, Dawson,
pcfu, zeta), NNMT 1.3.0 numbers (tests/data/reference_public.json and
tests/data/nnmt_meanfield.npz), scipy (curve_fit), brute-force numpy.
"""

import json

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import coupling_tutorial as ct
from conftest import float32_mode
from coupling_tutorial import meanfield as mf

TAU_M, TAU_R, V_TH, V_R = 0.02, 0.002, 0.02, 0.01


@pytest.fixture(scope="module")
def public(data_dir):
    return json.loads((data_dir / "reference_public.json").read_text())


@pytest.fixture(scope="module")
def nnmt(data_dir):
    path = data_dir / "nnmt_meanfield.npz"
    if not path.exists():
        pytest.skip("tests/data/nnmt_meanfield.npz not present")
    return dict(np.load(path))


def siegert_mp(mu, sigma, tau_m, tau_r, v_th, v_r, dps=30):
    """30-digit quadrature of 1/nu = tau_r + tau_m sqrt(pi) int e^{u^2} erfc(-u) du."""
    with mp.workdps(dps):
        mu, sigma = mp.mpf(mu), mp.mpf(sigma)
        y_th, y_r = (mp.mpf(v_th) - mu) / sigma, (mp.mpf(v_r) - mu) / sigma
        f = lambda u: mp.exp(u * u) * mp.erfc(-u)  # noqa: E731
        pts = mp.linspace(y_r, y_th, 8)
        integral = mp.quad(f, pts)
        return float(1 / (mp.mpf(tau_r) + mp.mpf(tau_m) * mp.sqrt(mp.pi) * integral))


# ------------------------------------------------------------------ special functions
def test_erfcx_matches_mpmath_including_jax_zero_band():
    x = np.concatenate([np.linspace(0, 40, 401), np.linspace(26.5, 26.7, 41),
                        np.linspace(9.1, 9.5, 41), [1e3, 1e6]])
    with mp.workdps(30):
        ref = np.array([float(mp.erfc(mp.mpf(v)) * mp.exp(mp.mpf(v) ** 2)) for v in x])
    got = np.asarray(ct.erfcx(x))
    assert np.max(np.abs(got / ref - 1)) < 4e-15
    assert float(ct.erfcx(1e150)) == pytest.approx(1 / (1e150 * np.sqrt(np.pi)), rel=1e-15)
    band = (x > 26.5) & (x < 26.7)
    assert np.all(got[band] > 0.02)  # jax.scipy.special.erfcx is 0 somewhere here


def test_erfcx_float32_band_and_gradient():
    x = np.linspace(9.1, 9.5, 81)
    with mp.workdps(30):
        ref = np.array([float(mp.erfc(mp.mpf(v)) * mp.exp(mp.mpf(v) ** 2)) for v in x])
    got32 = np.asarray(mf.special._erfcx(jnp.asarray(x, dtype=jnp.float32)))
    assert got32.dtype == np.float32
    assert np.max(np.abs(got32 / ref - 1)) < 1e-6
    grad = jax.vmap(jax.grad(lambda v: ct.erfcx(v)))(jnp.asarray([-3.0, 0.0, 4.0, 26.6, 1e4]))
    v = np.array([-3.0, 0.0, 4.0, 26.6, 1e4])
    expect = 2 * v * np.asarray(ct.erfcx(v)) - 2 / np.sqrt(np.pi)
    np.testing.assert_allclose(np.asarray(grad), expect, rtol=1e-9, atol=1e-14)


def test_dawson_matches_mpmath():
    x = np.concatenate([np.linspace(-3, 3, 241), np.linspace(3, 80, 200), [0.19999, 0.2, 49.99, 50.0, 1e5]])
    x = x[x != 0]
    with mp.workdps(30):
        ref = np.array([float(mp.sqrt(mp.pi) / 2 * mp.exp(-mp.mpf(v) ** 2) * mp.erfi(mp.mpf(v)))
                        for v in x])
    assert np.max(np.abs(np.asarray(ct.dawson(x)) / ref - 1)) < 2e-15


def test_alpha_shift_constant():
    assert abs(ct.ALPHA_SHIFT - float(mp.sqrt(2) * abs(mp.zeta(0.5)))) < 1e-15


# ------------------------------------------------------------------ Siegert rate
def test_siegert_public_reference(public):
    d = public["siegert_delta"]
    got = ct.siegert_rate(np.array(d["mu"]), np.array(d["sigma"]), d["tau_m"], d["tau_r"],
                          d["V_th_rel"], d["V_0_rel"])
    np.testing.assert_allclose(np.asarray(got), d["rate"], rtol=1e-12)


def test_siegert_vs_mpmath_whole_range():
    """1e-170 Hz (mu = 0, sigma = 1 mV) up to the refractory limit, all three regions."""
    cases = [(0.0, 1e-3), (0.0, 2e-3), (0.005, 1e-3), (0.012, 2e-3), (0.019, 5e-4),
             (0.0199, 1e-4), (0.02, 1e-3), (0.0201, 1e-5), (0.015, 0.003), (0.021, 0.0077),
             (0.025, 1e-4), (0.05, 1e-3), (0.2, 0.05), (1.0, 0.01), (0.0, 0.1),
             (0.011, 0.5), (-0.05, 0.01), (0.0105, 1e-3), (0.0099, 1e-3)]
    mu, sigma = map(np.array, zip(*cases))
    got = np.asarray(ct.siegert_rate(mu, sigma, TAU_M, TAU_R, V_TH, V_R))
    ref = np.array([siegert_mp(m, s, TAU_M, TAU_R, V_TH, V_R) for m, s in cases])
    assert ref.min() < 1e-170 and ref.max() > 0.9 / TAU_R * 0.5
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_siegert_nnmt_grid(nnmt):
    tau_m, tau_r, v_th, v_r = nnmt["siegert_params"]
    got = ct.siegert_rate(nnmt["siegert_mu"], nnmt["siegert_sigma"], tau_m, tau_r, v_th, v_r)
    ref = nnmt["siegert_rate"]
    ok = ref > 1e-300
    np.testing.assert_allclose(np.asarray(got)[ok], ref[ok], rtol=1e-9)


def test_siegert_deterministic_limit():
    got = float(ct.siegert_rate(0.025, 1e-4, 0.01, 0.002, 0.02, 0.01))
    det = 1 / (0.002 + 0.01 * np.log((0.025 - 0.01) / (0.025 - 0.02)))
    assert abs(got - 77.011) < 1e-3 and abs(det - 77.005) < 1e-3
    # sigma -> 0 converges to the deterministic rate
    tiny = float(ct.siegert_rate(0.025, 1e-9, 0.01, 0.002, 0.02, 0.01))
    assert abs(tiny / det - 1) < 1e-6


def test_siegert_order_selection_paths_agree():
    rng = np.random.default_rng(0)
    mu = rng.uniform(-0.02, 0.06, 5000)
    sigma = 10 ** rng.uniform(-5, -1, 5000)
    bulk = np.asarray(ct.siegert_rate(mu, sigma, TAU_M, TAU_R, V_TH, V_R))  # bucketed path
    traced = np.asarray(jax.jit(mf.siegert._siegert_core)(mu, sigma, *(np.full(5000, v) for v in
                                                             (TAU_M, TAU_R, V_TH, V_R))))
    assert np.all(np.isfinite(bulk)) and np.all(bulk >= 0)
    ok = traced > 1e-300
    np.testing.assert_allclose(bulk[ok], traced[ok], rtol=1e-12)
    sub = slice(0, 30)
    small = np.asarray(ct.siegert_rate(mu[sub], sigma[sub], TAU_M, TAU_R, V_TH, V_R))
    np.testing.assert_allclose(small, bulk[sub], rtol=1e-12)


def test_siegert_gradients_finite_and_correct():
    mus = jnp.array([0.0, 0.01, 0.0199, 0.02, 0.0201, 0.03, 0.5, -0.1, 0.019, 0.01])
    sigmas = jnp.array([1e-3, 1e-3, 1e-3, 1e-4, 1e-6, 1e-3, 0.05, 0.001, 0.0005, 1.0])
    f = lambda m, s: ct.siegert_rate(m, s, TAU_M, TAU_R, V_TH, V_R)  # noqa: E731
    gm = jax.vmap(jax.grad(f, argnums=0))(mus, sigmas)
    gs = jax.vmap(jax.grad(f, argnums=1))(mus, sigmas)
    assert np.all(np.isfinite(np.asarray(gm))) and np.all(np.isfinite(np.asarray(gs)))
    # against central differences (where the rate is not astronomically small)
    for m, s, dm in zip(np.asarray(mus), np.asarray(sigmas), np.asarray(gm)):
        if float(f(m, s)) < 1e-100:
            continue
        h = 1e-6 * max(s, 1e-4)
        fd = (float(f(m + h, s)) - float(f(m - h, s))) / (2 * h)
        assert abs(dm - fd) <= 1e-5 * abs(fd) + 1e-8, (m, s, dm, fd)


def test_siegert_float32_accuracy():
    mu = np.array([0.005, 0.015, 0.021, 0.025, 0.05])
    sigma = np.array([2e-3, 3e-3, 1e-3, 5e-3, 1e-2])
    ref = np.array([siegert_mp(m, s, TAU_M, TAU_R, V_TH, V_R) for m, s in zip(mu, sigma)])
    with float32_mode():
        got = np.asarray(ct.siegert_rate(mu, sigma, TAU_M, TAU_R, V_TH, V_R))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_exp_synapses_is_shifted_siegert():
    mu, sigma, tau_m, tau_s = 0.012, 0.005, 0.01, 0.0005
    shift = sigma * ct.ALPHA_SHIFT / 2 * np.sqrt(tau_s / tau_m)
    got = float(ct.firing_rate_exp_synapses(mu, sigma, tau_m, tau_s, TAU_R, 0.015, 0.0))
    ref = siegert_mp(mu, sigma, tau_m, TAU_R, 0.015 + shift, shift)
    assert abs(got / ref - 1) < 1e-10
    with pytest.warns(UserWarning, match="fast synapses"):
        ct.firing_rate_exp_synapses(mu, sigma, tau_m, 0.005, TAU_R, 0.015, 0.0)


# ------------------------------------------------------------------ input statistics
def test_input_statistics_brute_force():
    rng = np.random.default_rng(1)
    n, n_ext = 3, 2
    nu, J, K = rng.uniform(0, 10, n), rng.normal(0, 1e-4, (n, n)), rng.integers(0, 500, (n, n))
    J_ext, K_ext, nu_ext = rng.uniform(0, 1e-4, (n, n_ext)), rng.integers(1, 900, (n, n_ext)), rng.uniform(1, 9, n_ext)
    tau = np.array([0.01, 0.02, 0.03])
    mu = sum(K[:, j] * J[:, j] * nu[j] for j in range(n)) + sum(K_ext[:, k] * J_ext[:, k] * nu_ext[k] for k in range(n_ext))
    var = sum(K[:, j] * J[:, j] ** 2 * nu[j] for j in range(n)) + sum(K_ext[:, k] * J_ext[:, k] ** 2 * nu_ext[k] for k in range(n_ext))
    np.testing.assert_allclose(np.asarray(ct.mean_input(nu, J, K, tau, J_ext, K_ext, nu_ext)), tau * mu, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(ct.std_input(nu, J, K, tau, J_ext, K_ext, nu_ext)), np.sqrt(tau * var), rtol=1e-13)
    # elementwise external input (one source per population), scalar rate
    np.testing.assert_allclose(
        np.asarray(ct.mean_input(nu, J, K, 0.01, J_ext[:, 0], K_ext[:, 0], 4.0)),
        0.01 * (np.dot(K * J, nu) + K_ext[:, 0] * J_ext[:, 0] * 4.0), rtol=1e-13)


# ------------------------------------------------------------------ fixed points
def test_brunel_fixed_point_all_methods(public):
    ref = public["brunel2000_g5_eta2"]
    p = ct.brunel_parameters(g=5.0, eta=2.0)
    for method in ("newton", "ode", "lstsq"):
        fp = ct.self_consistent_rates(**p, method=method)
        np.testing.assert_allclose(np.asarray(fp.rates), ref["rate_Hz"], rtol=1e-8)
        if method != "lstsq":
            assert fp.residual < 1e-7 and fp.method == method and fp.stable
            np.testing.assert_allclose(np.asarray(fp.mu), ref["mu_V"], rtol=1e-9)
            np.testing.assert_allclose(np.asarray(fp.sigma), ref["sigma_V"], rtol=1e-9)


def test_lstsq_local_minimum_brunel_g4_eta1(nnmt):
    p = ct.brunel_parameters(g=4.0, eta=1.0)
    with pytest.raises(ct.FixedPointError, match="local minimum") as info:
        ct.self_consistent_rates(**p, method="lstsq", nu0=[1.0, 1.0])
    assert info.value.residual > 0.1  # not a fixed point
    # NNMT's scipy least_squares also stops away from the fixed point
    assert np.max(np.abs(nnmt["brunel41_lstsq_x"] - 28.82)) > 1.0
    for method in ("ode", "newton"):
        fp = ct.self_consistent_rates(**p, method=method, nu0=[1.0, 1.0])
        np.testing.assert_allclose(np.asarray(fp.rates), 28.82, atol=5e-3)
    np.testing.assert_allclose(nnmt["brunel41_ode"], 28.82, atol=5e-3)


def test_microcircuit_fixed_point_vs_nnmt(nnmt):
    p = ct.microcircuit_parameters()
    fp = ct.self_consistent_rates(**p)
    np.testing.assert_allclose(np.asarray(fp.rates), nnmt["mc_rates"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fp.mu), nnmt["mc_mu"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fp.sigma), nnmt["mc_sigma"], rtol=1e-6)
    ode = ct.self_consistent_rates(**p, method="ode")
    np.testing.assert_allclose(np.asarray(ode.rates), np.asarray(fp.rates), rtol=1e-8)


def test_fixed_point_failure_is_reported():
    p = ct.brunel_parameters(g=5.0, eta=2.0)
    with pytest.raises(ct.FixedPointError, match="did not converge in 3 steps"):
        ct.self_consistent_rates(**p, method="ode", max_iter=3)


# ------------------------------------------------------------------ transfer function
def nnmt_formula(mu, sigma, tau_m, tau_s, tau_r, v_th, v_r, omegas):
    """NNMT's shift-method formula evaluated with mpmath.pcfu (as NNMT does)."""
    shift = sigma * ct.ALPHA_SHIFT / 2 * np.sqrt(tau_s / tau_m)
    nu = siegert_mp(mu, sigma, tau_m, tau_r, v_th + shift, v_r + shift)
    x_t, x_r = np.sqrt(2) * (v_th + shift - mu) / sigma, np.sqrt(2) * (v_r + shift - mu) / sigma
    psi = lambda z, x: mp.exp(0.25 * x**2) * mp.pcfu(z, -x)  # noqa: E731
    out = []
    for w in omegas:
        z = -0.5 + 1j * w * tau_m
        frac = ((0.5 + z) * (psi(z + 1, x_t) - psi(z + 1, x_r))) / (psi(z, x_t) - psi(z, x_r))
        out.append(complex(np.sqrt(2) / sigma * nu / (1 + 1j * w * tau_m) * frac / (1 + 1j * w * tau_s)))
    return np.array(out)


@pytest.mark.parametrize("args", [(0.012, 0.004, 0.01, 0.0005, 0.002, 0.015, 0.0),
                                  (0.021, 0.0077, 0.02, 0.0, 0.002, 0.02, 0.01),
                                  (0.03, 0.002, 0.01, 0.0005, 0.002, 0.015, 0.0)])
def test_transfer_function_vs_mpmath_formula(args):
    omegas = 2 * np.pi * np.array([0.1, 10.0, 63.0, 64.0, 300.0, 1000.0])
    got = np.asarray(ct.transfer_function(*args, omegas=omegas))[:, 0]
    np.testing.assert_allclose(got, nnmt_formula(*args, omegas), rtol=1e-9)


def test_transfer_function_vs_nnmt(nnmt):
    p = ct.microcircuit_parameters()
    H = ct.transfer_function(nnmt["mc_mu"], nnmt["mc_sigma"], p["tau_m"], p["tau_s"],
                             p["tau_r"], p["V_th"], p["V_r"], nnmt["tf_omegas"])
    assert H.shape == nnmt["tf_H"].shape == (6, 8)
    np.testing.assert_allclose(np.asarray(H), nnmt["tf_H"], rtol=1e-6)


@pytest.mark.slow
def test_transfer_function_zero_frequency_is_dnu_dmu():
    mu, sigma = np.array([0.012, 0.019, 0.025]), np.array([0.004, 0.002, 0.006])
    dnu = np.asarray(jax.vmap(jax.grad(lambda m, s: ct.siegert_rate(m, s, 0.01, 0.0, 0.015, 0.0)))(
        jnp.asarray(mu), jnp.asarray(sigma)))
    H0 = np.asarray(ct.transfer_function(mu, sigma, 0.01, 0.0, 0.0, 0.015, 0.0, [0.0, 1e-3]))
    np.testing.assert_allclose(H0[0].real, dnu, rtol=1e-10)
    np.testing.assert_allclose(H0[1].real, dnu, rtol=1e-8)
    assert np.max(np.abs(H0[0].imag)) == 0
    # with refractoriness the formula is larger by 1/(1 - nu tau_r)
    tau_r = 0.002
    nu = np.asarray(ct.siegert_rate(mu, sigma, 0.01, tau_r, 0.015, 0.0))
    dnu_r = np.asarray(jax.vmap(jax.grad(lambda m, s: ct.siegert_rate(m, s, 0.01, tau_r, 0.015, 0.0)))(
        jnp.asarray(mu), jnp.asarray(sigma)))
    H0r = np.asarray(ct.transfer_function(mu, sigma, 0.01, 0.0, tau_r, 0.015, 0.0, [0.0]))[0].real
    np.testing.assert_allclose(H0r * (1 - nu * tau_r), dnu_r, rtol=1e-10)


def test_parabolic_cylinder_u_vs_mpmath():
    a, x = [], []
    for re in (-1.5, -0.5, 0.5, 1.5):
        for im in (0.3, 3.0, 20.0, 60.0):
            for xv in (-20.0, -8.0, -2.0, 0.0, 1.5, 5.0, 9.0, 12.0, 20.0):
                a.append(complex(re, im))
                x.append(xv)
    for re in (-3.0, -0.5, 0.5, 2.0):  # real orders, where U is not recessive
        for xv in (0.0, 1.5, 5.0, 12.0):
            a.append(complex(re, 0.0))
            x.append(xv)
    got = np.asarray(ct.parabolic_cylinder_u(np.array(a), np.array(x)))
    ref = np.array([complex(mp.pcfu(av, xv)) for av, xv in zip(a, x)])
    np.testing.assert_allclose(got, ref, rtol=1e-10)


@pytest.mark.slow
def test_fit_transfer_function():
    w = 2 * np.pi * np.linspace(0.5, 300.0, 80)
    H = np.stack([250.0 / (1 + 1j * w * 0.004), 80.0 / (1 + 1j * w * 0.012)], axis=1)
    tau, h0, err = ct.fit_transfer_function(H, w)
    np.testing.assert_allclose(np.asarray(tau), [0.004, 0.012], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(h0), [250.0, 80.0], rtol=1e-10)
    assert np.all(np.asarray(err) < 1e-8)
    # a real transfer function against scipy's curve_fit (NNMT's procedure)
    from scipy.optimize import curve_fit
    p = ct.microcircuit_parameters()
    Hm = np.asarray(ct.transfer_function([0.012, 0.016], [0.004, 0.003], p["tau_m"], p["tau_s"],
                                         p["tau_r"], p["V_th"], p["V_r"], w))
    tau, h0, err = ct.fit_transfer_function(Hm, w)
    for i in range(2):
        f = lambda om, t, h: np.abs(h / (1 + 1j * om * t))  # noqa: E731
        popt, pcov = curve_fit(f, w, np.abs(Hm[:, i]), p0=[0.01, np.abs(Hm[0, i])],
                               ftol=1e-15, xtol=1e-15, gtol=1e-15)
        sd = np.sqrt(np.diag(pcov))
        np.testing.assert_allclose([abs(tau[i]), h0[i]], np.abs(popt), rtol=1e-8)
        np.testing.assert_allclose(err[i], np.hypot(sd[0] / popt[0], sd[1] / popt[1]), rtol=1e-4)
        assert np.sign(tau[i]) == (-1 if Hm[-1, i].imag > 0 else 1)


# ------------------------------------------------------------------ parameter sets
def test_parameter_sets(public):
    p = ct.brunel_parameters(g=6.0, eta=4.0)
    assert p["nu_ext"] == pytest.approx(40.0)
    np.testing.assert_allclose(np.asarray(p["J"]), [[1e-4, -6e-4], [1e-4, -6e-4]])
    mc = public["microcircuit_bos2016_parameters"]
    q = ct.microcircuit_parameters()
    np.testing.assert_array_equal(np.asarray(q["K"]), mc["K"])
    np.testing.assert_array_equal(np.asarray(q["J"]), mc["J_V"])
    np.testing.assert_array_equal(np.asarray(q["K_ext"]), mc["K_ext"])
    assert q["K"][2, 3] == 675.0 and q["K_ext"][2] == 1780.0  # the Bos et al. changes
    assert ct.MICROCIRCUIT_POPULATIONS == tuple(mc["populations"])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(V_th=0.01, V_r=0.02), r"`V_th` must be greater than `V_r`; got V_th = 0.01 <= V_r = 0.02\."),
    (dict(sigma=0.0), r"`sigma` must be positive and finite; got 0.0\."),
    (dict(sigma=-1e-3), r"`sigma` must be positive and finite; got -0.001\."),
    (dict(tau_m=0.0), r"`tau_m` must be positive and finite; got 0.0\."),
    (dict(tau_r=-1e-3), r"`tau_r` must be non-negative and finite; got -0.001\."),
    (dict(mu=np.nan), r"`mu` must contain only finite values; got 1 NaN or inf entry\."),
])
def test_siegert_bad_input(kwargs, match):
    args = dict(mu=0.01, sigma=0.003, tau_m=0.02, tau_r=0.002, V_th=0.02, V_r=0.01)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ct.siegert_rate(**args)


def test_network_bad_input():
    p = ct.brunel_parameters(5.0, 2.0)
    with pytest.raises(ValueError, match=r"`nu` must be non-negative and finite; got -1.0\."):
        ct.mean_input([-1.0, 2.0], p["J"], p["K"], 0.02, p["J_ext"], p["K_ext"], p["nu_ext"])
    with pytest.raises(ValueError, match=r"`K` must have shape \(2, 2\) \(\[post, pre\]"):
        ct.std_input([1.0, 2.0], p["J"], np.ones((3, 3)), 0.02, p["J_ext"], p["K_ext"], p["nu_ext"])
    with pytest.raises(ValueError, match=r"`K` must be non-negative and finite; got -5.0\."):
        ct.mean_input([1.0, 2.0], p["J"], -5 * np.ones((2, 2)), 0.02, p["J_ext"], p["K_ext"], p["nu_ext"])
    with pytest.raises(ValueError, match=r"`K_ext` must be a scalar or have shape \(1,\) or \(2,\)"):
        ct.mean_input([1.0, 2.0], p["J"], p["K"], 0.02, p["J_ext"], [1.0, 2.0, 3.0], p["nu_ext"])
    with pytest.raises(ValueError, match=r"`method` must be one of 'newton', 'ode', 'lstsq'; got 'foo'\."):
        ct.self_consistent_rates(**p, method="foo")
    with pytest.raises(ValueError, match=r"`J` must have shape \(2, 2\)"):
        ct.self_consistent_rates(**{**p, "J": np.ones((3, 3))})
    with pytest.raises(ValueError, match=r"`V_th` must be greater than `V_r`"):
        ct.self_consistent_rates(**{**p, "V_r": 0.03})
    with pytest.raises(ValueError, match=r"`omegas` must be non-negative and finite; got -1.0\."):
        ct.transfer_function(0.01, 0.003, 0.01, 0.0, 0.002, 0.015, 0.0, [-1.0])
    with pytest.raises(ValueError, match=r"`omegas` must have shape \(3,\)"):
        ct.fit_transfer_function(np.ones((3, 2)), [1.0, 2.0])
