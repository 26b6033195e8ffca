"""Full-size version of Chapter 5's sweeps: inference quality vs recurrent strength, noise
and observed fraction, and linear-response accuracy vs coupling.

    python benchmarks/inference_errors.py [--n-neurons 100] [--n-steps 200000] [--quick]

Prints markdown tables. There is no reference library to compare with here (spikeometric
simulates the same exponential-link network but runs away in the strongly coupled regime,
see Chapter 3); the ground truth is the simulated network's own weights and the
linear-response theory of ``coupling_tutorial.linear_response``. Run it under
``flock /tmp/heavy.lock`` on shared machines: the default size takes several minutes.
"""

from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import coupling_tutorial as ct  # noqa: E402


def ring_weights(n, density=0.4, cutoff_fraction=0.2, seed=5):
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    d = np.minimum(d, n - d)
    scale = n / 50.0  # keep the Mexican hat's shape in units of the ring's circumference
    mask = np.asarray(jax.random.uniform(jax.random.key(seed), (n, n)) < density)
    W0 = np.asarray(ct.mexican_hat_network(n, a=0.5, sigma_1=2.0 * scale, sigma_2=5.0 * scale))
    return W0 * (d <= cutoff_fraction * n) * mask / scale


def simulate_ring(W0, r, key, n_steps, noise=0.0, T=10, tau=3.0, b=-3.0, lam_max=1.0):
    n = W0.shape[0]
    c = np.asarray(ct.exponential_filter(T, tau=tau))
    coef = r * W0.T[:, :, None] * c[None, None, :]
    k_sim, k_noise = jax.random.split(key)
    drive = noise * jax.random.normal(k_noise, (n_steps + 1000, n, 1))
    link = lambda u: lam_max * jax.nn.sigmoid(u - jnp.log(lam_max))  # noqa: E731
    x, _ = ct.simulate_recurrent(coef, jnp.ones((n, 1)), jnp.full(n, b), k_sim, drive,
                                 ct.history_basis(T), jnp.zeros((T, n)), link)
    return np.asarray(x[1000:]), c


def infer(x, c, observed=None):
    x = x if observed is None else x[:, observed]
    model = ct.PopulationGLM().fit(ct.coupling_features(x, c[:, None]), x)
    return np.asarray(model.coef_)


def corr_offdiag(A, B):
    m = ~np.eye(A.shape[0], dtype=bool)
    return float(np.corrcoef(A[m], B[m])[0, 1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-neurons", type=int, default=100)
    p.add_argument("--n-steps", type=int, default=200_000)
    p.add_argument("--quick", action="store_true", help="50 neurons, 50 000 bins")
    a = p.parse_args()
    n, n_steps = (50, 50_000) if a.quick else (a.n_neurons, a.n_steps)
    W0 = ring_weights(n)

    print(f"## Inference vs recurrent strength (N = {n}, {n_steps} bins)\n")
    print("| r | mean rate | mean abs count corr | corr(true, inferred) | sim + fit s |")
    print("|---|---|---|---|---|")
    for r in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]:
        t0 = time.perf_counter()
        x, c = simulate_ring(W0, r, jax.random.key(1), n_steps)
        W_hat = infer(x, c)
        C0 = np.asarray(ct.correlation_coefficients(ct.empirical_covariance(x, 0)))[0]
        off = ~np.eye(n, dtype=bool)
        print(f"| {r:g} | {x.mean():.3f} | {np.abs(C0[off]).mean():.3f} | "
              f"{corr_offdiag(W_hat, r * W0):.3f} | {time.perf_counter() - t0:.1f} |")

    print("\n## Private noise at r = 6\n")
    print("| sigma | corr(true, inferred) |")
    print("|---|---|")
    for s in [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]:
        x, c = simulate_ring(W0, 6.0, jax.random.key(1), n_steps, noise=s)
        print(f"| {s:g} | {corr_offdiag(infer(x, c), 6.0 * W0):.3f} |")

    print("\n## Observed fraction at r = 4\n")
    print("| fraction | relative weight error | corr(true, inferred) |")
    print("|---|---|---|")
    x, c = simulate_ring(W0, 4.0, jax.random.key(1), n_steps)
    perm = np.asarray(jax.random.permutation(jax.random.key(11), n))
    for frac in [1.0, 0.8, 0.6, 0.4, 0.2]:
        obs = np.sort(perm[: int(round(frac * n))])
        W_sub, W_true = infer(x, c, obs), 4.0 * W0[np.ix_(obs, obs)]
        m = ~np.eye(len(obs), dtype=bool)
        err = np.linalg.norm((W_sub - W_true)[m]) / np.linalg.norm(W_true[m])
        print(f"| {frac:g} | {err:.3f} | {corr_offdiag(W_sub, W_true):.3f} |")

    print("\n## Linear response vs exponential-link simulation (b = -1)\n")
    print("| r | gain rho(G(0)) | max rate error | relative cross-cov error |")
    print("|---|---|---|---|")
    for r in [0.05, 0.1, 0.2, 0.3]:
        net = ct.PoissonGLMNetwork(W0, 1.0, 1.0, 10, 3.0, 1.0, r=r, b=-1.0)
        lin = ct.linearize_network(net)
        gain = float(np.max(np.abs(np.linalg.eigvals(np.asarray(lin.kernel.sum(0))))))
        try:
            x = np.asarray(ct.simulate_network(net, jax.random.key(3), n_steps, burn_in=1000))
        except ct.RunawayError:
            print(f"| {r:g} | {gain:.2f} | runaway | runaway |")
            continue
        L = 15
        th = np.asarray(ct.predicted_covariance(lin.kernel, lin.rates, L))
        em = np.asarray(ct.empirical_covariance(x, L))
        th[L][np.diag_indices(n)] = 0
        em[L][np.diag_indices(n)] = 0
        rel = np.linalg.norm(em - th) / np.linalg.norm(th)
        rate_err = np.abs(x.mean(0) / np.asarray(lin.rates) - 1).max()
        print(f"| {r:g} | {gain:.2f} | {rate_err:.3f} | {rel:.3f} |")


if __name__ == "__main__":
    main()
