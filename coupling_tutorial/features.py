r"""From spike counts to a causal design matrix, and from coefficients back to filters.

The coupling-array conventions of the whole package meet here:

* **design matrix** ``X``: ``(n_samples, n_neurons * n_basis)``, *neuron-major* columns:
  column ``j * n_basis + k`` is neuron ``j``'s counts convolved with basis function ``k``.
* **fitted coefficients** ``coef``: ``(n_neurons * n_basis, n_receivers)``, one column per
  receiving neuron (what :class:`coupling_tutorial.glm.PopulationGLM` stores in ``coef_``).
* **split coefficients**: ``(n_senders, n_basis, n_receivers)`` from :func:`split_coupling`.
* **simulation coefficients**: ``(n_receivers, n_senders, n_basis)``, what
  :func:`coupling_tutorial.simulate.simulate_recurrent` takes;
  :func:`to_simulation_layout` converts.
* **filters**: ``(window_size, n_receivers, n_senders)`` from :func:`coupling_filters`.

These are the same numbers in different orders:
``split[j, k, i] == coef[j * n_basis + k, i] == simulation[i, j, k]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import as_array, check_counts, check_finite, check_int, check_mask, check_size

__all__ = [
    "coupling_features",
    "split_coupling",
    "to_simulation_layout",
    "coupling_filters",
    "coupling_mask_to_feature_mask",
]


def _window_product(segment, kernel):
    r"""One chunk of a causal convolution: ``(C + W - 1, N)`` counts -> ``(C, N K)`` features.

    Row ``i``, neuron ``j`` holds ``segment[i:i + W, j] @ kernel`` (``kernel``: the
    time-reversed basis, ``(W, K)``), neuron-major as :func:`coupling_features`. The rows
    are cut into sub-blocks of :math:`S` rows; for sub-block :math:`s`, every neuron's
    features are one product with a banded Toeplitz matrix,

    .. math::

        X[sS + u,\, j, k] = \sum_{r=0}^{S+W-2} T_k[u, r]\; \mathrm{seg}[sS + r,\, j],
        \qquad T_k[u, r] = \mathrm{kernel}[r - u, k]\ \text{if}\ 0 \le r - u < W
        \ \text{else}\ 0,

    so the chunk is ONE matrix product ``(S K, S + W - 1) @ (S + W - 1, n_sub N)``: it
    runs at matrix-multiply speed, 5-10x faster on a CPU than gathering each neuron's
    ``(C, W)`` Hankel matrix (a memory-bound gather of :math:`W` copies of the counts), at
    the price of the band's zeros (:math:`(S + W - 1)/W` times the multiply-adds of the
    direct sum). The zeros are exact, so a count never leaks into earlier rows, not even by
    round-off. Shared by :func:`_causal_convolve` and the streamed design of
    :mod:`coupling_tutorial.scale`.
    """
    W, K = kernel.shape
    C, N = segment.shape[0] - W + 1, segment.shape[1]
    S = min(C, max(2 * W, 32))                  # rows per Toeplitz block
    n = -(-C // S)
    pad = n * S - C
    if pad:
        segment = jnp.concatenate([segment, jnp.zeros((pad, N), segment.dtype)])
    lag = jnp.arange(S + W - 1)[None, :] - jnp.arange(S)[:, None]       # r - u, (S, S+W-1)
    band = (lag >= 0) & (lag < W)
    T = jnp.where(band[:, :, None], kernel[jnp.clip(lag, 0, W - 1)], 0)  # (S, S+W-1, K)
    T = jnp.transpose(T, (0, 2, 1)).reshape(S * K, S + W - 1)
    rows = (jnp.arange(n) * S)[:, None] + jnp.arange(S + W - 1)[None, :]  # (n, S+W-1)
    L = jnp.transpose(segment[rows], (1, 0, 2)).reshape(S + W - 1, n * N)
    X = (T @ L).reshape(S, K, n, N)
    return jnp.transpose(X, (2, 0, 3, 1)).reshape(n * S, N * K)[:C]


@jax.jit
def _causal_convolve(counts, basis):
    """Jitted core of :func:`coupling_features` (shapes already checked).

    Direct (exact) convolution as blocked matrix products (:func:`_window_product`), one
    time chunk of all neurons at a time, about ``2^22`` numbers per chunk. Unlike an FFT
    convolution it is exactly causal: a count never leaks into earlier rows, not even by
    round-off. Peak memory is the output plus one chunk.
    """
    n_samples, n_neurons = counts.shape
    window_size, n_basis = basis.shape
    budget = max(window_size, (1 << 22) // max(n_neurons * n_basis, 1))
    chunk = min(1 << max(budget.bit_length() - 1, 0), 1 << int(np.ceil(np.log2(n_samples))))
    n_chunks = -(-n_samples // chunk)
    padded = n_chunks * chunk
    # x[i] = counts[i - W] (zeros before the recording), so rows i .. i + W - 1 of x are
    # the window of bin i, oldest first; the flipped basis weighs them.
    x = jnp.concatenate([jnp.zeros((window_size, n_neurons), counts.dtype), counts[:-1],
                         jnp.zeros((padded - n_samples, n_neurons), counts.dtype)])
    kernel = jnp.flip(basis, axis=0)

    def one_chunk(c, out):
        segment = jax.lax.dynamic_slice_in_dim(x, c * chunk, chunk + window_size - 1)
        return jax.lax.dynamic_update_slice_in_dim(out, _window_product(segment, kernel),
                                                   c * chunk, axis=0)

    out = jnp.zeros((padded, n_neurons * n_basis), counts.dtype)
    out = jax.lax.fori_loop(0, n_chunks, one_chunk, out)[:n_samples]
    return out.at[:window_size].set(jnp.nan)


def coupling_features(counts, basis):
    r"""Causal convolution of spike counts with a basis: the coupling design matrix.

    .. math::

        X[t,\; j K + k] = \sum_{\ell=0}^{W-1} y[t-1-\ell,\, j]\; B[\ell, k],

    so bin :math:`t` sees only bins strictly before it (a neuron's spike in bin :math:`t`
    cannot explain itself). The first :math:`W` rows, whose window would reach before
    the recording, are NaN; :class:`coupling_tutorial.glm.PopulationGLM` drops NaN rows.
    Identical to NeMoS's ``compute_features`` of a ``Conv`` basis.

    Parameters
    ----------
    counts : array_like, shape ``(n_samples, n_neurons)``
        Spike counts, finite and non-negative (a 1-D array is one neuron).
    basis : array_like, shape ``(window_size, n_basis)``
        Row 0 is lag 1 (the most recent bin).

    Returns
    -------
    jax.Array, shape ``(n_samples, n_neurons * n_basis)``
        Neuron-major columns: ``j * n_basis + k``.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> y = jnp.array([[0.], [1.], [0.], [0.], [2.]])
    >>> X = ct.coupling_features(y, ct.history_basis(2))
    >>> X.tolist()  # columns: lag 1, lag 2
    [[nan, nan], [nan, nan], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    counts = as_array(counts, "counts", ndim=(1, 2))
    if counts.ndim == 1:
        counts = counts[:, None]
    basis = as_array(basis, "basis", ndim=2)
    check_counts(counts, "counts")
    check_finite(basis, "basis")
    window_size = basis.shape[0]
    if counts.shape[0] <= window_size:
        raise ValueError(
            f"`counts` must have more samples than the basis window ({window_size}); "
            f"got {counts.shape[0]}."
        )
    dtype = jnp.result_type(float)
    return _causal_convolve(counts.astype(dtype), basis.astype(dtype))


def split_coupling(coef, n_basis: int):
    r"""Split a fitted coefficient matrix into sender x basis x receiver.

    Parameters
    ----------
    coef : array_like, shape ``(n_senders * n_basis, n_receivers)``
        Coupling coefficients as stored by a fitted population GLM (neuron-major rows).
    n_basis : int
        Number of basis functions per sender.

    Returns
    -------
    jax.Array, shape ``(n_senders, n_basis, n_receivers)``
        ``out[j, k, i] = coef[j * n_basis + k, i]``: the weight of basis function ``k``
        in the filter from sender ``j`` to receiver ``i``.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> coef = jnp.arange(12.0).reshape(6, 2)  # 3 senders x 2 basis, 2 receivers
    >>> ct.split_coupling(coef, 2)[1, 0, 1] == coef[2, 1]
    Array(True, dtype=bool)
    """
    n_basis = check_int(n_basis, "n_basis")
    coef = check_finite(as_array(coef, "coef", ndim=2), "coef")
    if coef.shape[0] % n_basis:
        raise ValueError(
            f"`coef` must have a multiple of `n_basis` = {n_basis} rows (n_senders * "
            f"n_basis); got {coef.shape[0]} rows."
        )
    return coef.reshape(coef.shape[0] // n_basis, n_basis, coef.shape[1])


def to_simulation_layout(split_coef):
    r"""Reorder split coefficients for simulation: ``(S, K, R)`` -> ``(R, S, K)``.

    Parameters
    ----------
    split_coef : array_like, shape ``(n_senders, n_basis, n_receivers)``

    Returns
    -------
    jax.Array, shape ``(n_receivers, n_senders, n_basis)``
        ``out[i, j, k] = split_coef[j, k, i]``, the ``coupling_coef`` layout of
        :func:`coupling_tutorial.simulate.simulate_recurrent` (and of NeMoS).

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> ct.to_simulation_layout(jnp.zeros((3, 2, 4))).shape
    (4, 3, 2)
    """
    split_coef = check_finite(as_array(split_coef, "split_coef", ndim=3), "split_coef")
    return jnp.transpose(split_coef, (2, 0, 1))


def coupling_filters(split_coef, basis):
    r"""Turn split coefficients back into filters on lags.

    .. math:: h_{j\to i}[\ell] = \sum_k B[\ell, k]\, w[j, k, i]

    Parameters
    ----------
    split_coef : array_like, shape ``(n_senders, n_basis, n_receivers)``
    basis : array_like, shape ``(window_size, n_basis)``

    Returns
    -------
    jax.Array, shape ``(window_size, n_receivers, n_senders)``
        The layout :func:`coupling_tutorial.filters.regress_filter` takes.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(4, 30)
    >>> ct.coupling_filters(jnp.ones((3, 4, 2)), B).shape
    (30, 2, 3)
    """
    split_coef = check_finite(as_array(split_coef, "split_coef", ndim=3), "split_coef")
    basis = check_finite(as_array(basis, "basis", ndim=2), "basis")
    if split_coef.shape[1] != basis.shape[1]:
        raise ValueError(
            f"`split_coef` axis 1 (n_basis) must equal the number of basis columns "
            f"{basis.shape[1]}; got {split_coef.shape[1]}."
        )
    return jnp.einsum("lk,jki->lij", basis, split_coef)


def coupling_mask_to_feature_mask(mask, n_basis: int):
    r"""Expand a sender x receiver connectivity map into a GLM feature mask.

    Parameters
    ----------
    mask : array_like of 0/1, shape ``(n_senders, n_receivers)``
        ``mask[j, i] = 1`` lets receiver ``i`` use sender ``j``'s history.
    n_basis : int
        Number of basis functions per sender.

    Returns
    -------
    jax.Array, shape ``(n_senders * n_basis, n_receivers)``
        Row ``j * n_basis + k`` repeats ``mask[j]``, matching the neuron-major columns of
        :func:`coupling_features`.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> ct.coupling_mask_to_feature_mask(jnp.array([[0, 1], [1, 0]]), 2).tolist()
    [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]
    """
    n_basis = check_int(n_basis, "n_basis")
    m = as_array(mask, "mask", ndim=2)
    m = check_mask(m, "mask", m.shape)
    check_size((m.shape[0] * n_basis, m.shape[1]), "n_basis")
    return jnp.repeat(m, n_basis, axis=0)
