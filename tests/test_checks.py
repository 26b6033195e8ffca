"""The self-checks accept correct implementations and catch the typical wrong ones.

Every wrong implementation below is a mistake a reader plausibly makes; each test pins the
specific diagnosis the check prints, so a check that merely says "wrong" would fail here.
The correct implementations are independent brute-force NumPy loops, not the package.
"""

import re

import numpy as np
import pytest

import coupling_tutorial as ct
from coupling_tutorial import checks


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def verdict(check, fn, capsys):
    """Run a check; return (bool, printed line)."""
    ok = check(fn)
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0, f"a check prints one line, got:\n{out}"
    return ok, out


def loop_features(counts, basis, first_lag=1, flip=False, basis_major=False, fill=np.nan,
                  sign=1.0):
    """Brute-force causal convolution with switches for the typical mistakes."""
    counts = np.asarray(counts, float)
    basis = np.asarray(basis, float)
    if flip:
        basis = basis[::-1]
    n_samples, n_neurons = counts.shape
    window, n_basis = basis.shape
    out = np.full((n_samples, n_neurons, n_basis), fill)
    for t in range(window, n_samples):
        acc = np.zeros((n_neurons, n_basis))
        for lag in range(window):
            s = t - first_lag - lag
            if 0 <= s < n_samples:
                acc += np.outer(counts[s], basis[lag])
        out[t] = acc
    if basis_major:
        out = out.transpose(0, 2, 1)
    return sign * out.reshape(n_samples, -1)


def numpy_basis(n, window, width=2.0, time_scaling=50.0, enforce_decay_to_zero=True, *,
                log=True, clip=True, x_grid="linspace", half=True, plus_one=True):
    """Independent NumPy raised-cosine log basis, with switches for typical mistakes."""
    if x_grid == "linspace":
        x = np.arange(window) / (window - 1)
    else:
        x = np.arange(window) / window
    u = np.log1p(time_scaling * x) / np.log1p(time_scaling) if log else x
    last = 1.0 - width / (n + width - 1.0) if enforce_decay_to_zero else 1.0
    peaks = np.array([last * j / (n - 1) for j in range(n)])
    arg = np.pi * (u[:, None] - peaks) / ((peaks[1] - peaks[0]) * width)
    if clip:
        arg = np.clip(arg, -np.pi, np.pi)
    b = np.cos(arg) + (1.0 if plus_one else 0.0)
    return 0.5 * b if half else b


# --------------------------------------------------------------------------------------
# check_coupling_features
# --------------------------------------------------------------------------------------
def test_features_accepts_reference_and_independent_loop(capsys):
    ok, out = verdict(checks.check_coupling_features, ct.coupling_features, capsys)
    assert ok and out.startswith("✓ check_coupling_features: matches"), out
    ok, out = verdict(checks.check_coupling_features, loop_features, capsys)
    assert ok, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(first_lag=0), "off by one lag: you include the current bin"),
    (dict(first_lag=2), "off by one lag: you start at lag 2"),
    (dict(flip=True), "the basis is time-reversed"),
    (dict(basis_major=True), "columns in basis-major order"),
    (dict(fill=0.0), "rows 0..5 must be NaN"),
    (dict(sign=-1.0), "sign flipped"),
])
def test_features_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_coupling_features,
                      lambda c, b: loop_features(c, b, **mistake), capsys)
    assert not ok
    assert out.startswith("✗ check_coupling_features: " + expected), out


@pytest.mark.parametrize("wrong, expected", [
    (lambda c, b: ct.coupling_features(c, b)[b.shape[0]:], "keep all 40 rows"),
    (lambda c, b: ct.coupling_features(c, b).reshape(c.shape[0], c.shape[1], -1),
     "flatten to 2-D (40, 6)"),
    (lambda c, b: np.asarray(ct.coupling_features(c, b)).reshape(
        c.shape[0], c.shape[1], -1).transpose(0, 2, 1), "the last two axes are (basis, neuron)"),
    (lambda c, b: ct.coupling_features(c, b).T, "transposed"),
    (lambda c, b: loop_features(c, b)[:, :3], "expected (40, 6)"),
])
def test_features_diagnoses_shapes(wrong, expected, capsys):
    ok, out = verdict(checks.check_coupling_features, wrong, capsys)
    assert not ok and expected in out, out


def test_features_wrong_axis_and_missing_term(capsys):
    # convolving along the neuron axis instead of time (a typical axis mix-up)
    def wrong_axis(counts, basis):
        c = np.asarray(counts)
        return loop_features(c[:, ::-1], basis)

    ok, out = verdict(checks.check_coupling_features, wrong_axis, capsys)
    assert not ok and "values differ" in out and "(neuron " in out, out

    # the oldest lag of the window left out of the sum
    ok, out = verdict(checks.check_coupling_features, _drop_oldest_lag, capsys)
    assert not ok and "values differ" in out, out


def _drop_oldest_lag(counts, basis):
    b = np.array(basis, float)
    b[-1] = 0.0
    return loop_features(counts, b)


def test_features_tolerance_messages(capsys):
    def float32(counts, basis):
        return np.asarray(loop_features(counts, basis), np.float32)

    ok, out = verdict(checks.check_coupling_features, float32, capsys)
    assert not ok and "not float32" in out, out
    ok, out = verdict(checks.check_coupling_features,
                      lambda c, b: 1.0005 * loop_features(c, b), capsys)
    assert not ok and "slightly wrong constant" in out, out


def test_features_nan_inside(capsys):
    def nan_inside(counts, basis):
        out = loop_features(counts, basis)
        out[20, 1] = np.nan
        return out

    ok, out = verdict(checks.check_coupling_features, nan_inside, capsys)
    assert not ok and "NaN in row 20" in out, out


def test_errors_of_the_readers_function_are_reported(capsys):
    ok, out = verdict(checks.check_coupling_features, lambda c, b: None, capsys)
    assert not ok and "returned None" in out
    ok, out = verdict(checks.check_coupling_features, lambda c, b: 1 / 0, capsys)
    assert not ok and "raised ZeroDivisionError" in out and "fn(<array (40, 2)>" in out
    ok, out = verdict(checks.check_coupling_features, "not a function", capsys)
    assert not ok and "expected a function" in out
    ok, out = verdict(checks.check_coupling_features, lambda c, b: "text", capsys)
    assert not ok and "must return an array" in out


def test_not_implemented_propagates(capsys):
    def stub(counts, basis):
        raise NotImplementedError("Exercise 1.1: not implemented yet")

    with pytest.raises(NotImplementedError, match="Exercise 1.1"):
        checks.check_coupling_features(stub)
    with pytest.raises(NotImplementedError, match="Exercise 1.2"):
        checks.check_raised_cosine_log_basis(
            lambda n, w: (_ for _ in ()).throw(NotImplementedError("Exercise 1.2")))


def test_verbose_false_is_silent(capsys):
    assert checks.check_coupling_features(ct.coupling_features, verbose=False) is True
    assert checks.check_coupling_features(lambda c, b: 0 * loop_features(c, b),
                                          verbose=False) is False
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------------------
# check_raised_cosine_log_basis
# --------------------------------------------------------------------------------------
def test_basis_accepts_reference_and_independent_numpy(capsys):
    ok, out = verdict(checks.check_raised_cosine_log_basis, ct.raised_cosine_log_basis, capsys)
    assert ok and "on 6 test inputs" in out, out  # all three keyword arguments checked
    ok, out = verdict(checks.check_raised_cosine_log_basis, lambda n, w: numpy_basis(n, w),
                      capsys)
    assert ok and "on 3 test inputs" in out, out
    ok, out = verdict(checks.check_raised_cosine_log_basis, numpy_basis, capsys)
    assert ok and "on 6 test inputs" in out, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(log=False), "the bumps are evenly spaced in time"),
    (dict(clip=False), "the cosine argument is not clipped"),
    (dict(enforce_decay_to_zero=False), "the last peak is misplaced"),
    (dict(x_grid="arange"), "off by one on the time grid"),
    (dict(half=False), "the bumps peak at 2: missing the factor 1/2"),
    (dict(plus_one=False), "the bumps go negative: missing the +1"),
])
def test_basis_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_raised_cosine_log_basis,
                      lambda n, w: numpy_basis(n, w, **mistake), capsys)
    assert not ok and out.startswith("✗ check_raised_cosine_log_basis: " + expected), out


@pytest.mark.parametrize("wrong, expected", [
    (lambda n, w: numpy_basis(n, w)[::-1], "the lag axis is reversed"),
    (lambda n, w: numpy_basis(n, w)[:, ::-1], "the basis functions are in reverse order"),
    (lambda n, w: numpy_basis(n, w).T, "transposed"),
    (lambda n, w: numpy_basis(n, w + 1), "expected (window_size, n_basis_funcs) = (100, 5)"),
    (lambda n, w, width=2.0: numpy_basis(n, w), "your function ignores `width`"),
    (lambda n, w: numpy_basis(n, w).astype(np.float32), "not float32"),
    (lambda n, w: numpy_basis(n, w, time_scaling=40.0), "values differ (for fn(5, 100))"),
])
def test_basis_diagnoses_other_mistakes(wrong, expected, capsys):
    ok, out = verdict(checks.check_raised_cosine_log_basis, wrong, capsys)
    assert not ok and expected in out, out


def test_registry_lists_every_check():
    public = {n for n in checks.__all__ if n.startswith("check_") and n != "check_answer"}
    assert set(checks.CHECKS) == public
    assert all(checks.CHECKS[n] is getattr(checks, n) for n in public)
    assert set(checks.EXERCISES.values()) <= set(checks.CHECKS.values())
    assert all(label.startswith("ex-ch") for label in checks.EXERCISES)
    # reached as ct.checks.*, never star-imported into the top level
    assert not any(hasattr(ct, n) for n in public)


# --------------------------------------------------------------------------------------
# check_simulate_recurrent
# --------------------------------------------------------------------------------------
def scan_simulation(coupling_coef, intercepts, key, basis, init_y, n_steps, *, flip=True,
                    swap=False, intercept=True, link=None, slide=True, same_key=False,
                    transpose=False, only_spikes=False):
    """A reader's jax.lax.scan loop (as in Chapter 3's exercise) with typical mistakes."""
    import jax
    import jax.numpy as jnp

    n = intercepts.shape[0]
    w = jnp.transpose(coupling_coef, (1, 0, 2)) if swap else coupling_coef
    flat = w.reshape(n, -1)
    b = basis[::-1] if flip else basis
    inv_link = link or jnp.exp

    def step(window, subkey):
        conv = jnp.einsum("wn,wb->nb", window, b).reshape(-1)
        eta = flat.dot(conv) + (intercepts if intercept else 0.0)
        rate = inv_link(eta)
        counts = jax.random.poisson(key if same_key else subkey, rate)
        new = jnp.vstack((window[1:], counts)) if slide else window
        return new, (counts, rate)

    _, (spikes, rates) = jax.lax.scan(step, init_y, jax.random.split(key, n_steps))
    if transpose:
        return spikes.T, rates.T
    return spikes if only_spikes else (spikes, rates)


def test_simulation_accepts_reference_and_scan(capsys):
    def reference(coef, b, key, basis, init_y, n_steps):
        return ct.simulate_recurrent(coef, None, b, key, None, basis, init_y, n_steps=n_steps)

    ok, out = verdict(checks.check_simulate_recurrent, reference, capsys)
    assert ok and "150 bins" in out, out
    ok, out = verdict(checks.check_simulate_recurrent, scan_simulation, capsys)
    assert ok, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(flip=False), "the basis meets the window the wrong way round"),
    (dict(swap=True), "receivers and senders are swapped"),
    (dict(intercept=False), "the intercepts b_i are missing"),
    ("softplus", "wrong link"),
    (dict(slide=False), "the window is never updated"),
    (dict(same_key=True), "every bin uses the same key"),
    (dict(transpose=True), "spikes has shape (3, 150); expected (n_steps, n_neurons) = "
                           "(150, 3) (transposed?)"),
    (dict(only_spikes=True), "return a pair (spikes, rates)"),
])
def test_simulation_diagnoses_typical_mistakes(mistake, expected, capsys):
    import jax

    if mistake == "softplus":
        mistake = dict(link=jax.nn.softplus)
    ok, out = verdict(checks.check_simulate_recurrent,
                      lambda *a: scan_simulation(*a, **mistake), capsys)
    assert not ok and out.startswith("✗ check_simulate_recurrent: " + expected), out


def test_simulation_wrong_keys_and_rates(capsys):
    import jax

    def other_keys(coef, b, key, basis, init_y, n_steps):
        return scan_simulation(coef, b, jax.random.fold_in(key, 1), basis, init_y, n_steps)

    ok, out = verdict(checks.check_simulate_recurrent, other_keys, capsys)
    assert not ok and "the rates are right but the spikes differ from bin" in out, out

    def scaled(*a):
        spikes, rates = scan_simulation(*a)
        return spikes, rates * 1.2

    ok, out = verdict(checks.check_simulate_recurrent, scaled, capsys)
    assert not ok and "rates differ from bin 0 on" in out, out

    with pytest.raises(NotImplementedError):
        checks.check_simulate_recurrent(
            lambda *a: (_ for _ in ()).throw(NotImplementedError("Exercise 3.3")))


# --------------------------------------------------------------------------------------
# check_poisson_loglik
# --------------------------------------------------------------------------------------
def numpy_loglik(y, rate, *, log_fact=True, reduce="mean", sign=1.0, naive=False,
                 rate_sign=-1.0):
    """Independent NumPy/SciPy Poisson log-likelihood with switches for typical mistakes."""
    from scipy.special import gammaln, xlogy

    y = np.asarray(y, float)
    rate = np.asarray(rate, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = y * np.log(rate) if naive else xlogy(y, rate)
    terms = ylog + rate_sign * rate - (gammaln(y + 1.0) if log_fact else 0.0)
    out = {"mean": terms.mean(), "sum": terms.sum(), "none": terms,
           "axis0": terms.mean(axis=0)}[reduce]
    return sign * out


def test_loglik_accepts_independent_scipy_and_matches_glm_score(capsys):
    ok, out = verdict(checks.check_poisson_loglik, numpy_loglik, capsys)
    assert ok and "on 2 test inputs" in out, out
    # the check's reference is the fitted GLM's own score
    rng = np.random.default_rng(5)
    X = 0.3 * rng.normal(size=(400, 2))
    y = rng.poisson(np.exp(X @ [0.5, -0.2] - 0.5))
    model = ct.GLM().fit(X, y)
    rate = np.asarray(model.predict(X))
    assert abs(float(model.score(X, y)) - numpy_loglik(y, rate)) < 1e-12
    assert abs(checks.ch2_population_glm._poisson_loglik_terms(y, rate).mean() - numpy_loglik(y, rate)) < 1e-12


@pytest.mark.parametrize("mistake, expected", [
    (dict(log_fact=False), "the -log y! term is missing"),
    (dict(sign=-1.0), "sign flipped: that is the NEGATIVE log-likelihood"),
    (dict(reduce="sum"), "you return the sum"),
    (dict(rate_sign=1.0), "the -rate term has the wrong sign"),
    (dict(naive=True), "got nan"),
    (dict(reduce="none"), "you return one value per entry"),
    (dict(reduce="axis0"), "average over ALL entries"),
])
def test_loglik_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_poisson_loglik,
                      lambda y, r: numpy_loglik(y, r, **mistake), capsys)
    assert not ok and out.startswith("✗ check_poisson_loglik: ") and expected in out, out


def test_loglik_gammaln_of_y_and_tolerance(capsys):
    from scipy.special import gammaln, xlogy

    def gammaln_y(y, rate):
        y = np.asarray(y, float)
        with np.errstate(divide="ignore"):
            return np.mean(xlogy(y, rate) - rate - gammaln(y))

    ok, out = verdict(checks.check_poisson_loglik, gammaln_y, capsys)
    assert not ok and "log y! is gammaln(y + 1)" in out, out
    ok, out = verdict(checks.check_poisson_loglik,
                      lambda y, r: np.float32(numpy_loglik(y, r)), capsys)
    assert not ok and "not float32" in out, out


# --------------------------------------------------------------------------------------
# check_newton_fit
# --------------------------------------------------------------------------------------
def numpy_newton(X, y, n_iter=20, *, intercept_column=True, hess_over_t=True, sign=1.0,
                 packed=False):
    """A reader's damped Newton (as in Chapter 2's exercise) with typical mistakes."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    Xt = np.column_stack([X, np.ones(len(y))]) if intercept_column else X
    beta = np.zeros(Xt.shape[1])
    b0 = np.log(y.mean())
    if intercept_column:
        beta[-1] = b0

    def loss(beta):
        eta = Xt @ beta + (0.0 if intercept_column else b0)
        return np.mean(np.exp(eta) - y * eta)

    for _ in range(n_iter):
        eta = Xt @ beta + (0.0 if intercept_column else b0)
        rate = np.exp(eta)
        grad = Xt.T @ (rate - y) / len(y)
        hess = Xt.T @ (rate[:, None] * Xt) / (len(y) if hess_over_t else 1.0)
        step = -sign * np.linalg.solve(hess, grad)
        t = 1.0
        while loss(beta + t * step) > loss(beta) and t > 1e-10:
            t /= 2
        beta = beta + t * step
    if packed:
        return beta
    if intercept_column:
        return beta[:-1], beta[-1]
    return beta, b0


def test_newton_accepts_reference_and_numpy(capsys):
    def reference(X, y, n_iter=20):
        model = ct.GLM().fit(X, y)
        return model.coef_, model.intercept_[0]

    ok, out = verdict(checks.check_newton_fit, reference, capsys)
    assert ok and "to 1e-08" in out, out
    ok, out = verdict(checks.check_newton_fit, numpy_newton, capsys)
    assert ok, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(intercept_column=False), "the intercept never moves from log(mean(y))"),
    (dict(hess_over_t=False), "your iterates head for the optimum but stop short"),
    (dict(packed=True), "return (coef, intercept) separately"),
    (dict(n_iter=0), "coef is still all zeros"),
])
def test_newton_diagnoses_typical_mistakes(mistake, expected, capsys):
    kw = dict(mistake)
    n_iter = kw.pop("n_iter", 20)
    ok, out = verdict(checks.check_newton_fit,
                      lambda X, y, n_iter_=20: numpy_newton(X, y, n_iter, **kw), capsys)
    assert not ok and out.startswith("✗ check_newton_fit: " + expected), out


def test_newton_uphill_and_wrong_values(capsys):
    def uphill(X, y, n_iter=20):  # steps without the line search, in the wrong direction
        X1 = np.column_stack([X, np.ones(len(y))])
        beta = np.zeros(X1.shape[1])
        for _ in range(n_iter):
            rate = np.exp(np.clip(X1 @ beta, -700, 700))
            beta = beta + 5.0 * X1.T @ (rate - y) / len(y)
        return beta[:-1], beta[-1]

    with np.errstate(over="ignore", invalid="ignore"):
        ok, out = verdict(checks.check_newton_fit, uphill, capsys)
    assert not ok and ("NaN or inf" in out or "differ" in out), out
    ok, out = verdict(checks.check_newton_fit,
                      lambda X, y, n_iter=20: (np.zeros(3), 0.0), capsys)
    assert not ok and "coef has 3 entries; expected 4" in out, out


# --------------------------------------------------------------------------------------
# check_siegert_mean_driven
# --------------------------------------------------------------------------------------
def scipy_siegert(mu, sigma, tau_m, tau_r, V_th, V_r, *, limits="abs", sqrt_pi=True,
                  refractory=True, reciprocal=False, order=None):
    """Independent mean-driven Siegert rate (scipy quad of erfcx) with typical mistakes."""
    from scipy.integrate import quad
    from scipy.special import erfcx

    a, b = (mu - V_th) / sigma, (mu - V_r) / sigma
    if limits == "swapped":
        a, b = b, a
    elif limits == "signed":
        a, b = -a, -b
    if order:
        nodes, weights = np.polynomial.legendre.leggauss(order)
        s = 0.5 * (b - a) * nodes + 0.5 * (b + a)
        integral = 0.5 * (b - a) * np.sum(weights * erfcx(s))
    else:
        integral = quad(erfcx, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
    denom = (tau_r if refractory else 0.0) + tau_m * (np.sqrt(np.pi) if sqrt_pi else 1.0) * integral
    return denom if reciprocal else 1.0 / denom


def test_siegert_accepts_reference_and_scipy(capsys):
    ok, out = verdict(checks.check_siegert_mean_driven,
                      lambda *a: float(ct.siegert_rate(*a)), capsys)
    assert ok and "4 mean-driven inputs" in out, out
    ok, out = verdict(checks.check_siegert_mean_driven, scipy_siegert, capsys)
    assert ok, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(reciprocal=True), "you return 1/nu"),
    (dict(sqrt_pi=False), "the factor sqrt(pi) is missing"),
    (dict(limits="swapped"), "the integration limits are swapped"),
    (dict(limits="signed"), "the limits must be |y_th| and |y_r|"),
    (dict(refractory=False), "the refractory time tau_r is missing"),
    (dict(order=4), "use enough quadrature points"),
])
def test_siegert_diagnoses_typical_mistakes(mistake, expected, capsys):
    with np.errstate(over="ignore"):
        ok, out = verdict(checks.check_siegert_mean_driven,
                          lambda *a: scipy_siegert(*a, **mistake), capsys)
    assert not ok and out.startswith("✗ check_siegert_mean_driven: ") and expected in out, out


def test_siegert_unscaled_limits_and_tolerance(capsys):
    def no_sigma(mu, sigma, tau_m, tau_r, V_th, V_r):
        return scipy_siegert(mu, 1.0, tau_m, tau_r, V_th, V_r)

    ok, out = verdict(checks.check_siegert_mean_driven, no_sigma, capsys)
    assert not ok and "divide by sigma" in out, out
    ok, out = verdict(checks.check_siegert_mean_driven,
                      lambda *a: scipy_siegert(*a) * (1 + 1e-5), capsys)
    assert not ok and "close but not within 1e-9" in out, out


# --------------------------------------------------------------------------------------
# check_empirical_covariance
# --------------------------------------------------------------------------------------
def loop_covariance(counts, max_lag, *, unbiased=True, flip=False, center=True,
                    positive_only=False, ddof_one=False):
    """Brute-force cross-covariance (double loop) with switches for typical mistakes."""
    x = np.asarray(counts, float)
    n, m = x.shape
    xc = x - x.mean(axis=0) if center else x
    lags = range(0 if positive_only else -max_lag, max_lag + 1)
    out = np.zeros((len(lags), m, m))
    for k, tau in enumerate(lags):
        for i in range(m):
            for j in range(m):
                pairs = [xc[t + tau, i] * xc[t, j] for t in range(n) if 0 <= t + tau < n]
                norm = (n - abs(tau)) if unbiased else n
                if ddof_one:
                    norm = n - 1 if tau == 0 else n - abs(tau)
                out[k, i, j] = sum(pairs) / norm
    return out[::-1] if flip else out


def test_covariance_accepts_reference_and_loop(capsys):
    ok, out = verdict(checks.check_empirical_covariance, ct.empirical_covariance, capsys)
    assert ok and "max_lag 0, 1 and 6" in out, out
    ok, out = verdict(checks.check_empirical_covariance, loop_covariance, capsys)
    assert ok, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(unbiased=False), "you divide by n"),
    (dict(flip=True), "lag sign flipped"),
    (dict(center=False), "the means are not subtracted"),
    (dict(positive_only=True), "include the negative lags too"),
])
def test_covariance_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_empirical_covariance,
                      lambda x, L: loop_covariance(x, L, **mistake), capsys)
    assert not ok and out.startswith("✗ check_empirical_covariance: ") and expected in out, out


def test_covariance_wrong_axis_order(capsys):
    ok, out = verdict(checks.check_empirical_covariance,
                      lambda x, L: np.moveaxis(loop_covariance(x, L), 0, -1), capsys)
    assert not ok and "put the lag first" in out, out
    ok, out = verdict(checks.check_empirical_covariance,
                      lambda x, L: np.transpose(loop_covariance(x, L), (0, 2, 1)) * 1.1, capsys)
    assert not ok and "values differ" in out, out


# --------------------------------------------------------------------------------------
# check_relaxation
# --------------------------------------------------------------------------------------
def euler(phi, nu0, h, n_steps, *, naive=False, sign=1.0, extra=0, trajectory=False):
    """A reader's relaxation loop (as in Chapter 4's exercise) with typical mistakes."""
    import jax.numpy as jnp

    nu = jnp.asarray(nu0, dtype=float)
    path = []
    for _ in range(n_steps + extra):
        nu = phi(nu) if naive else jnp.maximum(nu + sign * h * (phi(nu) - nu), 0.0)
        path.append(nu)
    return jnp.stack(path) if trajectory else nu


def test_relaxation_accepts_correct_loop(capsys):
    ok, out = verdict(checks.check_relaxation, euler, capsys)
    assert ok and "3 runs" in out, out


@pytest.mark.parametrize("mistake, expected", [
    (dict(naive=True), "you ignore h"),
    (dict(sign=-1.0), "sign flipped"),
    (dict(extra=-1), "one step too few"),
    (dict(extra=1), "one step too many"),
    (dict(trajectory=True), "you return 25 iterates"),
])
def test_relaxation_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_relaxation, lambda *a: euler(*a, **mistake), capsys)
    assert not ok and out.startswith("✗ check_relaxation: " + expected), out


# --------------------------------------------------------------------------------------
# Answer checks of the conceptual exercises: right passes, wrong gets a hint, never the
# answer
# --------------------------------------------------------------------------------------
from coupling_tutorial.checks.answers import ChoiceAnswer, NumberAnswer, TupleAnswer  # noqa: E402


def _numbers(spec):
    return spec.parts if isinstance(spec, TupleAnswer) else (spec,)


def _reveals(message: str, value: float) -> bool:
    """Whether a message shows the right value (to 3 or more significant digits)."""
    return value != 0 and any(
        re.search(rf"(?<![\d.]){re.escape(f'{value:.{d}g}')}(?![\d])", message)
        for d in (3, 4, 5, 6))


@pytest.mark.parametrize("label", sorted(checks.ANSWERS))
def test_answer_check_accepts_the_answer_and_hints_without_revealing_it(label, capsys):
    spec = checks.ANSWERS[label]
    if isinstance(spec, ChoiceAnswer):
        assert checks.check_answer(label, spec.value.upper())
        for wrong in set(spec.choices) - {spec.value}:
            assert not checks.check_answer(label, wrong)
            out = capsys.readouterr().out
            assert spec.hints[wrong.lower()] in out
        return
    right = tuple(p.value for p in _numbers(spec))
    assert checks.check_answer(label, right if isinstance(spec, TupleAnswer) else right[0])
    assert "✓" in capsys.readouterr().out
    for k, part in enumerate(_numbers(spec)):
        wrongs = [(w, h) for w, h in part.mistakes]

        def probe(factors):  # a wrong value that is none of the listed mistakes
            for f in factors:
                x = part.value * f
                if not any(abs(x - w) <= 1.5 * part.rtol * abs(w) + 1e-12
                           for w, _ in part.mistakes):
                    return x
            raise AssertionError("no probe value")

        small, large = (0.5, 0.37, 0.23, 0.11), (2.0, 2.7, 3.9, 7.3)
        wrongs += [(probe(small if part.value > 0 else large), part.too_small),
                   (probe(large if part.value > 0 else small), part.too_large)]
        for wrong, hint in wrongs:
            answer = list(right)
            answer[k] = wrong
            ok = checks.check_answer(label, tuple(answer) if isinstance(
                spec, TupleAnswer) else answer[0])
            out = capsys.readouterr().out
            assert not ok and out.startswith("✗") and hint in out, (wrong, out)
            assert not _reveals(out.replace(f"{wrong:.4g}", ""), part.value), out


@pytest.mark.parametrize("bad", ["7.2", None, ..., [1.0, 2.0], float("nan"), 1j, True])
def test_answer_check_explains_a_malformed_answer(bad, capsys):
    label = sorted(checks.ANSWERS)[0]
    assert checks.check_answer(label, bad) is False
    out = capsys.readouterr().out
    assert out.startswith("✗") and len(out) > 30


def test_answer_check_names_the_valid_labels():
    with pytest.raises(ValueError, match=r"label: expected one of \[.*ex-ch1-halflife.*\], "
                                         r"got 'ex-ch9-nope'"):
        checks.check_answer("ex-ch9-nope", 1.0)


def test_every_answer_belongs_to_an_exercise_that_calls_it():
    from conftest import ROOT

    text = "\n".join(p.read_text() for p in sorted((ROOT / "book").glob("0*.md")))
    labels = set(re.findall(r":label:\s*(ex-[\w-]+)", text))
    calls = set(re.findall(r"ct\.checks\.check_answer\(\s*\"(ex-[\w-]+)\"", text))
    assert set(checks.ANSWERS) <= labels, set(checks.ANSWERS) - labels
    assert calls == set(checks.ANSWERS), (calls ^ set(checks.ANSWERS))


# --------------------------------------------------------------------------------------
# check_benjamini_hochberg (Chapter 6)
# --------------------------------------------------------------------------------------
def loop_bh(p_values, q, *, mistake=None):
    """A reader's Benjamini-Hochberg rule written with a loop, with typical mistakes."""
    p = np.asarray(p_values, float)
    flat = p.ravel()
    m = flat.size
    order = sorted(range(m), key=lambda k: flat[k])
    if mistake == "uncorrected":
        return p <= q
    if mistake == "bonferroni":
        return p <= q / m
    k_max = 0
    for rank, idx in enumerate(order, start=1):
        r = {"rank0": rank - 1, "rank2": rank + 1}.get(mistake, rank)
        below = flat[idx] < r * q / m if mistake == "strict" else flat[idx] <= r * q / m
        if below:
            k_max = rank
        elif mistake == "step_down":
            break
    out = np.zeros(m, bool)
    for rank, idx in enumerate(order, start=1):
        if mistake == "own_line":
            out[idx] = flat[idx] <= rank * q / m
        else:
            out[idx] = rank <= k_max
    if mistake == "sorted":
        out = np.arange(m) < k_max
    return out.reshape(p.shape)


def test_bh_check_accepts_reference_and_loop(capsys):
    ok, out = verdict(checks.check_benjamini_hochberg, ct.benjamini_hochberg, capsys)
    assert ok and "ties, step-up" in out, out
    ok, out = verdict(checks.check_benjamini_hochberg, loop_bh, capsys)
    assert ok, out


def test_bh_check_compares_with_statsmodels():
    """The reference the check uses agrees with statsmodels on its own cases."""
    from statsmodels.stats.multitest import multipletests

    from coupling_tutorial.checks.ch6_coupling_significance import _bh_cases

    for p, q in _bh_cases():
        want = multipletests(p.ravel(), q, method="fdr_bh")[0].reshape(p.shape)
        assert np.array_equal(ct.benjamini_hochberg(p, q), want)


@pytest.mark.parametrize("mistake, expected", [
    ("uncorrected", "no correction at all"),
    ("bonferroni", "Bonferroni"),
    ("own_line", "step-up rule"),
    ("step_down", "step-down"),
    ("rank0", "off by one in the rank"),
    ("rank2", "off by one in the rank"),
    ("strict", "not <"),
    ("sorted", "original order"),
])
def test_bh_check_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_benjamini_hochberg,
                      lambda p, q: loop_bh(p, q, mistake=mistake), capsys)
    assert not ok and out.startswith("✗ check_benjamini_hochberg: ") and expected in out, out


def test_bh_check_wrong_shape_and_type(capsys):
    ok, out = verdict(checks.check_benjamini_hochberg,
                      lambda p, q: loop_bh(p, q).ravel()[:-1], capsys)
    assert not ok and "one decision per p-value" in out, out
    ok, out = verdict(checks.check_benjamini_hochberg, lambda p, q: p * 2, capsys)
    assert not ok and "return booleans" in out, out
    ok, out = verdict(checks.check_benjamini_hochberg,
                      lambda p, q: np.ones(np.shape(p), bool), capsys)
    assert not ok and "discoveries too many" in out, out


# --------------------------------------------------------------------------------------
# check_wald_test (Chapter 6)
# --------------------------------------------------------------------------------------
def inverse_wald(beta, cov, *, mistake=None):
    """The Wald test with an explicit inverse (a reader's way), with typical mistakes."""
    from scipy import stats

    beta, cov = np.asarray(beta, float), np.asarray(cov, float)
    w = float(beta @ np.linalg.inv(cov) @ beta)
    if mistake == "cov":
        w = float(beta @ cov @ beta)
    elif mistake == "diagonal":
        w = float(np.sum(beta ** 2 / np.diag(cov)))
    elif mistake == "sqrt":
        w = float(np.sqrt(w))
    p = stats.chi2.sf(w, beta.size)
    if mistake == "cdf":
        p = stats.chi2.cdf(w, beta.size)
    elif mistake == "df1":
        p = stats.chi2.sf(w, 1)
    return w, p


def test_wald_check_accepts_a_correct_test(capsys):
    ok, out = verdict(checks.check_wald_test, inverse_wald, capsys)
    assert ok and "1, 3 and 5 coefficients" in out, out


def test_wald_check_agrees_with_coupling_tests():
    """The check's reference (scipy) is the statistic ct.coupling_tests computes."""
    import jax

    from coupling_tutorial.checks.ch6_coupling_significance import _wald_reference

    B = ct.raised_cosine_log_basis(3, 10)
    counts = jax.random.poisson(jax.random.key(0), 0.3, (4000, 2))
    X, y = ct.coupling_features(counts, B)[10:], counts[10:]
    model = ct.PopulationGLM().fit(X, y)
    tests = ct.coupling_tests(model, X, y, 3)
    cov = np.linalg.inv(np.asarray(
        (lambda Xt, lam: Xt.T @ (lam[:, None] * Xt))(
            np.column_stack([np.asarray(X), np.ones(len(X))]),
            np.asarray(model.predict(X))[:, 1])))
    stat, p = _wald_reference(np.asarray(model.coef_)[3:6, 1], cov[3:6, 3:6])
    assert np.isclose(stat, float(tests.statistic[1, 1]), rtol=1e-6)
    assert np.isclose(p, float(tests.p_value[1, 1]), rtol=1e-6)


@pytest.mark.parametrize("mistake, expected", [
    ("cov", "uses its inverse"),
    ("diagonal", "only the variances"),
    ("sqrt", "square root"),
    ("cdf", "survival function"),
    ("df1", "degrees of freedom"),
])
def test_wald_check_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_wald_test,
                      lambda b, c: inverse_wald(b, c, mistake=mistake), capsys)
    assert not ok and out.startswith("✗ check_wald_test: ") and expected in out, out


def test_wald_check_wrong_output(capsys):
    ok, out = verdict(checks.check_wald_test, lambda b, c: inverse_wald(b, c)[0], capsys)
    assert not ok and "two numbers" in out, out

# check_chunked_gradient (Chapter 7)
# --------------------------------------------------------------------------------------
def chunked_gradient(counts, basis, W, b, chunk_size, *, halo=True, first_lag=1,
                     drop_first=True, norm="rows", sign=1.0, transpose=False,
                     intercept=True, nan_rows=False):
    """A reader's chunk-by-chunk gradient (brute-force loop features of each chunk's
    counts with its halo), with switches for the typical mistakes."""
    counts = np.asarray(counts, float)
    window = basis.shape[0]
    n, m = counts.shape
    padded = np.vstack([np.zeros((window, m)), counts])  # bin s is padded[s + window]
    start = window if drop_first else 0
    g = np.zeros((W.shape[0], m))
    for lo in range(start, n, chunk_size):
        hi = min(lo + chunk_size, n)
        if halo:    # the chunk's bins and the `window` bins before them
            X = loop_features(padded[lo:hi + window], basis, first_lag=first_lag)[window:]
        elif nan_rows:  # the chunk alone: its first `window` rows have no history (NaN)
            X = loop_features(counts[lo:hi], basis, first_lag=first_lag, fill=np.nan)
        else:       # the chunk alone, history before it taken as zero
            X = loop_features(np.vstack([np.zeros((window, m)), counts[lo:hi]]), basis,
                              first_lag=first_lag)[window:]
        eta = X @ W + (b if intercept else 0.0)
        g += X.T @ (np.exp(eta) - counts[lo:hi])
    g = sign * g / {"rows": n - start, "samples": n, "sum": 1}[norm]
    return g.T if transpose else g


def test_chunked_gradient_accepts_reference_and_loop(capsys):
    ok, out = verdict(checks.check_chunked_gradient, chunked_gradient, capsys)
    assert ok and "chunks of 680, 128 and 50 rows" in out, out


def test_chunked_gradient_agrees_with_the_streamed_design():
    """The check's target is the gradient the package's streamed fit uses: at the optimum
    of an unpenalised streamed fit the reference loop's gradient vanishes."""
    from coupling_tutorial.checks.ch7_scaling_up import _gradient_case

    counts, basis, _, _ = _gradient_case()
    model = ct.PopulationGLM(solver="newton", tol=1e-12).fit(
        ct.CouplingDesign(counts, basis, chunk_size=64), counts)
    g = chunked_gradient(counts, basis, np.asarray(model.coef_),
                         np.asarray(model.intercept_), 64)
    assert np.abs(g).max() < 1e-10


@pytest.mark.parametrize("mistake, expected", [
    (dict(halo=False), "the halo"),
    (dict(halo=False, nan_rows=True), "NaN in your gradient"),
    (dict(first_lag=0), "off by one lag: you include the current bin"),
    (dict(first_lag=2), "not lag 2"),
    (dict(drop_first=False), "you keep the first window_size bins"),
    (dict(drop_first=False, norm="samples"), "you keep the first window_size bins"),
    (dict(norm="samples"), "not by n_samples"),
    (dict(norm="sum"), "divide the sum by T"),
    (dict(sign=-1.0), "sign flipped"),
    (dict(transpose=True), "one column per neuron"),
    (dict(intercept=False), "you left out the intercept"),
])
def test_chunked_gradient_diagnoses_typical_mistakes(mistake, expected, capsys):
    ok, out = verdict(checks.check_chunked_gradient,
                      lambda *a: chunked_gradient(*a, **mistake), capsys)
    assert not ok and out.startswith("✗ check_chunked_gradient: ") and expected in out, out


def test_chunked_gradient_other_errors(capsys):
    ok, out = verdict(checks.check_chunked_gradient,
                      lambda *a: np.vstack([chunked_gradient(*a), np.zeros((1, 3))]), capsys)
    assert not ok and "not the intercept's" in out, out
    ok, out = verdict(checks.check_chunked_gradient,
                      lambda *a: chunked_gradient(*a) * 1.1, capsys)
    assert not ok and "values differ (chunk_size=680)" in out, out
    ok, out = verdict(checks.check_chunked_gradient,
                      lambda *a: chunked_gradient(*a) * (1 + 1e-7), capsys)
    assert not ok and "compute in float64" in out, out
