"""Fixed in-degree E--I connectivity, stored by source (Chapter 4, "The Brunel network")."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_int, check_key

__all__ = ["Connectivity", "fixed_indegree_connectivity"]


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
    key = check_key(key)
    n_exc = check_int(n_exc, "n_exc")
    n_inh = check_int(n_inh, "n_inh")
    c_exc = check_int(c_exc, "c_exc", minimum=0)
    c_inh = check_int(c_inh, "c_inh", minimum=0)
    n = n_exc + n_inh
    if n * (c_exc + c_inh) >= 2**31:
        raise ValueError(f"`n_exc`, `n_inh`, `c_exc`, `c_inh` must give fewer than 2**31 "
                         f"synapses; got {n * (c_exc + c_inh)}.")
    k_e, k_i = jax.random.split(key)
    pre_e = jax.random.randint(k_e, (n, c_exc), 0, n_exc, dtype=jnp.int32)
    pre_i = jax.random.randint(k_i, (n, c_inh), n_exc, n, dtype=jnp.int32)
    pre = jnp.concatenate([pre_e, pre_i], axis=1)
    # Transpose to a padded by-source table: a stable sort by source (a linear-time radix
    # sort when the indices fit in 16 bits) keeps each source's targets in ascending order.
    src = np.asarray(pre).ravel()
    out_degree = np.bincount(src, minlength=n).astype(np.int32)
    max_out = max(int(out_degree.max(initial=0)), 1)
    order = np.argsort(src.astype(np.uint16) if n <= 2**16 else src, kind="stable")
    start = np.zeros(n, dtype=np.int64)
    np.cumsum(out_degree[:-1], out=start[1:])
    # Synapse number e in sorted order goes to row src, column e - start[src].
    flat_pos = np.arange(src.size, dtype=np.int64)
    flat_pos += np.repeat(np.arange(n, dtype=np.int64) * max_out - start, out_degree)
    targets = np.full((n + 1) * max_out, n, dtype=np.int32)
    targets[flat_pos] = order // max(c_exc + c_inh, 1)
    targets = targets.reshape(n + 1, max_out)
    return Connectivity(pre=pre, targets=jnp.asarray(targets),
                        out_degree=jnp.asarray(out_degree), n_exc=n_exc, n_inh=n_inh)
