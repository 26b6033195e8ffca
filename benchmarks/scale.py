"""Benchmark: fitting a fully coupled GLM through the streamed ``ct.CouplingDesign``.

    flock /tmp/heavy.lock python benchmarks/scale.py [--quick] [--part fit|nemos|scaling|all]

Data: ``--neurons`` (256) x ``--samples`` (300 000) bins of Poisson counts at 1 ms with
per-neuron rates of 3-40 spikes/s and a shared slow modulation (numpy; the fitted
coupling is near 0 but the fit does the full work), coupled through ``--basis`` (5) log
raised cosines over ``--window`` (100) bins: a dense float64 design of
T x N K x 8 bytes (3.07 GB at the default size). Every measurement runs in a fresh
subprocess (one after the other: run the script under ``flock`` on a shared machine) and
reports its peak resident set
(``VmHWM``, which includes the ~0.25 GB of Python + JAX + XLA; not ``ru_maxrss``, which
a child inherits from its parent across ``execve``).

Parts (``all`` runs them one after the other):

Every fit is ``"Ridge"`` with strength ``--ridge`` (1e-4): the unpenalised maximum-likelihood
fit of 1281 parameters per neuron to a neuron with a few hundred spikes is ill-posed (it
ran 17+ Newton iterations at 128 x 20 000 without converging; coefficients drift towards
-inf where a feature is nonzero only in silent bins).

* ``fit``: (a) the streamed fit (``PopulationGLM("Ridge", solver="newton-cg")``, float64, tol 1e-7
  on the KKT residual, so that the returned one is below 1e-6): wall time, iterations, KKT residual, peak memory against
  0.25 x the bytes of the dense X; (c) our dense fit on the materialised float64 X, where
  it fits in memory (``--dense-max-gb``, default 12), for the objective and coefficients.
* ``nemos``: (c) NeMoS 0.2.9's ``PopulationGLM("Ridge")`` (default solver) on the materialised float32 X
  (``$NEMOS_PYTHON``, default ``/work/refenvs/nemos/bin/python``), time-capped by
  ``--nemos-timeout`` (s); its coefficients are scored with our float64 streamed objective.
* ``scaling``: (d) seconds per Newton-CG iteration and per streamed pass (one
  Hessian-vector product) against neurons (64, 128, 256, 512) at ``--scaling-samples``
  bins, and against bins at 128 neurons; the fitted exponents, and the predicted time of
  a fit of 1000 neurons x 3.6e6 bins (from the passes per fit measured in ``fit``).
* ``--gpu-size``: the 1000 x 3.6e6 x 5 fit itself (only with an accelerator; not run here).

``--quick``: 64 neurons x 50 000 bins, scaling at 10 000 bins (about 2 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NEMOS_PYTHON = os.environ.get("NEMOS_PYTHON", "/work/refenvs/nemos/bin/python")


def make_counts(n_neurons, n_samples, seed=0):
    rng = np.random.default_rng(seed)
    base = np.log(rng.uniform(0.003, 0.04, n_neurons))
    t = np.arange(n_samples)[:, None]
    rate = np.exp(base + 0.5 * np.sin(2 * np.pi * t / 2000.0 + rng.uniform(0, 6, n_neurons)))
    return rng.poisson(rate).astype(np.uint8)


MIB = 1024 * 1024  # bytes in the MiB that peak_rss_mb returns


def peak_rss_mb():
    """This process's peak resident set (MB): ``VmHWM`` of /proc/self/status where there is
    one. ``ru_maxrss`` is not used on Linux: it survives ``execve``, so a child reports at
    least the parent's resident set at the fork (1.28 GB here, the parent having made the
    counts)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ children
def child_streamed(cfg):
    import jax

    jax.config.update("jax_enable_x64", True)
    import coupling_tutorial as ct

    counts = np.load(cfg["data"], mmap_mode="r")
    basis = ct.raised_cosine_log_basis(cfg["basis"], cfg["window"])
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    D = ct.CouplingDesign(counts, basis, chunk_size=cfg.get("chunk"))
    model = ct.PopulationGLM("Ridge", cfg["ridge"], solver="newton-cg", tol=cfg["tol"],
                             maxiter=cfg.get("maxiter")).fit(D, counts)
    wall = time.perf_counter() - t0
    out = dict(wall=wall, n_iter=int(model.n_iter_.max()), n_cg=model.n_cg_iter_,
               kkt=float(model.kkt_residual_.max()), converged=bool(model.converged_.all()),
               objective=float(np.sum(model.objective_)), rss_start_mb=rss0,
               peak_mb=peak_rss_mb(), chunk=D.chunk_size)
    if cfg.get("save_coef"):
        np.save(cfg["save_coef"], np.vstack([np.asarray(model.coef_),
                                             np.asarray(model.intercept_)[None]]))
    if cfg.get("score_coef"):  # objective of someone else's coefficients
        Wb = np.load(cfg["score_coef"])
        model.coef_, model.intercept_ = Wb[:-1], Wb[-1]
        out["scored_objective"] = float(np.sum(model.objective(D, counts)))
    return out


def child_iteration(cfg):
    """Seconds per Newton-CG iteration and per pass, after a compiling call."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import coupling_tutorial as ct

    counts = np.load(cfg["data"], mmap_mode="r")
    basis = ct.raised_cosine_log_basis(cfg["basis"], cfg["window"])
    D = ct.CouplingDesign(counts, basis)
    fit = ct.PopulationGLM("Ridge", cfg["ridge"], solver="newton-cg", tol=1e-300, maxiter=1)
    import warnings

    warnings.simplefilter("ignore")
    fit.fit(D, counts)  # compiles (maxiter is not static: the same program runs below)
    res = {}
    for k in (3,):
        model = ct.PopulationGLM("Ridge", cfg["ridge"], solver="newton-cg", tol=1e-300,
                                 maxiter=k)
        t0 = time.perf_counter()
        model.fit(D, counts)
        res[k] = (time.perf_counter() - t0, model.n_cg_iter_)
    t3, c3 = res[3]
    # passes: per iteration 1 gradient + CG steps + >= 1 line-search trial; per fit 2 more
    # (the whole 3-iteration fit is timed: differences of two fits were lost in the noise
    # of a loaded machine)
    return dict(per_iter=t3 / 3, per_pass=t3 / (c3 + 2 * 3 + 2), cg_per_iter=c3 / 3)


def child_dense(cfg):
    import jax

    jax.config.update("jax_enable_x64", True)
    import coupling_tutorial as ct

    counts = np.load(cfg["data"])
    basis = ct.raised_cosine_log_basis(cfg["basis"], cfg["window"])
    t0 = time.perf_counter()
    X = ct.coupling_features(counts, basis)
    model = ct.PopulationGLM("Ridge", cfg["ridge"], solver="newton-cg",
                             tol=cfg["tol"]).fit(X, counts)
    wall = time.perf_counter() - t0
    W = np.vstack([np.asarray(model.coef_), np.asarray(model.intercept_)[None]])
    Ws = np.load(cfg["compare_coef"])
    return dict(wall=wall, n_iter=int(model.n_iter_.max()), kkt=float(model.kkt_residual_.max()),
                objective=float(np.sum(model.objective_)), peak_mb=peak_rss_mb(),
                max_rel_dw=float(np.max(np.abs(W - Ws)) / np.max(np.abs(Ws))))


NEMOS_CHILD = r"""
import json, sys, time, resource
import numpy as np
import jax
cfg = json.loads(sys.argv[1])
counts = np.load(cfg["data"])
import nemos as nmo
T, N = counts.shape
W, K = cfg["window"], cfg["basis"]
basis = nmo.basis.RaisedCosineLogConv(K, window_size=W)
X = basis.compute_features(counts)  # (T, N K) float, NaN in the first rows
X = np.asarray(X, dtype=np.float32)[W:]
y = counts[W:].astype(np.float32)
t0 = time.perf_counter()
model = nmo.glm.PopulationGLM(regularizer="Ridge",
                              regularizer_strength=cfg["ridge"]).fit(X, y)
jax.block_until_ready(model.coef_)
wall = time.perf_counter() - t0
stats = getattr(model.solver_state_, "stats", None)
np.save(cfg["save_coef"], np.vstack([np.asarray(model.coef_, np.float64),
                                     np.asarray(model.intercept_, np.float64)[None]]))
print(json.dumps(dict(wall=wall, n_iter=int(getattr(stats, "num_steps", -1)),
    converged=bool(getattr(stats, "converged", False)), solver=model.solver_name,
    peak_mb=int([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
                .split()[1]) / 1024)))
"""


CHILDREN = {"streamed": child_streamed, "iteration": child_iteration, "dense": child_dense}


def run_child(mode, cfg, timeout=1200, python=None):
    """Run a measurement in a fresh process; its JSON result."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if python is None:
        cmd = [sys.executable, __file__, "--child", mode, json.dumps(cfg)]
    else:
        cmd = [python, "-c", NEMOS_CHILD, json.dumps(cfg)]
        env.pop("PYTHONPATH")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(error=f"stopped after {timeout} s")
    if out.returncode:  # the last line naming an error (warnings may follow it)
        lines = out.stderr.strip().splitlines() or ["?"]
        errors = [x for x in lines if "Error" in x] or lines
        return dict(error=errors[-1][:200])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ parts
def part_fit(args, tmp, cfg):
    x_gb = cfg["rows"] * args.neurons * args.basis * 8 / 1e9
    coef = os.path.join(tmp, "coef_streamed.npy")
    s = run_child("streamed", dict(cfg, tol=1e-7, save_coef=coef))
    rows = []
    if "error" in s:
        print(f"streamed fit failed: {s['error']}")
        return None
    passes = 2 * s["n_iter"] + s["n_cg"] + 3
    rows.append(("streamed (ct.CouplingDesign), float64", s["wall"],
                 f"{s['n_iter']} ({s['n_cg']} CG)", "yes" if s["converged"] else "no",
                 f"{s['kkt']:.1e}", "0 (reference)",
                 f"{s['peak_mb'] * MIB / 1e9:.2f} ({(s['peak_mb'] - s['rss_start_mb']) * MIB / 1e9:.2f} "
                 f"above the start)",
                 f"{s['peak_mb'] * MIB / 1e9 / x_gb:.3f} "
                 f"({(s['peak_mb'] - s['rss_start_mb']) * MIB / 1e9 / x_gb:.3f})"))
    if x_gb * 2.7 < args.dense_max_gb:
        d = run_child("dense", dict(cfg, tol=1e-7, compare_coef=coef))
        if "error" in d:
            rows.append(("ct dense X, float64", d["error"], "", "", "", "", "", ""))
        else:
            rows.append(("ct dense X, float64", d["wall"], str(d["n_iter"]), "",
                         f"{d['kkt']:.1e}",
                         f"{(d['objective'] - s['objective']) / abs(s['objective']):.1e}"
                         f" (max rel dw {d['max_rel_dw']:.1e})",
                         f"{d['peak_mb'] * MIB / 1e9:.2f}",
                         f"{d['peak_mb'] * MIB / 1e9 / x_gb:.2f}"))
    else:
        rows.append(("ct dense X, float64", "not run (needs ~2.7 x X of memory)", "", "", "",
                     "", "", ""))
    print(f"\n(a-c) {args.neurons} neurons x {args.samples} bins x {args.basis} basis functions"
          f" (window {args.window}): dense float64 X = {x_gb:.2f} GB; streamed chunk "
          f"{s['chunk']} rows; memory at start of the child (Python, JAX, the memory-mapped "
          f"counts) {s['rss_start_mb'] * MIB / 1e9:.2f} GB\n")
    print("| fit | wall (s) | iterations | converged | KKT | rel. objective gap | "
          "peak RSS (GB) | peak / X |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        w = r[1] if isinstance(r[1], str) else f"{r[1]:.1f}"
        print("| " + " | ".join([r[0], w] + list(r[2:])) + " |")
    return dict(streamed=s, passes=passes, coef=coef)


def part_nemos(args, tmp, cfg, fit):
    if not os.path.exists(NEMOS_PYTHON):
        print(f"\nNeMoS skipped: no {NEMOS_PYTHON} (see benchmarks/README.md)")
        return
    coef = os.path.join(tmp, "coef_nemos.npy")
    r = run_child("nemos", dict(cfg, save_coef=coef), timeout=args.nemos_timeout,
                  python=NEMOS_PYTHON)
    print(f"\n(c) NeMoS 0.2.9 PopulationGLM('Ridge') with its default solver, "
          f"materialised float32 X "
          f"({cfg['rows'] * args.neurons * args.basis * 4 / 1e9:.2f} GB):")
    if "error" in r:
        print(f"NeMoS: {r['error']}")
        return
    line = (f"{r['solver']}: wall {r['wall']:.1f} s (incl. compilation), iterations "
            f"{r['n_iter']}, converged {'yes' if r['converged'] else 'no'}, peak RSS "
            f"{r['peak_mb'] * MIB / 1e9:.2f} GB")
    if fit:
        sc = run_child("streamed", dict(cfg, tol=1e-7, score_coef=coef))
        f_star = fit["streamed"]["objective"]
        line += (f", objective gap (float64, summed over neurons) "
                 f"{(sc['scored_objective'] - f_star) / abs(f_star):.1e} relative")
    print(line)


def part_scaling(args, tmp, fit):
    rows = []
    neurons = [64, 128, 256, 512]
    samples = [args.scaling_samples // 2, args.scaling_samples, 2 * args.scaling_samples]
    grid = [(n, args.scaling_samples) for n in neurons] + [(128, s) for s in samples
                                                            if s != args.scaling_samples]
    for n, t in grid:
        path = os.path.join(tmp, f"c{n}_{t}.npy")
        np.save(path, make_counts(n, t, seed=n))
        r = run_child("iteration", dict(data=path, basis=args.basis, window=args.window,
                                        ridge=args.ridge))
        rows.append((n, t, r))
    print(f"\n(d) time per Newton-CG iteration (float64, window {args.window}, "
          f"{args.basis} basis functions)\n")
    print("| neurons | bins | s per iteration | CG steps per iteration | s per pass |")
    print("|---|---|---|---|---|")
    for n, t, r in rows:
        if "error" in r:
            print(f"| {n} | {t} | {r['error']} | | |")
        else:
            print(f"| {n} | {t} | {r['per_iter']:.2f} | {r['cg_per_iter']:.1f} | "
                  f"{r['per_pass']:.3f} |")
    ok = [(n, t, r) for n, t, r in rows if "error" not in r]
    by_n = [(n, r["per_pass"]) for n, t, r in ok if t == args.scaling_samples]
    by_t = [(t, r["per_pass"]) for n, t, r in ok if n == 128]
    if len(by_n) >= 2 and len(by_t) >= 2:
        a_n = np.polyfit(np.log([x for x, _ in by_n]), np.log([y for _, y in by_n]), 1)[0]
        a_t = np.polyfit(np.log([x for x, _ in by_t]), np.log([y for _, y in by_t]), 1)[0]
        ref_n, ref_p = by_n[-1]
        per_pass = ref_p * (1000 / ref_n) ** a_n * (3.6e6 / args.scaling_samples) ** a_t
        passes = fit["passes"] if fit else args.passes
        print(f"\nfitted exponents: time per pass ~ neurons^{a_n:.2f} x bins^{a_t:.2f} "
              f"(a pass costs T N^2 K multiply-adds: exponents 2 and 1 expected)")
        print(f"predicted for 1000 neurons x 3.6e6 bins: {per_pass:.0f} s per pass; "
              f"x {passes} passes ({'the fit above' if fit else '--passes'}) = "
              f"{per_pass * passes / 3600:.1f} h on "
              f"these 2 cores")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", default="all", choices=["fit", "nemos", "scaling", "all"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--neurons", type=int, default=256)
    p.add_argument("--samples", type=int, default=300_000)
    p.add_argument("--basis", type=int, default=5)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--chunk", type=int, default=None)
    p.add_argument("--ridge", type=float, default=1e-4,
                   help="ridge strength of every fit (NeMoS's convention, as ct's)")
    p.add_argument("--passes", type=int, default=227,
                   help="passes per fit for the prediction when the fit part is not run "
                        "(227: 128 neurons x 20 000 bins, ridge 1e-4, tol 1e-7: 9 Newton "
                        "iterations, 206 CG steps)")
    p.add_argument("--scaling-samples", type=int, default=40_000)
    p.add_argument("--dense-max-gb", type=float, default=12.0)
    p.add_argument("--nemos-timeout", type=float, default=300.0)
    p.add_argument("--gpu-size", action="store_true",
                   help="fit 1000 neurons x 3.6e6 bins (needs an accelerator; not run in CI)")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        mode, cfg = args.child
        print(json.dumps(CHILDREN[mode](json.loads(cfg))))
        return
    if args.quick:
        args.neurons, args.samples, args.scaling_samples = 64, 50_000, 10_000
    if args.gpu_size:
        args.neurons, args.samples = 1000, 3_600_000
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "counts.npy")
        np.save(data, make_counts(args.neurons, args.samples))
        cfg = dict(data=data, basis=args.basis, window=args.window, chunk=args.chunk,
                   rows=args.samples - args.window, ridge=args.ridge)
        fit = None
        if args.part in ("fit", "nemos", "all"):
            fit = part_fit(args, tmp, cfg)
        if args.part in ("nemos", "all") and not args.gpu_size:
            part_nemos(args, tmp, cfg, fit)
        if args.part in ("scaling", "all") and not args.gpu_size:
            part_scaling(args, tmp, fit)


if __name__ == "__main__":
    main()
