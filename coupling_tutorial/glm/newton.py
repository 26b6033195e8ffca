"""Solver 1: (proximal) Newton with exact per-neuron Hessians.

Chapter 2, "Fitting the whole population at once": :func:`_fit_newton` is shown there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..links import EXP
from ..progress import _report_fit
from .objective import _data_loss, _line_search, _smooth_grad


def _hessians(X, R, M, l2):
    """Masked, augmented Hessians (N, F+1, F+1) of the smooth part; one neuron at a time."""
    T, F = X.shape

    def one(args):
        r, m = args
        Xr = X * r[:, None]
        return _augmented_hessian(X.T @ Xr / T, jnp.sum(Xr, axis=0) / T, jnp.mean(r), m, l2)

    return jax.lax.map(one, (R.T, M.T))


def _augmented_hessian(Hww, hwb, hbb, m, l2):
    """One neuron's masked Hessian ``(F+1, F+1)`` of the smooth part from its blocks.

    ``Hww = X^T diag(r) X / T``, ``hwb = X^T r / T``, ``hbb = mean(r)``; masked features
    get a unit-scaled diagonal (so their step is exactly 0).
    """
    F = Hww.shape[0]
    H = jnp.zeros((F + 1, F + 1), Hww.dtype)
    H = H.at[:F, :F].set(Hww + l2 * jnp.eye(F, dtype=Hww.dtype))
    H = H.at[:F, F].set(hwb).at[F, :F].set(hwb).at[F, F].set(hbb)
    ma = jnp.concatenate([m, jnp.ones(1, m.dtype)])
    scale = jnp.mean(jnp.diag(H))
    return H * ma[:, None] * ma[None, :] + jnp.diag((1.0 - ma) * scale)


def _min_norm_step(H, g):
    """Minimum-norm Newton step ``-H^+ g`` per neuron (H: (N, P, P), g: (P, N)).

    The Hessian is first equilibrated (``D^{-1/2} H D^{-1/2}``, ``D = diag H``), so that
    badly scaled columns of ``X`` do not cost precision, then inverted on its range: the
    eigenvalues below ``10 P eps`` times the largest are treated as 0. With a
    rank-deficient design (a constant, duplicated or collinear column) the unpenalised
    optimum is not unique and ``H`` is singular; the step then stays in the range of ``H``
    (a Cholesky solve would return NaN), so the iterates stay finite and reach one optimum.
    """
    P = H.shape[-1]
    dg = jnp.diagonal(H, axis1=1, axis2=2)  # (N, P)
    s = 1.0 / jnp.sqrt(jnp.where(dg > 0, dg, 1.0))
    Hs = H * s[:, :, None] * s[:, None, :]
    lam, Q = jnp.linalg.eigh(Hs)
    cut = 10 * P * jnp.finfo(H.dtype).eps * lam[:, -1:]
    inv = jnp.where(lam > cut, 1.0 / jnp.where(lam > cut, lam, 1.0), 0.0)
    gs = g.T * s  # (N, P)
    d = -jnp.einsum("nij,nj->ni", Q, inv * jnp.einsum("nji,nj->ni", Q, gs)) * s
    return d.T


def _inner_prox_newton(H, g, W, b, pen, inner_tol, max_inner):
    """Minimise g.d + d'Hd/2 + h(w + d) over d = (dW, db) by FISTA with restarts."""
    F, N = W.shape
    L = jnp.linalg.eigvalsh(H)[:, -1]  # (N,)
    beta = jnp.concatenate([W, b[None]], axis=0)  # (F+1, N)

    def grad(Z):
        return g + jnp.einsum("nij,jn->in", H, Z - beta)

    def prox_step(V, step):
        Z = V - step[None] * grad(V)
        return Z.at[:F].set(pen.prox(Z[:F], step))

    step = 1.0 / L

    def cond(s):
        Z, V, tk, k, res = s
        return (k < max_inner) & jnp.any(res > inner_tol)

    def body(s):
        Z, V, tk, k, res = s
        Zn = prox_step(V, step)
        tn = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
        # gradient-based adaptive restart (O'Donoghue & Candes)
        restart = jnp.sum((V - Zn) * (Zn - Z), axis=0) > 0
        Vn = jnp.where(restart, Zn, Zn + ((tk - 1.0) / tn) * (Zn - Z))
        tn = jnp.where(restart, 1.0, tn)
        res = jnp.max(jnp.abs(Zn - V), axis=0) * L
        return Zn, Vn, tn, k + 1, res

    init = (beta, beta, jnp.ones(N, W.dtype), 0, jnp.full(N, jnp.inf, W.dtype))
    Z, _, _, k, _ = jax.lax.while_loop(cond, body, init)
    return Z[:F] - W, Z[F] - b


def _initial_state(X, W0, b0, N):
    """The loop state both Newton solvers start from (per-neuron flags and counters)."""
    return dict(W=W0, b=b0, eta=X @ W0 + b0, k=0, active=jnp.ones(N, bool),
                converged=jnp.zeros(N, bool), n_iter=jnp.zeros(N, jnp.int32),
                last_step=jnp.zeros(N, X.dtype))


def _take_step(s, W, b, eta, t, dW, db, Xd, active, ok, done):
    """Move by ``t`` along ``(dW, db)`` and update the flags of a Newton solver's state.

    Neurons whose KKT test passed (``done``) are converged; those whose line search
    failed (``~ok``) stop as not converged; the others stay active.
    """
    stalled = active & ~ok & ~done
    return dict(
        W=W + t * dW, b=b + t * db, eta=eta + t * Xd, k=s["k"] + 1,
        active=active & ~done & ~stalled,
        converged=s["converged"] | done,
        n_iter=s["n_iter"] + active.astype(jnp.int32),
        last_step=jnp.where(active, jnp.max(jnp.abs(t * dW), axis=0, initial=0.0),
                            s["last_step"]),
    )


def _newton_direction(H, gW, gb, W, b, M, pen, kkt, active, tol, smooth):
    """The (proximal) Newton step ``(dW, db)`` of every neuron and its predicted decrease.

    ``H``: augmented Hessians ``(N, F+1, F+1)``; ``gW, gb``: gradient of the smooth part.
    Smooth penalties: the minimum-norm step :func:`_min_norm_step`; otherwise the quadratic model plus the penalty is
    minimised by :func:`_inner_prox_newton`. Inactive neurons get a zero step.
    """
    F = W.shape[0]
    g = jnp.concatenate([gW, gb[None]], axis=0)
    if smooth:
        d = _min_norm_step(H, g)
        dW, db = d[:F] * M, d[F]
        decrease = jnp.sum(g * d, axis=0)
        decrease = jnp.where(jnp.isfinite(decrease), decrease, 0.0)
    else:
        inner_tol = jnp.maximum(0.1 * jnp.min(jnp.where(active, kkt, jnp.inf)), 0.01 * tol)
        dW, db = _inner_prox_newton(H, g, W, b, pen, inner_tol, 20_000)
        dW = dW * M
        decrease = (jnp.sum(gW * dW, axis=0) + gb * db
                    + pen.nonsmooth(W + dW) - pen.nonsmooth(W))
    return jnp.where(active, dW, 0.0), jnp.where(active, db, 0.0), decrease


def _fit_newton(X, Y, M, W0, b0, pen, tol, maxiter, smooth, scale, progress=False):
    N = Y.shape[1]

    def cond(s):
        return (s["k"] < maxiter) & jnp.any(s["active"])

    def body(s):
        W, b, eta, active = s["W"], s["b"], s["eta"], s["active"]
        R = EXP.inverse(eta)  # Hessian weights (canonical link)
        gW, gb = _smooth_grad(X, Y, eta, W, M, pen.l2)
        kkt = pen.kkt_residual(W, gW, gb, M, scale)
        done = active & (kkt <= tol)
        H = _hessians(X, R, M, pen.l2)
        f0 = _data_loss(eta, Y) + pen.ridge(W) + pen.nonsmooth(W)
        _report_fit(progress, s["k"], f0, kkt, active)
        dW, db, decrease = _newton_direction(H, gW, gb, W, b, M, pen, kkt, active, tol, smooth)
        Xd = X @ dW + db
        t, ok = _line_search(eta, Xd, W, dW, b, db, Y, f0, decrease, active, pen)
        return _take_step(s, W, b, eta, t, dW, db, Xd, active, ok, done)

    state = _initial_state(X, W0, b0, N)
    return jax.lax.while_loop(cond, body, state)
