r"""The three fixed-point solvers of :func:`~.fixed_point.self_consistent_rates` (private).

Damped Newton (compiled in one ``lax.while_loop``, and on the host for polishing),
linearly implicit relaxation, and bounded Levenberg-Marquardt, all on
:math:`F(\nu) = \Phi(\nu) - \nu`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .inputs import _mu_sigma
from .siegert import _siegert_core


class NetworkParams(NamedTuple):
    """The parameters of a network of populations, as :func:`_phi` takes them (a pytree)."""

    J: Any
    K: Any
    tau_m: Any
    tau_r: Any
    V_th: Any
    V_r: Any
    J_ext: Any
    K_ext: Any
    nu_ext: Any
    synapse: Any  # DeltaSynapse or ExponentialSynapse


def _phi(nu, params, matrix: bool):
    J, K, tau_m, tau_r, V_th, V_r, J_ext, K_ext, nu_ext, synapse = params
    nu = jnp.maximum(nu, 0.0)
    mu, sigma = _mu_sigma(nu, J, K, tau_m, J_ext, K_ext, nu_ext, matrix)
    n = nu.shape[0]
    shift = synapse.shift(sigma, tau_m)
    args = jnp.broadcast_arrays(mu, sigma, tau_m * jnp.ones(n), tau_r * jnp.ones(n),
                                V_th + shift, V_r + shift)
    return _siegert_core(*args)


@functools.partial(jax.jit, static_argnames="matrix")
def _residual(nu, params, matrix):
    return _phi(nu, params, matrix) - nu


@functools.partial(jax.jit, static_argnames="matrix")
def _residual_and_jacobian(nu, params, matrix):
    f = lambda x: _phi(x, params, matrix) - x  # noqa: E731
    return f(nu), jax.jacfwd(f)(nu)


@functools.partial(jax.jit, static_argnames="matrix")
def _mu_sigma_jit(nu, params, matrix):
    p = params
    return _mu_sigma(nu, p.J, p.K, p.tau_m, p.J_ext, p.K_ext, p.nu_ext, matrix)


def _solve(a, b):
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


_TOL_ULPS = 256


def _tol_at(nu, tol, dtype, xp=np):
    """``tol`` plus the float resolution of the residual, ``256 eps max|nu|``.

    A residual max|nu - Phi(nu)| below the accuracy of Phi (about 1e-5 relative, 84 eps,
    in float32; 1e-13 in float64) cannot be resolved: in float32, 1e-7 Hz is below one
    unit in the last place at 38 Hz (3.8e-6 Hz). With the floor the same absolute ``tol``
    works in both precisions (3e-5 relative in float32; float64 adds ~2e-12 Hz at 38 Hz).
    """
    eps = float(np.finfo(dtype).eps)  # (the dtype Phi is computed in)
    return tol + _TOL_ULPS * eps * xp.max(xp.abs(nu), initial=0.0)


def _newton(nu, jac_fn, tol, max_iter):
    """Damped Newton on F(nu) = Phi(nu) - nu with backtracking, kept in nu >= 0."""
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    norm = np.max(np.abs(f))
    for it in range(1, max_iter + 1):
        step = _solve(jac, -f)
        if not np.all(np.isfinite(step)):
            return nu, norm, it, False
        alpha, accepted = 1.0, False
        while alpha > 1e-6:
            trial = np.maximum(nu + alpha * step, 0.0)
            f_trial, jac_trial = (np.asarray(a) for a in jac_fn(trial))
            norm_trial = np.max(np.abs(f_trial))
            if np.isfinite(norm_trial) and norm_trial <= (1.0 - 1e-4 * alpha) * norm:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            return nu, norm, it, norm < _tol_at(nu, tol, f.dtype)
        small_step = np.max(np.abs(trial - nu)) <= _tol_at(trial, tol, f.dtype)
        nu, f, jac, norm = trial, f_trial, jac_trial, norm_trial
        if norm < _tol_at(nu, tol, f.dtype) and small_step:
            return nu, norm, it, True
    return nu, norm, max_iter, norm < _tol_at(nu, tol, f.dtype)


@functools.partial(jax.jit, static_argnames=("matrix", "max_iter"))
def _newton_jit(nu0, params, tol, matrix, max_iter):
    """The whole damped Newton iteration in one compiled call (lax.while_loop).

    Same algorithm as :func:`_newton`: solve ``J step = -F``, halve the step until
    max|F| decreases by the Armijo factor, keep ``nu >= 0``; converged when
    max|F| < tol and the last step was < tol (both plus the resolution, :func:`_tol_at`).
    """
    def residual(x):
        return _phi(x, params, matrix) - x

    jacobian = jax.jacfwd(residual)
    f0 = residual(nu0)
    state = (nu0, f0, jacobian(nu0), jnp.max(jnp.abs(f0)), 0, False, False)

    def cond(c):
        return (~c[5]) & (c[4] < max_iter)

    def body(c):
        nu, f, jac, norm, it, _, _ = c
        step = jnp.linalg.solve(jac, -f)
        finite = jnp.all(jnp.isfinite(step))
        step = jnp.where(finite, step, 0.0)

        def ls_cond(ls):
            return (~ls[1]) & (ls[0] > 1e-6)

        def ls_body(ls):
            alpha, _, _ = ls
            trial = jnp.maximum(nu + alpha * step, 0.0)
            n_trial = jnp.max(jnp.abs(residual(trial)))
            ok = jnp.isfinite(n_trial) & (n_trial <= (1.0 - 1e-4 * alpha) * norm)
            return jnp.where(ok, alpha, 0.5 * alpha), ok, trial

        _, accepted, trial = jax.lax.while_loop(
            ls_cond, ls_body, (jnp.asarray(1.0, nu.dtype), jnp.asarray(False), nu))
        accepted = accepted & finite
        f_t = residual(trial)
        j_t = jacobian(trial)
        n_t = jnp.max(jnp.abs(f_t))
        tol_t = _tol_at(trial, tol, nu.dtype, jnp)
        small = jnp.max(jnp.abs(trial - nu)) <= tol_t
        nu_n = jnp.where(accepted, trial, nu)
        f_n = jnp.where(accepted, f_t, f)
        j_n = jnp.where(accepted, j_t, jac)
        norm_n = jnp.where(accepted, n_t, norm)
        converged = accepted & (n_t < tol_t) & small
        done = (~accepted) | converged
        ok = jnp.where(accepted, converged, norm < _tol_at(nu, tol, nu.dtype, jnp))
        return nu_n, f_n, j_n, norm_n, it + 1, done, ok

    nu, f, jac, norm, it, done, ok = jax.lax.while_loop(cond, body, state)
    ok = jnp.where(done, ok, norm < _tol_at(nu, tol, nu.dtype, jnp))
    p = params
    mu, sigma = _mu_sigma(nu, p.J, p.K, p.tau_m, p.J_ext, p.K_ext, p.nu_ext, matrix)
    return nu, f, jac, norm, it, ok, mu, sigma


def _relax(nu, res, jac_fn, tol, max_iter):
    """Relaxation d nu/ds = Phi(nu) - nu with linearly implicit (Rosenbrock-Euler) steps.

    The step ``h`` starts small, so the iterates follow the relaxation trajectory from
    ``nu0``, and grows by 1.5 per accepted step, so that the last steps converge like
    Newton's. A step is rejected (and ``h`` halved) if it would change any rate by more
    than half its value plus 1 Hz or make a rate negative.
    """
    h = 0.1
    n = nu.size
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    norm = np.max(np.abs(f))
    for it in range(1, max_iter + 1):
        step = _solve(np.eye(n) - h * jac, h * f)
        if (np.all(np.isfinite(step)) and np.all(nu + step >= -1e-12)
                and np.all(np.abs(step) <= 0.5 * nu + 1.0)):
            nu = np.maximum(nu + step, 0.0)
            f, jac = (np.asarray(a) for a in jac_fn(nu))
            norm = np.max(np.abs(f))
            tol_nu = _tol_at(nu, tol, f.dtype)
            if norm < tol_nu and np.max(np.abs(step)) < tol_nu:
                return nu, norm, it, True
            h = min(1.5 * h, 1e6)
        else:
            h *= 0.5
            if h < 1e-8:
                break
    return nu, norm, it, False


def _least_squares(nu, res, jac_fn, max_iter, ftol=1e-8, xtol=1e-8, gtol=1e-8):
    """Bounded (nu >= 0) Levenberg-Marquardt on 0.5 |Phi(nu) - nu|^2.

    Stops, like ``scipy.optimize.least_squares``, when the cost stops decreasing
    (relative change < ftol), the step is tiny (xtol) or the projected gradient vanishes
    (gtol), whether or not the residual is zero: it can stop in a local minimum.
    """
    f, jac = (np.asarray(a) for a in jac_fn(nu))
    cost = 0.5 * float(f @ f)
    lam = 1e-3
    for it in range(1, max_iter + 1):
        grad = jac.T @ f
        projected = np.where((nu <= 0) & (grad > 0), 0.0, grad)
        if np.max(np.abs(projected)) < gtol:
            return nu, f, it
        jtj = jac.T @ jac
        improved = False
        while lam < 1e12:
            step = _solve(jtj + lam * np.diag(np.maximum(np.diag(jtj), 1e-12)), -grad)
            trial = np.maximum(nu + step, 0.0)
            f_trial = np.asarray(res(trial))
            cost_trial = 0.5 * float(f_trial @ f_trial)
            if np.isfinite(cost_trial) and cost_trial < cost:
                improved = True
                break
            lam *= 4.0
        if not improved:
            return nu, f, it
        lam = max(lam / 3.0, 1e-12)
        dx = np.linalg.norm(trial - nu)
        dcost = cost - cost_trial
        nu, cost = trial, cost_trial
        f, jac = (np.asarray(a) for a in jac_fn(nu))
        if dcost < ftol * cost or dx < xtol * (xtol + np.linalg.norm(nu)):
            return nu, f, it
    return nu, f, max_iter
