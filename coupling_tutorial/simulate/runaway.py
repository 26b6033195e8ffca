"""Runaway excitation: the error the simulators raise, and the rate bound that triggers it."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._validation import check_positive, float_dtype as _float

__all__ = ["RunawayError"]


DEFAULT_MAX_RATE = 1000.0


class RunawayError(RuntimeError):
    """Raised when a simulated rate exceeds ``max_rate`` or stops being finite.

    Attributes
    ----------
    step : int
        The first time step (0-based, counted from the first returned bin) at which some
        rate diverged.
    neurons : list of int
        The neurons whose rate diverged at that step.
    spikes, rates : numpy.ndarray, shape ``(step + 1, n_neurons)``
        The simulation up to and including the divergent step (no spikes are drawn at
        that step), for inspection.
    """

    def __init__(self, message, step, neurons, spikes, rates):
        super().__init__(message)
        self.step = step
        self.neurons = neurons
        self.spikes = spikes
        self.rates = rates


def _check_max_rate(max_rate):
    if max_rate is None:
        return jnp.asarray(jnp.inf, _float())
    check_positive(max_rate, "max_rate")
    return jnp.asarray(max_rate, _float())


def _raise_runaway(first, bad, spikes, rates, what, advice):
    step = int(first)
    neurons = [int(i) for i in np.flatnonzero(np.asarray(bad))]
    shown = ", ".join(map(str, neurons[:10])) + (", ..." if len(neurons) > 10 else "")
    r = np.asarray(rates)[step, neurons]
    kind = "became non-finite" if not np.all(np.isfinite(r)) else "exceeded max_rate"
    raise RunawayError(
        f"Runaway excitation: at step {step} the {what} of neuron(s) [{shown}] {kind} "
        f"(max {np.nanmax(np.where(np.isnan(r), -np.inf, r)):.3g}). {advice}",
        step,
        neurons,
        np.asarray(spikes)[: step + 1],
        np.asarray(rates)[: step + 1],
    )
