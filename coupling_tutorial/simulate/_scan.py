"""The time loop of the simulators (private): batched random numbers, runaway guard.

:func:`_scan_steps` runs ``lax.scan`` over bins in chunks whose random numbers are drawn
in one batch; :func:`_guarded_draw` draws a bin's counts and records the first bin whose
rates ran away (:class:`~coupling_tutorial.simulate.RunawayError` is raised outside).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._poisson import _draw, _prepare
from ..progress import _report_steps


# Incremented each time a jitted core is *traced* (not when it runs): the tests use it to
# check that a second call with the same shapes does not recompile.
_TRACE_COUNTS = {"simulate_recurrent": 0, "simulate_network": 0}


_DRAW_CHUNK = 128           # steps whose random numbers are generated in one batch


def _chunk_size(n_steps):
    """Steps per chunk of :func:`_scan_steps` (progress reports come at multiples of it)."""
    return min(_DRAW_CHUNK, n_steps)


def _guarded_draw(sampler, pre, rate, t, first_bad, bad_neurons, max_rate):
    """Draw bin ``t``'s counts, recording the first step whose rates ran away.

    A rate that is non-finite, negative or above ``max_rate`` marks step ``t``
    (``first_bad``) and
    its neurons (``bad_neurons``), once. From that step on no spikes are drawn (counts
    stay counts, never garbage), and the rates recorded after it are NaN.
    Returns ``(counts, recorded_rate, first_bad, bad_neurons)``.
    """
    bad = ~jnp.isfinite(rate) | (rate > max_rate) | (rate < 0)
    newly = (first_bad < 0) & jnp.any(bad)
    first_bad = jnp.where(newly, t, first_bad)
    bad_neurons = jnp.where(newly, bad, bad_neurons)
    alive = first_bad < 0
    counts = _draw(sampler, pre, jnp.where(alive, rate, 0.0))
    return counts, jnp.where(alive | newly, rate, jnp.nan), first_bad, bad_neurons


def _scan_steps(step, init, xs, key, n_steps, sampler, n, dtype, first_bad_index, progress=0):
    """``lax.scan`` of ``step(carry, x, pre)`` over ``n_steps`` bins, random numbers batched.

    Step ``t`` draws with the ``t``-th key of ``jax.random.split(key, n_steps)``. The steps
    run in chunks of ``_DRAW_CHUNK``; each chunk first generates the random numbers of all
    its steps at once (``jax.vmap`` of ``_prepare``), then runs its steps sequentially. The
    last chunk is padded with extra steps whose outputs are dropped; a runaway first seen
    in the padding (carry entry ``first_bad_index``) is forgotten. With ``progress`` (a
    multiple of the chunk size; 0: off) a chunk ending at a multiple of ``progress`` steps
    reports, with the spikes of its bins (the first output of ``step`` is the counts).
    """
    keys = jax.random.split(key, num=n_steps)
    size = _chunk_size(n_steps)
    n_chunks = -(-n_steps // size)
    pad = n_chunks * size - n_steps

    def chunked(a):
        if pad:
            a = jnp.concatenate([a, jnp.broadcast_to(a[-1:], (pad,) + a.shape[1:])])
        return a.reshape((n_chunks, size) + a.shape[1:])

    t = jnp.arange(n_chunks * size).reshape(n_chunks, size)
    xs_c = jax.tree.map(chunked, xs)

    def chunk(carry, inputs):
        t_c, keys_c, x_c = inputs
        pre = jax.vmap(lambda k: _prepare(sampler, k, n, dtype))(keys_c)
        carry, ys = jax.lax.scan(lambda c, a: step(c, (a[0], a[2]), a[1]), carry,
                                 (t_c, pre, x_c))
        valid = t_c < n_steps
        _report_steps(progress, jnp.minimum(t_c[-1] + 1, n_steps), n_steps, lambda: (
            jnp.sum(jnp.where(valid[:, None], ys[0], 0).astype(dtype)), jnp.sum(valid)), dtype)
        return carry, ys

    carry, ys = jax.lax.scan(chunk, init, (t, chunked(keys), xs_c))
    ys = jax.tree.map(lambda y: y.reshape((n_chunks * size,) + y.shape[2:])[:n_steps], ys)
    carry = list(carry)
    carry[first_bad_index] = jnp.where(carry[first_bad_index] >= n_steps, -1,
                                       carry[first_bad_index])
    return tuple(carry), ys
