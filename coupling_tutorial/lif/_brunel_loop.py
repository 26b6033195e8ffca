"""The compiled time loop of :func:`~coupling_tutorial.lif.simulate_brunel` (private)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from .._poisson import _poisson_counts
from ..progress import _report_steps


_SPIKE_BLOCK = 8  # source rows scatter-added per inner-loop iteration


_SCATTER_MODE = "promise_in_bounds"  # targets are always valid row indices




@functools.partial(jax.jit, static_argnames=(
    "n_exc", "seg_len", "use_table", "ref_steps", "rec_cap", "block", "progress"))
def _brunel_scan(carry, t0, n_total, k_ext, targets, weights, decay, V_th, V_r, J, cdf, k_lo,
                 n_warm, ext, rec_idx, *, n_exc, seg_len, use_table, ref_steps, rec_cap, block,
                 progress=0):
    """``seg_len`` steps of :func:`simulate_brunel` from step ``t0`` (one ``lax.scan``).

    ``carry = (V, ref, ring, counts)``; steps ``t >= n_total`` (padding of the last
    segment) run but are not counted. ``progress``: report every that many steps (0: off).
    """
    n = carry[0].shape[0]
    dtype = carry[0].dtype
    delay_steps = carry[2].shape[0]
    n_rows = targets.shape[0]  # n + 1 (the last row is padding)

    def propagate(spike):
        # Sorted indices of the neurons that spiked, padded with n (an all-padding row).
        idx = jnp.nonzero(spike, size=n + block, fill_value=n)[0].astype(jnp.int32)
        n_spk = jnp.sum(spike, dtype=jnp.int32)

        def body(c, buf):
            rows = lax.dynamic_slice(idx, (c * block,), (block,))
            tg = targets[rows]  # (block, max_out), padding -> n
            w = jnp.broadcast_to(weights[rows][:, None], tg.shape)
            return buf.at[tg].add(w, mode=_SCATTER_MODE)

        buf = lax.fori_loop(0, (n_spk + block - 1) // block, body,
                            jnp.zeros(n_rows, dtype))
        return buf, idx

    def step(carry, xs):
        V, ref, ring, counts = carry
        if ext is None:
            t = xs
            k_t = jax.random.fold_in(k_ext, t)
            if use_table:
                n_ext = _poisson_counts(k_t, (n,), k_lo, cdf, dtype)
            else:
                n_ext = jax.random.poisson(k_t, cdf[0], (n,))
            inp = J * n_ext.astype(dtype)
        else:
            t, inp = xs
        slot = t % delay_steps
        syn = lax.dynamic_index_in_dim(ring, slot, keepdims=False)[:n]
        active = ref == 0
        V = jnp.where(active, V * decay + syn + inp, V_r)
        ref = jnp.where(active, ref, ref - 1)
        spike = active & (V >= V_th)
        V = jnp.where(spike, V_r, V)
        ref = jnp.where(spike, ref_steps, ref)
        # Emitted now, arriving delay_steps later: that is this very slot (just read).
        buf, idx = propagate(spike)
        ring = lax.dynamic_update_index_in_dim(ring, buf, slot, 0)
        counts = counts + (spike & (t >= n_warm) & (t < n_total)).astype(jnp.int32)
        _report_steps(progress, t + 1, n_total, lambda: (
            jnp.sum(counts.astype(dtype)), jnp.maximum(t + 1 - n_warm, 0)), dtype)
        out = (jnp.sum(spike[:n_exc], dtype=jnp.int32), jnp.sum(spike[n_exc:], dtype=jnp.int32),
               idx[:rec_cap], V[rec_idx])
        return (V, ref, ring, counts), out

    ts = t0 + jnp.arange(seg_len, dtype=jnp.int32)
    return lax.scan(step, carry, ts if ext is None else (ts, ext))
