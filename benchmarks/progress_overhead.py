"""What progress reports cost: each long computation with ``progress`` off and on.

    .venv/bin/python benchmarks/progress_overhead.py [--repeats 5] [--quick]

For each case the compiled call is timed with progress off, with a callable that does
nothing (the cost of the callbacks themselves) and with the text display writing to
/dev/null (``progress=True`` outside a notebook, rate-limited to 10 refreshes per second).
Calls alternate between the three settings and the best of ``--repeats`` is kept, of the
process's CPU time (all its threads; steadier than wall time on a shared machine, and the
callbacks' cost is CPU time of this process). Prints a markdown table; float64.
``--quick``: the small cases only (where one report costs most relative to the work).
"""

from __future__ import annotations

import argparse
import os
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import coupling_tutorial as ct  # noqa: E402


def _glm_case(T, F, N, solver):
    X = jax.random.normal(jax.random.key(0), (T, F))
    W = jax.random.normal(jax.random.key(1), (F, N)) * (0.5 / F**0.5)
    y = jax.random.poisson(jax.random.key(2), jnp.exp(X @ W - 1.0)).astype(float)

    def run(progress):
        return ct.PopulationGLM(solver=solver, progress=progress).fit(X, y).coef_
    return f"PopulationGLM {solver}, T={T}, F={F}, N={N}", run


def _recurrent_case(N, n_steps):
    B = ct.raised_cosine_log_basis(4, 50)
    coef = -0.5 * jax.random.uniform(jax.random.key(0), (N, N, 4)) / N
    coef = coef.at[jnp.arange(N), jnp.arange(N)].set(-2.0)

    def run(progress):
        return ct.simulate_recurrent(coef, None, jnp.full(N, -3.0), jax.random.key(1), None,
                                     B, jnp.zeros((50, N)), n_steps=n_steps,
                                     progress=progress)[0]
    return f"simulate_recurrent, N={N}, {n_steps} bins", run


def _network_case(N, n_steps):
    W0 = ct.normal_network(jax.random.key(0), N, std=1.0, density=0.05, glorot=True)
    net = ct.PoissonGLMNetwork(W0, alpha=1.0, beta=1.0, T=20, tau=5.0, dt=1.0, r=0.5, b=-3.0)

    def run(progress):
        return ct.simulate_network(net, jax.random.key(1), n_steps, progress=progress)
    return f"simulate_network, N={N}, {n_steps} bins", run


def _brunel_case(n_exc, t_sim):
    def run(progress):
        return ct.simulate_brunel(jax.random.key(0), g=5.0, eta=2.0, n_exc=n_exc,
                                  n_inh=n_exc // 4, t_sim=t_sim, t_warmup=0.1,
                                  progress=progress).spike_counts
    return f"simulate_brunel, {n_exc + n_exc // 4} neurons, {t_sim} s", run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small cases only")
    args = parser.parse_args()
    devnull = open(os.devnull, "w")
    settings = {"off": False, "callable": lambda report: None,
                "text": ct.TextProgress(stream=devnull)}
    cases = [_glm_case(2000, 3, 2, "newton"), _glm_case(20_000, 20, 20, "newton"),
             _glm_case(50_000, 100, 50, "newton-cg"),
             _glm_case(5000, 10, 10, "proximal-gradient"),
             _recurrent_case(20, 20_000), _recurrent_case(1000, 5000),
             _network_case(1000, 20_000), _brunel_case(400, 1.0), _brunel_case(4000, 1.0)]
    if args.quick:
        cases = [cases[i] for i in (0, 1, 3, 4, 7)]
    print(f"JAX {jax.__version__}, {jax.devices()[0].platform}, best CPU time of "
          f"{args.repeats}\n")
    print("| case | off (CPU s) | callable (CPU s) | overhead | text display (CPU s) | overhead |")
    print("|---|---|---|---|---|---|")
    for name, run in cases:
        best = {}
        for key, progress in settings.items():  # compile each variant first
            jax.block_until_ready(run(progress))
        for _ in range(args.repeats):
            for key, progress in settings.items():
                t = time.process_time()
                jax.block_until_ready(run(progress))
                best[key] = min(best.get(key, float("inf")), time.process_time() - t)
        off = best["off"]
        print(f"| {name} | {off:.4f} | {best['callable']:.4f} | "
              f"{100 * (best['callable'] / off - 1):+.1f} % | {best['text']:.4f} | "
              f"{100 * (best['text'] / off - 1):+.1f} % |", flush=True)


if __name__ == "__main__":
    main()
