"""The jitted entry point of the solvers (one compilation per shape / solver / penalty kind)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

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


def _solve_impl(X, Y, M, groups, alpha, ratio, tol, maxiter, init=None, gram=None, *, kind,
                solver, masked, progress=False):
    """Fit from ``init = (W0, b0)`` (a warm start, e.g. along a regularisation path) or,
    by default, from zero coefficients and the log mean counts. ``gram``: the Gram matrix
    of ``X`` for "newton-cg" (``newton_cg._gram``), computed once for many fits."""
    pen = Penalty.of(kind, alpha, ratio, groups)
    N = Y.shape[1]
    F = X.shape[1]
    if init is None:
        W0 = jnp.zeros((F, N), X.dtype)
        b0 = jnp.log(jnp.mean(Y, axis=0))
    else:
        W0, b0 = (jnp.asarray(a, X.dtype) for a in init)
    n_cg = 0
    if solver == "newton":
        s = _fit_newton(X, Y, M, W0, b0, pen, tol, maxiter,
                        smooth=kind in ("none", "ridge"), progress=progress)
    elif solver == "newton-cg":
        s = _fit_newton_cg(X, Y, M, W0, b0, pen, tol, maxiter, masked, maxcg=4 * (F + 1),
                           G=gram, progress=progress)
        n_cg = s["n_cg"]
    else:
        s = _fit_proximal_gradient(X, Y, M, W0, b0, pen, tol, maxiter, progress=progress)
    W = s["W"] * M
    f, kkt, lowest = _finish(X, Y, W, s["b"], M, pen)
    return dict(W=W, b=s["b"], n_iter=s["n_iter"], converged=s["converged"], kkt=kkt,
                objective=f, lowest=lowest, last_step=s["last_step"], n_cg=n_cg)


_solve = jax.jit(_solve_impl, static_argnames=("kind", "solver", "masked", "progress"))
