"""Tests for coupling_tutorial.linear_response against brute force and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import coupling_tutorial as ct


# --------------------------------------------------------------------------------------
# independent references (plain numpy)
# --------------------------------------------------------------------------------------
def brute_xcov(x, max_lag, unbiased=True):
    """Double loop over lags and time: C[L + tau, i, j] = mean_t xc_i(t+tau) xc_j(t)."""
    x = np.asarray(x, float)
    n, N = x.shape
    xc = x - x.mean(0)
    out = np.zeros((2 * max_lag + 1, N, N))
    for k, tau in enumerate(range(-max_lag, max_lag + 1)):
        for i in range(N):
            for j in range(N):
                s = 0.0
                for t in range(n):
                    if 0 <= t + tau < n:
                        s += xc[t + tau, i] * xc[t, j]
                out[k, i, j] = s / ((n - abs(tau)) if unbiased else n)
    return out


def ma_covariance(G, nu, max_lag, n_terms=3000):
    """C[tau] = sum_k A_{k+tau} D A_k^T from the impulse response A of the VAR process."""
    G = np.asarray(G)
    W, N, _ = G.shape
    A = [np.eye(N)]
    for k in range(1, n_terms + max_lag):
        A.append(sum(G[l] @ A[k - 1 - l] for l in range(W) if k - 1 - l >= 0))
    D = np.diag(nu)
    pos = np.array([sum(A[k + tau] @ D @ A[k].T for k in range(n_terms))
                    for tau in range(max_lag + 1)])
    neg = np.transpose(pos[1:][::-1], (0, 2, 1))
    return np.concatenate([neg, pos])


def random_kernel(seed, W=4, N=3, scale=0.15, signed=True):
    rng = np.random.default_rng(seed)
    G = rng.normal(0, scale, (W, N, N)) if signed else rng.uniform(0, 0.5 * scale, (W, N, N))
    return G


# --------------------------------------------------------------------------------------
# empirical covariance
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fft", "direct", "auto"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_empirical_covariance_matches_brute_force(method, unbiased):
    x = np.asarray(jax.random.poisson(jax.random.key(0), 0.7, (97, 3)))
    got = np.asarray(ct.empirical_covariance(x, 6, unbiased=unbiased, method=method))
    want = brute_xcov(x, 6, unbiased)
    assert got.shape == (13, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_empirical_covariance_1d_full_range_and_symmetry():
    x = np.asarray(jax.random.poisson(jax.random.key(1), 1.3, (40,)))
    got = np.asarray(ct.empirical_covariance(x, 39, method="fft"))
    np.testing.assert_allclose(got, brute_xcov(x[:, None], 39), rtol=1e-11, atol=1e-12)
    y = np.asarray(jax.random.poisson(jax.random.key(2), 0.4, (300, 4)))
    C = np.asarray(ct.empirical_covariance(y, 20))
    np.testing.assert_allclose(C, np.transpose(C[::-1], (0, 2, 1)), atol=1e-15)  # C_ij[t]=C_ji[-t]


def test_correlation_coefficients_match_numpy_corrcoef():
    x = np.array(jax.random.poisson(jax.random.key(3), 0.5, (500, 4)))
    x[1:, 2] += x[:-1, 0]  # some correlation
    rho = np.asarray(ct.correlation_coefficients(ct.empirical_covariance(x, 3)))
    np.testing.assert_allclose(rho[3], np.corrcoef(x.T), rtol=1e-12)
    assert np.allclose(np.diagonal(rho[3]), 1.0)
    C = brute_xcov(x, 3)
    np.testing.assert_allclose(rho[4, 2, 0], C[4, 2, 0] / np.sqrt(C[3, 2, 2] * C[3, 0, 0]))


# --------------------------------------------------------------------------------------
# theory: closed forms and brute force
# --------------------------------------------------------------------------------------
def test_two_neuron_case_by_hand():
    """Neuron 1 drives neuron 0 with weight g one bin later: everything has a closed form."""
    g, nu = 0.6, np.array([0.1, 0.25])
    G = np.zeros((1, 2, 2))
    G[0, 0, 1] = g
    w = np.linspace(-np.pi, np.pi, 17)
    S = np.asarray(ct.cross_spectrum(G, nu, w))
    e = np.exp(-1j * w)
    want = np.empty((17, 2, 2), complex)
    want[:, 0, 0] = nu[0] + g ** 2 * nu[1]
    want[:, 0, 1] = g * e * nu[1]
    want[:, 1, 0] = g * np.conj(e) * nu[1]
    want[:, 1, 1] = nu[1]
    np.testing.assert_allclose(S, want, atol=1e-15)
    for method in ("exact", "fft"):
        C = np.asarray(ct.predicted_covariance(G, nu, 3, method=method))
        want_c = np.zeros((7, 2, 2))
        want_c[3] = [[nu[0] + g ** 2 * nu[1], 0.0], [0.0, nu[1]]]
        want_c[4, 0, 1] = g * nu[1]      # x0(t+1) copies x1(t)
        want_c[2, 1, 0] = g * nu[1]      # the same pair seen from the other side
        np.testing.assert_allclose(C, want_c, atol=1e-14)


def test_single_neuron_ar1_closed_form():
    a, nu = 0.7, 0.3
    G = np.full((1, 1, 1), a)
    w = np.linspace(0, np.pi, 9)
    S = np.asarray(ct.cross_spectrum(G, [nu], w))[:, 0, 0]
    np.testing.assert_allclose(S, nu / np.abs(1 - a * np.exp(-1j * w)) ** 2, rtol=1e-13)
    C = np.asarray(ct.predicted_covariance(G, [nu], 10))[:, 0, 0]
    taus = np.arange(-10, 11)
    np.testing.assert_allclose(C, nu * a ** np.abs(taus) / (1 - a ** 2), rtol=1e-12)


def test_uncoupled_neuron_is_poisson_delta():
    for W in (1, 5):
        C = np.asarray(ct.predicted_covariance(np.zeros((W, 1, 1)), [0.42], 4))
        assert C[4, 0, 0] == pytest.approx(0.42, abs=1e-15)
        assert np.all(np.abs(np.delete(C[:, 0, 0], 4)) < 1e-15)
        S = np.asarray(ct.cross_spectrum(np.zeros((W, 1, 1)), [0.42], np.linspace(0, 3, 5)))
        np.testing.assert_allclose(S, 0.42, atol=1e-15)


@pytest.mark.parametrize("seed,signed", [(0, True), (1, True), (2, False)])
def test_predicted_covariance_matches_impulse_response_sum(seed, signed):
    G = random_kernel(seed, signed=signed)
    rho = ct.spectral_radius(G)
    assert rho < 0.9
    nu = np.array([0.2, 0.5, 0.1])
    want = ma_covariance(G, nu, 12)
    exact = np.asarray(ct.predicted_covariance(G, nu, 12))
    fft = np.asarray(ct.predicted_covariance(G, nu, 12, method="fft"))
    np.testing.assert_allclose(exact, want, atol=1e-13)
    np.testing.assert_allclose(fft, want, atol=1e-13)
    np.testing.assert_allclose(exact, np.transpose(exact[::-1], (0, 2, 1)), atol=1e-15)
    # the spectrum is the Fourier series of the covariance function
    C_long = np.asarray(ct.predicted_covariance(G, nu, 400))
    w = np.array([0.0, 0.4, 2.0, np.pi])
    series = np.einsum("wt,tij->wij", np.exp(-1j * w[:, None] * np.arange(-400, 401)), C_long)
    np.testing.assert_allclose(np.asarray(ct.cross_spectrum(G, nu, w)), series, atol=1e-12)


def test_fft_aliasing_with_too_few_frequencies_is_visible():
    G = np.full((1, 1, 1), 0.9)
    exact = np.asarray(ct.predicted_covariance(G, [1.0], 5))
    coarse = np.asarray(ct.predicted_covariance(G, [1.0], 5, method="fft", n_freq=16))
    # periodic sum: C[tau] + C[tau - 16] + C[tau + 16] + ...  = ratio 1 + 2 a^16 / (1 - a^16)...
    want0 = (1 / (1 - 0.81)) * (1 + 2 * 0.9 ** 16 / (1 - 0.9 ** 16))
    assert coarse[5, 0, 0] == pytest.approx(want0, rel=1e-12)
    assert abs(coarse[5, 0, 0] - exact[5, 0, 0]) > 0.5


def test_spectral_radius_companion_and_hawkes_condition():
    # scalar two-lag case: largest root of z^2 - g0 z - g1
    G = np.array([[[0.5]], [[-0.4]]])
    roots = np.roots([1, -0.5, 0.4])
    assert ct.spectral_radius(G) == pytest.approx(np.max(np.abs(roots)), rel=1e-13)
    # non-negative kernels: stable iff the spectral radius of sum_l G[l] is below 1
    for target in (0.9, 1.1):
        G = random_kernel(5, W=3, N=4, signed=False)
        G *= target / np.max(np.abs(np.linalg.eigvals(G.sum(0))))
        assert (ct.spectral_radius(G) < 1) == (target < 1)
    # with inhibition the branching ratio of sum G does not decide: sum G = 0 here
    G = np.array([[[1.5]], [[-1.5]]])
    assert np.max(np.abs(G.sum(0))) == 0 and ct.spectral_radius(G) > 1


def test_unstable_kernel_raises():
    G = np.full((2, 1, 1), 0.6)
    msg = r"`kernel` must describe a stable linear system .* got spectral radius 1\.13066\. "
    with pytest.raises(ValueError, match=msg):
        ct.cross_spectrum(G, [0.1], [0.0])
    with pytest.raises(ValueError, match=msg):
        ct.predicted_covariance(G, [0.1], 3)


# --------------------------------------------------------------------------------------
# stationary rates and the network's filters
# --------------------------------------------------------------------------------------
def small_net(r=0.3, b=-2.0, N=8, seed=0, T=6):
    W0 = ct.normal_network(jax.random.key(seed), N, std=1.0, density=0.4, glorot=True)
    return ct.PoissonGLMNetwork(W0, alpha=1.5, beta=0.8, T=T, tau=3.0, dt=1.0, r=r, b=b)


def test_network_filters_reproduce_network_rate():
    net = small_net(b=jnp.linspace(-2.0, -1.0, 8))
    h, nu0 = ct.network_filters(net)
    hist = np.asarray(jax.random.poisson(jax.random.key(4), 1.0, (net.T, 8)))
    # row 0 of the filters is the most recent bin = last row of the history
    mu = np.asarray(nu0) * np.exp(np.einsum("lij,lj->i", np.asarray(h), hist[::-1]))
    np.testing.assert_allclose(mu, np.asarray(ct.network_rate(net, hist)), rtol=1e-13)
    with pytest.raises(ValueError, match=r"`net` must be a PoissonGLMNetwork; got"):
        ct.network_filters(h)


def test_stationary_rates_solve_the_rate_equation():
    net = small_net(r=1.0)
    h, nu0 = ct.network_filters(net)
    res = ct.stationary_rates(h, nu0)
    assert res.converged and res.residual < 1e-12 and res.n_iter < 20
    H = np.asarray(h).sum(0)
    ref = optimize.fsolve(lambda x: x - np.log(nu0) - H @ np.exp(x), np.log(nu0), xtol=1e-14)
    np.testing.assert_allclose(res.rates, np.exp(ref), rtol=1e-11)
    # the same fixed point as the simulation module's damped iteration (no fluctuations)
    mf = ct.mean_field_rate(net, n_iter=2000, fluctuations=False)
    np.testing.assert_allclose(res.rates, mf, rtol=1e-10)
    # the network parameters enter as documented
    c1 = float(net.kernel().sum())
    W0 = np.asarray(net.dense_W0())
    rhs = net.dt / net.alpha * np.exp(net.beta * (net.r * c1 * W0.T @ np.asarray(res.rates)
                                                  + net.b))
    np.testing.assert_allclose(res.rates, rhs, rtol=1e-12)


def test_runaway_reports_no_convergence_and_linearize_raises():
    h = np.full((1, 1, 1), 3.0)          # nu = 0.5 exp(3 nu): no solution
    res = ct.stationary_rates(h, [0.5])
    assert not res.converged
    with pytest.raises(RuntimeError, match=r"No stationary rates found: Newton's method"):
        ct.linearize(h, [0.5])


def test_linear_kernel_and_linearize_network():
    net = small_net(r=0.5)
    lin = ct.linearize_network(net)
    h, _ = ct.network_filters(net)
    np.testing.assert_allclose(lin.kernel, np.asarray(lin.rates)[None, :, None] * np.asarray(h))
    # numerical derivative of the expected count w.r.t. one past count at the fixed point
    # derivative of the expected count w.r.t. each past count at the fixed point (autodiff
    # through the simulator's own rate function; history rows: last = most recent)
    hist = jnp.tile(lin.rates, (net.T, 1))
    jac = np.asarray(jax.jacfwd(lambda h: ct.network_rate(net, h))(hist))  # (i, row, j)
    want = np.transpose(jac, (1, 0, 2))[::-1]                              # (lag, i, j)
    np.testing.assert_allclose(lin.kernel, want, rtol=1e-12, atol=1e-15)
    assert lin.spectral_radius == pytest.approx(ct.spectral_radius(lin.kernel))


# --------------------------------------------------------------------------------------
# simulations converge to the theory
# --------------------------------------------------------------------------------------
def simulate_linear_hawkes(G, nu, n, seed):
    """x(t) ~ Poisson(nu + sum_l G[l] (x(t-1-l) - nu)): the linear model, exactly."""
    rng = np.random.default_rng(seed)
    W, N, _ = G.shape
    x = np.tile(nu, (n + W, 1)).round()
    dev = np.zeros((n + W, N))
    for t in range(W, n + W):
        lam = nu + np.einsum("lij,lj->i", G, dev[t - 1::-1][:W])
        assert np.all(lam > 0)
        x[t] = rng.poisson(lam)
        dev[t] = x[t] - nu
    return x[W:]


def test_linear_hawkes_simulation_matches_theory():
    G = np.zeros((3, 3, 3))
    G[:, 1, 0] = [0.3, 0.15, 0.05]      # 0 -> 1 excitatory
    G[:, 2, 1] = [-0.1, -0.05, 0.0]     # 1 -> 2 inhibitory
    G[:, 0, 2] = [0.1, 0.1, 0.1]        # 2 -> 0
    nu = np.array([0.8, 1.0, 1.2])
    n = 100_000
    x = simulate_linear_hawkes(G, nu, n, seed=0)
    emp = np.asarray(ct.empirical_covariance(x, 8))
    th = np.asarray(ct.predicted_covariance(G, nu, 8))
    sd = np.sqrt(np.outer(np.diag(th[8]), np.diag(th[8])) / n)  # sd of each estimate
    z = np.abs(emp - th) / sd[None]
    assert z.max() < 5, z.max()
    assert np.abs(x.mean(0) - nu).max() < 5 * np.sqrt(th[8].diagonal().max() * 3 / n)


@pytest.mark.slow
def test_weakly_coupled_glm_network_matches_theory():
    net = small_net(r=0.4, b=-1.0, N=6, seed=3, T=4)
    lin = ct.linearize_network(net)
    assert lin.spectral_radius < 0.5
    n = 100_000
    x = np.asarray(ct.simulate_network(net, jax.random.key(7), n, burn_in=100))
    emp = np.asarray(ct.empirical_covariance(x, 6))
    th = np.asarray(ct.predicted_covariance(lin.kernel, lin.rates, 6))
    sd = np.sqrt(np.outer(np.diag(emp[6]), np.diag(emp[6])) / n)
    off = emp.copy()
    off[6][np.diag_indices(6)] = th[6].diagonal()  # variances: tested separately below
    assert (np.abs(off - th) / sd[None]).max() < 6
    # rates and variances to second order in the coupling: a few per cent
    np.testing.assert_allclose(x.mean(0), lin.rates, rtol=0.05)
    np.testing.assert_allclose(np.diagonal(emp[6]), np.diagonal(th[6]), rtol=0.06)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
def test_bad_input_messages():
    G = np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match=r"`filters` must be 3-D; got a 2-D array"):
        ct.stationary_rates(np.zeros((2, 2)), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"`filters` must have shape \(window_size, n_neurons, "
                                         r"n_neurons\) \(a network: receivers = senders\); "
                                         r"got shape \(2, 2, 3\)\."):
        ct.linearize(np.zeros((2, 2, 3)), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"`baseline_rates` must have shape \(2,\) \(one entry "
                                         r"per neuron\); got shape \(3,\)\."):
        ct.stationary_rates(G, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`baseline_rates` must be positive and finite; got 0\.0"):
        ct.stationary_rates(G, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"`rates` must be positive and finite; got -0\.1"):
        ct.cross_spectrum(G, [0.1, -0.1], [0.0])
    with pytest.raises(ValueError, match=r"`kernel` must contain only finite values; got 1 NaN"):
        ct.predicted_covariance(np.where(np.arange(8).reshape(2, 2, 2) == 3, np.nan, 0.0),
                                [1.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"`max_lag` must be an integer >= 0; got -1\."):
        ct.predicted_covariance(G, [1.0, 1.0], -1)
    with pytest.raises(ValueError, match=r"`method` must be 'exact' or 'fft'; got 'welch'\."):
        ct.predicted_covariance(G, [1.0, 1.0], 2, method="welch")
    with pytest.raises(ValueError, match=r"`n_freq` must be an integer >= 5; got 4\."):
        ct.predicted_covariance(G, [1.0, 1.0], 2, method="fft", n_freq=4)
    with pytest.raises(ValueError, match=r"`max_lag` must be smaller than the number of "
                                         r"samples \(10\); got 10\."):
        ct.empirical_covariance(np.zeros((10, 2)), 10)
    with pytest.raises(ValueError, match=r"`counts` must hold non-negative spike counts"):
        ct.empirical_covariance(-np.ones((10, 2)), 2)
    with pytest.raises(ValueError, match=r"`counts` must hold integer spike counts"):
        ct.empirical_covariance(np.full((10, 2), 0.5), 2)
    with pytest.raises(ValueError, match=r"`method` must be 'auto', 'fft' or 'direct'; got 'x'\."):
        ct.empirical_covariance(np.ones((10, 2)), 2, method="x")
    with pytest.raises(ValueError, match=r"`covariance` must have shape \(2 \* max_lag \+ 1, "
                                         r"n_neurons, n_neurons\); got shape \(2, 2, 2\)\."):
        ct.correlation_coefficients(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"`covariance` must have positive zero-lag variances; "
                                         r"got non-positive ones for neuron\(s\) \[1\]"):
        ct.correlation_coefficients(ct.empirical_covariance(np.c_[np.arange(10) % 2,
                                                                  np.zeros(10)], 1))
    with pytest.raises(ValueError, match=r"`tol` must be positive and finite; got 0\.0\."):
        ct.stationary_rates(G, [1.0, 1.0], tol=0.0)


def test_newton_converges_near_the_edge():
    """A ring close to losing its fixed point: many damped steps, still the exact root."""
    N = 50
    d = np.abs(np.arange(N)[:, None] - np.arange(N)[None, :])
    d = np.minimum(d, N - d)
    mask = np.asarray(jax.random.uniform(jax.random.key(5), (N, N)) < 0.4)
    W0 = np.asarray(ct.mexican_hat_network(N, a=0.5, sigma_1=2.0, sigma_2=5.0)) * (d <= 10) * mask
    net = ct.PoissonGLMNetwork(W0, 1.0, 1.0, 10, 3.0, 1.0, r=0.7, b=-1.0)
    h, nu0 = ct.network_filters(net)
    res = ct.stationary_rates(h, nu0)
    assert res.converged and res.n_iter > 5
    H = np.asarray(h).sum(0)
    np.testing.assert_allclose(np.log(res.rates), np.log(nu0) + H @ np.asarray(res.rates),
                               atol=1e-12)
