"""Benchmark: fitting a population Poisson GLM to the optimum, against NeMoS, statsmodels
and scikit-learn.

    python benchmarks/glm_fit.py [--quick] [--cases i,ii] [--subset 3] [--methods a,b]

Cases (coupling design matrices of a simulated recurrent network with the exp link,
``ct.simulate_recurrent`` + ``ct.coupling_features``, first window dropped):

* (i)  20 neurons x 100 000 bins x 160 features (8 log raised cosines, window 100)
* (ii) 100 neurons x 50 000 bins x 500 features (5 log raised cosines, window 100)

Methods, each in its own subprocess (peak memory = ``ru_maxrss`` of that process minus its
resident size after loading the data), under ``flock /tmp/heavy.lock``:

* ``ct``: ``ct.PopulationGLM()`` with default settings, in float64 and in float32; the
  first fit (compile + run) and the best of two repeated fits are reported.
* ``nemos``: ``nemos.glm.PopulationGLM()`` defaults (LBFGS, tol 1e-4, maxiter 500) in
  float32 (NeMoS's default) and float64, and with ``solver_kwargs=dict(tol=1e-8,
  maxiter=2000)`` (tight); run with ``$NEMOS_PYTHON`` (default
  ``/work/refenvs/nemos/bin/python``), skipped with a message if missing. One fit each:
  its time includes NeMoS's compilation.
* ``statsmodels``: ``sm.GLM(y_i, add_constant(X), Poisson()).fit()`` (IRLS) per neuron.
* ``sklearn-lbfgs``: ``PoissonRegressor(alpha=0)`` per neuron (its default lbfgs, tol 1e-4);
  ``sklearn-newton``: ``PoissonRegressor(alpha=0, solver="newton-cholesky", tol=1e-8)``.
  statsmodels and scikit-learn run from the NeMoS environment (or this one) on the first
  ``--subset`` neurons of case (ii) and all neurons of case (i); times of subsets are
  scaled to the full population (marked ``*``).

Every method's coefficients are scored with the float64 objective (mean Poisson negative
log-likelihood without log y!, summed over neurons, as NeMoS) and compared with the
optimum ``f*`` (ct's float64 fit, whose KKT residual is ~1e-12): "rel. gap" is
``(f - f*) / |f*|``, "max |dw|" the largest coefficient difference.
``--quick`` skips the slowest run, NeMoS with tight tolerance on case (ii).
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
LOCK = os.environ.get("HEAVY_LOCK", "/tmp/heavy.lock")
CASES = {
    "i": dict(n_neurons=20, n_samples=100_000, n_basis=8, window=100, seed=0),
    "ii": dict(n_neurons=100, n_samples=50_000, n_basis=5, window=100, seed=1),
}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class RssPoller:
    """Largest resident size seen while active (polls /proc every 2 ms in a thread).

    ``ru_maxrss`` alone would also count the transient copy made while loading the data
    (numpy array + JAX array), which is not the fit's memory.
    """

    def __init__(self):
        import threading

        self.max = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max = max(self.max, rss_mb())
            self._stop.wait(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.max = max(self.max, rss_mb())


# ----------------------------------------------------------------------------- data
def make_data(case: str, path: Path) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import coupling_tutorial as ct

    p = CASES[case]
    n, k, ws = p["n_neurons"], p["n_basis"], p["window"]
    rng = np.random.default_rng(p["seed"])
    B = ct.raised_cosine_log_basis(k, ws)
    # sparse random coupling (30 % of pairs), self-inhibition; small enough to stay stable
    coef = rng.normal(0, 0.6 / np.sqrt(n), (n, n, k)) * (rng.random((n, n, 1)) < 0.3)
    coef[np.arange(n), np.arange(n)] = -0.5
    b = np.log(0.04) + rng.normal(0, 0.3, n)
    spikes, _ = ct.simulate_recurrent(jnp.asarray(coef), None, jnp.asarray(b),
                                      jax.random.key(p["seed"]), None, B,
                                      jnp.zeros((ws, n)), n_steps=p["n_samples"] + ws)
    X = np.asarray(ct.coupling_features(spikes, B))[ws:]
    y = np.asarray(spikes, dtype=np.float64)[ws:]
    np.savez(path, X=X, y=y)


# ----------------------------------------------------------------------------- workers
def _load(path, dtype):
    d = np.load(path)
    return d["X"].astype(dtype), d["y"].astype(dtype)


def worker(method: str, case: str, data: str, out: str, subset: int) -> None:
    res: dict = {"method": method}
    if method.startswith(("ct", "nemos")):
        import warnings

        import jax

        x64 = method.endswith("f64")
        jax.config.update("jax_enable_x64", x64)
        import jax.numpy as jnp

        dtype = np.float64 if x64 else np.float32
        # Warm-up fit on 2000 bins of the same width, before the data are loaded: the
        # compiler's (size-independent) working memory is then already in the allocator,
        # so the resident-size increase below is the fit's own memory.
        Xn, yn = _load(data, dtype)
        Xw, yw = jnp.asarray(Xn[:2000]), jnp.asarray(yn[:2000])
        del Xn, yn
        if method.startswith("ct"):
            sys.path.insert(0, str(HERE.parent))
            import coupling_tutorial as ct

            with warnings.catch_warnings():  # 2000 bins may not identify 500 features
                warnings.simplefilter("ignore")
                ct.PopulationGLM().fit(Xw, yw)
        else:
            import nemos as nmo

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nmo.glm.PopulationGLM(solver_kwargs=dict(maxiter=5)).fit(Xw, yw)
        del Xw, yw
        Xn, yn = _load(data, dtype)
        X, y = jnp.asarray(Xn), jnp.asarray(yn)
        del Xn, yn
        base = rss_mb()
        poller = RssPoller().__enter__()
        if method.startswith("ct"):
            sys.path.insert(0, str(HERE.parent))
            import coupling_tutorial as ct

            t = time.perf_counter()
            model = ct.PopulationGLM().fit(X, y)
            jax.block_until_ready(model.coef_)
            first = time.perf_counter() - t
            reps = []
            base_steady = rss_mb()
            with RssPoller() as steady:  # memory of a fit once compiled (no compiler)
                for _ in range(2):
                    t = time.perf_counter()
                    model = ct.PopulationGLM().fit(X, y)
                    jax.block_until_ready(model.coef_)
                    reps.append(time.perf_counter() - t)
            res["steady_extra_mb"] = steady.max - base_steady
            res.update(first=first, time=min(reps), compile=max(first - min(reps), 0.0),
                       iters=int(model.n_iter_.max()), n_cg=model.n_cg_iter_,
                       converged=bool(model.converged_.all()), solver=model.solver_)
        else:
            import warnings

            import nemos as nmo

            kw = {}
            if "tight" in method:
                kw = dict(solver_kwargs=dict(tol=1e-8, maxiter=2000))
            model = nmo.glm.PopulationGLM(**kw)
            t = time.perf_counter()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                model.fit(X, y)
            jax.block_until_ready(model.coef_)
            res.update(first=time.perf_counter() - t, time=None, compile=None)
            stats = getattr(model.solver_state_, "stats", None)
            res["iters"] = int(getattr(stats, "num_steps", -1)) if stats is not None else None
            conv = getattr(stats, "converged", None)
            res["converged"] = bool(conv) if conv is not None else None
            res["warned"] = any("did not converge" in str(x.message) for x in w)
            res["solver"] = model.solver_name
        coef, intercept = np.asarray(model.coef_, np.float64), np.asarray(model.intercept_, np.float64)
        res["neurons"] = list(range(coef.shape[1]))
    else:
        Xn, yn = _load(data, np.float64)
        n_fit = yn.shape[1] if subset <= 0 else min(subset, yn.shape[1])
        base = rss_mb()
        poller = RssPoller().__enter__()
        coefs, ints, iters = [], [], []
        t = time.perf_counter()
        if method == "statsmodels":
            import statsmodels.api as sm

            A = sm.add_constant(Xn, has_constant="add")
            for i in range(n_fit):
                r = sm.GLM(yn[:, i], A, family=sm.families.Poisson()).fit()
                coefs.append(r.params[1:])
                ints.append(r.params[0])
                iters.append(int(r.fit_history["iteration"]))
        else:
            import warnings

            from sklearn.linear_model import PoissonRegressor

            kw = dict(alpha=0.0)
            if method == "sklearn-newton":
                kw.update(solver="newton-cholesky", tol=1e-8, max_iter=100)
            for i in range(n_fit):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = PoissonRegressor(**kw).fit(Xn, yn[:, i])
                coefs.append(m.coef_)
                ints.append(m.intercept_)
                iters.append(int(m.n_iter_))
        elapsed = time.perf_counter() - t
        scale = yn.shape[1] / n_fit
        res.update(first=elapsed * scale, time=None, compile=None, iters=max(iters),
                   scaled=scale > 1, converged=None, solver=method)
        coef, intercept = np.array(coefs).T, np.array(ints)
        res["neurons"] = list(range(n_fit))
    poller.__exit__()
    res["peak_mb"] = poller.max
    res["extra_mb"] = poller.max - base
    np.savez(out, coef=coef, intercept=intercept)
    print(json.dumps(res))


def run_worker(python: str, method: str, case: str, data: Path, subset: int, tmp: Path):
    out = tmp / f"{method}_{case}.npz"
    cmd = ["flock", LOCK, python, str(Path(__file__).resolve()), "--worker", method,
           "--case", case, "--data", str(data), "--out", str(out), "--subset", str(subset)]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines or not out.exists():
        print(f"  {method} on ({case}) failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
              file=sys.stderr)
        return None
    if proc.returncode != 0:  # e.g. a crash of XLA's threads at interpreter exit
        print(f"  note: {method} on ({case}) exited with {proc.returncode} after reporting",
              file=sys.stderr)
    res = json.loads(lines[-1])
    d = np.load(out)
    res["coef"], res["intercept"] = d["coef"], d["intercept"]
    return res


def objective(X, y, coef, intercept):
    """Per-neuron float64 objective: mean over bins of rate - y * log(rate)."""
    eta = X @ coef + intercept
    return np.mean(np.exp(eta) - y * eta, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--case", default="i")
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--subset", type=int, default=3)
    ap.add_argument("--cases", default="i,ii")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--methods", help="comma-separated subset of the methods (ct-f64 always runs)")
    ap.add_argument("--datadir", default=os.path.join(tempfile.gettempdir(), "glm_bench"))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.case, args.data, args.out, args.subset)
        return

    tmp = Path(args.datadir)
    tmp.mkdir(parents=True, exist_ok=True)
    have_nemos = Path(NEMOS_PYTHON).exists()
    if not have_nemos:
        print(f"NeMoS skipped: {NEMOS_PYTHON} not found (set NEMOS_PYTHON; see benchmarks/README.md)")
    ref_python = NEMOS_PYTHON if have_nemos else sys.executable
    rows, summary = [], []
    for case in args.cases.split(","):
        data = tmp / f"case_{case}.npz"
        if not data.exists():
            print(f"simulating case ({case}) ...", flush=True)
            subprocess.run(["flock", LOCK, sys.executable, "-c",
                            f"import sys; sys.path.insert(0, {str(HERE)!r}); "
                            f"sys.path.insert(0, {str(HERE.parent)!r}); import glm_fit; "
                            f"glm_fit.make_data({case!r}, __import__('pathlib').Path({str(data)!r}))"],
                           check=True)
        d = np.load(data)
        X, y = d["X"], d["y"]
        x_mb = X.nbytes / 1e6
        methods = [(sys.executable, "ct-f64"), (sys.executable, "ct-f32")]
        if have_nemos:
            methods += [(NEMOS_PYTHON, "nemos-default-f32"), (NEMOS_PYTHON, "nemos-default-f64")]
            if not (args.quick and case == "ii"):
                methods += [(NEMOS_PYTHON, "nemos-tight-f64")]
        methods += [(ref_python, "statsmodels"), (ref_python, "sklearn-lbfgs"),
                    (ref_python, "sklearn-newton")]
        if args.methods:
            keep = {"ct-f64", *args.methods.split(",")}  # ct-f64 is the optimum compared with
            methods = [m for m in methods if m[1] in keep]
        results = {}
        for python, method in methods:
            print(f"running {method} on ({case}) ...", file=sys.stderr, flush=True)
            subset = 0 if case == "i" else args.subset
            r = run_worker(python, method, case, data, subset, tmp)
            if r is not None:
                results[method] = r
        if "ct-f64" not in results:
            raise SystemExit("ct-f64 failed; no optimum to compare with")
        opt = results["ct-f64"]
        f_opt = objective(X, y, opt["coef"], opt["intercept"])
        for method, r in results.items():
            idx = r["neurons"]
            f = objective(X, y[:, idx], r["coef"], r["intercept"]).sum()
            fo = f_opt[idx].sum()
            gap = (f - fo) / abs(fo)
            dw = np.abs(r["coef"] - opt["coef"][:, idx]).max()
            t = r["time"] if r["time"] is not None else r["first"]
            rows.append(dict(case=case, method=method, time=t, compile=r["compile"],
                             first=r["first"], iters=r["iters"], converged=r.get("converged"),
                             gap=gap, dw=dw, peak=r["peak_mb"], extra=r["extra_mb"], x_mb=x_mb,
                             scaled=r.get("scaled", False), n_cg=r.get("n_cg")))
    print()
    print("| case | method | wall time (s) | compile (s) | iterations | converged | rel. gap to f* | max abs dw | peak RSS (MB) | extra over data (x X) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        comp = "" if r["compile"] is None else f"{r['compile']:.1f}"
        it = f"{r['iters']}" + (f" ({r['n_cg']} CG)" if r["n_cg"] else "")
        star = "*" if r["scaled"] else ""
        conv = {None: "", True: "yes", False: "no"}[r["converged"]]
        print(f"| ({r['case']}) | {r['method']} | {r['time']:.2f}{star} | {comp} | {it} | {conv} | "
              f"{r['gap']:.1e} | {r['dw']:.1e} | {r['peak']:.0f} | {r['extra'] / r['x_mb']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
