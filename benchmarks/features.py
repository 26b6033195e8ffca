"""Benchmark: the causal design matrix (coupling_features) vs numpy and NeMoS.

    python benchmarks/features.py [--neurons 100] [--samples 100000] [--basis 8] [--window 100]

Times ``coupling_tutorial.coupling_features`` for counts ``(n_samples, n_neurons)`` and a
log raised-cosine basis ``(window, n_basis)`` against

* a straightforward numpy implementation (``np.convolve`` per neuron and basis function),
* NeMoS's ``RaisedCosineLogConv(...).compute_features`` (run with the Python of a separate
  virtual environment, ``$NEMOS_PYTHON``, default ``/work/refenvs/nemos/bin/python``; see
  benchmarks/README.md), skipped with a message if that Python is missing.

Each implementation runs in its own subprocess so that its peak memory (``ru_maxrss``
minus the resident size just before the call) is its own. All run in float64 on the
same counts (numpy seed 0, Poisson rate 0.1 per bin). The first call includes JAX's
compilation; "repeat" is the best of three further calls. The outputs are compared on
every row after the first window.
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
NEMOS_PYTHON = os.environ.get("NEMOS_PYTHON", "/work/refenvs/nemos/bin/python")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def make_counts(n_samples, n_neurons):
    return np.random.default_rng(0).poisson(0.1, (n_samples, n_neurons)).astype(np.float64)


def log_basis_numpy(n_basis, window):
    """NeMoS's log raised-cosine kernel, written in numpy (identical to ct's; tested)."""
    x = np.linspace(0, 1, window)
    u = np.log(50.0 * x + 1) / np.log(51.0)
    peaks = np.linspace(0, 1 - 2.0 / (n_basis + 1.0), n_basis)
    arg = np.clip(np.pi * (u[:, None] - peaks[None]) / ((peaks[1] - peaks[0]) * 2.0), -np.pi, np.pi)
    return 0.5 * (np.cos(arg) + 1)


def worker(impl: str, args, out_file: str) -> None:
    counts = make_counts(args.samples, args.neurons)
    basis = log_basis_numpy(args.basis, args.window)
    if impl == "coupling_tutorial":
        import jax

        jax.config.update("jax_enable_x64", True)
        import coupling_tutorial as ct

        def run():
            return np.asarray(ct.coupling_features(counts, basis).block_until_ready())
    elif impl == "numpy":
        def run():
            T, N = counts.shape
            W, K = basis.shape
            out = np.empty((T, N * K))
            for j in range(N):
                for k in range(K):
                    full = np.convolve(counts[:, j], basis[:, k])  # full[t] = sum_l y[t-l] B[l]
                    out[1:, j * K + k] = full[: T - 1]              # shift: bin t sees t-1-l
            out[:W] = np.nan
            return out
    elif impl == "nemos":
        import jax

        jax.config.update("jax_enable_x64", True)
        import nemos as nmo

        bas = nmo.basis.RaisedCosineLogConv(args.basis, window_size=args.window)

        def run():
            return np.asarray(bas.compute_features(counts))
    else:
        raise SystemExit(f"unknown implementation {impl}")

    base = rss_mb()
    t0 = time.perf_counter()
    X = run()
    first = time.perf_counter() - t0
    peak = peak_mb() - base
    del X
    repeats = []
    for _ in range(3):
        t0 = time.perf_counter()
        X = run()
        repeats.append(time.perf_counter() - t0)
    sample = X[args.window:args.window + 2000]
    np.save(out_file + ".npy", sample)
    json.dump({"first": first, "repeat": min(repeats), "peak_mb": peak,
               "out_mb": X.nbytes / 1e6, "shape": list(X.shape)}, open(out_file, "w"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--neurons", type=int, default=100)
    p.add_argument("--samples", type=int, default=100_000)
    p.add_argument("--basis", type=int, default=8)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args, args.out)

    size_args = ["--neurons", str(args.neurons), "--samples", str(args.samples),
                 "--basis", str(args.basis), "--window", str(args.window)]
    results = {}
    tmp = tempfile.mkdtemp()
    for impl, python in [("coupling_tutorial", sys.executable), ("numpy", sys.executable),
                         ("nemos", NEMOS_PYTHON)]:
        if not Path(python).exists():
            print(f"[skip] {impl}: {python} not found (see benchmarks/README.md)")
            continue
        out = os.path.join(tmp, impl + ".json")
        env = dict(os.environ, PYTHONPATH=str(HERE.parent))
        proc = subprocess.run([python, __file__, "--worker", impl, "--out", out, *size_args],
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"[fail] {impl}:\n{proc.stderr[-2000:]}")
            continue
        results[impl] = json.load(open(out))
        results[impl]["sample"] = np.load(out + ".npy")

    ref = results["coupling_tutorial"]
    print(f"\ncoupling_features: {args.neurons} neurons x {args.samples} bins x {args.basis} "
          f"basis functions, window {args.window}, float64 "
          f"(output {ref['out_mb']:.0f} MB)\n")
    print("| implementation | first call (s) | repeat (s) | repeat vs ours | peak extra memory (MB) | peak / output | max abs diff vs ours |")
    print("|---|---|---|---|---|---|---|")
    for impl, r in results.items():
        diff = float(np.max(np.abs(r["sample"] - ref["sample"])))
        print(f"| {impl} | {r['first']:.2f} | {r['repeat']:.2f} | {r['repeat'] / ref['repeat']:.1f}x "
              f"| {r['peak_mb']:.0f} | {r['peak_mb'] / r['out_mb']:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
