"""Tests of coupling_tutorial.lif against independent references.

References: closed forms (deterministic LIF period, exact exponential decay), the Siegert
formula by scipy quadrature (with Siegmund's discrete-time threshold correction), scipy's
Poisson pmf, and a brute-force numpy network simulation that uses the *in-degree* table
(the simulator propagates through the by-source table).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad
from scipy.special import erfcx, zeta

import coupling_tutorial as ct
from coupling_tutorial import _poisson, lif

TAU_M, TAU_R, V_TH, V_R, DT = 20e-3, 2e-3, 20e-3, 10e-3, 1e-4


def siegert(mu, sigma, tau_m, tau_r, V_th, V_r):
    """1/nu = tau_r + tau_m sqrt(pi) int_{y_r}^{y_th} e^{u^2}(1 + erf u) du (scipy quad)."""
    y_th, y_r = (V_th - mu) / sigma, (V_r - mu) / sigma
    integral, _ = quad(lambda u: erfcx(-u), y_r, y_th, epsabs=0.0, epsrel=1e-12)
    return 1.0 / (tau_r + tau_m * math.sqrt(math.pi) * integral)


# --------------------------------------------------------------------------------------
# Single neurons driven by white noise
# --------------------------------------------------------------------------------------
def test_deterministic_limit_matches_period_formula():
    mu, tau_m, t_sim, t_warm = 25e-3, 10e-3, 2.0, 0.1
    res = ct.simulate_lif_neuron(jax.random.key(0), mu, 0.0, tau_m=tau_m, n_neurons=3,
                                 t_sim=t_sim, t_warmup=t_warm)
    # Exact discrete dynamics, by a plain Python loop: clamp 20 steps, then integrate.
    decay, v, ref, count = math.exp(-DT / tau_m), V_R, 0, 0
    n_warm, n_steps = round(t_warm / DT), round((t_warm + t_sim) / DT)
    for t in range(n_steps):
        if ref > 0:
            v, ref = V_R, ref - 1
            continue
        v = mu + (v - mu) * decay
        if v >= V_TH:
            v, ref = V_R, round(TAU_R / DT)
            count += t >= n_warm
    assert np.all(np.asarray(res.spike_counts) == count)
    # Continuous-time closed form: 1/(tau_r + tau_m ln((mu-V_r)/(mu-V_th))) = 77.005 Hz;
    # the discrete period is longer by less than one step.
    nu = 1.0 / (TAU_R + tau_m * math.log((mu - V_R) / (mu - V_TH)))
    assert abs(nu - 77.005) < 1e-3
    period_steps = round(TAU_R / DT) + math.ceil(tau_m * math.log(3.0) / DT)
    assert abs(float(res.rate) - 1.0 / (period_steps * DT)) <= 1.0 / t_sim + 1e-9
    assert 0 < nu - float(res.rate) < nu * DT * nu + 1.0 / t_sim
    assert float(res.rate_sem) == 0.0


def test_noisy_rate_matches_siegert_within_statistical_error():
    mu = np.array([21e-3, 15e-3, 25e-3])
    sigma = np.array([7.7e-3, 4e-3, 2e-3])
    res = ct.simulate_lif_neuron(jax.random.key(0), mu, sigma, n_neurons=2000, t_sim=1.0)
    assert res.rate.shape == (3,) and res.rates.shape == (3, 2000)
    beta = -zeta(0.5) / math.sqrt(2.0 * math.pi)  # 0.5826
    for m, s, rate, sem in zip(mu, sigma, np.asarray(res.rate), np.asarray(res.rate_sem)):
        # Discrete-time threshold detection misses crossings between steps: to first order
        # a threshold raised by beta * sigma * sqrt(dt / tau_m) (Siegmund's correction).
        shifted = siegert(m, s, TAU_M, TAU_R, V_TH + beta * s * math.sqrt(DT / TAU_M), V_R)
        plain = siegert(m, s, TAU_M, TAU_R, V_TH, V_R)
        assert abs(rate - shifted) < 4 * sem, (m, s, rate, shifted, sem)
        assert plain - rate > 5 * sem  # the correction is needed at dt = 0.1 ms
        assert 0 < sem < 0.02 * rate


def test_noisy_rate_converges_to_siegert_as_dt_shrinks():
    m, s = 21e-3, 7.7e-3
    plain = siegert(m, s, TAU_M, TAU_R, V_TH, V_R)  # 37.90 Hz
    res = ct.simulate_lif_neuron(jax.random.key(1), m, s, dt=1e-5, n_neurons=1000,
                                 t_sim=0.5, t_warmup=0.05)
    shift = 0.5826 * s * math.sqrt(1e-5 / TAU_M)
    expected = siegert(m, s, TAU_M, TAU_R, V_TH + shift, V_R)
    assert abs(float(res.rate) - expected) < 4 * float(res.rate_sem)
    assert abs(float(res.rate) - plain) / plain < 0.02


def test_lif_neuron_reproducible_and_key_forms():
    a = ct.simulate_lif_neuron(jax.random.key(3), 18e-3, 5e-3, n_neurons=50, t_sim=0.2)
    b = ct.simulate_lif_neuron(jax.random.PRNGKey(3), 18e-3, 5e-3, n_neurons=50, t_sim=0.2)
    c = ct.simulate_lif_neuron(jax.random.key(4), 18e-3, 5e-3, n_neurons=50, t_sim=0.2)
    np.testing.assert_array_equal(a.spike_counts, b.spike_counts)
    assert not np.array_equal(a.spike_counts, c.spike_counts)


# --------------------------------------------------------------------------------------
# Connectivity
# --------------------------------------------------------------------------------------
def test_fixed_indegree_connectivity():
    n_exc, n_inh, c_exc, c_inh = 200, 50, 20, 5
    conn = ct.fixed_indegree_connectivity(jax.random.key(0), n_exc, n_inh, c_exc, c_inh)
    pre, tg = np.asarray(conn.pre), np.asarray(conn.targets)
    n = n_exc + n_inh
    assert pre.shape == (n, c_exc + c_inh)
    # In-degrees exactly c_exc from E and c_inh from I, for every neuron.
    assert np.all((pre[:, :c_exc] >= 0) & (pre[:, :c_exc] < n_exc))
    assert np.all((pre[:, c_exc:] >= n_exc) & (pre[:, c_exc:] < n))
    assert np.all(np.sum(pre < n_exc, axis=1) == c_exc)
    # Drawn with replacement: some multapses exist (expected ~ n * c^2 / (2 n_exc) ~ 250).
    assert sum(len(row) - len(set(row)) for row in pre.tolist()) > 50
    # The by-source table holds exactly the same synapses (as a multiset).
    assert tg.shape[0] == n + 1 and np.all(tg[n] == n)
    src, col = np.nonzero(tg < n)
    by_source = sorted(zip(src.tolist(), tg[src, col].tolist()))
    by_target = sorted((int(j), i) for i in range(n) for j in pre[i])
    assert by_source == by_target
    np.testing.assert_array_equal(conn.out_degree, np.bincount(pre.ravel(), minlength=n))
    assert tg.shape[1] == int(np.max(conn.out_degree))
    # Padding only after the real targets in each row.
    assert np.all(np.sum(tg[:n] < n, axis=1) == np.asarray(conn.out_degree))
    assert np.all(np.diff((tg[:n] == n).astype(int), axis=1) >= 0)
    # Uniform sources: out-degree mean n * c / n_pop for both populations.
    assert np.asarray(conn.out_degree).mean() == pytest.approx(c_exc + c_inh)


# --------------------------------------------------------------------------------------
# Network dynamics
# --------------------------------------------------------------------------------------
SMALL = dict(n_exc=80, n_inh=20, c_exc=8, c_inh=2)


def test_membrane_decays_exactly_without_input():
    v0 = np.linspace(-5e-3, 19e-3, 100)
    res = ct.simulate_brunel(jax.random.key(0), g=5.0, eta=0.0, **SMALL, t_sim=0.05,
                             t_warmup=0.0, v_init=v0, record_v=np.arange(100))
    assert res.spike_counts.sum() == 0
    steps = np.arange(1, 501)[:, None]
    np.testing.assert_allclose(res.v_trace, v0 * np.exp(-steps * DT / TAU_M),
                               rtol=1e-13, atol=1e-20)


def test_spike_arrives_exactly_after_the_delay():
    g, J, delay = 4.0, 0.1e-3, 1.5e-3
    conn = ct.fixed_indegree_connectivity(jax.random.key(5), **SMALL)
    n = 100
    v0 = np.zeros(n)
    v0[[3, 85]] = 2 * V_TH  # one excitatory and one inhibitory neuron fire at step 0
    res = ct.simulate_brunel(jax.random.key(0), g=g, eta=0.0, J=J, delay=delay,
                             connectivity=conn, t_sim=0.004, t_warmup=0.0, v_init=v0,
                             record_v=np.arange(n))
    d = round(delay / DT)
    pre = np.asarray(conn.pre)
    jump = J * np.sum(pre == 3, axis=1) - g * J * np.sum(pre == 85, axis=1)
    others = np.setdiff1d(np.arange(n), [3, 85])
    assert np.all(res.v_trace[:d, others] == 0.0)  # nothing arrives before the delay
    np.testing.assert_allclose(res.v_trace[d, others], jump[others], rtol=1e-14, atol=0)
    assert np.count_nonzero(jump[others]) > 5
    np.testing.assert_allclose(res.v_trace[d + 5, others],
                               jump[others] * math.exp(-5 * DT / TAU_M), rtol=1e-13)
    assert res.spike_counts[3] == 1 and res.spike_counts[85] == 1
    assert res.spike_times.tolist() == [DT, DT] and res.spike_ids.tolist() == [3, 85]


def _numpy_brunel(pre, n_exc, g, J, v0, ext, decay, d, ref_steps):
    """Brute force: every step each neuron sums its in-degree list's delayed spikes."""
    n_steps, n = ext.shape
    w = np.where(np.arange(n) < n_exc, J, -g * J)
    V, ref = v0.copy(), np.zeros(n, int)
    spikes = np.zeros((n_steps, n), bool)
    trace = np.empty((n_steps, n))
    for t in range(n_steps):
        syn = (w[pre] * spikes[t - d][pre]).sum(axis=1) if t >= d else 0.0
        active = ref == 0
        V = np.where(active, V * decay + syn + ext[t], V_R)
        ref = np.where(active, ref, ref - 1)
        s = active & (V >= V_TH)
        V[s] = V_R
        ref[s] = ref_steps
        spikes[t], trace[t] = s, V
    return spikes, trace


@pytest.mark.parametrize("segment", [None, 7, 250])  # one scan, or split into segments
def test_network_matches_brute_force_numpy_reference(segment, monkeypatch):
    if segment is not None:
        monkeypatch.setattr(lif.brunel, "_SEGMENT_STEPS", segment)
    g, J = 4.5, 0.4e-3
    conn = ct.fixed_indegree_connectivity(jax.random.key(7), **SMALL)
    rng = np.random.default_rng(0)
    n_steps, n = 600, 100
    ext = J * rng.poisson(1.4, size=(n_steps, n)).astype(float)  # strong drive, many spikes
    v0 = rng.uniform(V_R, V_TH, n)
    res = ct.simulate_brunel(jax.random.key(0), g=g, eta=1.0, J=J, connectivity=conn,
                             t_sim=n_steps * DT, t_warmup=0.0, v_init=v0,
                             external_input=ext, record_v=np.arange(n))
    spikes, trace = _numpy_brunel(np.asarray(conn.pre), 80, g, J, v0, ext,
                                  math.exp(-DT / TAU_M), 15, 20)
    assert spikes.sum() > 500
    np.testing.assert_allclose(res.v_trace, trace, rtol=0, atol=1e-15)
    step, ids = np.nonzero(spikes)
    np.testing.assert_array_equal(res.spike_ids, ids)
    np.testing.assert_allclose(res.spike_times, (step + 1) * DT, rtol=1e-12)
    np.testing.assert_array_equal(res.spike_counts, spikes.sum(0))
    assert res.rate_exc == pytest.approx(spikes[:, :80].sum() / (80 * n_steps * DT))
    np.testing.assert_allclose(res.population_rate, spikes.sum(1) / (n * DT))
    np.testing.assert_allclose(res.population_rate_inh, spikes[:, 80:].sum(1) / (20 * DT))


def test_segmented_run_with_warmup_is_identical(monkeypatch):
    kw = dict(g=5.0, eta=2.0, n_exc=400, n_inh=100, t_sim=0.05, t_warmup=0.013,
              record_v=[0, 450], max_spikes_per_step=3)
    with pytest.warns(UserWarning, match="spikes were not recorded"):
        a = ct.simulate_brunel(jax.random.key(3), **kw)
    monkeypatch.setattr(lif.brunel, "_SEGMENT_STEPS", 97)  # 630 steps -> 7 segments of 90
    with pytest.warns(UserWarning, match="spikes were not recorded"):
        b = ct.simulate_brunel(jax.random.key(3), **kw)
    for name in ("spike_counts", "spike_times", "spike_ids", "population_rate", "v_trace"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_spikes_dropped == b.n_spikes_dropped > 0
    assert a.v_trace.shape == (630, 2) and a.spike_times.min() > 0.013


def test_refractory_clamp_and_minimum_isi():
    rng = np.random.default_rng(1)
    J, n_steps = 0.3e-3, 3000
    ext = J * rng.poisson(1.0, size=(n_steps, 100)).astype(float)
    ext[:, :5] += 1.0  # neurons 0-4 are driven far above threshold: they fire at max rate
    res = ct.simulate_brunel(jax.random.key(2), g=3.0, eta=1.0, **SMALL, J=J,
                             t_sim=n_steps * DT, t_warmup=0.0, external_input=ext,
                             record_v=np.arange(100))
    ref_steps = round(TAU_R / DT)
    assert res.spike_counts[5:].sum() > 1000
    isis = []
    for i in range(100):
        times = res.spike_times[res.spike_ids == i]
        isis.append(np.diff(times))
        for t in np.round(times / DT).astype(int) - 1:  # step index of each spike
            clamp = res.v_trace[t: t + ref_steps + 1, i]
            assert np.all(clamp == V_R)  # reset, then clamped for tau_r (input ignored)
    isis = np.concatenate(isis)
    assert isis.min() >= TAU_R + DT - 1e-12
    # The driven neurons fire exactly once every tau_r + dt.
    np.testing.assert_allclose(np.concatenate([np.diff(res.spike_times[res.spike_ids == i])
                                               for i in range(5)]), TAU_R + DT, rtol=1e-9)
    assert res.spike_counts[0] == n_steps // (ref_steps + 1) + (n_steps % 21 > 0)


@pytest.mark.parametrize("eta", [2.0, 100.0])  # table inversion / jax.random.poisson
def test_external_poisson_drive_statistics(eta):
    # Start far below threshold: no spikes, and the increments reveal the external counts.
    c_exc = 10
    res = ct.simulate_brunel(jax.random.key(4), g=5.0, eta=eta, n_exc=40, n_inh=10,
                             c_exc=c_exc, c_inh=1, t_sim=0.03, t_warmup=0.0,
                             v_init=np.full(50, -20.0), record_v=np.arange(50))
    assert res.spike_counts.sum() == 0
    nu_thr = V_TH / (0.1e-3 * c_exc * TAU_M)  # 1000 Hz
    assert res.nu_thr == pytest.approx(nu_thr) and res.nu_ext == pytest.approx(eta * nu_thr)
    v = res.v_trace
    inc = (v[1:] - v[:-1] * math.exp(-DT / TAU_M)) / 0.1e-3
    counts = np.round(inc).astype(int).ravel()
    np.testing.assert_allclose(inc.ravel(), counts, atol=1e-8)
    lam = c_exc * eta * nu_thr * DT  # = eta
    lo, hi = max(0, int(lam - 3 * math.sqrt(lam))), int(lam + 3 * math.sqrt(lam)) + 1
    k = np.arange(lo, hi + 1)
    observed = np.bincount(np.clip(counts, lo, hi) - lo, minlength=k.size)
    expected = stats.poisson.pmf(k, lam) * counts.size
    expected[0] = stats.poisson.cdf(lo, lam) * counts.size
    expected[-1] = stats.poisson.sf(hi - 1, lam) * counts.size
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.ppf(0.999, df=k.size - 1)
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / counts.size)
    assert abs(counts.var() / lam - 1.0) < 5 * math.sqrt(2.0 / counts.size)


@pytest.mark.parametrize("lam", [0.02, 2.0, 350.0])
def test_poisson_inversion_table(lam):
    k_lo, cdf = _poisson._poisson_cdf_table(lam)
    n = 200_000
    x = np.asarray(_poisson._poisson_counts(jax.random.key(0), (n,), k_lo, jnp.asarray(cdf),
                                       jnp.float64))
    assert 1.0 - cdf[-1] < 1e-15
    assert stats.poisson.cdf(k_lo - 1, lam) < 1e-20
    assert abs(x.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(x.var() / lam - 1.0) < 5 * math.sqrt(2.0 / n)
    ks = np.arange(max(k_lo, int(lam - 3 * math.sqrt(lam))), int(lam + 3 * math.sqrt(lam)) + 1)
    p = stats.poisson.pmf(ks, lam)
    freq = np.array([(x == kk).mean() for kk in ks])
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p / n) + 1e-9)


def test_reproducible_from_key_and_recording_cap():
    kw = dict(g=4.0, eta=2.0, n_exc=400, n_inh=100, t_sim=0.1, t_warmup=0.02)
    a = ct.simulate_brunel(jax.random.key(9), **kw)
    b = ct.simulate_brunel(jax.random.PRNGKey(9), **kw)
    c = ct.simulate_brunel(jax.random.key(10), **kw)
    assert a.spike_ids.size > 1000 and a.n_spikes_dropped == 0
    np.testing.assert_array_equal(a.spike_ids, b.spike_ids)
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert not np.array_equal(a.spike_counts, c.spike_counts)
    with pytest.warns(UserWarning, match="spikes were not recorded"):
        d = ct.simulate_brunel(jax.random.key(9), **kw, max_spikes_per_step=1)
    assert d.n_spikes_dropped == a.spike_ids.size - d.spike_ids.size > 0
    assert d.rate_exc == a.rate_exc  # recording never changes the dynamics
    np.testing.assert_array_equal(a.spike_counts,
                                  np.bincount(a.spike_ids, minlength=500))
    e = ct.simulate_brunel(jax.random.key(9), **kw, record_spikes=False, bin_size=1e-3)
    assert e.spike_ids.size == 0 and e.population_rate.shape == (100,)
    np.testing.assert_allclose(e.population_rate,
                               a.population_rate.reshape(100, 10).mean(1), rtol=1e-12)
    assert e.bin_times[0] == pytest.approx(0.02) and e.bin_size == pytest.approx(1e-3)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(key=0), r"`key` must be a JAX PRNG key"),
    (dict(key=np.zeros(2, np.float32)), r"`key` must be a JAX PRNG key"),
    (dict(V_th=10e-3), r"`V_th` must be greater than `V_r` \(0\.01\); got 0\.01\."),
    (dict(g=-1.0), r"`g` must be non-negative and finite; got -1\.0\."),
    (dict(J=0.0), r"`J` must be positive and finite; got 0\.0\."),
    (dict(delay=1.55e-3), r"`delay` must be a multiple of `dt` \(0\.0001\); got 0\.00155\."),
    (dict(delay=1e-5), r"`delay` must be at least one time step"),
    (dict(tau_r=2.05e-3), r"`tau_r` must be a multiple of `dt`"),
    (dict(n_exc=0), r"`n_exc` must be an integer >= 1; got 0\."),
    (dict(v_init=np.zeros(7)), r"`v_init` must have shape \(100,\); got shape \(7,\)\."),
    (dict(external_input=np.zeros((3, 100))),
     r"`external_input` must have shape \(600, 100\)"),
    (dict(record_v=[100]), r"`record_v` must be neuron indices in \[0, 100\)"),
    (dict(connectivity="dense"), r"`connectivity` must be a Connectivity"),
    (dict(bin_size=1.0), r"`bin_size` must be at most `t_sim`"),
])
def test_simulate_brunel_bad_input(kwargs, match):
    args = dict(key=jax.random.key(0), g=5.0, eta=2.0, **SMALL, t_sim=0.05, t_warmup=0.01)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ct.simulate_brunel(**args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=-1e-3), r"`sigma` must be non-negative and finite; got -0\.001\."),
    (dict(mu=np.nan), r"`mu` must contain only finite values"),
    (dict(sigma=np.ones(3), mu=np.ones(2)), r"`sigma` must broadcast against `mu`"),
    (dict(tau_m=0.0), r"`tau_m` must be positive and finite; got 0\.0\."),
    (dict(V_r=0.03), r"`V_th` must be greater than `V_r` \(0\.03\); got 0\.02\."),
    (dict(n_neurons=0), r"`n_neurons` must be an integer >= 1; got 0\."),
    (dict(key=jax.random.split(jax.random.key(0))), r"`key` must be a single PRNG key"),
])
def test_simulate_lif_neuron_bad_input(kwargs, match):
    args = dict(key=jax.random.key(0), mu=15e-3, sigma=5e-3, n_neurons=10, t_sim=0.01)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ct.simulate_lif_neuron(**args)


def test_connectivity_bad_input():
    with pytest.raises(ValueError, match=r"`c_inh` must be an integer >= 0; got -1\."):
        ct.fixed_indegree_connectivity(jax.random.key(0), 10, 5, 2, -1)
    with pytest.raises(ValueError, match=r"`n_inh` must be an integer >= 1; got 2\.5\."):
        ct.fixed_indegree_connectivity(jax.random.key(0), 10, 2.5, 2, 1)


def test_network_rate_matches_mean_field():
    # 2000 E + 500 I, C_E = 200, C_I = 50, J = 0.1 mV, g = 5, eta = 2: the self-consistent
    # Siegert rate (scipy, below) is 75.32 Hz; finite-size effects are < 1 % at this size.
    from scipy.optimize import brentq

    g, eta, J, c_exc, c_inh = 5.0, 2.0, 0.1e-3, 200, 50
    nu_ext = eta * V_TH / (J * c_exc * TAU_M)

    def phi(nu):
        mu = J * c_exc * TAU_M * (nu_ext + nu * (1 - g * c_inh / c_exc))
        sigma = math.sqrt(J**2 * c_exc * TAU_M * (nu_ext + nu * (1 + g**2 * c_inh / c_exc)))
        return siegert(mu, sigma, TAU_M, TAU_R, V_TH, V_R)

    nu_mf = brentq(lambda nu: phi(nu) - nu, 1.0, 400.0, xtol=1e-10)
    assert nu_mf == pytest.approx(75.32, abs=0.01)
    res = ct.simulate_brunel(jax.random.key(0), g, eta, n_exc=2000, n_inh=500, t_sim=0.3,
                             t_warmup=0.1, record_spikes=False)
    assert abs(res.rate_exc - nu_mf) / nu_mf < 0.02, (res.rate_exc, nu_mf)
    assert abs(res.rate_inh - nu_mf) / nu_mf < 0.02, (res.rate_inh, nu_mf)
