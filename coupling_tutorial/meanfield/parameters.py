"""Parameter sets shipped with the package: the Brunel (2000) network and the microcircuit."""

from __future__ import annotations

import functools
import json
from importlib import resources

import jax.numpy as jnp

from .._validation import float_dtype as _float_dtype, validate

__all__ = ["brunel_parameters", "microcircuit_parameters", "MICROCIRCUIT_POPULATIONS"]


@functools.lru_cache(maxsize=None)
def _load(name: str) -> dict:
    text = resources.files("coupling_tutorial").joinpath("data", name).read_text()
    return json.loads(text)


MICROCIRCUIT_POPULATIONS = tuple(_load("microcircuit_bos2016.json")["populations"])


@validate(g="nonneg", eta="nonneg")
def brunel_parameters(g=5.0, eta=2.0):
    r"""Brunel (2000) E/I network (delta synapses) as arguments of :func:`self_consistent_rates`.

    Two populations (E, I), in-degrees :math:`C_E = 1000`, :math:`C_I = 250` from each,
    PSP :math:`J = 0.1` mV, inhibitory weights :math:`-gJ`, :math:`\tau_m = 20` ms,
    :math:`\tau_r = 2` ms, :math:`V_\mathrm{th} = 20` mV, :math:`V_r = 10` mV, and
    :math:`C_E` external Poisson inputs of weight :math:`J` at
    :math:`\nu_\mathrm{ext} = \eta\,\nu_\mathrm{thr}`,
    :math:`\nu_\mathrm{thr} = V_\mathrm{th}/(J C_E \tau_m) = 10` Hz. The full network
    (:math:`N_E = 10\,000`, :math:`N_I = 2500`, delay 1.5 ms) is in
    ``coupling_tutorial/data/brunel2000.json``.

    Parameters
    ----------
    g : float
        Relative inhibitory strength, >= 0.
    eta : float
        External rate in units of :math:`\nu_\mathrm{thr}`, >= 0.

    Returns
    -------
    dict
        Keys ``J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext`` (SI units).

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> p["J"].tolist(), p["nu_ext"]
    ([[0.0001, -0.0005], [0.0001, -0.0005]], 20.0)
    """
    d = _load("brunel2000.json")
    J, C_E, C_I = d["J"], d["C_E"], d["C_I"]
    nu_thr = d["V_th"] / (J * C_E * d["tau_m"])
    dtype = _float_dtype()
    return {
        "J": jnp.asarray([[J, -g * J], [J, -g * J]], dtype=dtype),
        "K": jnp.asarray([[C_E, C_I], [C_E, C_I]], dtype=dtype),
        "tau_m": d["tau_m"], "tau_r": d["tau_r"], "V_th": d["V_th"], "V_r": d["V_r"],
        "J_ext": J, "K_ext": float(C_E), "nu_ext": float(eta * nu_thr),
    }


def microcircuit_parameters():
    r"""Potjans & Diesmann (2014) microcircuit, Bos et al. (2016) variant, as NNMT builds it.

    Eight populations (:data:`MICROCIRCUIT_POPULATIONS`: L2/3, L4, L5, L6, each E and I),
    exponential synapses (:math:`\tau_s = 0.5` ms), :math:`\tau_m = 10` ms,
    :math:`\tau_r = 2` ms, :math:`V_\mathrm{th} = 15` mV, reset at rest. Bos et al.
    change the L4E external in-degree (2100 -> 1780) and the L4I->L4I in-degree
    (794.6 -> 675). Weights are :math:`J = \tau_s w / C`, inhibitory columns multiplied by
    :math:`-g`, L4E->L2/3E doubled (NNMT's convention). Data from
    ``coupling_tutorial/data/microcircuit_bos2016.json``.

    Returns
    -------
    dict
        Keys ``J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, tau_s`` (SI units;
        matrices ``[post, pre]``, shape ``(8, 8)``).

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.microcircuit_parameters()
    >>> p["K"].shape, p["tau_s"]
    ((8, 8), 0.0005)
    """
    d = _load("microcircuit_bos2016.json")
    dtype = _float_dtype()
    return {
        "J": jnp.asarray(d["J"], dtype=dtype), "K": jnp.asarray(d["K"], dtype=dtype),
        "tau_m": d["tau_m"], "tau_r": d["tau_r"], "V_th": d["V_th"], "V_r": d["V_r"],
        "J_ext": jnp.asarray(d["J_ext"], dtype=dtype),
        "K_ext": jnp.asarray(d["K_ext"], dtype=dtype),
        "nu_ext": jnp.asarray(d["nu_ext"], dtype=dtype), "tau_s": d["tau_s"],
    }
