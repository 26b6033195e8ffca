"""Self-check of the Chapter 3 exercise: the recurrent simulation loop.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import numpy as np

from ._harness import (_Fail, _float_inputs, _real_output, _rtol, _tolerance_message,
                       exercise_check)

__all__ = ["check_simulate_recurrent"]


def _teacher_forced_rates(coef, intercepts, basis, init_y, spikes, *, flip=True, swap=False,
                          intercept=True, link="exp", slide=True):
    """Rates of every bin given the reader's own spikes as history, NumPy float64.

    The switches reproduce typical mistakes: ``flip=False`` lets the oldest bin of the
    window meet basis row 0; ``swap`` exchanges receivers and senders; ``slide=False``
    never updates the window.
    """
    n_steps, n = spikes.shape
    window = basis.shape[0]
    history = np.concatenate([init_y, spikes], axis=0)  # last row of a window = newest
    b = basis[::-1] if flip else basis
    w = coef.transpose(1, 0, 2) if swap else coef
    flat = w.reshape(n, -1)
    rates = np.empty((n_steps, n))
    for t in range(n_steps):
        win = history[t:t + window] if slide else init_y
        eta = flat @ np.einsum("wn,wb->nb", win, b).reshape(-1)
        if intercept:
            eta = eta + intercepts
        rates[t] = np.exp(eta) if link == "exp" else np.log1p(np.exp(eta))
    return rates


@exercise_check("ex-ch3-scan")
def check_simulate_recurrent(fn) -> str:
    r"""Check a reader's simulation loop against :func:`simulate_recurrent`.

    ``fn(coupling_coef, intercepts, key, basis, init_y, n_steps)`` must simulate the
    coupling-only recurrent Poisson GLM with the exponential link and return
    ``(spikes, rates)``, both ``(n_steps, n_neurons)``:

    .. math::

        \lambda_{t,i} = \exp\Big(\sum_{j,k} w_{ijk} \sum_{\ell} B[\ell,k]\,
            y_{t-1-\ell,\,j} + b_i\Big),\qquad
        y_{t,i} \sim \mathrm{Poisson}(\lambda_{t,i}),

    bin :math:`t` sampled with ``jax.random.split(key, n_steps)[t]`` (``init_y``'s last
    row is the most recent bin). The rates are checked bin by bin against the formula
    applied to the reader's *own* spike history, so a last-digit difference in one rate
    cannot derail the comparison of the bins after it; then the spikes are checked
    against the Poisson draws of those rates with the right keys.

    Parameters
    ----------
    fn : callable
        The reader's function.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> def mine(coupling_coef, intercepts, key, basis, init_y, n_steps):
    ...     return ct.simulate_recurrent(coupling_coef, None, intercepts, key, None,
    ...                                  basis, init_y, n_steps=n_steps)
    >>> ct.checks.check_simulate_recurrent(mine)
    ✓ check_simulate_recurrent: same rates and spikes as ct.simulate_recurrent for 150 bins.
    True
    """
    import jax
    import jax.numpy as jnp

    from ..filters import raised_cosine_log_basis

    rng = np.random.default_rng(20260103)
    n, n_basis, window, n_steps = 3, 4, 12, 150
    basis = np.asarray(raised_cosine_log_basis(n_basis, window), dtype=float)
    coef = -0.3 * np.abs(rng.normal(size=(n, n, n_basis)))  # inhibitory: stays stable
    coef[0, 1] = 0.5 * np.abs(rng.normal(size=n_basis))  # one excitatory 1 -> 0 filter
    intercepts = np.log(np.array([0.3, 0.15, 0.2]))
    init_y = rng.poisson(0.6, size=(window, n)).astype(float)
    key = jax.random.key(20260103)
    args = (*_float_inputs(coef, intercepts), key, *_float_inputs(basis, init_y), n_steps)
    rtol = _rtol(args[0])
    where = f"(n_neurons={n}, window_size={window}, n_basis={n_basis}, n_steps={n_steps})"
    if not callable(fn):
        raise _Fail(f"expected a function, got {type(fn).__name__}.")
    try:
        out = fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _Fail(f"your function raised {type(err).__name__}: {err} "
                    f"{where}.") from None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise _Fail("return a pair (spikes, rates), each (n_steps, n_neurons).")
    spikes = _real_output(out[0], "spikes")
    rates = _real_output(out[1], "rates")
    for what, arr in (("spikes", spikes), ("rates", rates)):
        if arr.shape != (n_steps, n):
            hint = " (transposed?)" if arr.shape == (n, n_steps) else ""
            raise _Fail(f"{what} has shape {arr.shape}; expected (n_steps, n_neurons) = "
                        f"{(n_steps, n)}{hint} {where}.")
    if not np.isfinite(rates).all():
        raise _Fail(f"non-finite rates {where}.")
    if np.any(spikes < 0) or np.any(spikes != np.round(spikes)):
        raise _Fail(f"spikes must be non-negative integer counts {where}.")
    want = _teacher_forced_rates(coef, intercepts, basis, init_y, spikes)
    bad_bins = np.flatnonzero(~np.all(np.abs(rates - want) <= rtol * np.abs(want), axis=1))
    if bad_bins.size:
        variants = [
            (dict(flip=False), "the basis meets the window the wrong way round: the "
             "LAST row of the window is the most recent bin and must meet basis row 0 "
             "(lag 1), e.g. use basis[::-1] against the window."),
            (dict(swap=True), "receivers and senders are swapped: coupling_coef[i, j, k] "
             "is the weight from sender j to receiver i (sum over j for neuron i)."),
            (dict(intercept=False), "the intercepts b_i are missing from the rate."),
            (dict(link="softplus"), "wrong link: use the exponential, rate = exp(...)."),
            (dict(slide=False), "the window is never updated: after each bin drop its "
             "oldest row and append the new counts as the last row."),
        ]
        for kw, message in variants:
            alt = _teacher_forced_rates(coef, intercepts, basis, init_y, spikes, **kw)
            if np.all(np.abs(rates - alt) <= rtol * np.abs(alt)):
                raise _Fail(f"{message} {where}")
        t = int(bad_bins[0])
        i = int(np.argmax(np.abs(rates[t] - want[t]) / np.abs(want[t])))
        rel = float(np.max(np.abs(rates - want) / np.abs(want)))
        message = _tolerance_message(rel, rtol)
        if message:
            raise _Fail(f"{message} (max relative error {rel:.2e}) {where}.")
        raise _Fail(f"rates differ from bin {t} on {where}: neuron {i} expected "
                    f"{want[t, i]:.6g}, got {rates[t, i]:.6g}, given the counts "
                    f"before it. Check the convolution, the window update and the "
                    f"intercepts.")
    subkeys = jax.random.split(key, n_steps)
    draws = np.asarray(jax.vmap(jax.random.poisson)(subkeys, jnp.asarray(rates)), float)
    if not np.array_equal(draws, spikes):
        same_key = np.asarray(jax.vmap(lambda r: jax.random.poisson(key, r))(
            jnp.asarray(rates)), float)
        if np.array_equal(same_key, spikes):
            raise _Fail(f"every bin uses the same key: sample bin t with "
                        f"jax.random.split(key, n_steps)[t] {where}.")
        t = int(np.flatnonzero(np.any(draws != spikes, axis=1))[0])
        raise _Fail(f"the rates are right but the spikes differ from bin {t} on: draw "
                    f"bin t as jax.random.poisson(subkeys[t], rate) with subkeys = "
                    f"jax.random.split(key, n_steps) {where}.")
    return (f"same rates and spikes as ct.simulate_recurrent for "
            f"{n_steps} bins.")
