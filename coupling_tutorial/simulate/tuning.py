"""Gradient tuning of the network model's parameters to a target rate (Chapter 3, "Tuning")."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._validation import (
    validate,
    _is_traced,
    check_int,
    check_key,
    check_positive,
    float_dtype as _float,
)
from ..links import EXP
from ._network_loop import _network_core
from .mean_field import mean_field_rate
from .network import _check_net, _synaptic

__all__ = ["tune_network"]


_TUNABLE = ("r", "b", "alpha", "beta", "tau")


@validate(target_rate="positive", method=("mean_field", "sampled"), key="key?",
          n_iter="size", learning_rate="positive", n_steps="size", burn_in="count")
def tune_network(net, target_rate, params=("r", "b"), method="mean_field", key=None,
                 n_iter=200, learning_rate=0.05, n_steps=500, burn_in=100):
    r"""Adjust network parameters by gradient descent until the mean rate hits a target.

    Minimises :math:`L = (\log \bar\nu - \log \nu^*)^2`, where :math:`\nu^*` is
    ``target_rate`` (an expected count per bin) and :math:`\bar\nu` the network's mean
    expected count, with Adam on the parameters named in ``params``. Two estimates of
    :math:`\bar\nu`:

    * ``"mean_field"``: :func:`mean_field_rate` averaged over neurons; deterministic,
      no simulation, exact gradient of the approximation;
    * ``"sampled"``: spikeometric's approach. Each iteration simulates ``n_steps`` bins
      (fresh key), treats the spikes as data (no gradient through the Poisson draws) and
      averages :math:`\mu(t)` recomputed from them; the gradient is that of the mean
      predicted rate along a fixed path.

    Parameters
    ----------
    net : PoissonGLMNetwork
    target_rate : float
        Target mean expected count per bin (> 0).
    params : tuple of str
        Any of ``"r"``, ``"b"``, ``"alpha"``, ``"beta"``, ``"tau"``.
    method : {"mean_field", "sampled"}
    key : jax.Array, optional
        Required for ``"sampled"``.
    n_iter : int
        Adam iterations.
    learning_rate : float
    n_steps, burn_in : int
        Simulation length per iteration for ``"sampled"``.

    Returns
    -------
    tuned : PoissonGLMNetwork
    history : jax.Array, shape ``(n_iter,)``
        :math:`\bar\nu` at each iteration.

    Examples
    --------
    >>> import jax, coupling_tutorial as ct
    >>> W0 = ct.normal_network(jax.random.key(0), 40, density=0.2, glorot=True)
    >>> net = ct.PoissonGLMNetwork(W0, 1.0, 1.0, 10, 5.0, 1.0, r=0.3, b=-3.0)
    >>> tuned, hist = ct.tune_network(net, 0.1, params=("b",))
    >>> round(float(ct.mean_field_rate(tuned).mean()), 3)
    0.1
    """
    net = _check_net(net)
    check_positive(target_rate, "target_rate")
    params = tuple(params)
    if not params or any(p not in _TUNABLE for p in params):
        raise ValueError(f"`params` must be a non-empty subset of {_TUNABLE}; got {params}.")
    n_iter = check_int(n_iter, "n_iter")
    check_positive(learning_rate, "learning_rate")
    if method not in ("mean_field", "sampled"):
        raise ValueError(f"`method` must be 'mean_field' or 'sampled'; got {method!r}.")
    if method == "sampled":
        if key is None:
            raise ValueError("`key` must be a PRNG key for method='sampled'; got None.")
        key = check_key(key, "key")
        n_steps = check_int(n_steps, "n_steps")
        burn_in = check_int(burn_in, "burn_in", minimum=0)
    log_target = jnp.log(jnp.asarray(target_rate, _float()))
    theta0 = {p: getattr(net, p) for p in params}

    def mean_rate(theta, k):
        n = net.replace(**theta)
        if method == "mean_field":
            return jnp.mean(mean_field_rate(n))
        spikes = jax.lax.stop_gradient(_sampled_path(n, k, n_steps, burn_in))
        return jnp.mean(_path_rates(n, spikes))

    def loss(theta, k):
        m = mean_rate(theta, k)
        return (jnp.log(m) - log_target) ** 2, m

    grad_fn = jax.value_and_grad(loss, has_aux=True)
    keys = (jax.random.split(key, n_iter) if method == "sampled"
            else jnp.zeros((n_iter, 2), jnp.uint32))

    def adam(state, k):
        theta, m1, m2, i = state
        (_, m), g = grad_fn(theta, k)
        i = i + 1
        m1 = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m1, g)
        m2 = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, m2, g)
        theta = jax.tree.map(
            lambda t, a, v: t - learning_rate * (a / (1 - 0.9 ** i))
            / (jnp.sqrt(v / (1 - 0.999 ** i)) + 1e-8), theta, m1, m2)
        return (theta, m1, m2, i), m

    zeros = jax.tree.map(jnp.zeros_like, theta0)
    (theta, *_), history = jax.jit(lambda s, ks: jax.lax.scan(adam, s, ks))(
        (theta0, zeros, zeros, jnp.asarray(0.0, _float())), keys)
    for p in params:  # Adam moves each parameter by up to ~learning_rate per iteration
        if not _is_traced(theta[p]) and not bool(jnp.all(jnp.isfinite(theta[p]))):
            raise ValueError(
                f"`learning_rate` must keep the tuned parameters finite; got "
                f"{float(learning_rate):g}, which drove `{p}` to a non-finite value (each "
                f"Adam step moves it by up to ~learning_rate). Lower `learning_rate`.")
    for p in ("alpha", "tau"):
        if p in theta and not _is_traced(theta[p]) and float(theta[p]) <= 0:
            raise ValueError(f"Tuning drove `{p}` to {float(theta[p])} <= 0; lower "
                             "`learning_rate` or do not tune it.")
    return net.replace(**theta), history


def _sampled_path(net, key, n_steps, burn_in):
    """Spikes of a path (no runaway check: used inside tuning, rates are capped)."""
    stim = None
    init = jnp.zeros((net.T, net.n_neurons), _float())
    spikes, *_ = _network_core(net, key, stim, init, jnp.asarray(jnp.inf, _float()),
                               n_steps=n_steps + net.T, burn_in=burn_in)
    return spikes


def _path_rates(net, spikes):
    """mu(t+1) recomputed from the observed spikes (windows of T bins), (n - T, N)."""
    T = net.T
    c = net.kernel()
    x = spikes.astype(c.dtype)
    # trace[t] = sum_{t'} c(t') x[t - t'] for t >= T - 1
    windows = jnp.stack([x[T - 1 - l: x.shape[0] - 1 - l] for l in range(T)], 0)
    trace = jnp.einsum("l,ltn->tn", c, windows)
    syn = jax.vmap(lambda s: _synaptic(net, s))(trace)
    g = net.r * syn + net.b
    return net.dt / net.alpha * EXP.inverse(net.beta * g)
