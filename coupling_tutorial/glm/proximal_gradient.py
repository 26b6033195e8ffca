"""Solver 3: FISTA with backtracking (first-order).

For comparison: Chapter 2, "How close to the optimum?".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..progress import _FIT_EVERY, _report_fit
from .objective import _data_loss, _MAX_HALVINGS, _objective, _smooth_grad


def _fit_proximal_gradient(X, Y, M, W0, b0, pen, tol, maxiter, scale, progress=False):
    T, F = X.shape
    N = Y.shape[1]
    dt = X.dtype
    # initial step from a Lipschitz estimate at constant rate: mean(y) * ||[X 1]||^2 / T
    v = jnp.ones(F + 1, dt)
    for _ in range(20):  # power iteration on the Gram matrix, static unroll
        u = X @ v[:F] + v[F]
        v = jnp.concatenate([X.T @ u, jnp.sum(u)[None]]) / T
        v = v / jnp.linalg.norm(v)
    u = X @ v[:F] + v[F]
    lip = jnp.sum(u * u) / T
    step0 = 1.0 / (jnp.mean(Y, axis=0) * lip)

    def smooth_f(eta, W):
        return _data_loss(eta, Y) + pen.ridge(W)

    def cond(s):
        return (s["k"] < maxiter) & jnp.any(s["active"])

    def body(s):
        W, b, VW, Vb, tk, step, active = (s["W"], s["b"], s["VW"], s["Vb"], s["tk"],
                                          s["step"], s["active"])
        eta_v = X @ VW + Vb
        gW, gb = _smooth_grad(X, Y, eta_v, VW, M, pen.l2)
        fv = smooth_f(eta_v, VW)

        def trial(st):
            Wn = pen.prox(VW - st * gW, st) * M
            bn = Vb - st * gb
            dW, db = Wn - VW, bn - Vb
            fn = smooth_f(X @ Wn + bn, Wn)
            q = fv + jnp.sum(gW * dW, axis=0) + gb * db + (
                jnp.sum(dW * dW, axis=0) + db * db) / (2 * st)
            return Wn, bn, jnp.isfinite(fn) & (fn <= q + 1e-12 * jnp.abs(q))

        def bt_cond(c):
            st, ok, k = c
            return (~jnp.all(ok)) & (k < _MAX_HALVINGS)

        def bt_body(c):
            st, ok, k = c
            _, _, okn = trial(st)
            okn = ok | okn
            return jnp.where(okn, st, 0.5 * st), okn, k + 1

        step, _, _ = jax.lax.while_loop(bt_cond, bt_body, (step, ~active, 0))
        Wn, bn, _ = trial(step)
        # gradient mapping at V: the first-order optimality measure (column-scaled as the
        # KKT residual of the Newton solvers)
        gmap = jnp.maximum(jnp.max(jnp.abs(Wn - VW) / scale[:, None], axis=0, initial=0.0),
                           jnp.abs(bn - Vb)) / step
        done = active & (gmap <= tol)
        _report_fit(progress, s["k"], lambda: _objective(X, Y, W, b, pen), gmap, active,
                    every=_FIT_EVERY["proximal-gradient"])
        tn = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * tk * tk))
        mom = (tk - 1.0) / tn
        VWn = Wn + mom * (Wn - W)
        Vbn = bn + mom * (bn - b)
        keep = ~active
        return dict(
            W=jnp.where(keep, W, Wn), b=jnp.where(keep, b, bn),
            VW=jnp.where(keep, VW, VWn), Vb=jnp.where(keep, Vb, Vbn),
            tk=jnp.where(keep, tk, tn), step=step, k=s["k"] + 1,
            active=active & ~done, converged=s["converged"] | done,
            n_iter=s["n_iter"] + active.astype(jnp.int32),
            last_step=jnp.where(active, jnp.max(jnp.abs(Wn - W), axis=0, initial=0.0),
                                s["last_step"]),
        )

    state = dict(W=W0, b=b0, VW=W0, Vb=b0, tk=jnp.ones(N, dt), step=step0, k=0,
                 active=jnp.ones(N, bool), converged=jnp.zeros(N, bool),
                 n_iter=jnp.zeros(N, jnp.int32), last_step=jnp.zeros(N, dt))
    return jax.lax.while_loop(cond, body, state)
