r"""Standard errors from the observed Fisher information (Chapter 6).

For neuron :math:`i` with free parameters :math:`\theta_i = (w_i, b_i)` (the coefficients
its feature mask lets it use, and its intercept), the Poisson log-likelihood of the
:math:`T` samples used in the fit has the observed Fisher information

.. math::

    \mathcal I(\hat\theta_i) = -\nabla^2 \log L(\hat\theta_i)
        = \tilde X^\top \operatorname{diag}(\hat\lambda_{\cdot i})\, \tilde X,
    \qquad \tilde X = [X, \mathbf 1],

which for the canonical exp link equals the expected information. The objective
:eq:`glm-objective` is the *mean* negative log-likelihood, so its Hessian :math:`H_i` (the
one the Newton solver uses, ``newton._hessians``) is :math:`\mathcal I/T`, and the
covariance of the maximum-likelihood estimate is

.. math::

    \widehat{\operatorname{Cov}}(\hat\theta_i) = \mathcal I(\hat\theta_i)^{-1}
        = (T H_i)^{-1}.

With a ridge penalty :math:`\tfrac12\alpha\lVert w\rVert^2` (per sample) the fitted
:math:`\hat\theta_i` is the mode of the posterior under the Gaussian prior
:math:`w \sim \mathcal N(0, (T\alpha)^{-1} I)` (intercept flat), and :math:`(T H_i)^{-1}`
with :math:`H_i` the *penalised* Hessian is the Laplace approximation of the posterior
covariance.

Cost and precision: the Hessians :math:`\tilde X^\top\operatorname{diag}(\lambda_i)\tilde X`
take :math:`T F^2` multiply-adds per neuron, the bulk of the work. In float64 with at most
63 features (where the fit uses Newton) they are the Newton solver's own exact float64
products (``newton._hessians``). With more features (where the fit uses Newton-CG with
float32 products) the columns are centred and the products of each block of 256 samples are
computed in float32 and summed in float64 (about 3x faster), only the blocks of columns on
and above the diagonal (another 1.36x at 500 features). Their rounding reaches a variance
amplified by its *variance inflation factor*
:math:`\mathrm{VIF}_f = \Sigma_{ff}\sum_t\lambda_t (x_{tf}-\bar x_f)^2`. We estimate the
relative error of a variance as :math:`\mathrm{VIF}\cdot u\, c/\sqrt T` (unit roundoff
:math:`u = 2^{-24}`, block length :math:`c = 256`), e.g. 7e-7 at VIF 10 and
:math:`T = 50\,000`; measured errors are 0.2-0.7 of this estimate. Neurons for which it
exceeds 1e-6 (short recordings, strongly collinear features such as many basis functions on
a short window) are recomputed with exact float64 products, so every variance is within
~1e-6 (relative) of the float64 one; the tests and the benchmark compare the standard
errors with statsmodels.
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..links import EXP
from .newton import _hessians
from ._inputs import _unflatten
from .penalties import _PUBLIC_NAMES, _penalty_parts
from .solve import _NEWTON_MAX_FEATURES

__all__ = ["StandardErrors"]

# samples per float32 block of the mixed-precision Hessian (rounding error grows with it,
# speed falls below ~128)
_CHUNK = 256

# the fitted parameters must be closer than this to the optimum on (X, y), in the metric of
# the Fisher information (the Newton decrement; ~chi-square(F) for data the model was not
# fitted to, ~1e-15 for a converged float64 fit)
_MAX_DECREMENT = 1.0

# largest estimated relative error of a variance for which the float32 blocks are kept
_MAX_ERROR = 1e-6


class StandardErrors(NamedTuple):
    """Standard errors of a fitted GLM's parameters (unpacks as ``coef_se, intercept_se``).

    Attributes
    ----------
    coef : jax.Array or dict
        Shaped like the model's ``coef_`` (``(n_features, n_neurons)``, ``(n_features,)``
        for :class:`GLM`, or a dict mirroring ``X``); 0 for masked-out coefficients.
    intercept : jax.Array
        Shaped like ``intercept_``: ``(n_neurons,)`` (``(1,)`` for :class:`GLM`).
    """

    coef: Any
    intercept: Any


class _Covariance(NamedTuple):
    """Per-neuron covariance of the parameters ``[w; b]`` of a fitted model (private).

    ``matrix``: ``(n_neurons, n_features + 1, n_features + 1)``, last row/column the
    intercept, zero rows and columns for masked-out features; ``free``: ``(n_features + 1,
    n_neurons)`` 0/1 (1 = estimated); ``coef``: ``(n_features, n_neurons)`` and
    ``intercept``: ``(n_neurons,)`` the fitted values; ``n_samples``: rows used; ``exact``:
    ``(n_neurons,)`` bool, True where the Hessian was computed with float64 products.
    """

    matrix: Any
    free: Any
    coef: Any
    intercept: Any
    n_samples: int
    exact: Any


def _check_smooth(model):
    """The ridge strength of the model's penalty; raise for a non-smooth penalty."""
    kind, alpha, ratio = model._check_settings()
    l2, l1, ga = _penalty_parts(kind, alpha, ratio)
    if l1 or ga:
        raise ValueError(
            "`model` must be unpenalised or ridge-penalised to have standard errors; got "
            f"regularizer '{_PUBLIC_NAMES[kind]}' with strength {alpha:g}. Its optimum sets "
            "coefficients exactly to 0 where the objective is not differentiable, so the "
            "Fisher information gives no valid covariance there: refit without penalty or "
            "with 'Ridge' on the selected features, or bootstrap.")
    return float(l2)


# columns per block of the Gram's upper triangle: with b blocks of columns only the
# b (b + 1) / 2 blocks on and above the diagonal are multiplied, (b + 1) / 2b of the work
# (at 500 features, 4 blocks: 1.36x faster than the full product, near 2 cores' peak)
_GRAM_BLOCK = 128


def _column_blocks(F):
    """Edges of ~:data:`_GRAM_BLOCK`-wide column blocks of ``F`` columns."""
    b = max(1, round(F / _GRAM_BLOCK))
    return [round(k * F / b) for k in range(b + 1)]


@jax.jit
def _centred_grams(X, R):
    r"""``sum_t R[t, i] (x_t - g)(x_t - g)^T`` per neuron, ``(N, F, F)``, ``g`` the column mean.

    Products in float32 over blocks of :data:`_CHUNK` samples, summed in ``X.dtype``;
    centring removes the common offset of the (non-negative) coupling columns, so the
    float32 rounding hits a well-conditioned matrix. Only the blocks of columns on and above
    the diagonal are computed (:func:`_column_blocks`), the rest is their transpose.
    """
    T, F = X.shape
    n = -(-T // _CHUNK)
    pad = n * _CHUNK - T
    low = jnp.float32
    Xc = jnp.pad((X - jnp.mean(X, axis=0)).astype(low), ((0, pad), (0, 0)))
    Xc = Xc.reshape(n, _CHUNK, F)
    edges = _column_blocks(F)
    rows = list(zip(edges[:-1], edges[1:]))

    def one(r):
        w = jnp.pad(r.astype(low), (0, pad)).reshape(n, _CHUNK, 1)

        def block(acc, xw):
            x, wt = xw
            xr = x * wt
            # block row k: columns lo:hi against every column from lo on
            return [a + (x[:, lo:hi].T @ xr[:, lo:]).astype(X.dtype)
                    for a, (lo, hi) in zip(acc, rows)], None

        acc = [jnp.zeros((hi - lo, F - lo), X.dtype) for lo, hi in rows]
        upper = jnp.zeros((F, F), X.dtype)
        for a, (lo, hi) in zip(jax.lax.scan(block, acc, (Xc, w))[0], rows):
            upper = upper.at[lo:hi, lo:].set(a)
        return jnp.triu(upper) + jnp.triu(upper, 1).T

    return jax.lax.map(one, R.T)


def _mixed_hessians(X, R, M, l2):
    """The augmented Hessians of ``newton._hessians`` (unmasked) from centred float32 blocks,
    and the diagonals ``(F, N)`` of the centred Grams (for the variance inflation factors)."""
    T, F = X.shape
    g = jnp.mean(X, axis=0)
    s = X.T @ R  # (F, N): sum_t r x, exact
    sr = jnp.sum(R, axis=0)  # (N,)
    # sum r x x^T = sum r (x-g)(x-g)^T + s g^T + g s^T - (sum r) g g^T
    Gc = _centred_grams(X, R)
    centred_diag = jnp.diagonal(Gc, axis1=1, axis2=2).T  # (F, N)
    sg = s.T[:, :, None] * g[None, None, :]
    Hww = (Gc + sg + jnp.swapaxes(sg, 1, 2) - sr[:, None, None] * jnp.outer(g, g)) / T
    H = jnp.zeros((R.shape[1], F + 1, F + 1), X.dtype)
    H = H.at[:, :F, :F].set(Hww + l2 * jnp.eye(F, dtype=X.dtype))
    H = H.at[:, :F, F].set(s.T / T).at[:, F, :F].set(s.T / T).at[:, F, F].set(sr / T)
    return H, centred_diag


def _covariance_impl(X, Y, W, b, M, l2, mixed):
    T, F = X.shape
    eta = X @ W + b
    R = EXP.inverse(eta)
    if mixed:
        H, centred = _mixed_hessians(X, R, M, l2)
    else:
        H, centred = _hessians(X, R, M, l2), jnp.zeros_like(M)
    resid = R - Y
    g = jnp.concatenate([(X.T @ resid / T) * M + l2 * W, jnp.mean(resid, axis=0)[None]])
    return _invert(H, g, M, l2, T, centred)


def _invert(H, g, M, l2, T, centred):
    """Covariance ``(N, F+1, F+1)``, free parameters ``(F+1, N)``, Newton decrements
    ``(N,)`` and variance inflation factors ``(N,)`` from the mean-objective Hessians ``H``
    and gradient ``g`` ``(F+1, N)`` of ``T`` samples."""
    F = H.shape[-1] - 1
    ma = jnp.concatenate([M, jnp.ones((1, M.shape[1]), M.dtype)], axis=0).T  # (N, F+1)
    free = ma[:, :, None] * ma[:, None, :]
    # the Hessian restricted to the free parameters (identity on the fixed ones)
    Hf = H * free + jax.vmap(jnp.diag)(1.0 - ma)
    L = jnp.linalg.cholesky(Hf)
    eye = jnp.eye(F + 1, dtype=H.dtype)
    inv = jax.vmap(lambda l: jax.scipy.linalg.cho_solve((l, True), eye))(L)
    cov = inv * free / T
    # variance inflation factors (in the centred coordinates the float32 products use;
    # an upper bound): how much the rounding of the Hessian is amplified in the variances
    var = jnp.diagonal(cov, axis1=1, axis2=2)[:, :F].T  # (F, N)
    vif = jnp.max(var * (centred + T * l2), axis=0)
    # Newton decrement T g' H^-1 g of the penalised mean objective at the fitted parameters
    decrement = T * T * jnp.einsum("in,nij,jn->n", g, cov, g)
    return cov, ma.T, decrement, vif


_covariance_jit = jax.jit(_covariance_impl, static_argnames=("mixed",))
_invert_jit = jax.jit(_invert)


def _design_covariance(model, design, y, l2):
    """Covariance of a fit on a :class:`~coupling_tutorial.scale.CouplingDesign`: the same
    Hessians, summed chunk by chunk with exact float64 (working-precision) products."""
    from ..scale._model import _check_design, _data, _n_targets
    from ..scale._streamed import _fisher_design

    _check_design(model, design)
    N = _n_targets(model, y)
    F = design.shape[1]
    M = model._fit_mask
    M = jnp.ones((F, N), design.dtype) if M is None else M.astype(design.dtype)
    data, geo = _data(design, y)
    H, g = _fisher_design(data, model._W, model._b, M, l2, geo=geo, mesh=design.mesh)
    T = design.n_rows
    cov, free, dec, _ = _invert_jit(H, g, M, l2, T, jnp.zeros_like(M))
    return cov, free, dec, T


def _cache_key(model, X, y):
    """Weak references identifying immutable inputs (JAX arrays), or None."""
    leaves = [X[k] for k in sorted(X)] if isinstance(X, dict) else [X]
    if not all(isinstance(a, jax.Array) for a in [*leaves, y]):
        return None
    return tuple(weakref.ref(a) for a in [model._W, y, *leaves])


def _covariance(model, X, y):
    """The :class:`_Covariance` of a fitted ``model`` on the data ``(X, y)`` it was fitted to.

    Validates everything (fitted model, unchanged mask, shapes, smooth penalty) and raises
    if the fitted parameters are not the optimum of the objective on ``(X, y)``. When ``X``
    (or every entry of a dict ``X``) and ``y`` are JAX arrays, which cannot change, the
    result is kept on the model and reused while they and the fit are alive.
    """
    model._check_fitted()
    l2 = _check_smooth(model)
    key = _cache_key(model, X, y)
    cached = getattr(model, "_covariance_cache", None)
    if key is not None and cached is not None and len(cached[0]) == len(key) and all(
            a() is not None and a() is k() for a, k in zip(cached[0], key)):
        return cached[1]
    if getattr(X, "_lazy_design", False):  # a coupling_tutorial.scale.CouplingDesign
        cov, free, dec, T = _design_covariance(model, X, y, l2)
        mixed, redo, exact = False, [], np.full(cov.shape[0], True)
    else:
        Xf, Y = model._score_data(X, y)
        T, F = Xf.shape
        N = Y.shape[1]
        M = model._fit_mask
        M = jnp.ones((F, N), Xf.dtype) if M is None else M.astype(Xf.dtype)
        mixed = not (jnp.finfo(Xf.dtype).bits >= 64 and F + 1 <= _NEWTON_MAX_FEATURES)
        cov, free, dec, vif = _covariance_jit(Xf, Y, model._W, model._b, M, l2, mixed=mixed)
        exact = np.full(N, not mixed)
        # estimated relative error of the variances from the float32 blocks (measured
        # model: unit roundoff x block length / sqrt(T) per unit of VIF; errors measured in
        # the tests and the benchmark are 0.2-0.7 of it)
        err = np.asarray(vif) * 2.0**-24 * _CHUNK / np.sqrt(T)
        redo = np.flatnonzero(~(err <= _MAX_ERROR)) if mixed else []
    if len(redo) and jnp.finfo(Xf.dtype).bits >= 64:
        # float32 rounding would be amplified too much: exact float64 Hessians instead
        c2, _, d2, _ = _covariance_jit(Xf, Y[:, redo], model._W[:, redo], model._b[redo],
                                       M[:, redo], l2, mixed=False)
        cov, dec = cov.at[redo].set(c2), dec.at[redo].set(d2)
        exact[redo] = True
    dec = np.asarray(dec)
    bad = np.flatnonzero(~(dec <= _MAX_DECREMENT) & np.isfinite(dec))
    if bad.size:
        raise ValueError(
            "`X` and `y` must be the data the model was fitted to, and the fit must have "
            "converged: the fitted parameters are not the optimum of the objective on these "
            f"data (Newton decrement {dec[bad[0]]:.3g} > {_MAX_DECREMENT:g} for neuron(s) "
            f"{bad[:10].tolist()}; it is ~0 at the optimum).")
    singular = np.flatnonzero(~np.all(np.isfinite(np.asarray(
        jnp.diagonal(cov, axis1=1, axis2=2))), axis=1))
    if singular.size:
        raise ValueError(
            "`X` must have linearly independent free columns for every neuron (with its "
            f"intercept); the Fisher information of neuron(s) {singular[:10].tolist()} is "
            "singular: mask out constant or collinear features, or add a ridge penalty.")
    out = _Covariance(cov, free, model._W, model._b, T, exact)
    if key is not None:
        model._covariance_cache = (key, out)
    return out


def _standard_errors(model, X, y):
    """Implementation of :meth:`PopulationGLM.standard_errors`."""
    cov = _covariance(model, X, y)
    se = jnp.sqrt(jnp.diagonal(cov.matrix, axis1=1, axis2=2)).T  # (F+1, N)
    coef, intercept = se[:-1], se[-1]
    if model._single:
        coef = coef[:, 0]
    return StandardErrors(_unflatten(coef, model._structure), intercept)
