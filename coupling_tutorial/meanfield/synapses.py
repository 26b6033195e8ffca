r"""Synapse models of the mean field (Chapter 4, "Coloured noise: the threshold shift").

A synapse model says how the input of a population is filtered before it reaches the
membrane, and so how its rate follows from the white-noise (Siegert) rate:

* :class:`DeltaSynapse`: each input is a jump of the potential; the input is white
  noise and the Siegert formula applies as it is (``tau_s=None`` in the public functions).
* :class:`ExponentialSynapse`: currents decaying with ``tau_s``; the coloured noise moves
  threshold and reset up by :func:`threshold_shift`, :math:`\sigma\frac{\alpha}{2}
  \sqrt{\tau_s/\tau_m}` (Fourcaud & Brunel 2002), the one place that formula is written.

:func:`synapse_model` turns the public ``tau_s`` argument into one of them. Both are
pytrees (``NamedTuple``), so they pass through ``jax.jit`` like the other parameters.
A new synapse model is a new class here with a ``shift`` method (the transfer function
also needs its filter, :func:`~coupling_tutorial.meanfield.transfer.transfer_function`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import warnings

import jax.numpy as jnp
import numpy as np

from .._validation import (
    any_traced as _any_traced,
    as_array,
    check_positive,
)
from ._dtypes import result_float_dtype

__all__ = ["threshold_shift", "ALPHA_SHIFT"]


#: :math:`\alpha = \sqrt{2}\,|\zeta(1/2)|`, the coloured-noise threshold-shift constant of
#: Fourcaud & Brunel (2002).
ALPHA_SHIFT = 2.0652531522312170


def threshold_shift(sigma, tau_m, tau_s):
    r"""Coloured-noise shift of threshold and reset, :math:`\sigma\,\frac{\alpha}{2}\sqrt{\tau_s/\tau_m}`.

    With :math:`\alpha = \sqrt2\,|\zeta(1/2)|` (:data:`ALPHA_SHIFT`), Fourcaud & Brunel
    (2002). Both threshold and reset move up by this amount before the delta-synapse
    Siegert formula is applied (:func:`firing_rate_exp_synapses`).

    Parameters
    ----------
    sigma : array_like
        Standard deviation of the input, V.
    tau_m, tau_s : array_like
        Membrane and synaptic time constants, s (broadcast with ``sigma``).

    Returns
    -------
    jax.Array, shape ``broadcast(sigma, tau_m, tau_s)``
        The shift, V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> round(float(ct.threshold_shift(0.005, 0.01, 0.0005)) * 1e3, 6)  # mV
    1.154512
    """
    dtype = result_float_dtype(sigma, tau_m, tau_s)  # float32 in, float32 out
    sigma = check_positive(as_array(sigma, "sigma", dtype=dtype), "sigma", strict=False)
    tau_m = check_positive(as_array(tau_m, "tau_m", dtype=dtype), "tau_m")
    tau_s = check_positive(as_array(tau_s, "tau_s", dtype=dtype), "tau_s", strict=False)
    return _shift(sigma, tau_m, tau_s, jnp)


def _shift(sigma, tau_m, tau_s, xp):
    """The threshold shift on arrays of ``xp`` (jax.numpy, or numpy on the host)."""
    return sigma * ALPHA_SHIFT / 2.0 * xp.sqrt(tau_s / tau_m)


class DeltaSynapse(NamedTuple):
    """Delta synapses: white-noise input, threshold and reset unshifted."""

    def shift(self, sigma, tau_m, xp=jnp):
        """No shift: 0."""
        return 0.0


class ExponentialSynapse(NamedTuple):
    """Exponential synapses of time constant ``tau_s`` (s): coloured noise."""

    tau_s: Any

    def shift(self, sigma, tau_m, xp=jnp):
        """:func:`threshold_shift` of threshold and reset (``xp``: jax.numpy or numpy)."""
        return _shift(sigma, tau_m, self.tau_s, xp)


def synapse_model(tau_s):
    """The synapse model of a public ``tau_s`` argument: None -> delta, else exponential."""
    return DeltaSynapse() if tau_s is None else ExponentialSynapse(tau_s)


def _check_tau_s(tau_s, tau_m):
    tau_s = as_array(tau_s, "tau_s", dtype=result_float_dtype(tau_s, tau_m))
    check_positive(tau_s, "tau_s")
    if not _any_traced(tau_s, tau_m):
        ratio = np.sqrt(np.asarray(tau_s) / np.asarray(tau_m))
        if np.any(ratio > np.sqrt(0.1)):
            warnings.warn(
                f"sqrt(tau_s / tau_m) = {float(np.max(ratio)):.3g} > sqrt(0.1): the "
                "coloured-noise threshold shift assumes fast synapses and becomes "
                "inaccurate here.", UserWarning, stacklevel=3)
    return tau_s
