"""Random and structured weight matrices ``W0[j, i]`` (source ``j`` -> target ``i``, zero diagonal).

spikeometric's generators: :func:`normal_network` (Dale's law, sparsity, Glorot scaling),
:func:`uniform_network` and the ring :func:`mexican_hat_network`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import (
    validate,
    check_finite,
    check_int,
    check_size,
    check_key,
    check_positive,
    float_dtype as _float,
)

__all__ = ["normal_network", "uniform_network", "mexican_hat_network"]


def _check_density(density):
    if not (isinstance(density, (int, float, np.floating)) and 0.0 < density <= 1.0):
        raise ValueError(f"`density` must be in (0, 1]; got {density!r}.")
    return float(density)


@validate(key="key", n_neurons="size", mean="real", std="nonneg", density="prob",
          glorot="bool", dale="bool", excitatory_fraction="prob")
def normal_network(key, n_neurons, mean=0.0, std=1.0, density=0.1, glorot=False,
                   dale=True, excitatory_fraction=0.5):
    r"""Random normal weights with Dale's law and sparsity (spikeometric's ``NormalGenerator``).

    Each possible edge :math:`j \to i` (:math:`j \neq i`) exists with probability
    ``density``; its weight is :math:`z_{ji} \sim \mathcal N(\text{mean}, \text{std}^2)`,
    divided by :math:`\sqrt{N}` if ``glorot``. With Dale's law the first
    ``round(excitatory_fraction * N)`` sources are excitatory (weights :math:`|z|`), the
    rest inhibitory (:math:`-|z|`): with ``mean=0`` the magnitudes are half-normal, as in
    spikeometric. Unlike spikeometric, the key fixes the whole graph.

    Parameters
    ----------
    key : jax.Array
        PRNG key (typed or raw).
    n_neurons : int
        >= 2.
    mean, std : float
        Of the normal weights (std >= 0).
    density : float
        Probability of each edge, in (0, 1].
    glorot : bool
        Divide the weights by :math:`\sqrt{N}`.
    dale : bool
        Apply Dale's law (sign by source).
    excitatory_fraction : float
        Fraction of excitatory sources, in [0, 1].

    Returns
    -------
    jax.Array, shape ``(n_neurons, n_neurons)``
        ``W0[j, i]``, zero diagonal.

    Examples
    --------
    >>> import jax, coupling_tutorial as ct
    >>> W0 = ct.normal_network(jax.random.key(0), 6, density=0.5)
    >>> bool((W0[:3] >= 0).all() and (W0[3:] <= 0).all() and (W0.diagonal() == 0).all())
    True
    """
    key = check_key(key, "key")
    n = check_int(n_neurons, "n_neurons", minimum=2)
    check_size((n, n), "n_neurons")
    density = _check_density(density)
    check_positive(std, "std", strict=False)
    check_finite(jnp.asarray(mean, _float()), "mean")
    if not 0.0 <= excitatory_fraction <= 1.0:
        raise ValueError(f"`excitatory_fraction` must be in [0, 1]; got {excitatory_fraction}.")
    k_w, k_m = jax.random.split(key)
    z = mean + std * jax.random.normal(k_w, (n, n), _float())
    if glorot:
        z = z / jnp.sqrt(n)
    if dale:
        n_exc = int(round(excitatory_fraction * n))
        sign = jnp.where(jnp.arange(n) < n_exc, 1.0, -1.0)[:, None]
        z = sign * jnp.abs(z)
    mask = jax.random.uniform(k_m, (n, n), _float()) < density
    return jnp.where(mask & ~jnp.eye(n, dtype=bool), z, 0.0)


@validate(key="key", n_neurons="size", low="real", high="real", density="prob")
def uniform_network(key, n_neurons, low=-1.0, high=1.0, density=0.1):
    r"""Random uniform weights on :math:`[\text{low}, \text{high})` with sparsity.

    Each edge :math:`j \to i` (:math:`j \neq i`) exists with probability ``density``.

    Parameters
    ----------
    key : jax.Array
    n_neurons : int
    low, high : float
        ``low < high``.
    density : float
        In (0, 1].

    Returns
    -------
    jax.Array, shape ``(n_neurons, n_neurons)``

    Examples
    --------
    >>> import jax, coupling_tutorial as ct
    >>> W0 = ct.uniform_network(jax.random.key(0), 100, low=0.0, high=2.0, density=0.2)
    >>> bool((W0 >= 0).all() and (W0 < 2).all()), round(float((W0 != 0).mean()), 1)
    (True, 0.2)
    """
    key = check_key(key, "key")
    n = check_int(n_neurons, "n_neurons", minimum=2)
    check_size((n, n), "n_neurons")
    density = _check_density(density)
    if not low < high:
        raise ValueError(f"`low` must be < `high`; got low={low}, high={high}.")
    k_w, k_m = jax.random.split(key)
    w = jax.random.uniform(k_w, (n, n), _float(), minval=low, maxval=high)
    mask = jax.random.uniform(k_m, (n, n), _float()) < density
    return jnp.where(mask & ~jnp.eye(n, dtype=bool), w, 0.0)


@validate(n_neurons="size", a="real", sigma_1="positive", sigma_2="positive")
def mexican_hat_network(n_neurons, a=1.0, sigma_1=2.0, sigma_2=4.0):
    r"""Ring network with Mexican-hat weights (spikeometric's ``MexicanHatGenerator``).

    .. math::

        W_0[j, i] = e^{-d_{ij}^2/2\sigma_1^2} - a\, e^{-d_{ij}^2/2\sigma_2^2},\qquad
        d_{ij} = \min(|i-j|,\, N-|i-j|),

    with a zero diagonal. With :math:`\sigma_1 < \sigma_2` and :math:`a < 1` near
    neighbours on the ring excite each other and farther ones inhibit. Deterministic
    (no key).

    Parameters
    ----------
    n_neurons : int
    a : float
        Weight of the second Gaussian.
    sigma_1, sigma_2 : float
        Widths (> 0), in neurons.

    Returns
    -------
    jax.Array, shape ``(n_neurons, n_neurons)``

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> W0 = ct.mexican_hat_network(10, a=0.5, sigma_1=1.0, sigma_2=3.0)
    >>> bool((W0 == W0.T).all()), float(W0[0, 0])
    (True, 0.0)
    """
    n = check_int(n_neurons, "n_neurons", minimum=2)
    check_size((n, n), "n_neurons")
    check_positive(sigma_1, "sigma_1")
    check_positive(sigma_2, "sigma_2")
    check_finite(jnp.asarray(a, _float()), "a")
    i = jnp.arange(n)
    d = jnp.abs(i[:, None] - i[None, :])
    d = jnp.minimum(d, n - d).astype(_float())
    W0 = jnp.exp(-0.5 * (d / sigma_1) ** 2) - a * jnp.exp(-0.5 * (d / sigma_2) ** 2)
    return jnp.where(jnp.eye(n, dtype=bool), 0.0, W0)
