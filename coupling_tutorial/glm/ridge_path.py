r"""A ridge regularisation path in one compiled program (Chapter 6's cross-validation).

Along decreasing ridge strengths :math:`\alpha_1 > \alpha_2 > \dots`, each neuron's
optimum :math:`\beta(\alpha) = (w(\alpha), b(\alpha))` is a smooth curve: differentiating
its optimality condition :math:`\nabla L(\beta) + \alpha\,E\beta = 0`,
:math:`E = \operatorname{diag}(1, \dots, 1, 0)` (the intercept is not penalised), gives

.. math::

    \frac{d\beta}{d\alpha} = -\big(H(\beta) + \alpha E\big)^{-1} E\beta,

with :math:`H` the Hessian of the data term. :func:`_ridge_path` fits the first strength
as :class:`~coupling_tutorial.PopulationGLM` does (Newton-CG, Gram preconditioner), then
for every next strength

1. factors :math:`P = H_\text{ref} + \alpha E` per neuron (Cholesky, :math:`O(N F^3)`,
   no pass over the data), with :math:`H_\text{ref}` the Hessian at an earlier optimum
   of the path (computed in float32, :func:`_reference_hessians`);
2. predicts the new optimum to first order,
   :math:`\beta \leftarrow \beta - \Delta\alpha\, P^{-1}E\beta` (:func:`_path_predictor`);
3. corrects it with the package's Newton-CG solver (``solve._solve_impl``) preconditioned
   by :math:`P` instead of the Gram matrix: near the optimum, :math:`P` is close to the
   Hessian and CG needs a few products per Newton step (2-4 measured, 5-8 with the Gram
   matrix);
4. recomputes :math:`H_\text{ref}` at the new optimum when that fit needed more than
   ``refresh_cg`` CG iterations per Newton iteration (the rates have moved since).

Every fit stops on the solver's own KKT test at its tolerance and is verified at the
returned coefficients (``_finish``), exactly as a :class:`PopulationGLM` fit: the
predictor and the preconditioner change the cost, never the answer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..links import EXP
from .newton import _hessians
from .newton_cg import _cholesky_preconditioner
from .solve import _column_scale, _solve_impl

# more CG iterations than this per Newton iteration: the reference Hessian is stale
_REFRESH_CG = 5


def _reference_hessians(X, eta, M):
    """Unpenalised, masked, augmented Hessians ``(N, F+1, F+1)`` of the data term at the
    linear predictor ``eta (T, N)``, computed in float32 (a preconditioner needs no more)
    and returned in ``X``'s dtype."""
    low = jnp.float32 if jnp.finfo(X.dtype).bits > 32 else X.dtype
    H = _hessians(X.astype(low), EXP.inverse(eta).astype(low), M.astype(low), 0.0)
    return H.astype(X.dtype)


def _path_factors(H0, M, alpha):
    r"""Lower Cholesky factors ``(N, F+1, F+1)`` of :math:`H_0 + \alpha E` per neuron.

    ``E`` is 1 on the free features' diagonal (``M``), 0 on masked ones and the intercept.
    A relative jitter of :math:`10 P \epsilon_{32}` of the mean diagonal keeps the factors
    finite at :math:`\alpha = 0` with a rank-deficient design; a neuron whose factor is
    still not finite falls back to the diagonal (Jacobi) preconditioner.
    """
    F, N = M.shape
    e = jnp.concatenate([M, jnp.zeros((1, N), M.dtype)], axis=0).T  # (N, F+1)
    dg = jnp.diagonal(H0, axis1=1, axis2=2)  # (N, F+1)
    jitter = 10 * (F + 1) * jnp.finfo(jnp.float32).eps * jnp.mean(dg, axis=1, keepdims=True)
    d = alpha * e + jitter
    L = jnp.linalg.cholesky(H0 + jax.vmap(jnp.diag)(d))
    ok = jnp.all(jnp.isfinite(L), axis=(1, 2))
    jacobi = jax.vmap(jnp.diag)(jnp.sqrt(jnp.abs(dg + d)) + (dg + d == 0))
    return jnp.where(ok[:, None, None], L, jacobi)


def _path_predictor(chol, W, b, dalpha):
    r"""First-order prediction of the optimum after the strength changes by ``dalpha``:
    :math:`\beta - \Delta\alpha\,P^{-1}E\beta` with :math:`P` factored in ``chol``.
    ``W``: ``(F, N)`` (masked entries 0), ``b``: ``(N,)``; returns ``(W, b)``."""
    N = W.shape[1]
    rhs = jnp.concatenate([W, jnp.zeros((1, N), W.dtype)], axis=0)
    d = _cholesky_preconditioner(chol)(rhs)
    return W - dalpha * d[:-1], b - dalpha * d[-1]


_KEEP = ("W", "b", "converged", "kkt", "n_iter", "n_cg")


def _ridge_path_impl(X, Y, M, alphas, tol, maxiter, gram=None, *, masked,
                     refresh_cg=_REFRESH_CG):
    """Ridge fits of ``(X, Y)`` at every strength of ``alphas`` (decreasing, shape ``(S,)``).

    ``M``: float 0/1 feature mask ``(F, N)``; ``gram``: ``newton_cg._gram(X)`` if already
    computed. Returns a dict of arrays stacked over strengths: ``W (S, F, N)``,
    ``b (S, N)``, ``converged``, ``kkt``, ``n_iter (S, N)``, ``n_cg (S,)`` and
    ``refreshed (S,)`` (whether the reference Hessian was recomputed after that fit), and
    ``hessians`` ``(N, F+1, F+1)``: the last reference Hessians.
    """
    scale = _column_scale(X)

    def fit(alpha, init, chol):
        out = _solve_impl(X, Y, M, None, alpha, 0.0, tol, maxiter, init, gram, kind="ridge",
                          solver="newton-cg", masked=masked, chol=chol, scale=scale)
        return {k: out[k] for k in _KEEP}

    def hessians(out):
        return _reference_hessians(X, X @ out["W"] + out["b"], M)

    def stale(out):
        return out["n_cg"] > refresh_cg * jnp.max(out["n_iter"])

    first = fit(alphas[0], None, None)
    H0 = hessians(first)

    def step(carry, alpha):
        W, b, previous, H0 = carry
        chol = _path_factors(H0, M, alpha)
        out = fit(alpha, _path_predictor(chol, W, b, alpha - previous), chol)
        refresh = stale(out)
        H0 = jax.lax.cond(refresh, lambda: hessians(out), lambda: H0)
        return (out["W"], out["b"], alpha, H0), dict(out, refreshed=refresh)

    carry, rest = jax.lax.scan(step, (first["W"], first["b"], alphas[0], H0), alphas[1:])
    first = dict(first, refreshed=jnp.asarray(True))
    out = jax.tree_util.tree_map(lambda a, r: jnp.concatenate([a[None], r]), first, rest)
    return dict(out, hessians=carry[3])


_ridge_path = jax.jit(_ridge_path_impl, static_argnames=("masked", "refresh_cg"))
