"""Runaway excitation: the error the simulators raise, and the rate bound that triggers it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import _is_traced, check_scalar, float_dtype as _float

__all__ = ["RunawayError"]


DEFAULT_MAX_RATE = 1000.0

#: The largest expected count per bin a simulation accepts, whatever ``max_rate`` says:
#: Poisson draws of larger rates no longer fit the count integers (int32), and
#: ``jax.random.poisson`` returns the integer maximum instead of a count.
MAX_COUNT_RATE = 1e9


class RunawayError(RuntimeError):
    """Raised when a simulated rate exceeds ``max_rate`` or stops being finite.

    Outside ``jax.jit`` the simulators raise it when they return. Under ``jax.jit`` (or
    ``vmap``) a compiled program cannot raise a Python exception by itself: the
    simulators then check the rates in a host callback (``jax.debug.callback``) that
    raises this error when the program runs, and JAX re-raises it as a
    ``jax.errors.JaxRuntimeError`` (named ``XlaRuntimeError`` by older JAX; a
    :class:`RuntimeError` either way) whose message contains this one (``"RunawayError:
    Runaway excitation: at step ..."``); ``spikes`` and ``rates`` are then not attached.
    Either way no NaN rate is returned as if it were a result.

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
    """``max_rate`` as a scalar of the working dtype: > 0, at most :data:`MAX_COUNT_RATE`
    (None: :data:`MAX_COUNT_RATE`, the count integers' limit)."""
    if max_rate is None:
        return jnp.asarray(MAX_COUNT_RATE, _float())
    value = check_scalar(max_rate, "max_rate", "positive")
    if not _is_traced(value) and value > MAX_COUNT_RATE:
        raise ValueError(f"`max_rate` must be at most {MAX_COUNT_RATE:g} (larger expected "
                         f"counts do not fit the count integers); got {value:g}.")
    return jnp.asarray(value, _float())


def _check_runaway(first_bad, bad_neurons, spikes, rates, what, advice, burn_in=0):
    """Raise if the simulation ran away (``first_bad >= 0``): the one place of the guard.

    Concrete values (no ``jit``): raise :class:`RunawayError` now. Traced values (under
    ``jax.jit``/``vmap``): add a host callback that raises it when the program runs (JAX
    re-raises it as ``JaxRuntimeError``); the callback gets only the first bad step, its
    neurons and their rates. A negative rate (a link that is not non-negative) raises
    :class:`ValueError` naming ``inverse_link_function`` instead.
    """
    if not _is_traced(first_bad):
        if int(first_bad) >= 0:
            _raise_runaway(first_bad, bad_neurons, spikes, rates, what, advice, burn_in)
        return
    n_kept = rates.shape[0]
    at = jnp.clip(first_bad - burn_in, 0, max(n_kept - 1, 0))
    row = rates[at] if n_kept else jnp.zeros(bad_neurons.shape, rates.dtype)

    def host(first, bad, r):
        if int(first) >= 0:
            r = np.asarray(r)[None]
            _raise_runaway(first, bad, np.zeros((1,) + r.shape[1:], np.int32), r, what,
                           advice, burn_in, row_only=True)

    jax.debug.callback(host, first_bad, bad_neurons, row)


def _raise_runaway(first, bad, spikes, rates, what, advice, burn_in=0, row_only=False):
    step = int(first) - burn_in
    neurons = [int(i) for i in np.flatnonzero(np.asarray(bad))]
    shown = ", ".join(map(str, neurons[:10])) + (", ..." if len(neurons) > 10 else "")
    if step < 0:
        n = np.asarray(bad).shape[0]
        raise RunawayError(
            f"Runaway excitation during burn-in (burn-in step {int(first)}): the "
            f"{what} of neuron(s) [{shown}] exceeded max_rate or became non-finite. "
            f"{advice}", step, neurons, np.zeros((0, n), np.int64), np.zeros((0, n)))
    r = np.asarray(rates)[0 if row_only else step, neurons]
    if np.any(r < 0):
        raise ValueError(
            f"`inverse_link_function` must return non-negative rates; at step {step} the "
            f"{what} of neuron(s) [{shown}] is negative (min {np.min(r):.3g}).")
    kind = ("became non-finite" if not np.all(np.isfinite(r)) else
            f"exceeded the largest count rate the samplers can draw ({MAX_COUNT_RATE:g})"
            if np.nanmax(r) > MAX_COUNT_RATE else "exceeded max_rate")
    raise RunawayError(
        f"Runaway excitation: at step {step} the {what} of neuron(s) [{shown}] {kind} "
        f"(max {np.nanmax(np.where(np.isnan(r), -np.inf, r)):.3g}). {advice}",
        step,
        neurons,
        None if row_only else np.asarray(spikes)[: step + 1],
        None if row_only else np.asarray(rates)[: step + 1],
    )
