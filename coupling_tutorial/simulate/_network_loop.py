"""The compiled time loop of :func:`~coupling_tutorial.simulate.simulate_network` (private).

One exponential trace per neuron, updated by the spikes that enter and leave the ``T``-bin
window; the one sparse product per step touches only the out-edges of the neurons whose
trace changed (an out-edge table, padded to a few static sizes).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ..links import EXP
from ._scan import _guarded_draw, _scan_steps, _TRACE_COUNTS
from .network import _synaptic


_FLOAT_TARGETS_MAX = {4: 2 ** 24, 8: 2 ** 53}  # neuron indices exact as float32 / float64


@partial(jax.jit, static_argnames=("n_steps", "burn_in", "sampler", "progress"))
def _network_core(net, key, stim, init_history, max_rate, n_steps, burn_in,
                  sampler="inversion", progress=0):
    """Jitted core of :func:`simulate_network`: O(N) trace update + one sparse product."""
    _TRACE_COUNTS["simulate_network"] += 1
    T, N = net.T, net.n_neurons
    total = burn_in + n_steps
    c = net.kernel()
    decay = jnp.exp(-net.dt / net.tau)  # c(1)
    decay_T = jnp.exp(-net.dt * T / net.tau)  # c(T): weight a spike would have after T bins
    trace0 = c @ init_history[::-1]
    prefactor = net.dt / net.alpha
    # u = W0^T s obeys the trace recursion too: u(t) = c(1) u(t-1) + W0^T d(t) with
    # d(t) = X(t) - c(T) X(t-T), non-zero only for neurons that spiked now or T bins ago.
    u0 = _synaptic(net, trace0)
    if net.out_index is not None:
        w_pad = jnp.concatenate([net.weights, jnp.zeros(1, net.weights.dtype)])
        t_pad = jnp.concatenate([net.targets, jnp.full(1, N, net.targets.dtype)])
        out_w, out_t = w_pad[net.out_index], t_pad[net.out_index]  # (N, max out-degree)
        # weights and targets in one (N, max out-degree, 2) table, the targets as floats
        # (exact below 2**24 neurons in float32)
        out_wt = (jnp.stack([out_w, out_t.astype(out_w.dtype)], axis=-1)
                  if N < _FLOAT_TARGETS_MAX[out_w.dtype.itemsize] else None)
        k_max = min(N, max(16, N // 4))  # static: senders handled by the sparse path
        # padded sizes of the sparse path: the smallest that holds this step's senders is
        # used, so the scatter handles at most ~2x the messages it needs (it is serial)
        tiers = sorted({max(1, k_max // 4), max(1, k_max // 2), k_max})

    def delta_input(d):
        if net.out_index is None:
            return _synaptic(net, d)
        changed = d != 0
        count = jnp.sum(changed)

        def few(size):
            def add(_):
                idx = jnp.nonzero(changed, size=size, fill_value=0)[0]
                dv = jnp.where(jnp.arange(size) < count, d[idx], 0.0)
                if out_wt is None:
                    w_rows, t_rows = out_w[idx], out_t[idx]
                else:  # one gather for both: XLA splits each gather over threads, at a cost
                    rows = out_wt[idx]
                    w_rows, t_rows = rows[..., 0], rows[..., 1].astype(out_t.dtype)
                msg = (w_rows * dv[:, None]).ravel()
                return jax.ops.segment_sum(msg, t_rows.ravel(), num_segments=N + 1)[:N]
            return add

        branches = [few(size) for size in tiers] + [lambda _: _synaptic(net, d)]
        return jax.lax.switch(jnp.searchsorted(jnp.asarray(tiers), count), branches, None)

    def step(carry, inputs, pre):
        u, buf, ptr, first_bad, bad_neurons = carry
        t, e = inputs
        g = net.r * u + e + net.b
        mu = prefactor * EXP.inverse(net.beta * g)
        x, out_mu, first_bad, bad_neurons = _guarded_draw(
            sampler, pre, mu, t, first_bad, bad_neurons, max_rate)
        xf = x.astype(u.dtype)
        # exact truncated sum: add the new bin, remove the one that falls out of the window
        u = decay * u + delta_input(xf - decay_T * buf[ptr])
        buf = buf.at[ptr].set(xf)
        ptr = (ptr + 1) % T
        return (u, buf, ptr, first_bad, bad_neurons), (x, out_mu)

    stim_all = jnp.zeros((total, N), trace0.dtype)
    if stim is not None:
        stim_all = stim_all.at[burn_in:].set(jnp.broadcast_to(stim, (n_steps, N)))
    init = (u0, init_history, jnp.asarray(0), jnp.asarray(-1), jnp.zeros(N, bool))
    (*_, first_bad, bad_neurons), (spikes, mus) = _scan_steps(
        step, init, stim_all, key, total, sampler, N, trace0.dtype, first_bad_index=3,
        progress=progress)
    return spikes[burn_in:], mus[burn_in:], first_bad, bad_neurons
