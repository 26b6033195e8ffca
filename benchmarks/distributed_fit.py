"""A coupled-GLM fit across processes with ``jax.distributed``, checked against one process.

    python benchmarks/distributed_fit.py --processes 2 [--neurons 8 --samples 20000]

The parent simulates counts, saves them to a ``.npy`` file and starts ``--processes``
local processes over loopback (CPU collectives through gloo). Each one calls
``ct.init_distributed("127.0.0.1:PORT", N, i)``, builds a one-axis mesh over the devices
of all processes (``ct.time_mesh()``) and a ``ct.CouplingDesign`` of the memory-mapped
counts on it, so it reads only its own block of bins plus the filter-window halo; the
fit's sums over time are collectives between the processes. The parent then fits the
same design in a single process and prints, as its last line,
``max coefficient difference: <value>``.

On a cluster the worker part runs as is, one process per node or per accelerator:

* Slurm: ``srun -N 4 --ntasks-per-node=1 python benchmarks/distributed_fit.py --worker
  --data counts.npy --out coef.npy`` (``jax.distributed.initialize()`` reads the coordinator address, the
  number of processes and this process's id from Slurm's environment);
* Open MPI: ``mpirun -np 4 python benchmarks/distributed_fit.py --worker --data counts.npy``
  (``--out`` defaults to ``coef.npy`` in the working directory).

Without ``--port`` the worker calls ``ct.init_distributed()`` with no arguments (that
auto-detection); the counts file must be readable by every node (a shared file system).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _basis(args):
    import coupling_tutorial as ct

    return ct.raised_cosine_log_basis(args.basis, args.window)


def _fit(counts, mesh, args):
    import coupling_tutorial as ct

    D = ct.CouplingDesign(counts, _basis(args), chunk_size=args.chunk, mesh=mesh)
    model = ct.PopulationGLM(regularizer="Ridge", regularizer_strength=1e-4,
                             solver="newton-cg").fit(D, counts)
    return model


def worker(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import coupling_tutorial as ct

    if args.port:
        ct.init_distributed(f"127.0.0.1:{args.port}", args.processes, args.process_id)
    else:  # Slurm / Open MPI launch: auto-detected
        ct.init_distributed()
    counts = np.load(args.data, mmap_mode="r")  # each process reads only its blocks
    t0 = time.perf_counter()
    model = _fit(counts, ct.time_mesh(), args)
    W = np.asarray(model.coef_)
    elapsed = time.perf_counter() - t0
    if jax.process_index() == 0:
        np.save(args.out, W)
        print(f"{jax.process_count()} processes, {jax.device_count()} devices: "
              f"{elapsed:.1f} s, KKT {model.kkt_residual_.max():.1e}, "
              f"converged {bool(model.converged_.all())}", flush=True)
    jax.distributed.shutdown()


def simulate(args, path):
    """Counts with shared slow modulation (numpy; ~2 spikes/s... 40 spikes/s at 1 ms)."""
    rng = np.random.default_rng(0)
    t = np.arange(args.samples)[:, None]
    phase = rng.uniform(0, 2 * np.pi, args.neurons)
    rate = np.exp(-3.5 + 0.8 * np.sin(2 * np.pi * t / 700.0 + phase))
    np.save(path, rng.poisson(rate).astype(np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--neurons", type=int, default=8)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--basis", type=int, default=4)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--data", help="counts .npy (worker; default: simulate)")
    p.add_argument("--out", default="coef.npy",
                   help="where process 0 of a worker run saves the coefficients (.npy)")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or os.path.join(tmp, "counts.npy")
        if not args.data:
            simulate(args, data)
        out = os.path.join(tmp, "coef.npy")
        with socket.socket() as s:  # a free port for the coordinator
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get(
            "PYTHONPATH", ""), XLA_FLAGS="--xla_force_host_platform_device_count=1")
        common = [sys.executable, __file__, "--worker", "--data", data, "--out", out,
                  "--port", str(port), "--processes", str(args.processes),
                  "--basis", str(args.basis), "--window", str(args.window),
                  "--chunk", str(args.chunk)]
        procs = [subprocess.Popen(common + ["--process-id", str(i)], env=env)
                 for i in range(args.processes)]
        codes = [proc.wait(timeout=600) for proc in procs]
        if any(codes):
            raise SystemExit(f"worker exit codes {codes}")
        W_dist = np.load(out)
        import jax

        jax.config.update("jax_enable_x64", True)
        t0 = time.perf_counter()
        W_one = np.asarray(_fit(np.load(data), None, args).coef_)
        print(f"1 process: {time.perf_counter() - t0:.1f} s")
    print(f"max coefficient difference: {np.max(np.abs(W_dist - W_one)):.3e}")


if __name__ == "__main__":
    main()
