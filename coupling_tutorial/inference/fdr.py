r"""Controlling the false discovery rate over many tests (Chapter 6, "Testing every
connection")."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._validation import _check_array_type, as_array

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values, q=0.05, mask=None):
    r"""Discoveries of the Benjamini-Hochberg step-up procedure at false discovery rate ``q``.

    With the :math:`m` tested p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, let

    .. math::

        k = \max\{\,j : p_{(j)} \le \tfrac{j}{m}\, q\,\};

    the hypotheses with the :math:`k` smallest p-values are rejected (none if no :math:`j`
    qualifies). For independent (or positively dependent) tests the expected proportion
    of false discoveries among the discoveries is at most :math:`q m_0/m \le q`
    (Benjamini & Hochberg 1995; Benjamini & Yekutieli 2001). Ties are all rejected or all
    kept. Equal to statsmodels' ``multipletests(p, q, method="fdr_bh")[0]`` on the tested
    entries.

    Parameters
    ----------
    p_values : array_like, any shape
        p-values in [0, 1] (no NaN), e.g. ``coupling_tests(...).p_value`` of shape
        ``(n_senders, n_receivers)``.
    q : float in (0, 1)
        The false discovery rate to control.
    mask : array_like of bool or 0/1, same shape as ``p_values``, optional
        Which entries are tested (default: all). Untested entries are never discoveries
        and do not count in :math:`m`: for a coupling map pass, e.g., the off-diagonal
        entries (``~np.eye(n, dtype=bool)``, the :math:`N(N-1)` couplings between
        neurons) and ``& (tests.df > 0)`` to leave out filters the fit's mask fixed.

    Returns
    -------
    numpy.ndarray of bool, the shape of ``p_values``
        True where the hypothesis is rejected (a discovery).

    Examples
    --------
    >>> import numpy as np, coupling_tutorial as ct
    >>> p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    >>> ct.benjamini_hochberg(p, q=0.05).nonzero()[0].tolist()
    [0, 1]
    >>> P = np.array([[0.5, 0.001], [0.002, 0.9]])
    >>> ct.benjamini_hochberg(P, mask=~np.eye(2, dtype=bool)).tolist()  # off-diagonal
    [[False, True], [True, False]]
    """
    p = np.asarray(as_array(p_values, "p_values"), dtype=np.float64)
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        bad = p[np.isnan(p) | (p < 0) | (p > 1)].ravel()[0]
        raise ValueError(f"`p_values` must be in [0, 1] (no NaN); got {bad}.")
    if np.iscomplexobj(q):
        _check_array_type(q, "q")  # a TypeError: `q` must be real
    try:
        ok = np.ndim(q) == 0 and 0.0 < float(q) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"`q` must be a number in (0, 1); got {q!r}.")
    if mask is None:
        tested = np.ones(p.shape, bool)
    else:
        m = np.asarray(as_array(mask, "mask"))
        if m.shape != p.shape:
            raise ValueError(f"`mask` must have the shape of `p_values` {p.shape}; "
                             f"got shape {m.shape}.")
        if not np.all((m == 0) | (m == 1)):
            raise ValueError("`mask` must be boolean (or 0/1); got other values.")
        tested = m.astype(bool)
    ps = np.sort(p[tested])
    n = ps.size
    below = ps <= float(q) * np.arange(1, n + 1) / max(n, 1)
    if not below.any():
        return np.zeros(p.shape, bool)
    threshold = ps[np.flatnonzero(below)[-1]]
    return tested & (p <= threshold)
