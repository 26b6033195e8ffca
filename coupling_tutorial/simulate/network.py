"""The sparse Poisson GLM network model of spikeometric (Chapter 3, "A network model").

:class:`PoissonGLMNetwork` (a JAX pytree: an edge list and differentiable scalars),
its one-step input and rate (:func:`network_input`, :func:`network_rate`) and the same
network written as :func:`~coupling_tutorial.simulate.simulate_recurrent` arguments
(:func:`network_as_recurrent`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import (
    ArgumentTypeError,
    _describe,
    any_traced,
    as_array,
    check_counts,
    check_finite,
    check_int,
    check_positive,
    check_scalar,
    float_dtype as _float,
    validate,
)
from ..links import EXP

__all__ = ["PoissonGLMNetwork", "network_input", "network_rate", "network_as_recurrent"]


def _out_edge_table(sources, n_neurons):
    """Edge ids grouped by source, ``(n_neurons, max_out_degree)``, padded with ``n_edges``.

    Lets a step touch only the out-edges of the neurons whose trace changed by a spike.
    None when the padding would more than double the memory (very uneven out-degrees).
    """
    n_edges = sources.shape[0]
    if n_edges == 0:
        return None
    degree = np.bincount(sources, minlength=n_neurons)
    width = int(degree.max())
    if n_neurons * width > 2 * n_edges + 64:
        return None
    order = np.argsort(sources, kind="stable")
    starts = np.concatenate([[0], np.cumsum(degree)[:-1]])
    position = np.arange(n_edges) - starts[sources[order]]
    table = np.full((n_neurons, width), n_edges, np.int32)
    table[sources[order], position] = order
    return jnp.asarray(table)


def _static():
    """A dataclass field that is pytree metadata (static under ``jax.jit``), not a leaf."""
    return dataclasses.field(metadata=dict(static=True))


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, init=False, repr=False, eq=False)
class PoissonGLMNetwork:
    r"""A Poisson GLM network with a truncated exponential coupling kernel (a JAX pytree).

    .. math::

        g_i(t+1) &= r \sum_{t'=0}^{T-1} \sum_j W_0[j, i]\, X_j(t-t')\, c(t') + b_i
                    + E_i(t+1), \qquad c(t') = e^{-\Delta t\, t'/\tau},\\
        \mu_i(t+1) &= \frac{\Delta t}{\alpha}\, e^{\beta g_i(t+1)},\qquad
        X_i(t+1) \sim \mathrm{Poisson}(\mu_i(t+1)),

    the model of spikeometric's ``PoissonGLM`` (Das & Fiete, supplement S.7). ``W0`` is
    stored as an edge list: ``sources``, ``targets`` and ``weights``, one entry per edge;
    ``weights`` and the scalars are differentiable leaves; ``T`` and ``n_neurons`` are
    static. :math:`X` are spike counts (never multiplied by :math:`\Delta t`).

    Build it with ``PoissonGLMNetwork(W0, alpha, beta, T, tau, dt, r, b)`` where ``W0`` is
    a dense ``(n_neurons, n_neurons)`` array (``W0[j, i]`` from source ``j`` to target
    ``i``; zeros are not edges) or a tuple ``(edge_index, weights)`` with ``edge_index``
    of shape ``(2, n_edges)`` (row 0 source, row 1 target) and then ``n_neurons=`` given.

    Parameters
    ----------
    W0 : array_like, shape ``(n_neurons, n_neurons)``, or tuple ``(edge_index, weights)``
    alpha, beta : float
        Rate scale and gain (alpha > 0).
    T : int
        Number of lags of the truncated kernel, >= 1.
    tau, dt : float
        Kernel time constant and bin width (> 0, same unit).
    r : float
        Recurrent scale.
    b : float or array_like, shape ``(n_neurons,)``
        Background input.
    n_neurons : int, optional
        Required with an edge list.

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> W0 = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    >>> net = ct.PoissonGLMNetwork(W0, alpha=1.0, beta=1.0, T=5, tau=2.0, dt=1.0, r=0.5, b=-1.0)
    >>> net.n_neurons, net.n_edges
    (2, 2)
    """

    # The fields, in leaf order; T and n_neurons are static (shapes depend on them).
    sources: jax.Array  # (n_edges,) int32
    targets: jax.Array  # (n_edges,) int32
    out_index: jax.Array | None  # edge ids by source, padded; None if too uneven
    weights: jax.Array  # (n_edges,)
    alpha: jax.Array
    beta: jax.Array
    tau: jax.Array
    dt: jax.Array
    r: jax.Array
    b: jax.Array  # () or (n_neurons,)
    T: int = _static()
    n_neurons: int = _static()

    def __init__(self, W0, alpha, beta, T, tau, dt, r, b, n_neurons=None, *,
                 _raw=None):
        if _raw is not None:  # fast path used by tree_unflatten (leaves as they are)
            for name, value in _raw.items():
                object.__setattr__(self, name, value)
            return
        self._init(W0, alpha, beta, T, tau, dt, r, b, n_neurons)

    @validate(alpha="positive", beta="real", T="size", tau="positive", dt="positive",
              r="real")
    def _init(self, W0, alpha, beta, T, tau, dt, r, b, n_neurons):
        dtype = _float()
        if isinstance(W0, tuple):
            if len(W0) != 2:
                raise ValueError("`W0` must be a dense array or a tuple (edge_index, "
                                 f"weights); got a tuple of length {len(W0)}.")
            edge_index = np.asarray(W0[0])
            if edge_index.ndim != 2 or edge_index.shape[0] != 2 or \
                    edge_index.dtype.kind not in "iu":
                raise ValueError("`edge_index` must be an integer array of shape "
                                 f"(2, n_edges); got {_describe(edge_index)}.")
            weights = as_array(W0[1], "weights", ndim=1, dtype=dtype, allow_empty=True)
            if weights.shape[0] != edge_index.shape[1]:
                raise ValueError(f"`weights` must have one entry per edge "
                                 f"({edge_index.shape[1]}); got {weights.shape[0]}.")
            n_neurons = check_int(n_neurons, "n_neurons")
            if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= n_neurons):
                raise ValueError(f"`edge_index` must hold neuron indices in [0, {n_neurons}); "
                                 f"got values in [{edge_index.min()}, {edge_index.max()}].")
            sources, targets = edge_index[0], edge_index[1]
        else:
            W0 = as_array(W0, "W0", ndim=2, dtype=dtype)
            if W0.shape[0] != W0.shape[1]:
                raise ValueError(f"`W0` must be square (n_neurons, n_neurons); got shape "
                                 f"{W0.shape}.")
            if n_neurons is not None and check_int(n_neurons, "n_neurons") != W0.shape[0]:
                raise ValueError(f"`n_neurons` must equal W0.shape[0] = {W0.shape[0]}; got "
                                 f"{n_neurons}.")
            n_neurons = W0.shape[0]
            check_finite(W0, "W0")
            sources, targets = np.nonzero(np.asarray(W0))
            weights = W0[sources, targets]
        check_finite(weights, "weights")
        b = as_array(b, "b", ndim=(0, 1), dtype=dtype)
        if b.ndim == 1 and b.shape[0] != n_neurons:
            raise ValueError(f"`b` must be a scalar or have shape ({n_neurons},); got shape "
                             f"{b.shape}.")
        check_finite(b, "b")
        raw = dict(
            sources=jnp.asarray(sources, jnp.int32), targets=jnp.asarray(targets, jnp.int32),
            out_index=_out_edge_table(np.asarray(sources), int(n_neurons)),
            weights=weights, alpha=jnp.asarray(alpha, dtype), beta=jnp.asarray(beta, dtype),
            tau=jnp.asarray(tau, dtype), dt=jnp.asarray(dt, dtype), r=jnp.asarray(r, dtype),
            b=b, T=T, n_neurons=int(n_neurons))
        for name, value in raw.items():
            object.__setattr__(self, name, value)

    _PARAMS = ("weights", "alpha", "beta", "tau", "dt", "r", "b")

    # The pytree structure is the dataclass's: leaves are the fields not marked static.
    def tree_flatten(self):
        return (tuple(getattr(self, n) for n in _LEAVES),
                tuple(getattr(self, n) for n in _STATIC))

    @classmethod
    def tree_unflatten(cls, aux, children):
        raw = dict(zip(_LEAVES, children))
        raw.update(zip(_STATIC, aux))
        return cls(None, None, None, None, None, None, None, None, _raw=raw)

    @property
    def n_edges(self) -> int:
        return int(self.weights.shape[0])

    def replace(self, **changes) -> "PoissonGLMNetwork":
        """A copy with some differentiable leaves replaced (e.g. ``r``, ``b``).

        The new values go through the constructor's checks (``alpha``, ``tau``, ``dt``
        positive scalars; ``beta``, ``r`` finite scalars; ``b`` a finite scalar or
        ``(n_neurons,)``; ``weights`` finite, one per edge); traced values (inside
        ``jax.grad``/``jit``, as :func:`tune_network` uses it) are checked for shape only.
        """
        raw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        unknown = set(changes) - set(self._PARAMS)
        if unknown:
            raise ValueError(f"`replace` accepts only {self._PARAMS}; got {sorted(unknown)}.")
        raw.update({k: _checked_leaf(self, k, v) for k, v in changes.items()})
        return PoissonGLMNetwork(None, None, None, None, None, None, None, None, _raw=raw)

    def dense_W0(self):
        """The weights as a dense ``(n_neurons, n_neurons)`` array, ``W0[j, i]``."""
        W0 = jnp.zeros((self.n_neurons, self.n_neurons), self.weights.dtype)
        return W0.at[self.sources, self.targets].add(self.weights)

    def kernel(self):
        r"""The coupling kernel :math:`c(t') = e^{-\Delta t\,t'/\tau}`, ``t' = 0..T-1``."""
        return jnp.exp(-self.dt * jnp.arange(self.T) / self.tau)

    def __repr__(self):
        return (f"PoissonGLMNetwork(n_neurons={self.n_neurons}, n_edges={self.n_edges}, "
                f"T={self.T})")



def _checked_leaf(net, name, value):
    """One new leaf of :meth:`PoissonGLMNetwork.replace`, checked as the constructor does."""
    dtype = _float()
    if name in ("alpha", "tau", "dt", "beta", "r"):
        value = check_scalar(value, name, "positive" if name in ("alpha", "tau", "dt")
                             else "real")
        return jnp.asarray(value, dtype)
    shape = {"b": ((), (net.n_neurons,)), "weights": ((net.n_edges,),)}[name]
    arr = as_array(value, name, dtype=dtype, allow_empty=name == "weights")
    if arr.shape not in shape:
        raise ValueError(f"`{name}` must have shape {' or '.join(map(str, shape))}; got "
                         f"shape {arr.shape}.")
    return check_finite(arr, name)


_LEAVES = tuple(f.name for f in dataclasses.fields(PoissonGLMNetwork)
                if not f.metadata.get("static"))
_STATIC = tuple(f.name for f in dataclasses.fields(PoissonGLMNetwork)
                if f.metadata.get("static"))

def _synaptic(net, trace):
    """sum_j W0[j, i] * trace[j] over the edge list: one sparse product."""
    msg = net.weights * trace[net.sources]
    return jax.ops.segment_sum(msg, net.targets, num_segments=net.n_neurons)


def _stim_vector(stimulus, n_neurons, name="stimulus"):
    if stimulus is None:
        return 0.0
    if isinstance(stimulus, (bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be a number or an array; got {stimulus!r}.")
    s = as_array(stimulus, name, ndim=(0, 1), dtype=_float())
    if s.ndim == 1 and s.shape[0] != n_neurons:
        raise ValueError(f"`{name}` must be a scalar or have shape ({n_neurons},); got "
                         f"shape {s.shape}.")
    check_finite(s, name)
    return s


def _check_history(history, net, name="history"):
    h = as_array(history, name, ndim=2, dtype=_float())
    if h.shape != (net.T, net.n_neurons):
        raise ValueError(f"`{name}` must have shape (T, n_neurons) = ({net.T}, "
                         f"{net.n_neurons}); got shape {h.shape}.")
    check_counts(h, name)
    return h


def _check_net(net):
    if not isinstance(net, PoissonGLMNetwork):
        raise ArgumentTypeError(f"`net` must be a PoissonGLMNetwork; got {_describe(net)}.")
    for name in ("dt", "tau", "alpha"):
        check_positive(getattr(net, name), f"net.{name}")
    for name in ("weights", "beta", "r", "b"):
        check_finite(getattr(net, name), f"net.{name}")
    return net


def network_input(net, history, stimulus=None):
    r"""The input :math:`g(t+1)` of every neuron given the last ``T`` bins.

    .. math::

        g_i(t+1) = r \sum_j W_0[j, i] \sum_{t'=0}^{T-1} c(t')\, X_j(t-t') + b_i + E_i(t+1)

    Parameters
    ----------
    net : PoissonGLMNetwork
    history : array_like, shape ``(T, n_neurons)``
        Spike counts of the last ``T`` bins; the **last row is the most recent** bin
        :math:`X(t)`. (spikeometric stores the transpose, column 0 oldest.)
    stimulus : float or array_like, shape ``(n_neurons,)``, optional
        External input :math:`E(t+1)`.

    Returns
    -------
    jax.Array, shape ``(n_neurons,)``

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> net = ct.PoissonGLMNetwork(jnp.array([[0.0, 2.0], [0.0, 0.0]]), 1.0, 1.0, 3,
    ...                            tau=1.0, dt=1.0, r=1.0, b=0.0)
    >>> hist = jnp.array([[0, 0], [0, 0], [1, 0]])  # neuron 0 spiked in the last bin
    >>> ct.network_input(net, hist).tolist()
    [0.0, 2.0]
    """
    net = _check_net(net)
    history = _check_history(history, net)
    stim = _stim_vector(stimulus, net.n_neurons)
    trace = net.kernel() @ history[::-1]  # trace[j] = sum_t' c(t') X_j(t - t')
    return net.r * _synaptic(net, trace) + stim + net.b


def network_rate(net, history, stimulus=None):
    r"""Expected count of the next bin, :math:`\mu = \frac{\Delta t}{\alpha} e^{\beta g}`.

    Parameters
    ----------
    net : PoissonGLMNetwork
    history : array_like, shape ``(T, n_neurons)``
        Last row the most recent bin.
    stimulus : float or array_like, shape ``(n_neurons,)``, optional

    Returns
    -------
    jax.Array, shape ``(n_neurons,)``

    Raises
    ------
    ValueError
        When a count overflows the float dtype (:math:`\beta g + \log(\Delta t/\alpha)`
        above ~88.7 in float32, ~709.8 in float64), naming ``stimulus`` if the count is
        finite without it, else ``net`` (outside ``jax.jit``; under ``jit`` it is inf).

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> net = ct.PoissonGLMNetwork(jnp.zeros((2, 2)), alpha=2.0, beta=1.0, T=3, tau=1.0,
    ...                            dt=0.5, r=1.0, b=0.0)
    >>> ct.network_rate(net, jnp.zeros((3, 2))).tolist()   # dt / alpha
    [0.25, 0.25]
    """
    g = network_input(net, history, stimulus)
    rate = net.dt / net.alpha * EXP.inverse(net.beta * g)
    if not any_traced(rate) and not bool(jnp.all(jnp.isfinite(rate))):
        _rate_overflow(net, history, stimulus, g)
    return rate


def _rate_overflow(net, history, stimulus, g):
    """Raise the ValueError of an expected count exp(beta g) dt/alpha that overflows,
    naming `stimulus` when the rate without it is finite, else `net` (b, r, weights)."""
    dtype = np.dtype(g.dtype)
    limit = float(np.log(np.finfo(dtype).max))
    log_rate = np.asarray(net.beta * g + jnp.log(net.dt / net.alpha), dtype=np.float64)
    i = int(np.flatnonzero(~(log_rate < limit))[0])
    who = "`net` (its `b`, `r` or `weights`)"
    if stimulus is not None and bool(jnp.all(jnp.isfinite(network_rate(net, history)))):
        who = "`stimulus`"
    raise ValueError(
        f"{who} must keep the expected count finite: beta * g + log(dt / alpha) must be "
        f"below log(max {dtype}) = {limit:.4g}; got {log_rate[i]:.4g} for neuron {i}, whose "
        f"count exp(...) overflows {dtype}.")


def network_as_recurrent(net):
    r"""The same network as :func:`simulate_recurrent` arguments with a history basis.

    .. math::

        \mu_i = \exp\Big(\sum_j\sum_{\ell} \underbrace{\beta\, r\, W_0[j,i]\, c(\ell)}_{
        \text{coupling\_coef}[i,j,\ell]} X_j(t-\ell) + \underbrace{\beta b_i +
        \log(\Delta t/\alpha)}_{\text{intercepts}_i}\Big)

    with the identity basis of ``T`` lags (:func:`coupling_tutorial.history_basis`).
    Dense: O(N² T) memory, for small networks and for checking.

    Parameters
    ----------
    net : PoissonGLMNetwork

    Returns
    -------
    coupling_coef : jax.Array, shape ``(n_neurons, n_neurons, T)``
    intercepts : jax.Array, shape ``(n_neurons,)``
    basis : jax.Array, shape ``(T, T)``

    Examples
    --------
    >>> import jax.numpy as jnp, coupling_tutorial as ct
    >>> net = ct.PoissonGLMNetwork(jnp.array([[0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0, 4,
    ...                            tau=2.0, dt=1.0, r=1.0, b=0.0)
    >>> coef, b, B = ct.network_as_recurrent(net)
    >>> coef.shape, B.shape
    ((2, 2, 4), (4, 4))
    """
    net = _check_net(net)
    coef = (net.beta * net.r) * net.dense_W0().T[:, :, None] * net.kernel()[None, None, :]
    intercepts = jnp.broadcast_to(net.beta * net.b + jnp.log(net.dt / net.alpha),
                                  (net.n_neurons,))
    return coef, intercepts, jnp.eye(net.T, dtype=coef.dtype)
