"""The objective every solver minimises, its gradient and the line search they share."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..links import EXP


_MAX_HALVINGS = 40


def _data_loss(eta, Y):
    # (Poisson negative log-likelihood without log y!, mean over samples)
    return jnp.mean(EXP.inverse(eta) - Y * EXP.log_inverse(eta), axis=0)


def _smooth_grad(X, Y, eta, W, M, l2):
    T = X.shape[0]
    resid = EXP.inverse(eta) - Y  # (canonical link: d/d eta of the loss)
    gW = (X.T @ resid / T) * M + l2 * W
    gb = jnp.mean(resid, axis=0)
    return gW, gb


def _line_search(eta, Xd, W, dW, b, db, Y, f0, decrease, active, pen, data_loss_at=None):
    """Backtracking (Armijo) step per neuron along (dW, db); Xd = X @ dW + db.

    ``data_loss_at(t)``, if given, replaces ``_data_loss(eta + t * Xd, Y)`` (a streamed
    design computes it chunk by chunk and passes ``eta = Xd = Y = None``).
    """
    n = f0.shape[0]
    if data_loss_at is None:
        def data_loss_at(t):
            return _data_loss(eta + t * Xd, Y)

    def full(t):
        Wn = W + t * dW
        return data_loss_at(t) + pen.ridge(Wn) + pen.nonsmooth(Wn)

    def cond(s):
        t, ok, k = s
        return (~jnp.all(ok)) & (k < _MAX_HALVINGS)

    def body(s):
        t, ok, k = s
        fn = full(t)
        ok_new = ok | (jnp.isfinite(fn) & (fn <= f0 + 1e-4 * t * decrease))
        return jnp.where(ok_new, t, 0.5 * t), ok_new, k + 1

    # near the optimum the decrease is below the rounding of f: comparing values is
    # meaningless there, and the (Newton) step is accepted as it is
    tiny = jnp.abs(decrease) <= 100 * jnp.finfo(f0.dtype).eps * jnp.maximum(jnp.abs(f0), 1.0)
    t, ok, _ = jax.lax.while_loop(
        cond, body, (jnp.ones(n, f0.dtype), ~active | tiny, 0))
    t = jnp.where(ok & active, t, 0.0)
    return t, ok


def _objective(X, Y, W, b, pen):
    eta = X @ W + b
    return _data_loss(eta, Y) + pen.ridge(W) + pen.nonsmooth(W)


def _finish(X, Y, W, b, M, pen, scale):
    eta = X @ W + b
    gW, gb = _smooth_grad(X, Y, eta, W, M, pen.l2)
    kkt = pen.kkt_residual(W, gW, gb, M, scale)
    f = _data_loss(eta, Y) + pen.ridge(W) + pen.nonsmooth(W)
    # lowest linear predictor relative to log(mean count): -> -inf if the MLE does not exist
    low = jnp.min(eta, axis=0) - jnp.log(jnp.mean(Y, axis=0))
    return f, kkt, low
