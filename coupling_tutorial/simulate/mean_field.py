"""A differentiable mean-field estimate of the network model's stationary rates."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._validation import check_int, validate
from .network import _check_net

__all__ = ["mean_field_rate"]


def _mean_field(net, n_iter, damping, fluctuations):
    c = net.kernel()
    c1, c2 = jnp.sum(c), jnp.sum(c ** 2)
    log_pref = jnp.log(net.dt / net.alpha)
    b = jnp.broadcast_to(net.b, (net.n_neurons,))

    def update(log_nu):
        """The right-hand side of the self-consistency, unclipped."""
        nu = jnp.exp(log_nu)
        m = net.r * c1 * jax.ops.segment_sum(net.weights * nu[net.sources], net.targets,
                                               num_segments=net.n_neurons) + b
        new = log_pref + net.beta * m
        if fluctuations:
            v = (net.r ** 2) * c2 * jax.ops.segment_sum(
                net.weights ** 2 * nu[net.sources], net.targets, num_segments=net.n_neurons)
            new = new + 0.5 * net.beta ** 2 * v
        return new

    def body(_, log_nu):
        new = jnp.minimum(update(log_nu), _LOG_NU_CAP)  # keep a divergent iteration finite
        return (1 - damping) * log_nu + damping * new

    log_nu0 = log_pref + net.beta * b
    log_nu = jax.lax.fori_loop(0, n_iter, body, log_nu0)
    # distance to the fixed point of the *unclipped* map: inf/large when there is none
    residual = jnp.max(jnp.abs(update(log_nu) - log_nu))
    residual = jnp.where(jnp.isfinite(residual), residual, jnp.inf)
    return jnp.exp(log_nu), residual


_LOG_NU_CAP = 50.0


@validate(n_iter="size", damping="prob", fluctuations="bool", return_residual="bool")
def mean_field_rate(net, n_iter=200, damping=0.5, fluctuations=True, return_residual=False):
    r"""Differentiable estimate of each neuron's stationary expected count per bin.

    Solves the self-consistency :math:`\nu_i = E[\mu_i]` with the input treated as
    Gaussian (independent Poisson inputs, no correlations):

    .. math::

        \log \nu_i = \log\frac{\Delta t}{\alpha} + \beta\Big(r\,C_1 \sum_j W_0[j,i]\,\nu_j
        + b_i\Big) + \frac{\beta^2}{2}\, r^2 C_2 \sum_j W_0[j,i]^2\, \nu_j,

    :math:`C_1 = \sum_{t'} c(t')`, :math:`C_2 = \sum_{t'} c(t')^2` (the last term, from
    :math:`E[e^{\beta g}] = e^{\beta E g + \beta^2 \mathrm{Var}\, g/2}`, only if
    ``fluctuations``), by damped fixed-point iteration in log space. The iteration is
    unrolled, so ``jax.grad`` differentiates through it. When the network runs away there
    is no fixed point: the residual (``return_residual=True``) then stays large.

    Parameters
    ----------
    net : PoissonGLMNetwork
    n_iter : int
    damping : float
        In (0, 1].
    fluctuations : bool
        Include the variance correction.
    return_residual : bool

    Returns
    -------
    nu : jax.Array, shape ``(n_neurons,)``
    residual : jax.Array, scalar
        :math:`\max_i |F_i(\log\nu) - \log\nu_i|` for the undamped right-hand side
        :math:`F`: ~0 at a fixed point, large (or inf) when there is none (the iterates
        are capped at :math:`\log\nu = 50` to stay finite). Only if ``return_residual``.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> net = ct.PoissonGLMNetwork(jnp.zeros((3, 3)), 1.0, 1.0, 5, 2.0, 1.0, 0.5, -2.0)
    >>> bool(jnp.allclose(ct.mean_field_rate(net), jnp.exp(-2.0)))  # no coupling
    True
    """
    net = _check_net(net)
    n_iter = check_int(n_iter, "n_iter")
    if not 0.0 < damping <= 1.0:
        raise ValueError(f"`damping` must be in (0, 1]; got {damping}.")
    nu, res = _mean_field(net, n_iter, damping, bool(fluctuations))
    return (nu, res) if return_residual else nu
