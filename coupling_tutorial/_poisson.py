"""Poisson samplers of the simulators (private): the one place counts are drawn.

* ``"jax"``: exactly ``jax.random.poisson``'s draws (and so NeMoS's spikes), computed
  from two precomputed uniforms per entry (:func:`_knuth_from`).
* ``"inversion"``: exact inverse-CDF draws with one uniform per entry
  (:func:`_inversion_from`).
* a CDF table for many draws of one small mean (:func:`_poisson_cdf_table`,
  :func:`_poisson_counts`), used by the LIF network's external input.

A sampler is split in two so that the random numbers of many steps can be generated in
one batch before a sequential loop: ``_prepare(sampler, key, n, dtype)`` depends on the
key only, ``_draw(sampler, pre, rate)`` turns them into counts once the rates are known.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


_SAMPLERS = ("jax", "inversion")


_INVERSION_MAX_RATE = 10.0  # above this expected count, lanes fall back to jax.random.poisson


_INVERSION_MAX_ITER = 64    # P(X >= 64 | mu <= 10) < 1e-30


_KNUTH_MAX_RATE = 10.0      # jax.random.poisson uses Knuth's algorithm below this rate


_BOUNDARY_MARGIN = 1e-4     # float32 event rates: recompute NeMoS's way this close to a boundary


# A sampler is split in two so that the random numbers of many steps can be generated in
# one vectorised batch before the sequential loop (threefry is cheap in bulk, costly one
# small vector at a time): ``_prepare(sampler, key, n, dtype)`` depends on the step's key
# only; ``_draw(sampler, pre, rate)`` turns those numbers into counts once the rates are
# known. Both samplers give exactly what they would give computed inside the step.
def _prepare(sampler, key, n, dtype):
    if sampler == "jax":
        # the first two iterations of jax.random.poisson's Knuth loop (the key chain
        # key -> (rng_1, s_1) -> (rng_2, s_2) and the logs of its uniforms)
        rng1, s1 = jax.random.split(key)
        rng2, s2 = jax.random.split(rng1)
        log_u1 = jnp.log(jax.random.uniform(s1, (n,), jnp.float32))
        log_u2 = jnp.log(jax.random.uniform(s2, (n,), jnp.float32))
        return key, rng2, log_u1, log_u2
    k_u, k_big = jax.random.split(key)
    return jax.random.uniform(k_u, (n,), dtype), k_big


def _draw(sampler, pre, rate):
    if sampler == "jax":
        return _knuth_from(pre, rate)
    return _inversion_from(pre, rate)


def _knuth_from(pre, lam):
    r"""``jax.random.poisson(key, lam)``, bit for bit, from ``_prepare("jax", key, ...)``.

    ``jax.random.poisson`` draws entries with :math:`\lambda < 10` by Knuth's algorithm:
    iteration :math:`m` takes the :math:`m`-th key of the chain ``rng, s = split(rng)``,
    counts one for every entry whose log-product of uniforms is still above
    :math:`-\lambda`, and adds :math:`\log u_m`; it stops when no entry is above. Entries
    with :math:`\lambda \ge 10` use transformed rejection, and the function computes *both*
    algorithms for every entry before selecting. Here the first two iterations use the
    precomputed logs, further iterations continue the same key chain (rare at spiking
    rates), and the rejection algorithm runs only when some entry needs it (then this is
    literally ``jax.random.poisson``). Same keys, same uniforms, same float32 arithmetic:
    the same integers, at a fraction of the cost (checked in ``tests/test_simulate.py`` on
    every JAX version the tests run).
    """
    key, rng2, log_u1, log_u2 = pre
    lam32 = lam.astype(jnp.float32)  # jax.random.poisson works in float32 whatever lam is
    neg = -lam32

    def knuth(_):
        lp1 = jnp.zeros_like(lam32) + log_u1
        k = (jnp.asarray(0.0, jnp.float32) > neg).astype(int) + (lp1 > neg)
        lp2 = lp1 + log_u2

        def cond(state):
            return jnp.any(state[2] > neg)

        def body(state):
            rng, k, log_prod = state
            rng, subkey = jax.random.split(rng)
            k = jnp.where(log_prod > neg, k + 1, k)
            u = jax.random.uniform(subkey, lam32.shape, jnp.float32)
            return rng, k, log_prod + jnp.log(u)

        k = jax.lax.while_loop(cond, body, (rng2, k, lp2))[1]
        return jnp.where(lam32 == 0, 0, k - 1)

    use_knuth = jnp.isnan(lam32) | (lam32 < _KNUTH_MAX_RATE)
    return jax.lax.cond(jnp.all(use_knuth), knuth, lambda _: jax.random.poisson(key, lam32),
                        None)


def _poisson_jax(key, lam):
    """``jax.random.poisson(key, lam)`` for a 1-D ``lam``, as the simulators draw it."""
    return _knuth_from(_prepare("jax", key, lam.shape[0], jnp.float32), lam)


def _inversion_from(pre, mu):
    r"""Exact Poisson draws by sequential inversion of the CDF, one uniform per entry.

    For ``mu <= 10``: ``k`` is the smallest integer with :math:`u \le F(k; \mu)`, the CDF
    built up term by term (:math:`p_k = p_{k-1}\mu/k`). The loop runs as many times as the
    largest draw needs (a handful at the rates of spiking networks). Entries with a larger
    ``mu`` use ``jax.random.poisson`` with a key split from the step's key, computed only
    when needed.
    """
    u, k_big = pre
    small = mu <= _INVERSION_MAX_RATE
    m = jnp.where(small, mu, 0.0)
    p = jnp.exp(-m)

    def cond(state):
        k, p, F, it = state
        return jnp.any(u > F) & (it < _INVERSION_MAX_ITER)

    def body(state):
        k, p, F, it = state
        active = u > F
        k = k + active
        p = p * m / jnp.maximum(k, 1).astype(m.dtype)
        F = jnp.where(active, F + p, F)
        return k, p, F, it + 1

    k0 = jnp.zeros(mu.shape, int)  # the default integer, as jax.random.poisson
    k, *_ = jax.lax.while_loop(cond, body, (k0, p, p, 0))
    big = jax.lax.cond(jnp.any(~small),
                       lambda: jax.random.poisson(k_big, jnp.where(small, 0.0, mu)).astype(k.dtype),
                       lambda: jnp.zeros_like(k))
    return jnp.where(small, k, big)


def _poisson_inversion(key, mu):
    """Inverse-CDF Poisson draws of a 1-D ``mu`` from one key (see ``_inversion_from``)."""
    return _inversion_from(_prepare("inversion", key, mu.shape[0], mu.dtype), mu)


def _near_knuth_boundary(pre, rate):
    r"""Whether a rate within a relative ``_BOUNDARY_MARGIN`` of ``rate`` could change a count.

    Knuth's count of an entry changes only where a partial sum of its log-uniforms
    crosses :math:`-\lambda`; this looks at the first two (the precomputed ones), which
    decide every count below 2.
    """
    _, _, log_u1, log_u2 = pre
    lam = rate.astype(jnp.float32)
    tol = _BOUNDARY_MARGIN * lam
    lp2 = log_u1 + log_u2
    return jnp.any((jnp.abs(log_u1 + lam) <= tol) | (jnp.abs(lp2 + lam) <= tol))


def _check_sampler(sampler):
    if sampler not in _SAMPLERS:
        raise ValueError(f"`sampler` must be one of {_SAMPLERS}; got {sampler!r}.")
    return sampler


# A CDF table for many draws of one small mean (the LIF network's external drive)
def _poisson_cdf_table(lam: float):
    """Offset ``k_lo`` and CDF values ``P(X <= k)``, ``k = k_lo, k_lo+1, ...``, of Poisson(lam).

    A count is drawn by inversion, ``k_lo + #{k : cdf_k < u}`` with ``u ~ U(0, 1)``; the
    table covers all but ~1e-16 of the probability (below ``k_lo`` less than 1e-20).
    """
    if lam == 0.0:
        return 0, np.zeros(0)
    k_lo = max(0, int(math.floor(lam - 10.0 * math.sqrt(lam) - 10.0)))
    k_hi = int(math.ceil(lam + 12.0 * math.sqrt(lam) + 40.0))
    k = np.arange(0, k_hi + 1, dtype=np.float64)
    log_pmf = k * math.log(lam) - lam - np.array([math.lgamma(x + 1.0) for x in k])
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf)
    cdf = (cdf / cdf[-1])[k_lo:]  # normalised (lgamma's ~1e-13 error cancels); ends at 1
    n_keep = int(np.searchsorted(cdf, 1.0 - 1e-16)) + 1
    return k_lo, cdf[: min(n_keep, cdf.size)]


def _poisson_counts(key, shape, k_lo, cdf, dtype):
    """Poisson counts by inversion of the tabulated CDF (exact up to the table's ~1e-16)."""
    u = jax.random.uniform(key, shape, dtype=dtype)
    return k_lo + jnp.sum(cdf < u[..., None], axis=-1, dtype=jnp.int32)
