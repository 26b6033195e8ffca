"""Solver 2: truncated Newton (preconditioned CG on Hessian-vector products)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..links import EXP
from ..progress import _report_fit
from .newton import _initial_state, _take_step
from .objective import _data_loss, _line_search, _smooth_grad


def _augmented_gram(XtX, colmean):
    """Gram matrix ``(F+1, F+1)`` of ``[X, 1]`` over the samples from ``XtX = X^T X / T``
    and ``colmean = X^T 1 / T``: the Hessian at constant rates, up to the mean count."""
    F = XtX.shape[0]
    G = jnp.zeros((F + 1, F + 1), XtX.dtype)
    G = G.at[:F, :F].set(XtX).at[:F, F].set(colmean).at[F, :F].set(colmean)
    return G.at[F, F].set(1.0)


def _gram(X):
    """:func:`_augmented_gram` of a dense ``X`` (computed once for a path of fits)."""
    T = X.shape[0]
    return _augmented_gram(X.T @ X / T, jnp.sum(X, axis=0) / T)


def _gram_preconditioner(G, c, M, l2, masked):
    r"""CG preconditioner: the Hessian at constant rates :math:`c_i G + l_2 I` per neuron.

    ``G``: the Gram matrix of ``[X, 1]`` (:func:`_augmented_gram`); ``c``: mean count per
    neuron ``(N,)``. Returns a function ``V (F+1, N) -> P^{-1} V``.
    """
    F, N = M.shape
    dt = G.dtype
    if masked:
        ma = jnp.concatenate([M, jnp.ones((1, N), dt)], axis=0)  # (F+1, N)

        def factor(ci, m):
            P = ci * G + l2 * jnp.eye(F + 1, dtype=dt)
            P = P * m[:, None] * m[None, :] + jnp.diag((1.0 - m) * ci * jnp.mean(jnp.diag(G)))
            # the floor of the unmasked branch (eps (F+1) lambda_max, lambda_max <= trace):
            # a rank-deficient [X * m, 1] (a duplicated or constant column) makes P singular
            # and its Cholesky factor NaN; with the floor a null direction's round-off
            # (~eps |r|) is amplified by at most 1/floor, i.e. stays
            # ~|r| / (10 (F+1) lambda_max), and directions the data determine
            # (lambda >> floor) are unchanged
            floor = 10 * jnp.finfo(dt).eps * (F + 1) * jnp.trace(P)
            return jnp.linalg.cholesky(P + floor * jnp.eye(F + 1, dtype=dt))

        precond = _cholesky_preconditioner(jax.vmap(factor, (0, 1))(c, ma))
    else:
        lam, Q = jnp.linalg.eigh(G)
        floor = jnp.finfo(dt).eps * lam[-1] * (F + 1)
        # without a ridge, directions in the null space of [X, 1] (a constant or redundant
        # column) are left out: amplified by 1/floor, their round-off would swamp the step
        keep = (lam > 10 * floor) | (l2 > 0)
        inv = jnp.where(keep[:, None],
                        1.0 / (c[None, :] * jnp.maximum(lam, floor)[:, None] + l2), 0.0)

        def precond(V):
            return Q @ ((Q.T @ V) * inv)

    return precond


def _cholesky_preconditioner(chol):
    """``V (F+1, N) -> P_i^{-1} v_i`` per neuron from lower Cholesky factors ``(N, F+1, F+1)``
    of the matrices ``P_i``."""

    def precond(V):
        return jax.vmap(lambda l, v: jax.scipy.linalg.cho_solve((l, True), v),
                        (0, 1), 1)(chol, V)

    return precond


def _truncated_cg(hv, precond, g, active, Mf, maxcg, floor):
    """Approximate Newton direction ``-H^{-1} g`` per neuron by preconditioned CG.

    ``hv(V)``: Hessian-vector products ``(F+1, N) -> (F+1, N)``. Stops each neuron when its
    preconditioned residual fell by the forcing term ``min(0.5, (r'z)^(1/4))^2`` (at least
    ``floor``). Returns the direction ``(F+1, N)`` (0 for inactive neurons) and the number
    of CG iterations.
    """
    r0 = jnp.where(active, -g, 0.0)
    z0 = precond(r0) * Mf
    rz0 = jnp.sum(r0 * z0, axis=0)
    forcing = jnp.clip(jnp.sqrt(jnp.sqrt(jnp.maximum(rz0, 0.0))), floor, 0.5)
    target = forcing**2 * rz0

    def cg_cond(cs):
        d, r, p, rz, j = cs
        return (j < maxcg) & jnp.any(rz > target)

    def cg_body(cs):
        d, r, p, rz, j = cs
        act = rz > target
        Hp = hv(p)
        pHp = jnp.sum(p * Hp, axis=0)
        a = jnp.where(act & (pHp > 0), rz / jnp.where(pHp > 0, pHp, 1.0), 0.0)
        d = d + a * p
        r = r - a * Hp
        z = precond(r) * Mf
        rzn = jnp.sum(r * z, axis=0)
        p = jnp.where(act, z + (rzn / jnp.where(rz > 0, rz, 1.0)) * p, p)
        return d, r, p, jnp.where(act, rzn, rz), j + 1

    d, _, _, _, ncg = jax.lax.while_loop(
        cg_cond, cg_body, (jnp.zeros_like(g), r0, z0, rz0, 0))
    return jnp.where(active, d, 0.0), ncg


def _fit_newton_cg(X, Y, M, W0, b0, pen, tol, maxiter, masked, maxcg, scale, G=None,
                   progress=False, chol=None):
    """``G``: :func:`_gram` of ``X`` if already computed (a path of fits on the same X).
    ``chol``: lower Cholesky factors ``(N, F+1, F+1)`` of a better preconditioner than the
    Gram one (a Hessian near the optimum, as along a regularisation path); ``G`` is then
    not used."""
    T, F = X.shape
    l2 = pen.l2
    N = Y.shape[1]
    dt = X.dtype
    low = jnp.float32 if jnp.finfo(dt).bits > 32 else dt
    Xl = X.astype(low)
    if chol is None:
        G = _gram(X) if G is None else G
        precond = _gram_preconditioner(G, jnp.mean(Y, axis=0), M, l2, masked)
    else:
        precond = _cholesky_preconditioner(chol)
    Mf = jnp.concatenate([M, jnp.ones((1, N), dt)], axis=0)
    floor = 1e-5 if jnp.finfo(low).bits <= 32 else 1e-10

    def cond(s):
        return (s["k"] < maxiter) & jnp.any(s["active"])

    def body(s):
        W, b, eta, active = s["W"], s["b"], s["eta"], s["active"]
        R = EXP.inverse(eta)  # Hessian weights (canonical link)
        Rl = R.astype(low)
        gW, gb = _smooth_grad(X, Y, eta, W, M, l2)
        kkt = pen.smooth_part().kkt_residual(W, gW, gb, M, scale)
        done = active & (kkt <= tol)
        g = jnp.concatenate([gW, gb[None]], axis=0)

        def hv(V):
            Vl = V.astype(low)
            U = Rl * (Xl @ Vl[:F] + Vl[F])
            out = jnp.concatenate([Xl.T @ U, jnp.sum(U, axis=0)[None]], axis=0)
            return (out.astype(dt) / T) * Mf + l2 * V.at[F].set(0.0)

        d, ncg = _truncated_cg(hv, precond, g, active, Mf, maxcg, floor)
        dW, db = d[:F], d[F]
        decrease = jnp.sum(g * d, axis=0)
        Xd = X @ dW + db
        f0 = _data_loss(eta, Y) + pen.ridge(W)
        _report_fit(progress, s["k"], f0, kkt, active)
        t, ok = _line_search(eta, Xd, W, dW, b, db, Y, f0, decrease, active,
                             pen.smooth_part())
        return dict(_take_step(s, W, b, eta, t, dW, db, Xd, active, ok, done),
                    n_cg=s["n_cg"] + ncg)

    state = dict(_initial_state(X, W0, b0, N), n_cg=0)
    return jax.lax.while_loop(cond, body, state)
