"""Benchmark coupling_tutorial.meanfield against NNMT 1.3.0, in one run.

    flock /tmp/heavy.lock python benchmarks/meanfield.py [--quick]

Each task runs in its own subprocess (so that its peak resident memory, ru_maxrss, is its
own): ours with this Python, NNMT's with ``$NNMT_PYTHON`` (default
``/work/refenvs/nnmt/bin/python``; see benchmarks/README.md for how that environment is
made). If NNMT is not available its column says so and the script still runs.

Tasks (float64 on CPU):

* ``siegert24``: one 24-point Siegert call (delta synapses), the size of a microcircuit
  evaluation; the time of one call, best of many.
* ``siegert_grid``: a 1000 x 1000 (mu, sigma) grid (mu in [-10, 40] mV, sigma in
  [1, 30] mV); throughput in points per second (NNMT: one vectorised call on 1e5 points).
* ``fixed_point``: the microcircuit (Bos 2016 variant) stationary rates from 0 Hz;
  ours: Newton (default), compile time (first call minus a later call) reported apart.
* ``transfer``: the transfer function at 200 frequencies (0.5-400 Hz) x 8 populations
  at the microcircuit working point.

Compile time is the first call minus the steady-state time; it is reported apart.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NNMT_PYTHON = os.environ.get("NNMT_PYTHON", "/work/refenvs/nnmt/bin/python")
TASKS = ("siegert24", "siegert_grid", "fixed_point", "transfer")


def _load_mc():
    data = json.loads((ROOT / "tests" / "data" / "reference_public.json").read_text())
    return data["microcircuit_bos2016_parameters"]


def _inputs(np):
    rng = np.random.default_rng(0)
    mu24 = rng.uniform(0.0, 0.03, 24)
    sigma24 = rng.uniform(0.002, 0.01, 24)
    mu = np.linspace(-0.01, 0.04, 1000)
    sigma = np.linspace(0.001, 0.03, 1000)
    M, S = np.meshgrid(mu, sigma, indexing="ij")
    freqs = np.linspace(0.5, 400.0, 200)
    return mu24, sigma24, M.ravel(), S.ravel(), 2 * np.pi * freqs


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_ours(task, quick):
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import coupling_tutorial as ct

    mu24, sigma24, mug, sigg, omegas = _inputs(np)
    tau_m, tau_r, V_th, V_r = 0.02, 0.002, 0.02, 0.01
    out = {}
    if task == "siegert24":
        f = lambda: ct.siegert_rate(mu24, sigma24, tau_m, tau_r, V_th, V_r).block_until_ready()  # noqa: E731
        t0 = time.perf_counter(); f(); first = time.perf_counter() - t0
        out["steady_s"] = _best(f, 50 if quick else 300)
        out["compile_s"] = first - out["steady_s"]
    elif task == "siegert_grid":
        n = 100_000 if quick else mug.size
        f = lambda: ct.siegert_rate(mug[:n], sigg[:n], tau_m, tau_r, V_th, V_r).block_until_ready()  # noqa: E731
        t0 = time.perf_counter(); f(); first = time.perf_counter() - t0
        out["steady_s"] = _best(f, 3)
        out["compile_s"] = first - out["steady_s"]
        out["points"] = n
        out["points_per_s"] = n / out["steady_s"]
    elif task == "fixed_point":
        p = ct.microcircuit_parameters()
        f = lambda: ct.self_consistent_rates(**p).rates.block_until_ready()  # noqa: E731
        t0 = time.perf_counter(); rates = f(); first = time.perf_counter() - t0
        out["steady_s"] = _best(f, 10 if quick else 30)
        out["compile_s"] = first - out["steady_s"]
        out["rates"] = np.asarray(rates).tolist()
    elif task == "transfer":
        p = ct.microcircuit_parameters()
        fp = ct.self_consistent_rates(**p)
        f = lambda: ct.transfer_function(fp.mu, fp.sigma, p["tau_m"], p["tau_s"], p["tau_r"],  # noqa: E731
                                         p["V_th"], p["V_r"], omegas).block_until_ready()
        t0 = time.perf_counter(); H = f(); first = time.perf_counter() - t0
        out["steady_s"] = _best(f, 3)
        out["compile_s"] = first - out["steady_s"]
        out["H"] = [np.asarray(H).real.tolist(), np.asarray(H).imag.tolist()]
    return out


def run_nnmt(task, quick):
    import numpy as np
    from nnmt.lif import delta, exp, _general

    mu24, sigma24, mug, sigg, omegas = _inputs(np)
    tau_m, tau_r, V_th, V_r = 0.02, 0.002, 0.02, 0.01
    mc = _load_mc()
    J, K = np.array(mc["J_V"]), np.array(mc["K"])
    J_ext, K_ext = np.array(mc["J_ext_V"])[:, None], np.array(mc["K_ext"])[:, None]
    nu_ext = np.array(mc["nu_ext_Hz"])
    args = dict(J=J, K=K, V_0_rel=mc["V_0_rel_V"], V_th_rel=mc["V_th_rel_V"],
                tau_m=mc["tau_m_s"], tau_r=mc["tau_r_s"], tau_s=mc["tau_s_s"], J_ext=J_ext,
                K_ext=K_ext, nu_ext=nu_ext)
    out = {}
    if task == "siegert24":
        f = lambda: delta._firing_rates_for_given_input(mu24, sigma24, V_r, V_th, tau_m, tau_r)  # noqa: E731
        f()
        out["steady_s"] = _best(f, 10 if quick else 30)
    elif task == "siegert_grid":
        n = 100_000
        f = lambda: delta._firing_rates_for_given_input(mug[:n], sigg[:n], V_r, V_th, tau_m, tau_r)  # noqa: E731
        out["steady_s"] = _best(f, 1 if quick else 2)
        out["points"] = n
        out["points_per_s"] = n / out["steady_s"]
    elif task == "fixed_point":
        f = lambda: exp._firing_rates(**args, method="shift")  # noqa: E731
        rates = f()
        out["steady_s"] = _best(f, 2 if quick else 5)
        out["rates"] = np.asarray(rates).tolist()
    elif task == "transfer":
        rates = exp._firing_rates(**args, method="shift")
        mu = _general._mean_input(rates, J, K, mc["tau_m_s"], J_ext, K_ext, nu_ext)
        sigma = _general._std_input(rates, J, K, mc["tau_m_s"], J_ext, K_ext, nu_ext)
        w = omegas[::10] if quick else omegas
        t0 = time.perf_counter()
        H = exp._transfer_function_shift(mu, sigma, mc["tau_m_s"], mc["tau_s_s"], mc["tau_r_s"],
                                         mc["V_th_rel_V"], mc["V_0_rel_V"], w)
        out["steady_s"] = (time.perf_counter() - t0) * (len(omegas) / len(w))
        out["n_omegas_measured"] = len(w)
        out["H"] = [np.asarray(H).real.tolist(), np.asarray(H).imag.tolist()]
    return out


def _child(which, task, quick):
    out = (run_ours if which == "ours" else run_nnmt)(task, quick)
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out))


def _spawn(python, which, task, quick):
    cmd = [python, str(Path(__file__).resolve()), "--child", which, task]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ, PYTHONPATH=str(ROOT)) if which == "ours" else dict(os.environ)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def main():
    import numpy as np

    quick = "--quick" in sys.argv
    have_nnmt = Path(NNMT_PYTHON).exists()
    results = {}
    for task in TASKS:
        results[task] = {"ours": _spawn(sys.executable, "ours", task, quick)}
        results[task]["nnmt"] = (_spawn(NNMT_PYTHON, "nnmt", task, quick) if have_nnmt
                                 else {"error": f"NNMT not found at {NNMT_PYTHON}"})

    def fmt_t(s):
        return "-" if s is None else (f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s")

    print("\n## coupling_tutorial.meanfield vs NNMT 1.3.0 (CPU, float64)\n")
    if not have_nnmt:
        print(f"NNMT not available ({NNMT_PYTHON}): NNMT columns skipped.\n")
    print("| task | ours steady | ours compile | NNMT | speed-up | ours peak RSS | NNMT peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for task in TASKS:
        o, n = results[task]["ours"], results[task]["nnmt"]
        if "error" in o:
            print(f"| {task} | error: {o['error']} | | | | | |")
            continue
        if task == "siegert_grid":
            ours_s = f"{o['points_per_s']:.3g} pts/s ({o['points']} pts)"
            nn = f"{n['points_per_s']:.3g} pts/s ({n['points']} pts)" if "points_per_s" in n else n.get("error", "-")
            ratio = o["points_per_s"] / n["points_per_s"] if "points_per_s" in n else None
        else:
            ours_s = fmt_t(o["steady_s"])
            nn = fmt_t(n["steady_s"]) if "steady_s" in n else n.get("error", "-")
            ratio = n["steady_s"] / o["steady_s"] if "steady_s" in n else None
        print(f"| {task} | {ours_s} | {fmt_t(max(o['compile_s'], 0.0))} | {nn} | "
              f"{'-' if ratio is None else f'{ratio:.1f}x'} | {o['maxrss_mb']:.0f} MB | "
              f"{n.get('maxrss_mb', float('nan')):.0f} MB |")
    # agreement
    fo, fn = results["fixed_point"]["ours"], results["fixed_point"]["nnmt"]
    if "rates" in fo and "rates" in fn:
        err = np.max(np.abs(np.array(fo["rates"]) / np.array(fn["rates"]) - 1))
        print(f"\nMicrocircuit rates, max relative difference ours vs NNMT: {err:.2e}")
    to, tn = results["transfer"]["ours"], results["transfer"]["nnmt"]
    if "H" in to and "H" in tn:
        ho = np.array(to["H"][0]) + 1j * np.array(to["H"][1])
        hn = np.array(tn["H"][0]) + 1j * np.array(tn["H"][1])
        if tn.get("n_omegas_measured", 200) != ho.shape[0]:
            ho = ho[::10]
        err = np.max(np.abs(ho / hn - 1))
        print(f"Transfer function, max relative difference ours vs NNMT: {err:.2e}")
    if "n_omegas_measured" in tn and tn["n_omegas_measured"] != 200:
        print(f"(NNMT transfer function timed on {tn['n_omegas_measured']} frequencies and "
              "scaled to 200: it evaluates mpmath.pcfu per element, linear in the count.)")


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        _child(sys.argv[i + 1], sys.argv[i + 2], "--quick" in sys.argv)
    else:
        main()
