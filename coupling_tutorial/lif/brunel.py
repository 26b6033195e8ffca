"""The Brunel (2000) network simulator.

Chapter 4, "The Brunel network: theory against simulation": :func:`simulate_brunel` reads
as its three steps, set-up (:func:`_set_up`), run (:func:`_run`) and summary
(:func:`_summary`).
"""

from __future__ import annotations

from typing import NamedTuple

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import _describe, as_array, check_finite, check_int, check_key
from ._brunel_loop import _brunel_scan, _SPIKE_BLOCK
from ._checks import _scalar_thresholds, _n_steps, _scalar
from .._poisson import _poisson_cdf_table
from ..progress import _start
from .connectivity import Connectivity, fixed_indegree_connectivity
from .results import LIFResult

__all__ = ["simulate_brunel"]


_SEGMENT_STEPS = 10_000  # steps per compiled scan call (long runs are split)
_MAX_TABLE_LAM = 50.0  # external counts per step drawn by table inversion up to this mean


def simulate_brunel(
    key,
    g,
    eta,
    n_exc: int = 10000,
    n_inh: int = 2500,
    c_exc: int | None = None,
    c_inh: int | None = None,
    J=0.1e-3,
    delay=1.5e-3,
    tau_m=20e-3,
    tau_r=2e-3,
    V_th=20e-3,
    V_r=10e-3,
    dt=1e-4,
    t_sim=1.0,
    t_warmup=0.1,
    record_spikes: bool = True,
    *,
    bin_size=None,
    v_init=None,
    connectivity: Connectivity | None = None,
    external_input=None,
    record_v=None,
    max_spikes_per_step: int | None = None,
    progress=False,
):
    r"""Simulate the sparse E--I LIF network of Brunel (2000) (model A, delta synapses).

    Each neuron integrates, between spikes, exactly

    .. math::

        V_i(t + \Delta t) = V_i(t)\, e^{-\Delta t/\tau_m}
            + \sum_{\text{spikes } j \to i \text{ arriving in } (t, t+\Delta t]} J_{ij}
            + J\, n^\mathrm{ext}_i(t),
        \qquad n^\mathrm{ext}_i(t) \sim \mathrm{Poisson}(C_E\,\nu_\mathrm{ext}\,\Delta t),

    with :math:`J_{ij} = J` for an excitatory and :math:`-gJ` for an inhibitory source, a
    spike of :math:`j` arriving ``delay`` after it is emitted, and an external drive of
    :math:`C_E` independent Poisson synapses per neuron at
    :math:`\nu_\mathrm{ext} = \eta\,\nu_\mathrm{thr}`,
    :math:`\nu_\mathrm{thr} = V_\mathrm{th}/(J C_E \tau_m)`. When :math:`V_i \ge V_\mathrm{th}`
    the neuron spikes, is reset to :math:`V_r` and clamped there (ignoring its input) for
    ``tau_r``; it can spike again ``tau_r + dt`` after the previous spike at the earliest.
    The mean-field input statistics of this network are
    :math:`\mu = J C_E \tau_m (\nu_\mathrm{ext} + \nu (1 - g\gamma))`,
    :math:`\sigma^2 = J^2 C_E \tau_m (\nu_\mathrm{ext} + \nu (1 + g^2\gamma))`,
    :math:`\gamma = C_I/C_E`.

    The external counts are drawn by inverting the tabulated Poisson CDF with one uniform
    number per neuron and step (with ``jax.random.poisson`` when the mean count per step
    exceeds 50). Spike propagation costs time proportional to (number of spikes) x
    (out-degree): the
    connectivity is stored by source (:func:`fixed_indegree_connectivity`) and the rows of
    the neurons that spiked are scatter-added into a ring buffer of ``delay/dt`` slots.
    The time loop is one ``jax.lax.scan``, compiled once per network size and step count.

    Parameters
    ----------
    key : jax.random key
        Seeds the connectivity, the initial potentials and the external drive.
    g : float
        Relative strength of inhibition (>= 0).
    eta : float
        External rate in units of :math:`\nu_\mathrm{thr}` (>= 0).
    n_exc, n_inh : int
        Population sizes (>= 1). Neurons ``0 .. n_exc-1`` are excitatory.
    c_exc, c_inh : int, optional
        In-degrees; default 10 % of ``n_exc`` and of ``n_inh`` (rounded, at least 1).
        ``c_exc`` is also the number of external synapses.
    J : float
        Excitatory PSP jump (V), > 0.
    delay : float
        Transmission delay (s), a positive multiple of ``dt``.
    tau_m, tau_r : float
        Membrane time constant (> 0) and refractory period (>= 0, a multiple of ``dt``), s.
    V_th, V_r : float
        Threshold and reset (V), ``V_th > V_r``.
    dt : float
        Time step (s).
    t_sim : float
        Length of the measurement window (s) after the warm-up; rounded to whole steps.
    t_warmup : float
        Simulated time discarded before measuring (s), >= 0.
    record_spikes : bool
        Return the spike times and ids of the measurement window.
    bin_size : float, optional
        Bin width of ``population_rate`` (s); default ``dt``. Rounded to whole steps.
    v_init : array_like, shape ``(n_neurons,)``, optional
        Initial potentials (V); default uniform in :math:`[V_r, V_\mathrm{th})`.
    connectivity : Connectivity, optional
        A network from :func:`fixed_indegree_connectivity` to reuse (then ``n_exc``,
        ``n_inh``, ``c_exc`` and ``c_inh`` are taken from it); default: drawn from ``key``.
    external_input : array_like, shape ``(n_steps_total, n_neurons)``, optional
        External input (V per step, warm-up included) replacing the Poisson drive
        (``eta`` then only sets the reported ``nu_ext``).
    record_v : sequence of int, optional
        Neurons whose potential is returned in ``v_trace``.
    max_spikes_per_step : int, optional
        How many spikes per step are *recorded* (default ``max(64, n_neurons // 20)``);
        excess spikes still act on the network and are counted in ``n_spikes_dropped``.
        Runs longer than 10 000 steps are split into equal segments (one compilation)
        and the recording is compacted after each, so its memory is about
        ``4 * 10_000 * max_spikes_per_step`` bytes plus 12 bytes per recorded spike.
    progress : bool or callable
        Report progress over the warm-up and measurement steps (off by default): ``True``
        shows the steps done, elapsed time, time left and the mean rate (Hz) since the
        warm-up, as a bar in a notebook or a text line on ``sys.stderr``; a callable
        receives a :class:`~coupling_tutorial.SimulationProgress` every
        ``max(2048, n_steps / 1000)`` steps (see :mod:`coupling_tutorial.progress`).

    Returns
    -------
    LIFResult
        Rates (Hz), spike counts, spike times (s) and ids, population rate (Hz), ...

    Notes
    -----
    Order within a step: decay, add the arriving and external input, test the threshold,
    reset; a spike in step ``k`` is stamped at time ``(k + 1) * dt``, reaches its targets
    in step ``k + delay/dt`` and clamps the neuron for the ``tau_r/dt`` following steps.
    This is exact for delta synapses (between steps the potential only decays, so no
    threshold crossing is missed) and step for step the scheme of Brian2 run with
    synapses scheduled before thresholds and ``refractory = tau_r + dt``. Brian2's
    default schedule tests each input one step later and its rates are ~2 % lower
    (36.98 vs 37.41 Hz at full size, g = 5, eta = 2; mean field 37.95 Hz); see
    ``benchmarks/README.md``. Full size (12 500 neurons, 15.6 M synapses) runs at about
    4 s per simulated second on 2 CPU cores in float32 (Brian2: 11 s), plus ~1 s to
    build the network and ~2 s to compile. Down-scaled networks with :math:`J C_E` fixed
    fire below mean field (-3.5 % at 5 000 neurons, -5.7 % at 2 500, 1 s, 3 seeds).

    Examples
    --------
    >>> import jax
    >>> import coupling_tutorial as ct
    >>> res = ct.simulate_brunel(jax.random.key(0), g=5.0, eta=2.0, n_exc=400, n_inh=100,
    ...                          t_sim=0.2, t_warmup=0.05)
    >>> res.population_rate.shape, res.spike_counts.shape
    ((2000,), (500,))
    >>> bool(res.rate_exc > 0 and res.spike_times.size == res.spike_counts.sum())
    True
    """
    run = _set_up(key, g, eta, n_exc, n_inh, c_exc, c_inh, J, delay, tau_m, tau_r, V_th, V_r,
                  dt, t_sim, t_warmup, record_spikes, bin_size, v_init, connectivity,
                  external_input, record_v, max_spikes_per_step)
    with _start(progress, "simulate_brunel", n_steps=run.n_steps, n_neurons=run.n,
                rate_unit="Hz", rate_scale=1.0 / run.dt) as shown:
        out = _run(run, shown.every())
        shown.finish_steps(out)
    return _summary(run, *out, record_spikes, record_v)


class _BrunelRun(NamedTuple):
    """Everything :func:`simulate_brunel` set up: sizes, step counts, drive, loop inputs."""

    n_exc: int
    n_inh: int
    n: int
    dt: float
    n_meas: int
    n_warm: int
    n_steps: int
    bin_steps: int
    nu_ext: float
    nu_thr: float
    rec_cap: int
    record_spikes: bool
    n_seg: int
    seg_len: int
    ext: object        # external input, padded to n_seg * seg_len steps, or None
    rec_idx: jax.Array  # neurons whose potential is recorded
    carry: tuple       # (V, refractory counters, delay ring, spike counts)
    consts: tuple      # the arrays _brunel_scan takes after (carry, t0)
    static: dict       # its static arguments


def _set_up(key, g, eta, n_exc, n_inh, c_exc, c_inh, J, delay, tau_m, tau_r, V_th, V_r, dt,
            t_sim, t_warmup, record_spikes, bin_size, v_init, connectivity, external_input,
            record_v, max_spikes_per_step):
    """Check the arguments, draw or check the network, tabulate the drive (set-up)."""
    key = check_key(key)
    g = _scalar(g, "g", positive="nonneg")
    eta = _scalar(eta, "eta", positive="nonneg")
    J = _scalar(J, "J", positive="strict")
    tau_m = _scalar(tau_m, "tau_m", positive="strict")
    tau_r = _scalar(tau_r, "tau_r", positive="nonneg")
    dt = _scalar(dt, "dt", positive="strict")
    V_th, V_r = _scalar_thresholds(V_th, V_r)
    delay = _scalar(delay, "delay", positive="strict")
    t_sim = _scalar(t_sim, "t_sim", positive="strict")
    t_warmup = _scalar(t_warmup, "t_warmup", positive="nonneg")
    delay_steps = _n_steps(delay, dt, "delay", exact=True, minimum=1)
    ref_steps = _n_steps(tau_r, dt, "tau_r", exact=True, minimum=0)
    n_meas = _n_steps(t_sim, dt, "t_sim", exact=False, minimum=1)
    n_warm = _n_steps(t_warmup, dt, "t_warmup", exact=False, minimum=0)
    n_steps = n_warm + n_meas
    bin_steps = 1 if bin_size is None else _n_steps(
        _scalar(bin_size, "bin_size", positive="strict"), dt, "bin_size", exact=False, minimum=1)
    if bin_steps > n_meas:
        raise ValueError(f"`bin_size` must be at most `t_sim` ({t_sim!r}); got {bin_size!r}.")

    k_conn, k_init, k_ext = jax.random.split(key, 3)
    if connectivity is None:
        n_exc = check_int(n_exc, "n_exc")
        n_inh = check_int(n_inh, "n_inh")
        c_exc = max(1, round(0.1 * n_exc)) if c_exc is None else c_exc
        c_inh = max(1, round(0.1 * n_inh)) if c_inh is None else c_inh
        connectivity = fixed_indegree_connectivity(k_conn, n_exc, n_inh, c_exc, c_inh)
    elif not isinstance(connectivity, Connectivity):
        raise ValueError(f"`connectivity` must be a Connectivity from "
                         f"fixed_indegree_connectivity; got {_describe(connectivity)}.")
    else:
        n_exc, n_inh = connectivity.n_exc, connectivity.n_inh
        c_exc = int(jnp.sum(connectivity.pre[0] < n_exc))
    n = n_exc + n_inh
    if c_exc < 1:
        raise ValueError(f"`c_exc` must be an integer >= 1 (it also sets the external "
                         f"drive); got {c_exc}.")

    dtype = jnp.result_type(float)
    nu_thr = V_th / (J * c_exc * tau_m)
    nu_ext = eta * nu_thr
    lam = c_exc * nu_ext * dt
    use_table = lam <= _MAX_TABLE_LAM
    if use_table:
        k_lo, cdf = _poisson_cdf_table(lam)
        # Pad with ones (never < u) to a multiple of 16 entries: fewer recompilations
        # when eta changes.
        cdf = np.concatenate([cdf, np.ones(-cdf.size % 16 or (16 if cdf.size == 0 else 0))])
    else:  # a long table would cost more than jax.random.poisson's rejection sampler
        k_lo, cdf = 0, np.array([lam])

    if v_init is None:
        v0 = jax.random.uniform(k_init, (n,), dtype=dtype, minval=V_r, maxval=V_th)
    else:
        v0 = check_finite(as_array(v_init, "v_init", ndim=1, dtype=dtype), "v_init")
        if v0.shape != (n,):
            raise ValueError(f"`v_init` must have shape ({n},); got shape {v0.shape}.")
    if external_input is None:
        ext = None
    else:
        ext = check_finite(as_array(external_input, "external_input", ndim=2, dtype=dtype),
                           "external_input")
        if ext.shape != (n_steps, n):
            raise ValueError(f"`external_input` must have shape ({n_steps}, {n}) "
                             f"(warm-up + measurement steps, neurons); got shape {ext.shape}.")
    if record_v is None:
        rec_idx = jnp.zeros(0, dtype=jnp.int32)
    else:
        rec = np.atleast_1d(np.asarray(record_v))
        if rec.ndim != 1 or rec.dtype.kind not in "iu" or np.any(rec < 0) or np.any(rec >= n):
            raise ValueError(f"`record_v` must be neuron indices in [0, {n}); "
                             f"got {_describe(record_v)}.")
        rec_idx = jnp.asarray(rec, dtype=jnp.int32)
    rec_cap = max(64, n // 20) if max_spikes_per_step is None else check_int(
        max_spikes_per_step, "max_spikes_per_step")
    rec_cap = min(rec_cap, n)

    weights = jnp.concatenate([jnp.full(n_exc, J, dtype), jnp.full(n_inh, -g * J, dtype),
                               jnp.zeros(1, dtype)])
    # Long runs go in segments of equal length (one compilation), so that the recorded
    # per-step outputs never exceed _SEGMENT_STEPS rows before they are compacted.
    n_seg = -(-n_steps // _SEGMENT_STEPS)
    seg_len = -(-n_steps // n_seg)
    n_rows = connectivity.targets.shape[0]
    carry = (v0, jnp.zeros(n, jnp.int32), jnp.zeros((delay_steps, n_rows), dtype),
             jnp.zeros(n, jnp.int32))
    if ext is not None and n_seg * seg_len > n_steps:
        ext = jnp.concatenate([ext, jnp.zeros((n_seg * seg_len - n_steps, n), dtype)])
    consts = (jnp.asarray(n_steps, jnp.int32), k_ext, connectivity.targets, weights,
              jnp.asarray(math.exp(-dt / tau_m), dtype), jnp.asarray(V_th, dtype),
              jnp.asarray(V_r, dtype), jnp.asarray(J, dtype), jnp.asarray(cdf, dtype),
              jnp.asarray(k_lo, jnp.int32), jnp.asarray(n_warm, jnp.int32))
    static = dict(n_exc=n_exc, seg_len=seg_len, use_table=use_table, ref_steps=ref_steps,
                  rec_cap=rec_cap if record_spikes else 0, block=_SPIKE_BLOCK)
    return _BrunelRun(n_exc, n_inh, n, dt, n_meas, n_warm, n_steps, bin_steps, nu_ext, nu_thr,
                      rec_cap, record_spikes, n_seg, seg_len, ext, rec_idx, carry, consts,
                      static)


def _run(r, progress=0):
    """Run the compiled loop segment by segment, compacting the recording after each
    (reporting progress every ``progress`` steps; 0: never)."""
    n, n_warm, n_steps, seg_len, rec_cap = r.n, r.n_warm, r.n_steps, r.seg_len, r.rec_cap
    record_spikes, ext, carry = r.record_spikes, r.ext, r.carry
    n_e, n_i, spike_steps, spike_ids, v_trace = [], [], [], [], []
    dropped = 0
    for seg in range(r.n_seg):
        t0 = seg * seg_len
        ext_seg = None if ext is None else ext[t0:t0 + seg_len]
        carry, out = _brunel_scan(carry, jnp.asarray(t0, jnp.int32), *r.consts, ext_seg,
                                  r.rec_idx, **r.static, progress=progress)
        valid = min(seg_len, n_steps - t0)
        seg_e, seg_i, ids, v_seg = (np.asarray(x)[:valid] for x in jax.device_get(out))
        n_e.append(seg_e)
        n_i.append(seg_i)
        v_trace.append(v_seg)
        if record_spikes:
            step, col = np.nonzero(ids < n)
            keep = t0 + step >= n_warm
            spike_steps.append(t0 + step[keep])
            spike_ids.append(ids[step[keep], col[keep]].astype(np.int64))
            measured = np.arange(t0, t0 + valid) >= n_warm
            dropped += int(np.maximum(seg_e + seg_i - rec_cap, 0)[measured].sum())
    counts = np.asarray(carry[3])
    return counts, n_e, n_i, spike_steps, spike_ids, v_trace, dropped


def _summary(r, counts, n_e, n_i, spike_steps, spike_ids, v_trace, dropped, record_spikes,
             record_v):
    """Rates, binned population rates and spike lists of the measurement window."""
    n_exc, n_inh, n, dt, n_meas, n_warm = r.n_exc, r.n_inh, r.n, r.dt, r.n_meas, r.n_warm
    bin_steps, rec_cap = r.bin_steps, r.rec_cap

    t_meas = n_meas * dt
    n_e = np.concatenate(n_e)[n_warm:].astype(np.int64)
    n_i = np.concatenate(n_i)[n_warm:].astype(np.int64)
    n_bins = n_meas // bin_steps
    n_e_b = n_e[: n_bins * bin_steps].reshape(n_bins, bin_steps).sum(1)
    n_i_b = n_i[: n_bins * bin_steps].reshape(n_bins, bin_steps).sum(1)
    width = bin_steps * dt
    if record_spikes:
        spike_ids = np.concatenate(spike_ids)
        spike_times = (np.concatenate(spike_steps) + 1) * dt
        if dropped:
            warnings.warn(f"{dropped} spikes were not recorded (more than "
                          f"max_spikes_per_step={rec_cap} in a step); rates are unaffected. "
                          "Raise `max_spikes_per_step` to record them all.", stacklevel=3)
    else:
        spike_ids = np.zeros(0, dtype=np.int64)
        spike_times = np.zeros(0)
    return LIFResult(
        rate_exc=float(counts[:n_exc].sum() / (n_exc * t_meas)),
        rate_inh=float(counts[n_exc:].sum() / (n_inh * t_meas)),
        spike_counts=counts,
        spike_times=spike_times,
        spike_ids=spike_ids,
        population_rate=(n_e_b + n_i_b) / (n * width),
        population_rate_exc=n_e_b / (n_exc * width),
        population_rate_inh=n_i_b / (n_inh * width),
        bin_times=(n_warm + np.arange(n_bins) * bin_steps) * dt,
        bin_size=width,
        n_spikes_dropped=dropped,
        v_trace=None if record_v is None else np.concatenate(v_trace),
        nu_ext=r.nu_ext,
        nu_thr=r.nu_thr,
    )
