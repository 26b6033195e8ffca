"""Simulating the network model (Chapter 3, "Simulating a large sparse network")."""

from __future__ import annotations

import jax.numpy as jnp

from .._validation import (
    validate,
    as_array,
    check_finite,
    check_int,
    check_size,
    check_key,
    check_mask,
    float_dtype as _float,
)
from ._network_loop import _network_core
from .._poisson import _check_sampler
from ..progress import _is_any_traced, _start
from ._scan import _chunk_size
from .network import _check_history, _check_net
from .runaway import _check_max_rate, _check_runaway, DEFAULT_MAX_RATE

__all__ = ["simulate_network"]


@validate(key="key", n_steps="size", burn_in="count", return_rates="bool")
def simulate_network(net, key, n_steps, stimulus=None, init_history=None, burn_in=0, *,
                     stimulus_mask=None, max_rate=DEFAULT_MAX_RATE, return_rates=False,
                     sampler="inversion", progress=False):
    r"""Simulate a :class:`PoissonGLMNetwork` for ``n_steps`` bins.

    The synaptic sum over the last ``T`` bins is carried by one trace per neuron,

    .. math::

        s_j(t) = \sum_{t'=0}^{T-1} c(t')\,X_j(t-t')
               = c(1)\, s_j(t-1) + X_j(t) - c(T)\, X_j(t-T),

    (exact: the spike leaving the window is removed), kept with a ring buffer of the last
    ``T`` spike vectors, and :math:`g_i(t+1) = r\,u_i(t) + b_i + E_i(t+1)` with
    :math:`u = W_0^\top s`. By linearity :math:`u` obeys the same recursion,
    :math:`u(t) = c(1)\,u(t-1) + W_0^\top d(t)`, :math:`d(t) = X(t) - c(T)\,X(t-T)`, and
    :math:`d` is non-zero only for the neurons that spiked now or :math:`T` bins ago: the one
    sparse product per step touches only their out-edges (all edges when more than a
    quarter of the neurons are involved). Cost per step O(N + out-edges of the active
    neurons) <= O(edges + N), memory O(edges + T N). Bin :math:`t` (counting burn-in)
    draws its counts with the :math:`t`-th key of
    ``jax.random.split(key, burn_in + n_steps)``.

    The default sampler inverts the Poisson CDF with one uniform per neuron (exact; lanes
    with an expected count above 10 use ``jax.random.poisson``); ``sampler="jax"`` draws
    exactly what ``jax.random.poisson`` draws, as :func:`simulate_recurrent` does by
    default (it needs two uniforms per neuron and step instead of one). With the same
    sampler and key the two simulators give the same spikes (:func:`network_as_recurrent`).
    The uniform numbers of 128 bins at a time are generated in one batch.

    Parameters
    ----------
    net : PoissonGLMNetwork
    key : jax.Array
        PRNG key (typed or raw).
    n_steps : int
        Number of recorded bins.
    stimulus : array_like, shape ``(n_steps, n_neurons)`` or ``(n_steps,)``, optional
        External input :math:`E(t)` of each recorded bin (none during burn-in). A 1-D
        stimulus is given to the neurons selected by ``stimulus_mask`` (all by default).
    init_history : array_like, shape ``(T, n_neurons)``, optional
        Spike counts before the first bin, last row most recent (default zeros).
    burn_in : int
        Bins simulated first and discarded (to forget the initial condition).
    stimulus_mask : array_like of 0/1, shape ``(n_neurons,)``, optional
        Which neurons receive a 1-D stimulus.
    max_rate : float or None
        Largest expected count per bin accepted (default 1000, at most 1e9; None: 1e9,
        the samplers' limit); above it, or on a non-finite rate, :class:`RunawayError` is
        raised. Under ``jax.jit`` it is raised when the compiled program runs, by a host
        callback, as a ``jax.errors.JaxRuntimeError`` carrying its message (see
        :class:`RunawayError`): never NaN rates returned as a result.
    return_rates : bool
        Also return the expected counts :math:`\mu`.
    sampler : {"inversion", "jax"}
        Poisson sampler (see above).
    progress : bool or callable
        Report progress over the ``burn_in + n_steps`` bins (off by default; see
        :func:`simulate_recurrent` and :mod:`coupling_tutorial.progress`).

    Returns
    -------
    spikes : jax.Array of int, shape ``(n_steps, n_neurons)``
    rates : jax.Array, shape ``(n_steps, n_neurons)``
        Only if ``return_rates``.

    Examples
    --------
    >>> import jax, coupling_tutorial as ct
    >>> W0 = ct.normal_network(jax.random.key(0), 50, std=1.0, density=0.1, glorot=True)
    >>> net = ct.PoissonGLMNetwork(W0, alpha=1.0, beta=1.0, T=10, tau=5.0, dt=1.0,
    ...                            r=0.5, b=-3.0)
    >>> spikes = ct.simulate_network(net, jax.random.key(1), 1000, burn_in=100)
    >>> spikes.shape
    (1000, 50)
    """
    net = _check_net(net)
    key = check_key(key, "key")
    n_steps = check_int(n_steps, "n_steps")
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    N = net.n_neurons
    if init_history is None:
        init_history = jnp.zeros((net.T, N), _float())
    else:
        init_history = _check_history(init_history, net, "init_history")
    stim = None
    if stimulus is not None:
        stim = as_array(stimulus, "stimulus", ndim=(1, 2), dtype=_float())
        if stim.shape[0] != n_steps:
            raise ValueError(f"`stimulus` must have n_steps={n_steps} rows; got shape "
                             f"{stim.shape}.")
        check_finite(stim, "stimulus")
        if stim.ndim == 1:
            mask = jnp.ones(N) if stimulus_mask is None else stimulus_mask
            mask = check_mask(mask, "stimulus_mask", (N,))
            stim = stim[:, None] * mask[None, :]
        elif stim.shape[1] != N:
            raise ValueError(f"`stimulus` must have shape (n_steps, n_neurons) = ({n_steps}, "
                             f"{N}); got shape {stim.shape}.")
        elif stimulus_mask is not None:
            raise ValueError("`stimulus_mask` must be None when `stimulus` is 2-D; got a mask.")
    max_rate_arr = _check_max_rate(max_rate)
    sampler = _check_sampler(sampler)
    check_size((n_steps + burn_in, N), "n_steps")
    total = burn_in + n_steps
    with _start(progress, "simulate_network", _is_any_traced(net, key, stim, init_history),
                n_steps=total, n_neurons=N, rate_unit="spikes/bin", rate_scale=1.0) as run:
        spikes, mus, first_bad, bad_neurons = _network_core(
            net, key, stim, init_history, max_rate_arr, n_steps=n_steps, burn_in=burn_in,
            sampler=sampler, progress=run.every(_chunk_size(total)))
        run.finish_steps(spikes)
    advice = ("The recurrent excitation r*W0 is too strong for the exponential "
              "non-linearity. To avoid it: lower `r` (e.g. tune it with "
              "`ct.tune_network`), lower the background `b`, add inhibition "
              "(Dale's law with more or stronger inhibitory neurons), or raise "
              "`max_rate` if such rates are meant.")
    _check_runaway(first_bad, bad_neurons, spikes, mus, "expected count", advice, burn_in)
    return (spikes, mus) if return_rates else spikes
