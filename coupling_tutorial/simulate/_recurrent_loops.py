"""The compiled time loops of :func:`~coupling_tutorial.simulate.simulate_recurrent` (private).

One model step, :func:`_rate` (feedforward + intercept + inverse link, in NeMoS's order),
computed from two ways of getting the coupling drive: :func:`_recurrent_core` convolves
the whole window every bin as NeMoS does (:func:`_window_drive`); the default
:func:`_recurrent_event_core` adds each bin's spikes once to a ring buffer of the next
``window_size`` inputs.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .._poisson import _near_knuth_boundary
from ._scan import _guarded_draw, _scan_steps, _TRACE_COUNTS


def _rate(eta, ff_t, intercepts, inverse_link_function):
    r"""The rate :math:`f(\eta + v \cdot u_t + b)`, added in NeMoS's order (``ff_t`` None:
    no feedforward input)."""
    if ff_t is not None:
        eta = eta + ff_t
    return inverse_link_function(eta + intercepts)


def _window_drive(activity, basis_flipped, coupling_flat):
    """NeMoS's coupling drive of the next bin, from the ``(W, N)`` window (oldest row first).

    Written as NeMoS 0.2.9 writes it (window convolved with the flipped basis, then one
    product with all ``N^2 K`` weights) and used by both recurrent cores, so that their
    rates are computed by the same operations.
    """
    conv_act = jnp.einsum("wn,wb->nb", activity, basis_flipped).reshape(-1)
    return coupling_flat.dot(conv_act)


@partial(jax.jit, static_argnames=("n_steps", "inverse_link_function", "sampler", "zero_init",
                                   "boundary_check", "progress"))
def _recurrent_event_core(coupling_coef, feedforward_coef, feedforward_input, intercepts, key,
                          basis, init_y, max_rate, n_steps, inverse_link_function,
                          sampler="jax", zero_init=False, boundary_check=True, progress=0):
    """Event-driven core: each new spike vector adds its effect to the next W inputs.

    The input of bin t + 1 + l gains ``sum_{j,k} C[i, j, k] B[l, k] y_t[j]`` from the
    counts ``y_t``; ``z_t = C y_t`` only needs the columns of the senders that spiked, and
    a ring buffer ``F`` (W, N) holds the inputs of the next W bins. Per step: O(N K x
    spiking senders + W N K) instead of O(N^2 K + W N K).
    """
    _TRACE_COUNTS["simulate_recurrent"] += 1
    n, (W, K) = intercepts.shape[0], basis.shape
    k_max = min(n, max(8, n // 16))
    ff = (None if feedforward_input is None
          else jnp.einsum("ik,tik->ti", feedforward_coef, feedforward_input))

    # sender-major rows, so that the rows of the senders that spiked are contiguous
    by_sender = jnp.transpose(coupling_coef, (1, 0, 2)).reshape(n, n * K)

    def z_of(y):
        spiking = y != 0
        count = jnp.sum(spiking)

        def few(_):  # one row of by_sender per spiking sender, nothing else is read
            idx = jnp.nonzero(spiking, size=k_max, fill_value=0)[0]

            def add_row(m, acc):
                j = idx[m]
                return acc + y[j] * jax.lax.dynamic_index_in_dim(by_sender, j, keepdims=False)

            return jax.lax.fori_loop(0, count, add_row, jnp.zeros(n * K, y.dtype))

        return jax.lax.cond(count <= k_max, few, lambda _: y @ by_sender, None).reshape(n, K)

    # F has one spare row: updating rows 0..W-1 of a (W + 1, N) buffer compiles to an
    # in-place dynamic-update-slice, which XLA runs on one thread; the same update of a
    # whole (W, N) array is split across threads, and on 2 cores that hand-off cost more
    # than the work (10 000 bins at N = 1000: 1.12 s -> 0.80 s).
    def emit(F, ptr, y):
        """Clear row ``ptr`` (bin t, just read) and add bin t's spikes to bins t+1..t+W."""
        keep = (jnp.arange(W) != ptr).astype(F.dtype)[:, None]
        # row ptr + 1 + l of F (mod W) is bin t + 1 + l: roll the (W, K) basis, not F
        new = (jax.lax.dynamic_slice_in_dim(F, ptr * 0, W) * keep
               + jnp.roll(basis, ptr + 1, axis=0) @ z_of(y.astype(F.dtype)).T)
        return jax.lax.dynamic_update_slice_in_dim(F, new, ptr * 0, 0)

    F0 = jnp.zeros((W + 1, n), intercepts.dtype)
    if not zero_init:  # the initial window, bins -W .. -1, emitted as if simulated
        F0 = jax.lax.fori_loop(0, W, lambda s, F: emit(F, s, init_y[s]), F0)

    # In float32 the event sums round differently from NeMoS's by up to ~1e-5 (relative),
    # enough to move a count about once in millions of draws. So a bin in which some
    # neuron's uniforms lie that close to a Poisson boundary (a few bins in 10 000 at
    # N = 1000) gets its rates recomputed NeMoS's way, from a ring of the last W counts
    # (``A``, row ptr + m mod W holding bin t - W + m). float64 needs no such check.
    exact = boundary_check and sampler == "jax" and intercepts.dtype == jnp.float32
    if exact:
        coupling_flat, basis_flipped = coupling_coef.reshape(n, -1), basis[::-1]

    def step(carry, inputs, pre):
        F, ptr, first_bad, bad_neurons, A = carry
        t, ff_t = inputs
        rate = _rate(F[ptr], ff_t, intercepts, inverse_link_function)
        if exact:
            rate = jax.lax.cond(
                _near_knuth_boundary(pre, rate),
                lambda: _rate(_window_drive(jnp.roll(A, -ptr, axis=0), basis_flipped,
                                            coupling_flat),
                              ff_t, intercepts, inverse_link_function),
                lambda: rate)
        new_act, out_rate, first_bad, bad_neurons = _guarded_draw(
            sampler, pre, rate, t, first_bad, bad_neurons, max_rate)
        F = emit(F, ptr, new_act)
        if exact:
            A = A.at[ptr].set(new_act.astype(A.dtype))
        return (F, (ptr + 1) % W, first_bad, bad_neurons, A), (new_act, out_rate)

    init = (F0, jnp.asarray(0), jnp.asarray(-1), jnp.zeros(n, bool),
            init_y if exact else None)
    (_, _, first_bad, bad_neurons, _), (spikes, rates) = _scan_steps(
        step, init, ff, key, n_steps, sampler, n, intercepts.dtype, first_bad_index=2,
        progress=progress)
    return spikes, rates, first_bad, bad_neurons


@partial(jax.jit, static_argnames=("n_steps", "inverse_link_function", "sampler", "progress"))
def _recurrent_core(coupling_coef, feedforward_coef, feedforward_input, intercepts, key,
                    basis, init_y, max_rate, n_steps, inverse_link_function, sampler="jax",
                    progress=0):
    """Jitted core of :func:`simulate_recurrent`; arguments already checked and cast.

    Written op for op as NeMoS 0.2.9's scan so that the rates, and therefore the spikes,
    are bit-identical; the runaway guard only adds selects that leave finite rates alone.
    """
    _TRACE_COUNTS["simulate_recurrent"] += 1
    n_neurons = intercepts.shape[0]
    coupling_flat = coupling_coef.reshape(n_neurons, -1)
    basis_flipped = basis[::-1]  # hist[-1] (most recent) meets basis row 0
    if feedforward_input is None:
        ff = None
    else:
        ff = jnp.einsum("ik,tik->ti", feedforward_coef, feedforward_input)

    def step(carry, inputs, pre):
        activity, first_bad, bad_neurons = carry
        t, ff_t = inputs
        rate = _rate(_window_drive(activity, basis_flipped, coupling_flat), ff_t, intercepts,
                     inverse_link_function)
        new_act, out_rate, first_bad, bad_neurons = _guarded_draw(
            sampler, pre, rate, t, first_bad, bad_neurons, max_rate)
        activity = jnp.vstack((activity[1:], new_act))
        return (activity, first_bad, bad_neurons), (new_act, out_rate)

    init = (init_y, jnp.asarray(-1), jnp.zeros(n_neurons, bool))
    (_, first_bad, bad_neurons), (spikes, rates) = _scan_steps(
        step, init, ff, key, n_steps, sampler, n_neurons, intercepts.dtype, first_bad_index=1,
        progress=progress)
    return spikes, rates, first_bad, bad_neurons
