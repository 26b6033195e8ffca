r"""A spiking simulator of leaky integrate-and-fire (LIF) neurons to check the theory (Chapter 4).

Two simulators, both exact in the membrane integration, written with ``jax.lax.scan``
and compiled once per network size:

* :func:`simulate_lif_neuron`: independent LIF neurons driven by Gaussian white noise of
  mean :math:`\mu` and strength :math:`\sigma` (the diffusion approximation), the setting
  in which the Siegert formula is exact.
* :func:`simulate_brunel`: the sparse excitatory--inhibitory network of Brunel (2000):
  delta synapses, fixed in-degree, one transmission delay, refractory clamp and external
  Poisson drive.

Units are SI throughout (V, s, Hz) and potentials are relative to rest, as in the
mean-field module. Everything random comes from an explicit ``key``: the same key gives
the same spikes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import as_array, check_finite, check_int, check_positive

__all__ = [
    "LIFResult",
    "LIFNeuronResult",
    "Connectivity",
    "fixed_indegree_connectivity",
    "simulate_brunel",
    "simulate_lif_neuron",
]


class Connectivity(NamedTuple):
    """Fixed in-degree connectivity of an E--I network (see :func:`fixed_indegree_connectivity`).

    Attributes
    ----------
    pre : jax.Array, int32, shape ``(n_neurons, c_exc + c_inh)``
        ``pre[i]`` lists the presynaptic partners of neuron ``i``: the first ``c_exc``
        columns are excitatory (indices ``< n_exc``), the rest inhibitory.
    targets : jax.Array, int32, shape ``(n_neurons + 1, max_out_degree)``
        The same synapses stored by source: row ``j`` lists the targets of neuron ``j``
        (a target appears once per synapse), padded with ``n_neurons``. The extra last row
        is all padding. Spike propagation reads only the rows of the neurons that spiked.
    out_degree : jax.Array, int32, shape ``(n_neurons,)``
        Number of outgoing synapses of each neuron.
    n_exc, n_inh : int
        Population sizes; neurons ``0 .. n_exc-1`` are excitatory.
    """

    pre: jax.Array
    targets: jax.Array
    out_degree: jax.Array
    n_exc: int
    n_inh: int


class LIFResult(NamedTuple):
    """Output of :func:`simulate_brunel`.

    Attributes
    ----------
    rate_exc, rate_inh : float
        Mean firing rate (Hz) of the excitatory / inhibitory neurons over the measurement
        window (after the warm-up).
    spike_counts : numpy.ndarray, int, shape ``(n_neurons,)``
        Spikes of each neuron in the measurement window.
    spike_times : numpy.ndarray, shape ``(n_spikes,)``
        Times (s, from the start of the warm-up) of the recorded spikes in the measurement
        window, in time order (empty when ``record_spikes=False``).
    spike_ids : numpy.ndarray, int, shape ``(n_spikes,)``
        Neuron index of each recorded spike.
    population_rate : numpy.ndarray, shape ``(n_bins,)``
        Instantaneous rate of the whole network (Hz per neuron) in bins of ``bin_size``
        over the measurement window.
    population_rate_exc, population_rate_inh : numpy.ndarray, shape ``(n_bins,)``
        The same per population.
    bin_times : numpy.ndarray, shape ``(n_bins,)``
        Start time (s) of each bin.
    bin_size : float
        Width of the bins (s).
    n_spikes_dropped : int
        Spikes that happened but were not recorded because more than
        ``max_spikes_per_step`` neurons fired in one step (the dynamics and the rates are
        unaffected; only ``spike_times``/``spike_ids`` miss them).
    v_trace : numpy.ndarray or None, shape ``(n_steps_total, n_recorded)``
        Membrane potential (V) of the neurons in ``record_v`` at the end of every step
        (after reset), warm-up included; ``None`` unless requested.
    nu_ext : float
        External rate per external synapse (Hz), :math:`\\eta\\,\\nu_\\mathrm{thr}`.
    nu_thr : float
        :math:`\\nu_\\mathrm{thr} = V_\\mathrm{th}/(J C_E \\tau_m)` (Hz).
    """

    rate_exc: float
    rate_inh: float
    spike_counts: np.ndarray
    spike_times: np.ndarray
    spike_ids: np.ndarray
    population_rate: np.ndarray
    population_rate_exc: np.ndarray
    population_rate_inh: np.ndarray
    bin_times: np.ndarray
    bin_size: float
    n_spikes_dropped: int
    v_trace: np.ndarray | None
    nu_ext: float
    nu_thr: float


class LIFNeuronResult(NamedTuple):
    """Output of :func:`simulate_lif_neuron`.

    Attributes
    ----------
    rate : jax.Array, shape ``input_shape``
        Mean firing rate (Hz) over the neurons for each input (``mu``, ``sigma``) pair.
    rates : jax.Array, shape ``input_shape + (n_neurons,)``
        Firing rate of each neuron (spike count / ``t_sim``).
    rate_sem : jax.Array, shape ``input_shape``
        Standard error of ``rate`` (std of ``rates`` over neurons / sqrt(n_neurons));
        the neurons are independent, so this is the statistical error of the estimate.
    spike_counts : jax.Array, int, shape ``input_shape + (n_neurons,)``
        Spikes of each neuron in the measurement window.
    """

    rate: jax.Array
    rates: jax.Array
    rate_sem: jax.Array
    spike_counts: jax.Array


def fixed_indegree_connectivity(key, n_exc: int, n_inh: int, c_exc: int, c_inh: int):
    r"""Draw a fixed in-degree E--I network and store it by source (CSR-like, padded).

    Every neuron :math:`i` (excitatory or inhibitory) independently draws ``c_exc``
    presynaptic partners uniformly *with replacement* from the ``n_exc`` excitatory
    neurons and ``c_inh`` from the ``n_inh`` inhibitory ones (self-connections and
    multapses allowed, as in Brunel 2000 and Brian2/NEST's ``fixed_indegree``). The
    in-degrees are exactly ``c_exc`` and ``c_inh``; the out-degrees are random, with mean

    .. math:: \bar K_\mathrm{out} = \frac{(n_E + n_I)\,c_E}{n_E} = \frac{(n_E + n_I)\,c_I}{n_I}
              \quad\text{(equal when } c_E/n_E = c_I/n_I\text{)}.

    Memory is :math:`O(\text{synapses})`: two int32 tables of about
    :math:`(n_E + n_I)(c_E + c_I)` entries (62 MB each for the full Brunel network).

    Parameters
    ----------
    key : jax.random key
        New-style (``jax.random.key``) or raw (``jax.random.PRNGKey``) key.
    n_exc, n_inh : int
        Numbers of excitatory (>= 1) and inhibitory (>= 1) neurons.
    c_exc, c_inh : int
        In-degrees from each population (>= 0).

    Returns
    -------
    Connectivity
        ``pre`` of shape ``(n_neurons, c_exc + c_inh)``, ``targets`` of shape
        ``(n_neurons + 1, max_out_degree)``, ``out_degree`` of shape ``(n_neurons,)``.

    Examples
    --------
    >>> import jax
    >>> import coupling_tutorial as ct
    >>> conn = ct.fixed_indegree_connectivity(jax.random.key(0), 80, 20, 8, 2)
    >>> conn.pre.shape
    (100, 10)
    >>> int(conn.out_degree.sum()) == 100 * 10
    True
    """
    raise NotImplementedError


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

    Spike propagation costs time proportional to (number of spikes) x (out-degree): the
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
        A network from :func:`fixed_indegree_connectivity` to reuse (then ``c_exc`` and
        ``c_inh`` are taken from it); default: drawn from ``key``.
    external_input : array_like, shape ``(n_steps_total, n_neurons)``, optional
        External input (V per step, warm-up included) replacing the Poisson drive.
    record_v : sequence of int, optional
        Neurons whose potential is returned in ``v_trace``.
    max_spikes_per_step : int, optional
        How many spikes per step are *recorded* (default ``max(64, n_neurons // 20)``);
        excess spikes still act on the network and are counted in ``n_spikes_dropped``.

    Returns
    -------
    LIFResult
        Rates (Hz), spike counts, spike times (s) and ids, population rate (Hz), ...

    Examples
    --------
    >>> import jax
    >>> import coupling_tutorial as ct
    >>> res = ct.simulate_brunel(jax.random.key(0), g=5.0, eta=2.0, n_exc=400, n_inh=100,
    ...                          t_sim=0.2, t_warmup=0.05)
    >>> bool(10 < res.rate_exc < 80), res.population_rate.shape
    (True, (2000,))
    """
    raise NotImplementedError


def simulate_lif_neuron(
    key,
    mu,
    sigma,
    tau_m=20e-3,
    tau_r=2e-3,
    V_th=20e-3,
    V_r=10e-3,
    dt=1e-4,
    t_sim=1.0,
    n_neurons: int = 1000,
    t_warmup=0.1,
):
    r"""Simulate independent LIF neurons driven by Gaussian white noise.

    The membrane follows the Ornstein--Uhlenbeck process of the diffusion approximation
    (Brunel 2000; Fourcaud & Brunel 2002)

    .. math::

        \tau_m\, \dot V = -V + \mu + \sigma \sqrt{\tau_m}\, \xi(t),
        \qquad \langle \xi(t)\xi(t')\rangle = \delta(t - t'),

    i.e. the same :math:`\mu` and :math:`\sigma` as in
    :math:`\mu = \tau_m \sum_j K_j J_j \nu_j`, :math:`\sigma^2 = \tau_m \sum_j K_j J_j^2 \nu_j`,
    so the Siegert formula :math:`\nu(\mu, \sigma)` is the right comparison (the free
    membrane has variance :math:`\sigma^2/2`). It is integrated with the exact OU update

    .. math::

        V(t + \Delta t) = \mu + (V(t) - \mu)\, e^{-\Delta t/\tau_m}
            + \sigma \sqrt{\tfrac12 (1 - e^{-2\Delta t/\tau_m})}\; z,
        \qquad z \sim \mathcal N(0, 1),

    spike when :math:`V \ge V_\mathrm{th}`, reset to :math:`V_r` and clamp for ``tau_r``.
    Threshold crossings *between* steps are missed, so the rate is slightly below the
    continuous-time Siegert rate; to first order this acts as a threshold raised by
    :math:`\beta\,\sigma\sqrt{\Delta t/\tau_m}`, :math:`\beta = |\zeta(1/2)|/\sqrt{2\pi}
    \approx 0.5826` (Siegmund's corrected diffusion approximation), about 1--3 % at
    ``dt = 0.1 ms``. With ``sigma = 0`` the neurons fire regularly with period
    ``tau_r + dt * ceil(tau_m ln((mu - V_r)/(mu - V_th)) / dt)`` when ``mu > V_th``.

    Parameters
    ----------
    key : jax.random key
        Seeds the noise.
    mu : float or array_like, shape ``input_shape``
        Mean input (V).
    sigma : float or array_like, shape ``input_shape``
        Noise strength (V), >= 0; broadcast against ``mu``.
    tau_m, tau_r : float
        Membrane time constant (> 0) and refractory period (>= 0, a multiple of ``dt``), s.
    V_th, V_r : float
        Threshold and reset (V), ``V_th > V_r``.
    dt : float
        Time step (s), > 0.
    t_sim : float
        Measurement window (s) after the warm-up; rounded to whole steps.
    n_neurons : int
        Independent neurons per input pair.
    t_warmup : float
        Time (s) simulated from :math:`V = V_r` before counting spikes.

    Returns
    -------
    LIFNeuronResult
        ``rate`` and ``rate_sem`` of shape ``input_shape``, ``rates`` and
        ``spike_counts`` of shape ``input_shape + (n_neurons,)``.

    Examples
    --------
    >>> import jax
    >>> import coupling_tutorial as ct
    >>> res = ct.simulate_lif_neuron(jax.random.key(0), mu=25e-3, sigma=0.0, tau_m=10e-3,
    ...                              n_neurons=2, t_sim=1.0)
    >>> res.rates.round(1).tolist()  # period 2 ms + 11.0 ms = 13 ms
    [77.0, 77.0]
    """
    raise NotImplementedError
