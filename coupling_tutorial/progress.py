r"""Progress of long work: fits and simulations report how far they are (opt-in).

Every long computation of the package takes ``progress=...``:
:class:`~coupling_tutorial.PopulationGLM` and :class:`~coupling_tutorial.GLM` (a setting
of the estimator, as scikit-learn's ``verbose``: ``PopulationGLM(progress=True)``),
:func:`~coupling_tutorial.simulate_recurrent`, :func:`~coupling_tutorial.simulate_network`
and :func:`~coupling_tutorial.simulate_brunel`. The value is

``False`` or ``None`` (default)
    Nothing is reported, and the compiled program contains no callback at all.
``True``
    A display: a progress bar (``ipywidgets``) when running in a Jupyter or Colab kernel
    where ``ipywidgets`` imports, otherwise a line of text on ``sys.stderr`` rewritten in
    place with ``\r`` (:class:`NotebookProgress`, :class:`TextProgress`). Displays
    refresh at most every ``min_interval`` seconds (default 0.1), plus the final line.
a callable
    Called with every report, a :class:`FitProgress` or :class:`SimulationProgress`
    (named tuples of plain Python numbers), in order, on the calling thread or on JAX's
    callback thread; the last one has ``done=True``. Use it to log, to test, or to draw
    your own display; an exception it raises is re-raised once the computation ends.

How the numbers get out of compiled code: the solvers and simulators run inside
``jax.jit`` (a ``lax.while_loop`` per fit, a ``lax.scan`` over time steps); with progress
on, their loop bodies call :func:`jax.debug.callback` with one small array (a handful of
numbers). A callback costs a few tens of microseconds (it stops the loop, copies the
array to Python and calls a function), so

* fits report every iteration of the Newton solvers (each costs far more), and every
  ``10`` iterations of ``"proximal-gradient"`` (which also computes the objective at the
  iterate for the report);
* simulations report every ``max(2048, ceil(n_steps / 1000))`` steps (a run makes at
  most ~1000 reports).

Measured on 2 shared CPU cores (``benchmarks/progress_overhead.py``, CPU time): +3 % for
a Newton fit of 20 neurons x 20 features x 20 000 bins; for very small, fast work more in
relative terms but little in absolute terms (+0.4 ms on a 1 ms fit, +7 to +18 % on a
40 ms first-order fit, +10 % on a 20-neuron 100 ms simulation, +5 to +30 % on a 0.25 s
500-neuron Brunel run, where part of the cost is the test in every step and not the
reports).

``progress`` is a static argument of the compiled loops: with it off they are the same
programs as without this module (same results, bit for bit, with it on or off). The
callbacks are unordered ``jax.debug.callback``s (ordered effects do not combine with
sharded computations); successive reports of one loop come out in order because its
iterations run one after the other. The elapsed time is measured on the host from the
call (compilation included). Inside a function transformed by ``jax.jit`` or
``jax.vmap`` progress is ignored (no report can reach a display that only exists while
the call runs); with several processes (``jax.distributed``) only process 0 reports.

Examples
--------
>>> import jax, jax.numpy as jnp, coupling_tutorial as ct
>>> X = jax.random.normal(jax.random.key(0), (500, 2))
>>> y = jax.random.poisson(jax.random.key(1), jnp.exp(X @ jnp.array([[.3], [-.2]])))
>>> log = []
>>> model = ct.PopulationGLM(progress=log.append).fit(X, y)
>>> [r.iteration for r in log] == list(range(model.n_iter_.max() + 1))
True
>>> log[-1].done, bool(log[-1].objective == model.objective_.sum())
(True, True)
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import _describe, _is_traced, check_scalar

__all__ = ["FitProgress", "SimulationProgress", "TextProgress", "NotebookProgress"]


class FitProgress(NamedTuple):
    """One report of a fit (what a ``progress`` callable of a fit receives).

    Attributes
    ----------
    label : str
        What is running, e.g. ``"PopulationGLM (newton)"``.
    iteration : int
        Iterations done: the numbers below are those of the iterate after ``iteration``
        iterations. The last report (``done``) has ``iteration == max(n_iter_)``.
    objective : float
        Penalised objective summed over neurons at that iterate.
    kkt_residual : float
        Largest KKT residual over neurons (for ``"proximal-gradient"`` before ``done``:
        its stopping measure, the gradient mapping at the extrapolated point). The last
        report gives ``max(kkt_residual_)``.
    n_active : int
        Neurons still iterating (0 in the last report).
    n_neurons : int
    tol : float
        The tolerance the KKT residual is compared with.
    elapsed : float
        Seconds since the fit was called (compilation included).
    done : bool
        True for the last report, sent when the fit has finished.
    """

    label: str
    iteration: int
    objective: float
    kkt_residual: float
    n_active: int
    n_neurons: int
    tol: float
    elapsed: float
    done: bool


class SimulationProgress(NamedTuple):
    """One report of a simulation (what a ``progress`` callable of a simulator receives).

    Attributes
    ----------
    label : str
        The simulator, e.g. ``"simulate_recurrent"``.
    step : int
        Time steps done (burn-in / warm-up included); ``n_steps`` in the last reports.
    n_steps : int
        Time steps in all (burn-in / warm-up included).
    elapsed : float
        Seconds since the call (compilation included).
    eta : float
        Estimated seconds left, from the speed since the first report (NaN until two
        reports were seen; 0 when done).
    mean_rate : float
        Population mean rate in ``rate_unit``: for the GLM simulators the mean count per
        neuron and bin over the last 128 bins; for :func:`simulate_brunel` the mean rate
        since the end of the warm-up (NaN during it).
    rate_unit : str
        ``"spikes/bin"`` or ``"Hz"``.
    done : bool
        True for the last report, sent when the simulation has finished.
    """

    label: str
    step: int
    n_steps: int
    elapsed: float
    eta: float
    mean_rate: float
    rate_unit: str
    done: bool


def _format(info) -> str:
    """The one-line text of a report (shared by both displays)."""
    if isinstance(info, FitProgress):
        what = "done after" if info.done else "iteration"
        active = "" if info.done else f", {info.n_active}/{info.n_neurons} neurons active"
        return (f"{info.label}: {what} {info.iteration}{' iterations' if info.done else ''}"
                f", objective {info.objective:.10g}, KKT residual {info.kkt_residual:.2e} "
                f"(tol {info.tol:.0e}){active}, elapsed {info.elapsed:.2f} s")
    eta = "" if info.done or not math.isfinite(info.eta) else f", ETA {info.eta:.1f} s"
    rate = "" if not math.isfinite(info.mean_rate) else (
        f", mean rate {info.mean_rate:.4g} {info.rate_unit}")
    return (f"{info.label}: {info.step}/{info.n_steps} steps "
            f"({100.0 * info.step / info.n_steps:.0f}%), elapsed {info.elapsed:.2f} s"
            f"{eta}{rate}")


class _Throttled:
    """Shared by the displays: at most one refresh per ``min_interval`` s (and the last).

    A report after a ``done`` one opens a new display (one object can serve many runs).
    """

    _started = False  # a display is open (start was called, no `done` report since)

    def __init__(self, min_interval: float = 0.1):
        try:  # Python, NumPy and JAX real scalars (the shared check), finite and >= 0
            value = check_scalar(min_interval, "min_interval", "nonneg")
        except ValueError:  # (its TypeErrors are ValueErrors too): one message here
            raise ValueError("`min_interval` must be a non-negative number of seconds; "
                             f"got {_describe(min_interval)}.") from None
        self.min_interval = float(value)
        self._last = None       # time of the last refresh; None: none yet in this run
        self._first_kkt = None  # a fit's first KKT residual (the bar's starting point)

    def start(self, label: str):
        """Open a new display for a run of ``label``.

        The package calls it on the calling thread when a run starts (so that a notebook
        display appears in the cell that runs); otherwise the first report opens it.
        """
        self._last = self._first_kkt = None
        self._started = True
        self._begin(label)

    def __call__(self, info):
        now = time.monotonic()
        if not self._started:
            self.start(info.label)
        if self._last is None:  # the first report of the run
            self._first_kkt = getattr(info, "kkt_residual", None)
        elif not info.done and now - self._last < self.min_interval:
            return
        self._last = now
        self._show(info, _format(info), self._fraction(info))
        if info.done:
            self._started = False

    def _fraction(self, info) -> float:
        """How far along, in [0, 1]: steps done, or for a fit the progress of the KKT
        residual from its first value towards ``tol`` on a log scale."""
        if isinstance(info, SimulationProgress):
            return info.step / info.n_steps
        first, tol, kkt = self._first_kkt, info.tol, info.kkt_residual
        if info.done:
            return 1.0
        if not (first and first > tol and kkt > 0):
            return 0.0
        return min(max(math.log(first / kkt) / math.log(first / tol), 0.0), 1.0)

    def _begin(self, label):
        """Create the display of a new run."""

    def _show(self, info, text, fraction):
        raise NotImplementedError


class TextProgress(_Throttled):
    r"""Display progress as one line of text, rewritten in place (``\r``).

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default: ``sys.stderr`` at the time of each write).
    min_interval : float
        Least seconds between two refreshes (default 0.1: at most 10 per second); the
        last report is always written, followed by a newline.

    Examples
    --------
    >>> import io, coupling_tutorial as ct
    >>> out = io.StringIO()
    >>> show = ct.TextProgress(stream=out, min_interval=0.0)
    >>> show(ct.SimulationProgress("sim", 500, 1000, 0.5, 0.5, 0.02, "spikes/bin", False))
    >>> show(ct.SimulationProgress("sim", 1000, 1000, 1.0, 0.0, 0.02, "spikes/bin", True))
    >>> for line in out.getvalue().split("\r")[1:]:
    ...     print(line.rstrip())
    sim: 500/1000 steps (50%), elapsed 0.50 s, ETA 0.5 s, mean rate 0.02 spikes/bin
    sim: 1000/1000 steps (100%), elapsed 1.00 s, mean rate 0.02 spikes/bin
    """

    def __init__(self, stream=None, min_interval: float = 0.1):
        super().__init__(min_interval)
        self.stream = stream
        self._width = 0

    def _begin(self, label):
        self._width = 0

    def _show(self, info, text, fraction):
        stream = sys.stderr if self.stream is None else self.stream
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        stream.write("\r" + text + pad + ("\n" if info.done else ""))
        stream.flush()


class NotebookProgress(_Throttled):
    """Display progress as an ``ipywidgets`` progress bar with the numbers beside it.

    For Jupyter and Colab (``ipywidgets`` must be importable; it is not a dependency of
    the package). The bar shows the steps done of a simulation, or for a fit how far the
    KKT residual has come from its first value towards ``tol`` (log scale); it turns
    green when done.

    Parameters
    ----------
    min_interval : float
        Least seconds between two refreshes (default 0.1).

    Raises
    ------
    ImportError
        If ``ipywidgets`` cannot be imported (``progress=True`` then falls back to
        :class:`TextProgress`).

    Examples
    --------
    In a notebook ``progress=True`` is this display; to refresh it less often:

    >>> import coupling_tutorial as ct
    >>> model = ct.PopulationGLM(progress=ct.NotebookProgress(min_interval=1.0))  # doctest: +SKIP
    """

    def __init__(self, min_interval: float = 0.1):
        super().__init__(min_interval)
        import ipywidgets  # noqa: F401  (fail here, not in the middle of a run)

    def _begin(self, label):
        import ipywidgets
        from IPython.display import display

        self._bar = ipywidgets.FloatProgress(value=0.0, min=0.0, max=1.0)
        self._text = ipywidgets.HTML(value=f"{label}: starting (compiling)")
        display(ipywidgets.HBox([self._bar, self._text]))

    def _show(self, info, text, fraction):
        self._bar.value = fraction
        self._text.value = text
        if info.done:
            self._bar.bar_style = "success"


def _in_notebook() -> bool:
    """Whether this process is a Jupyter / Colab kernel (an IPython shell with a kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display():
    """The display ``progress=True`` means here: a bar in a notebook, else a text line."""
    if _in_notebook():
        try:
            return NotebookProgress()
        except ImportError:
            pass
    return TextProgress()


def _check_progress(progress, name: str = "progress"):
    """Raise unless ``progress`` is True, False, None or a callable."""
    if progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress):
        return progress
    raise ValueError(f"`{name}` must be True, False, None or a callable taking one "
                     f"progress report; got {_describe(progress)}.")


# ------------------------------------------------------------------------ host side
_RUNS: list = []  # the runs in progress, innermost last: callbacks report to it
_LOCK = threading.Lock()


class _Run:
    """One call that reports progress: the display, its clock, and the reports' route.

    Used as a context manager around the compiled call; ``on`` says whether the compiled
    program should contain the callbacks. On a CPU, JAX runs the callbacks on the calling
    thread; elsewhere they may come from a runtime thread (with asynchronous dispatch), so
    a display of the package is opened on the calling thread (``start``) and the reports
    only update it, one at a time (ipywidgets accepts updates from any thread).
    """

    def __init__(self, progress, label, traced=False, **fields):
        progress = _check_progress(progress)
        wanted = callable(progress) or bool(progress)  # (None, False and numpy's False: off)
        self.on = bool(wanted and not traced and jax.process_index() == 0)
        self.label, self.fields = label, fields
        self._sink = None if not self.on else progress if callable(progress) else _display()
        self._error = None
        self._lock = threading.Lock()
        self._first = None   # (step, elapsed) of a simulation's first report (for the ETA)
        self._stats = (0.0, 0)  # (spike sum, window) of its last report

    def __enter__(self):
        if self.on:
            self._t0 = time.perf_counter()
            self._thread = threading.get_ident()
            if isinstance(self._sink, _Throttled):
                self._sink.start(self.label)
            with _LOCK:
                _RUNS.append(self)
        return self

    def __exit__(self, *exc):
        if self.on:
            with _LOCK:
                _RUNS.remove(self)
            if self._error is not None and exc[0] is None:
                raise self._error
        return False

    def _emit(self, info):
        with self._lock:
            if self._error is not None:
                return
            try:
                self._sink(info)
            except Exception as err:  # re-raised when the run ends (not inside XLA)
                self._error = err

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    # ---- fits
    def fit_report(self, iteration, objective, kkt, n_active, done=False):
        self._emit(FitProgress(self.label, int(iteration), float(objective), float(kkt),
                               int(n_active), self.fields["n_neurons"],
                               self.fields["tol"], self.elapsed(), done))

    def finish_fit(self, out):
        """Wait for a fit's results and send the last report (``done=True``)."""
        if not self.on:
            return
        jax.block_until_ready(out)
        self.fit_report(np.max(np.asarray(out["n_iter"])),
                        np.sum(np.asarray(out["objective"])), np.max(np.asarray(out["kkt"])),
                        0, done=True)

    # ---- simulations
    def step_report(self, step, spike_sum, window, done=False):
        total = self.fields["n_steps"]
        elapsed = self.elapsed()
        if self._first is None:
            self._first = (step, elapsed)
        s0, e0 = self._first
        eta = 0.0 if done else ((total - step) * (elapsed - e0) / (step - s0)
                                if step > s0 else math.nan)
        rate = (spike_sum / (window * self.fields["n_neurons"]) * self.fields["rate_scale"]
                if window > 0 else math.nan)
        self._stats = (spike_sum, window)
        self._emit(SimulationProgress(self.label, int(step), total, elapsed, eta, rate,
                                      self.fields["rate_unit"], done))

    def every(self, granule: int = 1) -> int:
        """Steps between two reports: 0 when off, else a multiple of ``granule``."""
        if not self.on:
            return 0
        steps = max(_MIN_REPORT_STEPS, -(-self.fields["n_steps"] // _MAX_REPORTS))
        return granule * -(-steps // granule)

    def finish_steps(self, out):
        """Wait for a simulation's results and send the last report (``done=True``),
        with the mean rate of the last report from the loop."""
        if not self.on:
            return
        jax.block_until_ready(out)
        self.step_report(self.fields["n_steps"], *self._stats, done=True)


_start = _Run  # ``with _start(progress, label, traced, **fields) as run:``


def _innermost():
    """The run a callback reports to: the latest one started on this thread (on a CPU,
    callbacks run on the calling thread), else the latest one."""
    me = threading.get_ident()
    with _LOCK:
        mine = [r for r in _RUNS if r._thread == me]
        return mine[-1] if mine else (_RUNS[-1] if _RUNS else None)


def _receive_fit(packet):
    run = _innermost()
    if run is not None:
        k, f, kkt, n_active = np.asarray(packet).tolist()
        run.fit_report(k, f, kkt, n_active)


def _receive_steps(packet):
    run = _innermost()
    if run is not None:
        hi, lo, spikes, window = np.asarray(packet).tolist()
        run.step_report(int(hi) * _SPLIT + int(lo), spikes, window)


# ------------------------------------------------------------------ device side
_MIN_REPORT_STEPS = 2048  # a simulation reports at most every this many steps ...
_MAX_REPORTS = 1000       # ... and at most about this many times in all
_FIT_EVERY = {"proximal-gradient": 10}   # iterations between reports (default 1)
_SPLIT = 4096             # step counts travel as (step // _SPLIT, step % _SPLIT), exact
                          # in float32 up to 2**36 steps


def _report_fit(on: bool, k, objective, kkt, active, every: int = 1):
    """In a solver's loop body: report iteration ``k`` (a no-op when ``on`` is False).

    ``objective`` (per neuron, or a function returning it, then evaluated only when a
    report is sent), ``kkt`` (per neuron) and ``active`` (per-neuron flags) are reduced
    to one small array for one :func:`jax.debug.callback`; with ``every > 1`` only
    iterations that are multiples of ``every`` report.
    """
    if not on:
        return

    def send():
        f = objective() if callable(objective) else objective
        dt = f.dtype
        jax.debug.callback(_receive_fit, jnp.stack([
            jnp.asarray(k, dt), jnp.sum(f), jnp.max(kkt).astype(dt),
            jnp.sum(active).astype(dt)]))

    if every == 1:
        send()
    else:
        jax.lax.cond(k % every == 0, send, lambda: None)


def _report_steps(every: int, step, total, stats: Callable, dtype):
    """In a simulation's time loop: report ``step`` steps done, every ``every`` steps.

    A report is sent when ``step`` is a multiple of ``every`` or equals ``total`` (never
    for padding steps beyond ``total``); ``stats()`` returns ``(spike_sum, window)``, the
    spikes of all neurons in the last ``window`` steps (evaluated only then). ``every``
    is static: 0 compiles no callback.
    """
    if not every:
        return

    def send():
        spikes, window = stats()
        jax.debug.callback(_receive_steps, jnp.stack([
            jnp.asarray(step // _SPLIT, dtype), jnp.asarray(step % _SPLIT, dtype),
            jnp.asarray(spikes, dtype), jnp.asarray(window, dtype)]))

    jax.lax.cond((step <= total) & ((step % every == 0) | (step == total)), send,
                 lambda: None)


def _is_any_traced(*args) -> bool:
    return any(_is_traced(x) for x in jax.tree.leaves(args))
