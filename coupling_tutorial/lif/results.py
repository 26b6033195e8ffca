"""What the LIF simulators return."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

__all__ = ["LIFResult", "LIFNeuronResult"]


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
