"""Host-side fast paths of the Siegert rate for concrete inputs (private).

Validate and stack the inputs on the host, pick the Gauss-Legendre order per point
(grouping points by order for large inputs), pad to a power of two to limit
recompilation, and evaluate :func:`~.siegert._siegert_core` in one compiled call.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import (
    _check_array_type,
    as_array,
    check_finite,
    check_positive,
    check_thresholds as _check_thresholds,
)
from ._dtypes import result_float_dtype
from ._quadrature import _GL_MAX_LENGTH_ARRAY, _GL_ORDERS, _integration_limits, _order_index
from .siegert import _siegert_core
from .synapses import _check_tau_s, ExponentialSynapse


@functools.partial(jax.jit, static_argnames=("order", "n", "shape"))
def _siegert_stacked(stacked, order, n, shape):
    """One compiled call on a (6, n_padded) host array; returns the exact output shape."""
    rate = _siegert_core(*stacked, order=order)
    return rate[:n].reshape(shape)


_CHUNK = 1 << 16


_SMALL = 4096


@functools.partial(jax.jit, static_argnames=("order", "n", "shape"))
def _siegert_scalar_params(musig, params, order, n, shape):
    """Fast path: arrays of (mu, sigma) and scalar (tau_m, tau_r, V_th, V_r)."""
    tau_m, tau_r, V_th, V_r = params
    rate = _siegert_core(musig[0], musig[1], tau_m, tau_r, V_th, V_r, order=order)
    return rate[:n].reshape(shape)


def _siegert_fast(arrs, dtype):
    """Scalar neuron parameters, at most 4096 points, plain V_th > V_r: minimal host work."""
    mu, sigma = arrs[0], arrs[1]
    tau_m, tau_r, V_th, V_r = (float(a) for a in arrs[2:])
    if not (tau_m > 0 and tau_r >= 0 and V_th > V_r and math.isfinite(tau_m)
            and math.isfinite(tau_r) and math.isfinite(V_th) and math.isfinite(V_r)):
        return None
    shape = mu.shape if mu.shape == sigma.shape else np.broadcast_shapes(mu.shape, sigma.shape)
    n = math.prod(shape)
    if n == 0 or n > _SMALL:
        return None
    size = max(8, 1 << (n - 1).bit_length())
    musig = np.empty((2, size), dtype=dtype)
    musig[0, :n] = mu.ravel() if mu.shape == shape else np.broadcast_to(mu, shape).ravel()
    musig[1, :n] = sigma.ravel() if sigma.shape == shape else np.broadcast_to(sigma, shape).ravel()
    musig[:, n:] = musig[:, :1]
    m_lo, m_hi = float(musig[0].min()), float(musig[0].max())
    s_lo, s_hi = float(musig[1].min()), float(musig[1].max())
    # min/max propagate NaN, so this also checks finiteness
    if not (math.isfinite(m_lo) and math.isfinite(m_hi) and math.isfinite(s_hi) and s_lo > 0):
        return None  # let the general path raise the standard message
    # conservative interval length: L <= log1p(max |y|) (lo >= 0)
    y_max = max(abs(V_th - m_lo), abs(V_th - m_hi), abs(V_r - m_lo), abs(V_r - m_hi)) / s_lo
    k = int(np.searchsorted(_GL_MAX_LENGTH_ARRAY, math.log1p(y_max), side="left"))
    params = np.array([tau_m, tau_r, V_th, V_r], dtype=dtype)
    return _siegert_scalar_params(musig, params, order=_GL_ORDERS[k], n=n, shape=shape)


_NAMES = ("mu", "sigma", "tau_m", "tau_r", "V_th", "V_r")


def _siegert_concrete(mu, sigma, tau_m, tau_r, V_th, V_r, tau_s=None):
    """Concrete inputs: validate and choose the quadrature order per point on the host.

    Up to 4096 points: one compiled call at the largest order any of them needs (inputs
    padded to a power of 2 to limit recompilation). More: points are grouped by order
    and evaluated in chunks of 65536, each group with its own order. Validation is
    vectorised over the stacked inputs; the package's helpers produce the message when
    a check fails.
    """
    raw = (mu, sigma, tau_m, tau_r, V_th, V_r)
    dtype = np.dtype(result_float_dtype(*raw, tau_s))
    arrs = []
    for name, value in zip(_NAMES, raw):
        _check_array_type(value, name)  # no complex, string or bool cast to a number
        try:
            arrs.append(np.asarray(value, dtype=dtype))
        except (TypeError, ValueError):
            as_array(value, name, dtype=dtype)  # raises the package's standard message
            raise
    if tau_s is None and arrs[2].ndim == arrs[3].ndim == arrs[4].ndim == arrs[5].ndim == 0:
        fast = _siegert_fast(arrs, dtype)
        if fast is not None:
            return fast
    named = list(zip(_NAMES, arrs))
    if tau_s is not None:  # a synaptic time constant: broadcast with the others
        named.append(("tau_s", as_array(tau_s, "tau_s", dtype=dtype)))
    try:
        shape = np.broadcast_shapes(*(a.shape for _, a in named))
    except ValueError as err:
        shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in named)
        raise ValueError(f"{', '.join(f'`{n}`' for n, _ in named)} must have "
                         f"broadcastable shapes; got {shapes}.") from err
    n = math.prod(shape)
    if n == 0:
        return jnp.zeros(shape, dtype=dtype)
    size = max(8, 1 << (n - 1).bit_length()) if n <= _SMALL else n
    stacked = np.empty((6, size), dtype=dtype)
    for row, a in enumerate(arrs):
        stacked[row, :n] = (a if a.shape == shape else np.broadcast_to(a, shape)).ravel()
        stacked[row, n:] = stacked[row, 0]
    m, sg, tm, tr, vth, vr = stacked
    if not (np.isfinite(stacked).all() and (sg > 0).all() and (tm > 0).all()
            and (tr >= 0).all() and (vth > vr).all()):
        check_finite(arrs[0], "mu")
        check_positive(arrs[1], "sigma")
        check_positive(arrs[2], "tau_m")
        check_positive(arrs[3], "tau_r", strict=False)
        check_finite(arrs[4], "V_th")
        check_finite(arrs[5], "V_r")
        _check_thresholds(arrs[4], arrs[5])
    if tau_s is not None:
        ts = np.asarray(_check_tau_s(tau_s, arrs[2]), dtype=dtype)
        ts_row = _pad_like(np.broadcast_to(ts, shape).ravel(), size)
        shift = ExponentialSynapse(ts_row).shift(sg, tm, xp=np)
        stacked[4] = vth + shift
        stacked[5] = vr + shift
    y_th = (stacked[4] - m) / sg
    y_r = (stacked[5] - m) / sg
    lo, hi, _, _ = _integration_limits(y_th, y_r, xp=np)
    idx = _order_index(lo, hi)
    if n <= _SMALL:
        return _siegert_stacked(stacked, order=_GL_ORDERS[int(idx.max())], n=n, shape=shape)
    out = np.empty(n, dtype=dtype)
    for k, order in enumerate(_GL_ORDERS):
        sel = np.nonzero(idx == k)[0]
        for start in range(0, sel.size, _CHUNK):
            part = sel[start:start + _CHUNK]
            chunk = _CHUNK if sel.size > _CHUNK else max(8, 1 << (part.size - 1).bit_length())
            block = np.empty((6, chunk), dtype=dtype)
            block[:, :part.size] = stacked[:, part]
            block[:, part.size:] = stacked[:, part[:1]]
            out[part] = np.asarray(_siegert_stacked(block, order=order, n=part.size,
                                                    shape=(part.size,)))
    return jnp.asarray(out.reshape(shape))


def _pad_like(a, size):
    out = np.empty(size, dtype=a.dtype)
    out[:a.size] = a
    out[a.size:] = a[0]
    return out
