"""Input statistics of a network of populations (Chapter 4, "The diffusion approximation").

:func:`mean_input` and :func:`std_input`: the mean and standard deviation of the summed
synaptic input, from the rates, weights and in-degrees (``[post, pre]``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._dtypes import result_float_dtype
from .._validation import (
    _check_array_type,
    _is_traced,
    as_array,
    check_finite,
    check_positive,
    float_dtype as _float_dtype,
    np_float_dtype as _np_float,
)

__all__ = ["mean_input", "std_input"]


def _arr(x, name, ndim=None):
    """``as_array`` for traced values; for concrete ones a host (numpy) array, which
    avoids a device round trip per argument (same checks and messages)."""
    if _is_traced(x):
        return as_array(x, name, ndim=ndim, dtype=_float_dtype())
    _check_array_type(x, name)  # no complex, string or bool cast to a number
    try:
        a = np.asarray(x, dtype=_np_float())
    except (TypeError, ValueError):
        return as_array(x, name, ndim=ndim, dtype=_float_dtype())  # raises the message
    if (ndim is not None and a.ndim not in ((ndim,) if isinstance(ndim, int) else tuple(ndim))
            or 0 in a.shape):
        as_array(a, name, ndim=ndim)  # raises the standard message (wrong ndim, or empty)
    return a


def _network_args(nu, J, K, tau_m, J_ext, K_ext, nu_ext, check_nu=True):
    nu = _arr(nu, "nu", ndim=1)
    if check_nu:
        check_positive(nu, "nu", strict=False)
    n = nu.shape[0]
    J = check_finite(_arr(J, "J", ndim=2), "J")
    K = _arr(K, "K", ndim=2)
    for name, arr in (("J", J), ("K", K)):
        if arr.shape != (n, n):
            raise ValueError(
                f"`{name}` must have shape {(n, n)} ([post, pre], one row and column per "
                f"population of `nu`); got shape {tuple(arr.shape)}.")
    check_positive(K, "K", strict=False)
    tau_m = _arr(tau_m, "tau_m", ndim=(0, 1))
    check_positive(tau_m, "tau_m")
    J_ext = check_finite(_arr(J_ext, "J_ext", ndim=(0, 1, 2)), "J_ext")
    K_ext = _arr(K_ext, "K_ext", ndim=(0, 1, 2))
    check_positive(K_ext, "K_ext", strict=False)
    nu_ext = _arr(nu_ext, "nu_ext", ndim=(0, 1))
    check_positive(nu_ext, "nu_ext", strict=False)
    if tau_m.ndim == 1 and tau_m.shape[0] not in (1, n):
        raise ValueError(f"`tau_m` must be a scalar or have shape ({n},); "
                         f"got shape {tuple(tau_m.shape)}.")
    matrix = max(J_ext.ndim, K_ext.ndim) == 2
    if matrix:
        n_ext = nu_ext.shape[0] if nu_ext.ndim == 1 else 1
        for name, arr in (("J_ext", J_ext), ("K_ext", K_ext)):
            try:
                np.broadcast_shapes(arr.shape, (n, n_ext))
            except ValueError:
                raise ValueError(
                    f"`{name}` must broadcast to shape {(n, n_ext)} (populations x "
                    f"external sources); got shape {tuple(arr.shape)}.") from None
    else:
        for name, arr in (("J_ext", J_ext), ("K_ext", K_ext), ("nu_ext", nu_ext)):
            if arr.ndim == 1 and arr.shape[0] not in (1, n):
                raise ValueError(
                    f"`{name}` must be a scalar or have shape (1,) or ({n},) (one entry "
                    f"per population); got shape {tuple(arr.shape)}.")
    _check_moments(J, K, tau_m, J_ext, K_ext, nu_ext, matrix, n)
    return nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix


def _check_moments(J, K, tau_m, J_ext, K_ext, nu_ext, matrix, n):
    r"""Raise unless the coefficients of the input mean and variance are representable:
    :math:`\tau_m K J^p` (per Hz of a presynaptic rate) and the external terms
    :math:`\tau_m K^\mathrm{ext} (J^\mathrm{ext})^p \nu^\mathrm{ext}`, p = 1, 2 (a
    weight of 1e300 squares to inf: NaN rates later). Skipped for traced values."""
    if _is_traced(J) or any(_is_traced(a) for a in (K, tau_m, J_ext, K_ext, nu_ext)):
        return
    dtype = np.dtype(_np_float())
    tm = np.asarray(tau_m)
    with np.errstate(over="ignore", invalid="ignore"):
        for p in (1, 2):
            ext = np.asarray(_external(J_ext, K_ext, nu_ext, p, matrix, n)) * tm
            if not np.all(np.isfinite(ext)):
                raise ValueError(
                    f"`J_ext` (with `K_ext`, `nu_ext`, `tau_m`) must give a representable "
                    f"external input {'variance' if p == 2 else 'mean'}: tau_m * K_ext * "
                    f"J_ext{'**2' if p == 2 else ''} * nu_ext must be finite in {dtype} (at "
                    f"most {np.finfo(dtype).max:.3g}); got inf.")
            rec = (np.asarray(K) * np.asarray(J) ** p) * (tm[:, None] if tm.ndim else tm)
            if not np.all(np.isfinite(rec)):
                raise ValueError(
                    f"`J` (with `K`, `tau_m`) must give a representable recurrent input "
                    f"{'variance' if p == 2 else 'mean'}: tau_m * K * J{'**2' if p == 2 else ''}"
                    f" must be finite in {dtype} (at most {np.finfo(dtype).max:.3g}); got inf.")


def _external(J_ext, K_ext, nu_ext, power, matrix, n):
    if matrix:
        return jnp.sum(K_ext * J_ext**power * jnp.atleast_1d(nu_ext)[None, :], axis=-1) \
            * jnp.ones(n)
    return jnp.broadcast_to(K_ext * J_ext**power * nu_ext, (n,))


def _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix):
    n = nu.shape[0]
    mu = tau_m * (jnp.dot(K * J, nu) + _external(J_ext, K_ext, nu_ext, 1, matrix, n))
    var = tau_m * (jnp.dot(K * J**2, nu) + _external(J_ext, K_ext, nu_ext, 2, matrix, n))
    tiny = jnp.finfo(var.dtype).tiny
    return mu, jnp.sqrt(jnp.maximum(var, tiny))


def mean_input(nu, J, K, tau_m, J_ext, K_ext, nu_ext):
    r"""Mean input :math:`\mu_i` to each population (Fourcaud & Brunel 2002, eq. 3.4).

    .. math:: \mu_i = \tau_{m,i}\Bigl(\sum_j K_{ij}J_{ij}\nu_j
              + \sum_k K^\mathrm{ext}_{ik}J^\mathrm{ext}_{ik}\nu^\mathrm{ext}_k\Bigr)

    Parameters
    ----------
    nu : array_like, shape ``(n_populations,)``
        Rates in Hz, >= 0.
    J : array_like, shape ``(n_populations, n_populations)``
        Synaptic weights in V, ``[post, pre]`` (PSP jumps for delta synapses; for
        exponential synapses NNMT's convention :math:`J = \tau_s w / C`).
    K : array_like, shape ``(n_populations, n_populations)``
        In-degrees, ``[post, pre]``, >= 0.
    tau_m : float or array_like, shape ``(n_populations,)``
        Membrane time constants in s.
    J_ext, K_ext : float, array_like of shape ``(n_populations,)``, or ``(n_populations, n_ext)``
        External weights (V) and in-degrees. 1-D or scalar values act elementwise
        (one external source per population); 2-D ones are summed over sources.
    nu_ext : float or array_like, shape ``(1,)``, ``(n_populations,)`` or ``(n_ext,)``
        External rates in Hz.

    Returns
    -------
    jax.Array, shape ``(n_populations,)``
        Mean input in V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> mu = ct.mean_input([38.0, 38.0], p["J"], p["K"], p["tau_m"], p["J_ext"],
    ...                    p["K_ext"], p["nu_ext"])
    >>> (mu * 1e3).round(3).tolist()  # mV
    [21.0, 21.0]
    """
    out = result_float_dtype(nu, J, K, tau_m, J_ext, K_ext, nu_ext)  # float32 in, out
    nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix = _network_args(
        nu, J, K, tau_m, J_ext, K_ext, nu_ext)
    return _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)[0].astype(out)


def std_input(nu, J, K, tau_m, J_ext, K_ext, nu_ext):
    r"""Standard deviation :math:`\sigma_i` of the input (Fourcaud & Brunel 2002, eq. 3.4).

    .. math:: \sigma_i^2 = \tau_{m,i}\Bigl(\sum_j K_{ij}J_{ij}^2\nu_j
              + \sum_k K^\mathrm{ext}_{ik}(J^\mathrm{ext}_{ik})^2\nu^\mathrm{ext}_k\Bigr)

    Parameters and shapes as in :func:`mean_input`.

    Returns
    -------
    jax.Array, shape ``(n_populations,)``
        Standard deviation in V.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> p = ct.brunel_parameters(g=5.0, eta=2.0)
    >>> sd = ct.std_input([10.0, 10.0], p["J"], p["K"], p["tau_m"], p["J_ext"],
    ...                   p["K_ext"], p["nu_ext"])
    >>> (sd * 1e3).round(4).tolist()  # mV
    [4.3012, 4.3012]
    """
    out = result_float_dtype(nu, J, K, tau_m, J_ext, K_ext, nu_ext)  # float32 in, out
    nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix = _network_args(
        nu, J, K, tau_m, J_ext, K_ext, nu_ext)
    return _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)[1].astype(out)
