"""Benchmark: the JAX Brunel-network simulator (coupling_tutorial.lif) vs Brian2.

    python benchmarks/lif.py [--t-sim 0.5] [--t-warmup 0.1] [--seeds 3] [--brian-seeds 3]
                             [--n-exc 10000] [--n-inh 2500] [--g 5] [--eta 2] [--x64]

The full Brunel (2000) network of the mean-field note: 10 000 + 2 500 LIF neurons, fixed
in-degree C_E = 1000, C_I = 250 (15.6 M synapses, partners drawn with replacement), delta
synapses J = 0.1 mV, g = 5, delay 1.5 ms, tau_m = 20 ms, tau_r = 2 ms, V_th = 20 mV,
V_r = 10 mV, external Poisson drive eta * nu_thr through C_E synapses, dt = 0.1 ms,
membrane clamped (inputs ignored) while refractory.

* ``coupling_tutorial.simulate_brunel`` in JAX's default precision (float32; ``--x64`` for
  float64), one subprocess per seed so that its peak memory (ru_maxrss) is its own.
  Reported: building the connectivity, the first call (compilation + run), the repeated
  call (steady state) and the steady-state wall time per simulated second
  (``t_warmup + t_sim`` simulated per call).
* Brian2 (cython target) with the same model, run with the Python of a separate virtual
  environment (``$BRIAN2_PYTHON``, default ``/work/refenvs/brian2/bin/python``; see
  benchmarks/README.md) and skipped with a message if it is missing. Brian2's first
  ``run`` generates and compiles code; the steady state is a second ``run`` of the same
  network. Both wall and CPU time are reported (the recorded figure, 15.6 s CPU per
  simulated second, is CPU time).
* Brian2's default schedule (groups -> thresholds -> synapses -> resets) adds the synaptic
  and Poisson input of a step *after* that step's threshold test: an input is tested one
  step later, after one decay factor exp(-dt/tau_m), and the effective delay is one step
  longer. ``coupling_tutorial.lif`` adds the input before the test, which is exact for
  delta synapses (the crossing happens at the jump). Brian2 also counts the spike's own
  step as refractory, so its neurons ignore input for tau_r/dt - 1 steps after the
  spike step, ct.lif for tau_r/dt. ``--brian-schedule`` runs Brian2 with its default
  schedule, with ``input-first`` (synapses before thresholds and ``refractory = tau_r +
  dt``: step for step the discretisation of ``coupling_tutorial.lif``) or ``both``
  (default).
* The mean-field rate: the self-consistent Siegert rate of the network, solved here with
  scipy (37.95 Hz at g = 5, eta = 2 in the note).

Rates are compared over the measurement window (after the warm-up) across seeds; each
seed draws a new network, initial condition and drive.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BRIAN2_PYTHON = os.environ.get("BRIAN2_PYTHON", "/work/refenvs/brian2/bin/python")
RECORDED_BRIAN2_CPU_PER_S = 15.6  # s CPU per simulated second, cython target (note)
RECORDED_BRIAN2_RATES = "37.06-37.33 Hz (3 seeds)"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


# --------------------------------------------------------------------------------------
# JAX worker (runs in its own process)
# --------------------------------------------------------------------------------------
def jax_worker(args, seed: int, out_file: str) -> None:
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, str(HERE.parent))
    import coupling_tutorial as ct

    c_exc, c_inh = round(0.1 * args.n_exc), round(0.1 * args.n_inh)
    key = jax.random.key(seed)
    t0 = time.perf_counter()
    conn = ct.fixed_indegree_connectivity(jax.random.fold_in(key, 1), args.n_exc, args.n_inh,
                                          c_exc, c_inh)
    jax.block_until_ready(conn.targets)
    t_conn = time.perf_counter() - t0
    kw = dict(g=args.g, eta=args.eta, connectivity=conn, t_sim=args.t_sim,
              t_warmup=args.t_warmup, record_spikes=True)
    t0 = time.perf_counter()
    first = ct.simulate_brunel(key, **kw)
    t_first = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    res = ct.simulate_brunel(key, **kw)
    t_repeat, c_repeat = time.perf_counter() - t0, time.process_time() - c0
    assert res.rate_exc == first.rate_exc
    # spectrum of the population rate: the fast collective oscillation
    pr = res.population_rate - res.population_rate.mean()
    f = np.fft.rfftfreq(pr.size, res.bin_size)
    p = np.abs(np.fft.rfft(pr)) ** 2
    band = (f > 20) & (f < 400)
    json.dump(dict(seed=seed, t_conn=t_conn, t_first=t_first, t_repeat=t_repeat,
                   c_repeat=c_repeat,
                   rate_exc=res.rate_exc, rate_inh=res.rate_inh,
                   n_synapses=int(conn.pre.size), max_out=int(conn.targets.shape[1]),
                   n_spikes=int(res.spike_counts.sum()), dropped=res.n_spikes_dropped,
                   f_peak=float(f[band][np.argmax(p[band])]),
                   dtype=str(jax.numpy.result_type(float)), peak_mb=peak_mb(),
                   jax_version=jax.__version__), open(out_file, "w"))


# --------------------------------------------------------------------------------------
# Brian2 (runs with BRIAN2_PYTHON)
# --------------------------------------------------------------------------------------
BRIAN2_SCRIPT = textwrap.dedent(r'''
    import json, resource, sys, time
    import numpy as np
    from brian2 import (NeuronGroup, Synapses, PoissonInput, SpikeMonitor, Network, prefs,
                        defaultclock, seed as b2seed, ms, mV, second, __version__)
    a = json.loads(sys.argv[1])
    prefs.codegen.target = "cython"
    b2seed(a["seed"])
    rng = np.random.default_rng(a["seed"])
    n_exc, n_inh, g, eta = a["n_exc"], a["n_inh"], a["g"], a["eta"]
    n = n_exc + n_inh
    c_exc, c_inh = round(0.1 * n_exc), round(0.1 * n_inh)
    J, D, tau, theta, V_r, tau_rp = 0.1 * mV, 1.5 * ms, 20 * ms, 20 * mV, 10 * mV, 2 * ms
    nu_thr = theta / (J * c_exc * tau)
    nu_ext = eta * nu_thr
    defaultclock.dt = 0.1 * ms
    t0 = time.perf_counter(); c0 = time.process_time()
    input_first = a["schedule"] == "input-first"
    # Brian2 counts the spike's own step as refractory; ct.lif clamps the tau_r/dt steps
    # after it. With refractory = tau_r + dt the two discretisations are identical.
    neurons = NeuronGroup(n, "dv/dt = -v/tau : volt (unless refractory)", threshold="v >= theta",
                          reset="v = V_r", refractory=tau_rp + (0.1 * ms if input_first else 0 * ms),
                          method="exact")
    neurons.v = "V_r + rand() * (theta - V_r)"
    post = np.repeat(np.arange(n), c_exc)
    syn_e = Synapses(neurons[:n_exc], neurons, on_pre="v_post += J * int(not_refractory_post)",
                     delay=D)
    syn_e.connect(i=rng.integers(0, n_exc, n * c_exc), j=post)
    syn_i = Synapses(neurons[n_exc:], neurons,
                     on_pre="v_post += -g * J * int(not_refractory_post)", delay=D)
    syn_i.connect(i=rng.integers(0, n_inh, n * c_inh), j=np.repeat(np.arange(n), c_inh))
    ext = PoissonInput(neurons, "v", c_exc, nu_ext, weight="J * int(not_refractory)")
    mon = SpikeMonitor(neurons, record=False)
    net = Network(neurons, syn_e, syn_i, ext, mon)
    if input_first:  # inputs before the threshold test, as in ct.lif
        net.schedule = ["start", "groups", "synapses", "thresholds", "resets", "end"]
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter(); c0 = time.process_time()
    net.run(a["t_warmup"] * second)  # includes code generation + cython compilation
    t_first, c_first = time.perf_counter() - t0, time.process_time() - c0
    count0 = np.array(mon.count[:])
    t0 = time.perf_counter(); c0 = time.process_time()
    net.run(a["t_sim"] * second)
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    counts = np.array(mon.count[:]) - count0
    print(json.dumps(dict(
        seed=a["seed"], t_build=t_build, t_first=t_first, c_first=c_first, t_run=t_run,
        c_run=c_run, rate_exc=float(counts[:n_exc].sum() / (n_exc * a["t_sim"])),
        rate_inh=float(counts[n_exc:].sum() / (n_inh * a["t_sim"])),
        n_synapses=int(len(syn_e) + len(syn_i)), version=__version__, schedule=a["schedule"],
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3)))
''')


def run_brian2(args, seed: int, schedule: str):
    if not Path(BRIAN2_PYTHON).exists():
        return None, f"Brian2 skipped: {BRIAN2_PYTHON} not found (set BRIAN2_PYTHON)."
    payload = json.dumps(dict(seed=seed, n_exc=args.n_exc, n_inh=args.n_inh, g=args.g,
                              eta=args.eta, t_sim=args.t_sim, t_warmup=args.t_warmup,
                              schedule=schedule))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(BRIAN2_SCRIPT)
    proc = subprocess.run([BRIAN2_PYTHON, f.name, payload], capture_output=True, text=True)
    os.unlink(f.name)
    if proc.returncode != 0:
        return None, "Brian2 failed:\n" + proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


# --------------------------------------------------------------------------------------
# Mean field (scipy; independent of the package)
# --------------------------------------------------------------------------------------
def mean_field_rate(n_exc, n_inh, g, eta, J=0.1e-3, tau_m=20e-3, tau_r=2e-3, V_th=20e-3,
                    V_r=10e-3):
    from scipy.integrate import quad
    from scipy.optimize import brentq
    from scipy.special import erfcx

    c_exc, c_inh = round(0.1 * n_exc), round(0.1 * n_inh)
    gamma = c_inh / c_exc
    nu_ext = eta * V_th / (J * c_exc * tau_m)

    def phi(nu):
        mu = J * c_exc * tau_m * (nu_ext + nu * (1 - g * gamma))
        sigma = math.sqrt(J**2 * c_exc * tau_m * (nu_ext + nu * (1 + g**2 * gamma)))
        integral, _ = quad(lambda u: erfcx(-u), (V_r - mu) / sigma, (V_th - mu) / sigma,
                           epsabs=0, epsrel=1e-12)
        return 1.0 / (tau_r + tau_m * math.sqrt(math.pi) * integral)

    return brentq(lambda nu: phi(nu) - nu, 1e-3, 1.0 / tau_r - 1e-3, xtol=1e-10)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--t-sim", type=float, default=0.5)
    p.add_argument("--t-warmup", type=float, default=0.1)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--brian-seeds", type=int, default=3)
    p.add_argument("--n-exc", type=int, default=10000)
    p.add_argument("--n-inh", type=int, default=2500)
    p.add_argument("--g", type=float, default=5.0)
    p.add_argument("--eta", type=float, default=2.0)
    p.add_argument("--x64", action="store_true")
    p.add_argument("--brian-schedule", choices=["default", "input-first", "both"],
                   default="both")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        jax_worker(args, args.worker, args.out)
        return

    sim_per_call = args.t_warmup + args.t_sim
    print(f"# Brunel network: {args.n_exc} E + {args.n_inh} I, g = {args.g}, eta = "
          f"{args.eta}, {sim_per_call:g} s simulated per call ({args.t_warmup:g} s warm-up)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start\n")
    nu_mf = mean_field_rate(args.n_exc, args.n_inh, args.g, args.eta)

    jax_rows = []
    for seed in range(args.seeds):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            out = f.name
        cmd = [sys.executable, __file__, "--worker", str(seed), "--out", out,
               "--t-sim", str(args.t_sim), "--t-warmup", str(args.t_warmup),
               "--n-exc", str(args.n_exc), "--n-inh", str(args.n_inh), "--g", str(args.g),
               "--eta", str(args.eta)] + (["--x64"] if args.x64 else [])
        subprocess.run(cmd, check=True)
        jax_rows.append(json.load(open(out)))
        os.unlink(out)

    schedules = (["default", "input-first"] if args.brian_schedule == "both"
                 else [args.brian_schedule])
    b2_all, b2_msg = {s: [] for s in schedules}, None
    for sched in schedules:
        for seed in range(args.brian_seeds):
            row, b2_msg = run_brian2(args, seed, sched)
            if row is None:
                break
            b2_all[sched].append(row)
    b2_rows = b2_all[schedules[0]]

    j = jax_rows
    n_syn = j[0]["n_synapses"]
    print(f"synapses: {n_syn / 1e6:.2f} M (max out-degree {j[0]['max_out']}), "
          f"jax {j[0]['jax_version']} ({j[0]['dtype']})"
          + (f", Brian2 {b2_rows[0]['version']} (cython)" if b2_rows else ""))
    print()
    print("| simulator | build network (s) | first call (s) | steady call (s) "
          "| **wall s per simulated s** | CPU s per simulated s | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    rep = min(r["t_repeat"] for r in j)
    print(f"| coupling_tutorial (JAX, {j[0]['dtype']}) | {np.median([r['t_conn'] for r in j]):.2f} "
          f"| {np.median([r['t_first'] for r in j]):.2f} (compile ~"
          f"{np.median([r['t_first'] - r['t_repeat'] for r in j]):.1f}) | {rep:.2f} "
          f"| **{rep / sim_per_call:.2f}** | {min(r['c_repeat'] for r in j) / sim_per_call:.2f} "
          f"| {max(r['peak_mb'] for r in j):.0f} |")
    for sched, b in b2_all.items():
        if not b:
            continue
        t_run = min(r["t_run"] for r in b)
        c_run = min(r["c_run"] for r in b)
        print(f"| Brian2 (cython, {sched} schedule) | {np.median([r['t_build'] for r in b]):.2f} "
              f"| {np.median([r['t_first'] for r in b]):.2f} ({args.t_warmup:g} s incl. codegen) "
              f"| {t_run:.2f} ({args.t_sim:g} s) | **{t_run / args.t_sim:.2f}** "
              f"| {c_run / args.t_sim:.2f} | {max(r['peak_mb'] for r in b):.0f} |")
    print(f"| Brian2 (recorded, note) | | | | | {RECORDED_BRIAN2_CPU_PER_S} | |")
    if b2_msg:
        print(f"\n{b2_msg}")
    if b2_rows:
        ratio = (min(r["t_run"] for r in b2_rows) / args.t_sim) / (rep / sim_per_call)
        print(f"\nJAX is {ratio:.1f}x faster than Brian2 per simulated second (wall, same run); "
              f"{RECORDED_BRIAN2_CPU_PER_S / (rep / sim_per_call):.1f}x against the recorded "
              "15.6 s CPU.")
    else:
        print(f"\nJAX is {RECORDED_BRIAN2_CPU_PER_S / (rep / sim_per_call):.1f}x faster than the "
              "recorded Brian2 figure (15.6 s CPU per simulated second).")

    print(f"\n| rates over {args.t_sim:g} s after warm-up | E (Hz) | I (Hz) | seeds |")
    print("|---|---|---|---|")

    def fmt(rows, key):
        x = np.array([r[key] for r in rows])
        if x.size == 1:
            return f"{x[0]:.2f}"
        return f"{x.mean():.2f} ± {x.std(ddof=1):.2f} (seeds: {', '.join(f'{v:.2f}' for v in x)})"

    print(f"| coupling_tutorial (JAX) | {fmt(j, 'rate_exc')} | {fmt(j, 'rate_inh')} | {len(j)} |")
    for sched, rows in b2_all.items():
        if rows:
            print(f"| Brian2 {rows[0]['version']} (this run, {sched} schedule) "
                  f"| {fmt(rows, 'rate_exc')} | {fmt(rows, 'rate_inh')} | {len(rows)} |")
    print(f"| Brian2 2.11 (recorded, note, 1 s) | {RECORDED_BRIAN2_RATES} | | 3 |")
    print(f"| mean field (Siegert fixed point) | {nu_mf:.2f} | {nu_mf:.2f} | - |")
    dev = (np.mean([r["rate_exc"] for r in j]) - nu_mf) / nu_mf
    peaks = ", ".join(f"{r['f_peak']:.0f}" for r in j)
    print(f"\nJAX vs mean field: {100 * dev:+.1f} %. Population-rate spectrum peak "
          f"(20-400 Hz): {peaks} Hz (fast collective "
          "oscillation). Spikes not recorded (cap): "
          f"{sum(r['dropped'] for r in j)}.")


if __name__ == "__main__":
    main()
