"""The jitted entry point of the solvers (one compilation per shape / solver / penalty kind)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .newton import _fit_newton
from .newton_cg import _fit_newton_cg
from .objective import _finish
from .penalties import Penalty
from .proximal_gradient import _fit_proximal_gradient


_SOLVERS = ("newton", "newton-cg", "proximal-gradient")


_SCORES = ("log-likelihood", "pseudo-r2-McFadden", "pseudo-r2-Cohen")


_DEFAULT_MAXITER = {"newton": 100, "newton-cg": 100, "proximal-gradient": 10_000}


# above this many features (plus intercept) exact Hessians cost more than CG iterations
_NEWTON_MAX_FEATURES = 64


def _default_tol(dtype) -> float:
    return 1e-8 if jnp.finfo(dtype).bits >= 64 else 1e-5


def _column_scale(X):
    """RMS of each column of X (1 for an all-zero column): the units of the KKT test."""
    return _scale_from_mean_squares(jnp.mean(X * X, axis=0))


def _scale_from_mean_squares(mean_squares):
    """:func:`_column_scale` from the columns' mean squares (the Gram matrix's diagonal)."""
    rms = jnp.sqrt(mean_squares)
    return jnp.where(rms > 0, rms, 1.0)


def _redundant_columns(X, M):
    """Per neuron, the number of directions of ``[X * m_i, 1]`` in its null space (0 if the
    unpenalised optimum is unique): eigenvalues of its column-equilibrated Gram matrix below
    ``10 P eps`` times the largest, as in the Newton step. Shape ``(N,)``, numpy int."""
    T, F = X.shape
    Xa = jnp.concatenate([X, jnp.ones((T, 1), X.dtype)], axis=1)
    G = np.asarray(Xa.T @ Xa / T, dtype=np.float64)
    eps = float(jnp.finfo(X.dtype).eps)
    Mn = np.asarray(M) != 0

    def nullity(m):
        keep = np.append(m, True)
        g = G[np.ix_(keep, keep)]
        d = np.diag(g)
        s = 1.0 / np.sqrt(np.where(d > 0, d, 1.0))
        lam = np.linalg.eigvalsh(g * s[:, None] * s[None, :])
        return int(np.sum(lam <= 10 * g.shape[0] * eps * lam[-1]))

    out, cache = np.zeros(Mn.shape[1], int), {}
    full = nullity(np.ones(F, bool))
    if full == 0:  # a subset of independent columns is independent
        return out
    for i in range(Mn.shape[1]):
        key = Mn[:, i].tobytes()
        if key not in cache:
            cache[key] = nullity(Mn[:, i])
        out[i] = cache[key]
    return out


def _solve_impl(X, Y, M, groups, alpha, ratio, tol, maxiter, init=None, gram=None, *, kind,
                solver, masked, progress=False, chol=None, scale=None):
    """Fit from ``init = (W0, b0)`` (a warm start, e.g. along a regularisation path) or,
    by default, from zero coefficients and the log mean counts. ``gram``: the Gram matrix
    of ``X`` for "newton-cg" (``newton_cg._gram``), computed once for many fits; ``chol``:
    Cholesky factors of a preconditioner for "newton-cg" instead (``_fit_newton_cg``);
    ``scale``: :func:`_column_scale` of ``X`` if already computed."""
    pen = Penalty.of(kind, alpha, ratio, groups)
    N = Y.shape[1]
    F = X.shape[1]
    if init is None:
        W0 = jnp.zeros((F, N), X.dtype)
        b0 = jnp.log(jnp.mean(Y, axis=0))
    else:
        W0, b0 = (jnp.asarray(a, X.dtype) for a in init)
    n_cg = 0
    scale = _column_scale(X) if scale is None else scale
    if solver == "newton":
        s = _fit_newton(X, Y, M, W0, b0, pen, tol, maxiter,
                        smooth=kind in ("none", "ridge"), scale=scale, progress=progress)
    elif solver == "newton-cg":
        s = _fit_newton_cg(X, Y, M, W0, b0, pen, tol, maxiter, masked, maxcg=4 * (F + 1),
                           scale=scale, G=gram, progress=progress, chol=chol)
        n_cg = s["n_cg"]
    else:
        s = _fit_proximal_gradient(X, Y, M, W0, b0, pen, tol, maxiter, scale,
                                   progress=progress)
    W = s["W"] * M
    f, kkt, lowest = _finish(X, Y, W, s["b"], M, pen, scale)
    # the verdict is taken at the returned coefficients (the loop tests the iterate before
    # its last step): finite, and the KKT residual at most tol
    finite = jnp.all(jnp.isfinite(W), axis=0) & jnp.isfinite(s["b"]) & jnp.isfinite(kkt)
    converged = finite & (kkt <= tol)
    return dict(W=W, b=s["b"], n_iter=s["n_iter"], converged=converged, kkt=kkt,
                objective=f, lowest=lowest, last_step=s["last_step"], n_cg=n_cg)


_solve = jax.jit(_solve_impl, static_argnames=("kind", "solver", "masked", "progress"))
