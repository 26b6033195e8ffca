r"""Is the filter from sender :math:`j` to receiver :math:`i` zero? Wald and likelihood-ratio
tests of every coupling filter at once (Chapter 6, "Testing every connection")."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc

from ..glm import PopulationGLM
from ..glm.penalties import _PUBLIC_NAMES
from ._coupling_blocks import _check_model, _coupling_blocks, _coupling_index

__all__ = ["CouplingTests", "coupling_tests"]

_TESTS = ("wald", "lr")


class CouplingTests(NamedTuple):
    """Tests of every sender -> receiver filter (unpacks as ``statistic, p_value, df``).

    Attributes
    ----------
    statistic : jax.Array, shape ``(n_senders, n_receivers)``
        Chi-square statistic of "all coefficients of the filter from sender ``j`` to
        receiver ``i`` are zero" at ``[j, i]``; 0 where ``df`` is 0.
    p_value : jax.Array, shape ``(n_senders, n_receivers)``
        Its chi-square (``df`` degrees of freedom) survival function; 1 where ``df`` is 0.
    df : numpy.ndarray of int, shape ``(n_senders, n_receivers)``
        Degrees of freedom: the number of the filter's coefficients the feature mask left
        free (``n_basis`` without a mask; 0 for a masked-out filter, which is fixed at 0,
        not tested).

    For a :class:`~coupling_tutorial.glm.GLM` the receiver axis is dropped:
    ``(n_senders,)``.
    """

    statistic: Any
    p_value: Any
    df: Any


def _chi2_sf(statistic, df):
    """Chi-square survival function, 1 where ``df == 0``."""
    safe = jnp.maximum(df, 1).astype(statistic.dtype)
    return jnp.where(df > 0, gammaincc(safe / 2, statistic / 2), 1.0)


def _wald(blocks):
    coef, C, free = blocks  # (S, K, N), (N, S, K, K), (S, K, N)
    beta = jnp.transpose(coef * free, (2, 0, 1))  # (N, S, K)
    m = jnp.transpose(free, (2, 0, 1))
    A = C + (1.0 - m)[..., None] * jnp.eye(m.shape[-1], dtype=C.dtype)  # fixed: unit
    stat = jnp.sum(beta * jnp.linalg.solve(A, beta[..., None])[..., 0], axis=-1)
    return stat.T


def _likelihood_ratio(model, X, y, n_basis):
    kind, alpha, _ = model._check_settings()
    if kind != "none":
        raise ValueError(
            "`test` must be 'wald' for a penalised model (a likelihood ratio of penalised "
            f"fits is not chi-square); got 'lr' with regularizer '{_PUBLIC_NAMES[kind]}'.")
    idx = np.asarray(_coupling_index(model, n_basis))
    Xf, Y = model._score_data(X, y)
    f_full = np.asarray(model.objective(X, y)).reshape(-1)
    if not np.allclose(f_full, np.reshape(model.objective_, -1), rtol=1e-9, atol=0):
        raise ValueError("`X` and `y` must be the data the model was fitted to; the "
                         "objective on them differs from the fitted one.")
    T, F = Xf.shape
    base = np.ones((F, Y.shape[1])) if model._fit_mask is None else np.asarray(model._fit_mask)
    stat = np.zeros((idx.shape[0], Y.shape[1]))
    for j, cols in enumerate(idx):
        mask = base.copy()
        mask[cols] = 0.0
        refit = PopulationGLM(solver=model.solver_, tol=model.tol, maxiter=model.maxiter,
                              feature_mask=mask).fit(Xf, Y)
        stat[j] = 2.0 * T * (np.asarray(refit.objective(Xf, Y)) - f_full)
    return jnp.asarray(np.maximum(stat, 0.0), Xf.dtype)


def coupling_tests(model, X, y, n_basis, test="wald"):
    r"""Test every coupling filter of a fitted model: is the filter ``j -> i`` zero?

    The null hypothesis for sender :math:`j` and receiver :math:`i` is that all
    :math:`K` coefficients :math:`\beta = w[j, :, i]` of its filter (split layout, see
    :mod:`coupling_tutorial.features`) are zero.

    * ``"wald"``: :math:`W = \hat\beta^\top \hat\Sigma_{jj}^{-1}\hat\beta`, with
      :math:`\hat\Sigma_{jj}` the :math:`K\times K` block of the covariance of
      :meth:`~coupling_tutorial.glm.PopulationGLM.standard_errors` (inverse observed Fisher
      information). Asymptotically :math:`\chi^2_K` under the null. One covariance per
      receiver serves all its senders: the whole map costs one set of Hessians. With a
      ridge penalty the covariance is the Laplace posterior covariance, and the p-value is
      the posterior mass outside the ellipsoid through 0 (a Bayesian measure; shrinkage
      makes it conservative as a frequentist test).
    * ``"lr"``: :math:`2(\log L_\text{full} - \log L_{-j})`, the maximised log-likelihoods
      with and without the filter, :math:`\chi^2_K` under the null. The refit masks sender
      :math:`j`'s block for all receivers at once (the objective is a sum of one term per
      receiver), so the map costs ``n_senders`` population fits. Unpenalised models only.

    Both are the classical large-sample tests (Pawitan 2001, *In All Likelihood*, ch. 9);
    they agree asymptotically, and LR is the more accurate in small samples. Filters that
    the feature mask already fixes at 0 are not tested (``df`` 0, ``statistic`` 0,
    ``p_value`` 1); partly masked filters are tested on their free coefficients
    (``df`` < ``n_basis``). Pass ``mask=tests.df > 0`` (and, for instance, off-diagonal
    entries only) to :func:`benjamini_hochberg`.

    Parameters
    ----------
    model : PopulationGLM or GLM
        Fitted, unpenalised or ridge-penalised (``"lr"``: unpenalised).
    X : array_like or dict
        The design the model was fitted to: either the coupling design
        ``ct.coupling_features(counts, basis)``, shape ``(n_samples, n_senders * n_basis)``
        (neuron-major columns, every column a coupling column), or a dict whose
        ``"coupling"`` entry is that design and whose other entries (stimulus, ...) are
        inputs that are fitted but not tested.
    y : array_like, shape ``(n_samples, n_receivers)``
        The counts the model was fitted to.
    n_basis : int
        Basis functions per sender; must divide the number of coupling columns.
    test : {"wald", "lr"}

    Returns
    -------
    CouplingTests
        ``statistic`` and ``p_value`` (``jax.Array``), ``df`` (``numpy`` int), each
        ``(n_senders, n_receivers)``; entry ``[j, i]`` is the filter ``j -> i``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> B = ct.raised_cosine_log_basis(3, 10)
    >>> counts = jax.random.poisson(jax.random.key(0), 0.2 * jnp.ones((3000, 2)))
    >>> X, y = ct.coupling_features(counts, B)[10:], counts[10:]
    >>> model = ct.PopulationGLM().fit(X, y)
    >>> tests = ct.coupling_tests(model, X, y, n_basis=3)
    >>> tests.p_value.shape, tests.df.tolist()
    ((2, 2), [[3, 3], [3, 3]])
    >>> bool(tests.p_value.min() > 1e-3)   # independent neurons: no strong evidence
    True
    """
    if test not in _TESTS:
        raise ValueError(f"`test` must be one of 'wald', 'lr'; got {test!r}.")
    _check_model(model)
    if test == "wald":
        blocks = _coupling_blocks(model, X, y, n_basis)
        stat, free = _wald(blocks), blocks.free
    else:
        stat = _likelihood_ratio(model, X, y, n_basis)
        idx = _coupling_index(model, n_basis)
        M = model._fit_mask
        free = jnp.ones(idx.shape + (stat.shape[1],)) if M is None else M[idx]
    df = np.asarray(jnp.sum(free, axis=1)).round().astype(int)
    stat = jnp.where(jnp.asarray(df) > 0, stat, 0.0)
    p = _chi2_sf(stat, jnp.asarray(df))
    if model._single:
        return CouplingTests(stat[:, 0], p[:, 0], df[:, 0])
    return CouplingTests(stat, p, df)
