"""Recurrent simulation of a fitted population GLM (Chapter 3, "Simulating the fitted network").

:func:`simulate_recurrent` validates its arguments and runs one of the compiled loops of
:mod:`._recurrent_loops`; with the same key, link and inputs it draws NeMoS's spikes.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._validation import (
    validate,
    _is_traced,
    as_array,
    check_counts,
    check_finite,
    check_int,
    check_size,
    check_key,
    float_dtype as _float,
)
from .._poisson import _check_sampler
from ..progress import _is_any_traced, _start
from ..links import as_inverse_link
from ._recurrent_loops import _recurrent_core, _recurrent_event_core
from ._scan import _chunk_size
from .runaway import _check_max_rate, _check_runaway, DEFAULT_MAX_RATE

__all__ = ["simulate_recurrent"]


@validate(random_key="key", n_steps="size?")
def simulate_recurrent(
    coupling_coef,
    feedforward_coef,
    intercepts,
    random_key,
    feedforward_input,
    coupling_basis_matrix,
    init_y,
    inverse_link_function=jnp.exp,
    *,
    n_steps: int | None = None,
    max_rate=DEFAULT_MAX_RATE,
    sampler: str = "jax",
    algorithm: str = "event",
    progress=False,
):
    r"""Simulate a population GLM as a recurrent network, one bin at a time.

    For each bin :math:`t`, with the last :math:`W` bins of activity :math:`y` (initially
    ``init_y``, last row the most recent bin),

    .. math::

        \lambda_{t,i} = f\Big(\sum_{j}\sum_{k} w_{ijk} \sum_{\ell=0}^{W-1}
            B[\ell, k]\, y_{t-1-\ell,\, j} \;+\; \sum_m v_{im}\, u_{t,i,m} \;+\; b_i\Big),
        \qquad y_{t,i} \sim \mathrm{Poisson}(\lambda_{t,i}),

    where :math:`f` is ``inverse_link_function``. The sample of bin :math:`t` uses the
    :math:`t`-th key of ``jax.random.split(random_key, n_steps)`` and draws what
    ``jax.random.poisson`` draws; with the same key, link and inputs the spikes are those
    of NeMoS's ``simulate_recurrent`` (which defaults to softplus: pass ``jax.nn.softplus``
    to reproduce a NeMoS call that relied on it).

    How the input is computed is a choice of algorithm, not of model. NeMoS convolves the
    whole window with the basis and multiplies by all :math:`N^2 K` weights every bin
    (``algorithm="dense"``, reproduced here operation for operation, so the rates are
    NeMoS's to the last bit). The default ``algorithm="event"`` instead adds each bin's
    spikes, once, to a ring buffer holding the inputs of the next :math:`W` bins: per bin it
    reads only the weights of the neurons that spiked and does one :math:`W \times K \times N`
    product, about 8x less work at 1000 neurons. The sums are then taken in another order,
    so the rates differ from NeMoS's by rounding, and a count could differ only if a
    uniform number fell within that rounding of a Poisson boundary. In float64 (x64
    enabled, as in the book) the rates agree to ~3e-14, far below what
    ``jax.random.poisson`` (which rounds the rate to float32) can resolve. In float32 they
    differ by up to ~1e-5 (relative), enough to move about one draw in a few million; so
    in float32 a bin in which some neuron's uniforms lie within a relative 1e-4 of a
    boundary (a few bins in 10 000 at N = 1000) has its rates recomputed NeMoS's way from
    the last ``window_size`` counts, and the spikes are NeMoS's there too (10 000 bins of
    1000 neurons identical, where without this check they parted at bin 5704).

    The core is compiled once per shape: a second call with arrays of the same shapes
    (and the same link and ``n_steps``) reuses the compiled scan. The uniform numbers of
    128 bins at a time are generated in one batch before those bins are simulated.

    Parameters
    ----------
    coupling_coef : array_like, shape ``(n_neurons, n_neurons, n_basis)``
        ``coupling_coef[i, j, k]``: weight of basis function ``k`` in the filter from
        sender ``j`` to receiver ``i`` (see :func:`coupling_tutorial.to_simulation_layout`).
    feedforward_coef : array_like, shape ``(n_neurons, n_inputs)``, or None
        Weights of the feedforward inputs. Ignored (may be None) when
        ``feedforward_input`` is None.
    intercepts : array_like, shape ``(n_neurons,)``
    random_key : jax.Array
        A PRNG key, typed (``jax.random.key``) or raw (``jax.random.PRNGKey``).
    feedforward_input : array_like, shape ``(n_steps, n_neurons, n_inputs)``, or None
        External input per bin. None: coupling only, and ``n_steps`` must be given.
    coupling_basis_matrix : array_like, shape ``(window_size, n_basis)``
        Row 0 is lag 1 (the most recent bin), as in :mod:`coupling_tutorial.filters`.
    init_y : array_like, shape ``(window_size, n_neurons)``
        Spike counts that start the simulation; the last row is the most recent bin.
    inverse_link_function : callable or coupling_tutorial.links.Link
        Maps the linear predictor to a non-negative rate (default ``jnp.exp``, the
        ``inverse`` of :data:`coupling_tutorial.links.EXP`); a
        :class:`~coupling_tutorial.links.Link` gives its ``inverse``. The compiled loop is cached per function object: pass the
        same object (not a new ``lambda``) to avoid recompiling.
    n_steps : int, optional
        Number of bins; required when ``feedforward_input`` is None, otherwise it must
        equal ``feedforward_input.shape[0]`` if given.
    max_rate : float or None
        Largest expected count per bin accepted (default 1000, at most 1e9). A rate above
        it, or a non-finite rate, raises :class:`RunawayError`. None keeps the finiteness
        check and the samplers' own limit, 1e9 (larger counts do not fit the count
        integers). Under ``jax.jit`` the error is raised when the compiled program runs,
        by a host callback, as a ``jax.errors.JaxRuntimeError`` whose message contains the
        :class:`RunawayError`'s (see its docstring): never NaN rates returned as a result.
    sampler : {"jax", "inversion"}
        How counts are drawn from the per-step key: ``"jax"`` (default) gives exactly
        ``jax.random.poisson``'s draws, as NeMoS, hence NeMoS's spikes (computed without
        its rejection branch when every rate is below 10, which makes it several times
        cheaper); ``"inversion"`` is an exact inverse-CDF sampler with one uniform per
        neuron (see :func:`simulate_network`), whose draws differ from NeMoS's.
    algorithm : {"event", "dense"}
        ``"event"`` (default): each bin's spikes are added to the inputs of the next
        ``window_size`` bins, touching only the coupling weights of the neurons that
        spiked. ``"dense"``: the whole window is convolved every bin, in NeMoS's order of
        operations (NeMoS's rates to the last bit or two; O(N^2 K) per bin).
    progress : bool or callable
        Report progress (off by default): ``True`` shows the bins done, the elapsed time,
        an estimate of the time left and the mean count per bin, as a bar in a notebook
        or a text line on ``sys.stderr``; a callable receives a
        :class:`~coupling_tutorial.SimulationProgress` every ``max(2048, n_steps / 1000)``
        bins or so (see :mod:`coupling_tutorial.progress`). The spikes do not depend on it.

    Returns
    -------
    spikes : jax.Array of int, shape ``(n_steps, n_neurons)``
    rates : jax.Array of float, shape ``(n_steps, n_neurons)``
        Expected counts per bin, :math:`\lambda_{t,i}`.

    Raises
    ------
    RunawayError
        If some rate exceeds ``max_rate`` or becomes non-finite; the message gives the
        step and the neurons (under ``jax.jit``: ``JaxRuntimeError`` with that message).
    ValueError
        On inconsistent shapes, non-finite inputs, a bad key, or a link that returns a
        negative rate (naming ``inverse_link_function``).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(3, 20)
    >>> coef = -jnp.ones((2, 2, 3))          # every filter inhibitory
    >>> spikes, rates = ct.simulate_recurrent(
    ...     coef, None, jnp.zeros(2), jax.random.key(0), None, B,
    ...     jnp.zeros((20, 2)), n_steps=100)
    >>> spikes.shape, rates.shape
    ((100, 2), (100, 2))
    >>> bool(rates[0, 0] == 1.0)  # no history yet: exp(0)
    True
    """
    dtype = _float()
    random_key = check_key(random_key, "random_key")
    intercepts = as_array(intercepts, "intercepts", ndim=1, dtype=dtype)
    n_neurons = intercepts.shape[0]
    coupling_coef = as_array(coupling_coef, "coupling_coef", ndim=3, dtype=dtype)
    basis = as_array(coupling_basis_matrix, "coupling_basis_matrix", ndim=2, dtype=dtype)
    init_y = as_array(init_y, "init_y", ndim=2, dtype=dtype)
    if coupling_coef.shape[:2] != (n_neurons, n_neurons):
        raise ValueError(
            f"`coupling_coef` must have shape (n_neurons, n_neurons, n_basis) with "
            f"n_neurons={n_neurons} (from `intercepts`); got shape {coupling_coef.shape}."
        )
    if coupling_coef.shape[2] != basis.shape[1]:
        raise ValueError(
            f"`coupling_coef` must have as many basis weights (axis 2) as "
            f"`coupling_basis_matrix` has columns ({basis.shape[1]}); got "
            f"{coupling_coef.shape[2]}."
        )
    if init_y.shape != (basis.shape[0], n_neurons):
        raise ValueError(
            f"`init_y` must have shape (window_size, n_neurons) = "
            f"({basis.shape[0]}, {n_neurons}); got shape {init_y.shape}."
        )
    if feedforward_input is None:
        if n_steps is None:
            raise ValueError("`n_steps` must be given when `feedforward_input` is None; "
                             "got None.")
        n_steps = check_int(n_steps, "n_steps")
        feedforward_coef = None
    else:
        feedforward_input = as_array(feedforward_input, "feedforward_input", ndim=3,
                                     dtype=dtype)
        feedforward_coef = as_array(feedforward_coef, "feedforward_coef", ndim=2,
                                    dtype=dtype)
        if feedforward_input.shape[1] != n_neurons:
            raise ValueError(
                f"`feedforward_input` must have n_neurons={n_neurons} on axis 1; got "
                f"shape {feedforward_input.shape}."
            )
        if feedforward_coef.shape != (n_neurons, feedforward_input.shape[2]):
            raise ValueError(
                f"`feedforward_coef` must have shape (n_neurons, n_inputs) = "
                f"({n_neurons}, {feedforward_input.shape[2]}); got shape "
                f"{feedforward_coef.shape}."
            )
        if n_steps is not None and check_int(n_steps, "n_steps") != feedforward_input.shape[0]:
            raise ValueError(
                f"`n_steps` must equal feedforward_input.shape[0] = "
                f"{feedforward_input.shape[0]}; got {n_steps}."
            )
        n_steps = check_int(feedforward_input.shape[0], "feedforward_input.shape[0]")
        check_finite(feedforward_input, "feedforward_input")
        check_finite(feedforward_coef, "feedforward_coef")
    check_finite(coupling_coef, "coupling_coef")
    check_finite(basis, "coupling_basis_matrix")
    check_finite(intercepts, "intercepts")
    check_counts(init_y, "init_y")
    inverse_link_function = as_inverse_link(inverse_link_function, "inverse_link_function")
    max_rate_arr = _check_max_rate(max_rate)
    sampler = _check_sampler(sampler)
    check_size((n_steps, n_neurons), "n_steps")

    if algorithm == "dense":
        core, extra = _recurrent_core, {}
    elif algorithm == "event":
        zero_init = (not _is_traced(init_y)) and not bool(np.any(np.asarray(init_y)))
        core, extra = _recurrent_event_core, dict(zero_init=zero_init)
    else:
        raise ValueError(f"`algorithm` must be 'dense' or 'event'; got {algorithm!r}.")
    traced = _is_any_traced(coupling_coef, feedforward_coef, feedforward_input, intercepts,
                            random_key, basis, init_y)
    with _start(progress, "simulate_recurrent", traced, n_steps=n_steps, n_neurons=n_neurons,
                rate_unit="spikes/bin", rate_scale=1.0) as run:
        spikes, rates, first_bad, bad_neurons = core(
            coupling_coef, feedforward_coef, feedforward_input, intercepts, random_key, basis,
            init_y, max_rate_arr, n_steps=n_steps, inverse_link_function=inverse_link_function,
            sampler=sampler, progress=run.every(_chunk_size(n_steps)), **extra)
        run.finish_steps(spikes)
    _check_runaway(
            first_bad, bad_neurons, spikes, rates, "rate",
            "Excitatory coupling feeds back through the exponential link faster than it "
            "decays. To avoid it: give each neuron self-inhibition (a negative "
            "self-coupling filter at short lags, i.e. refractoriness), scale the coupling "
            "down or lower the intercepts, shorten the simulation, or, if such rates are "
            "really meant, raise `max_rate`.")
    return spikes, rates
