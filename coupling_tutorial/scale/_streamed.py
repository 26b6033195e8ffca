r"""Streamed objective, gradient, Hessian-vector products and Hessians of a
:class:`~coupling_tutorial.scale.CouplingDesign`, and the two Newton solvers run on them.

Every quantity the solvers of :mod:`coupling_tutorial.glm` take from ``X`` is a sum over
the rows of the design, so it is accumulated chunk by chunk (``lax.fori_loop`` over the
``chunk_size``-row chunks of a block; the features of a chunk are recomputed from the
counts each time and then dropped):

================================  ==========================================================
quantity                          per chunk :math:`X_c, y_c`, valid-row weights :math:`v_c`
================================  ==========================================================
data loss, gradient               :math:`\sum v(e^{\eta}-y\eta)`, :math:`X_c^\top v(e^\eta-y)`,
                                  :math:`\eta = X_c W + b`
Hessian-vector product            :math:`X_c^\top\,[v\,e^{\eta}\odot(X_c V + v_b)]` (float32
                                  when fitting in float64, like the dense solver)
Gram matrix (preconditioner)      :math:`X_c^\top \mathrm{diag}(v) X_c`, :math:`X_c^\top v`
Hessians (``"newton"``)           :math:`X_c^\top\mathrm{diag}(v\lambda_i)X_c` for each neuron
line search                       the data loss at :math:`W + t\,\Delta W`
================================  ==========================================================

What is kept between passes: the coefficients ``(F, N)``, the counts (compact integers)
and the CG vectors ``(F+1, N)``, **not** the linear predictor :math:`\eta` ``(T, N)``:
a float64 :math:`\eta` alone would be 8x the uint8 counts, and with it the rates, the
residuals and the step's :math:`X\Delta W` (the dense solvers keep all of them). The price
is recomputing :math:`X_c W` in every pass (one more matrix product per Hessian-vector
product, done in the same product as :math:`X_c V`). The direction, line search, stopping
rule and penalties are those of :mod:`coupling_tutorial.glm` (``_truncated_cg``,
``_gram_preconditioner``, ``_newton_direction``, ``_line_search``, ``Penalty``), so the
iterates are the dense solvers' up to rounding.

Across devices the pass runs under ``shard_map`` on each device's block, and the sums
are ``psum`` over the mesh axis (``pmin`` for the smallest linear predictor); the loops'
conditions depend only on summed values, so every device runs the same iterations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ..features import _window_product
from ..glm.newton import _augmented_hessian, _newton_direction, _take_step
from ..glm.newton_cg import _augmented_gram, _gram_preconditioner, _truncated_cg
from ..glm.objective import _line_search
from ..glm.penalties import Penalty
from ..glm.solve import _scale_from_mean_squares
from ..links import EXP
from ..progress import _report_fit


class _Data(NamedTuple):
    """The arrays of a streamed fit (a pytree): blocked counts, inputs, targets, basis."""

    counts: Any   # (n_blocks, L + W, N) compact integers
    inputs: Any   # (n_blocks, L, n_inputs) or None
    targets: Any  # (n_blocks, L, n_targets) compact integers (None for predict, or when
    #               they are the counts themselves: _Geometry.own_targets)
    basis: Any    # (W, K)


def _design_chunk(geo, basis, counts_block, inputs_block, c):
    """Rows ``c * C ... c * C + C - 1`` of a block of the design, ``(C, F)``, in
    ``basis.dtype``: the coupling features (neuron-major), then the inputs."""
    C, W = geo.chunk, geo.window
    seg = jax.lax.dynamic_slice_in_dim(counts_block, c * C, C + W - 1, axis=0)
    seg = seg.astype(basis.dtype)
    kernel = jnp.flip(basis, axis=0)
    X = _window_product(seg, kernel)  # (C, N K)
    if inputs_block is not None:
        extra = jax.lax.dynamic_slice_in_dim(inputs_block, c * C, C, axis=0)
        X = jnp.concatenate([X, extra.astype(basis.dtype)], axis=1)
    return X


def _psum(x, axis):
    return x if axis is None else jax.lax.psum(x, axis)


def _target_rows(data, geo):
    """The blocked array holding the targets and the row of each block where they start:
    the counts themselves from row ``window`` on (``geo.own_targets``), else the targets
    from row 0 (``(None, 0)`` without targets)."""
    return (data.counts, geo.window) if geo.own_targets else (data.targets, 0)


def _over_chunks(data, geo, axis, fn, init, dtype):
    """``fn(acc, X_c, y_c, v_c)`` folded over this device's chunks (local sums only).

    ``X_c``: ``(C, F)`` features in ``dtype``; ``y_c``: ``(C, n_targets)`` targets (None
    without targets; with ``geo.own_targets``, rows ``c C + window ...`` of the block of
    counts: the bins right after the window each row's features are made of); ``v_c``:
    ``(C,)`` 1 for rows of the design, 0 for padding.
    """
    C = geo.chunk
    L = geo.chunk * geo.chunks_per_block
    block = 0 if axis is None else jax.lax.axis_index(axis)
    counts = data.counts[0]
    inputs = None if data.inputs is None else data.inputs[0]
    basis = data.basis.astype(dtype)
    targets, start = _target_rows(data, geo)

    def step(c, acc):
        X = _design_chunk(geo, basis, counts, inputs, c)
        y = None if targets is None else jax.lax.dynamic_slice_in_dim(
            targets[0], c * C + start, C, axis=0).astype(dtype)
        v = (block * L + c * C + jnp.arange(C) < geo.n_rows).astype(dtype)
        return fn(acc, X, y, v)

    return jax.lax.fori_loop(0, geo.chunks_per_block, step, init)


class _Ops:
    """The sums over time a solver needs, streamed (one device's view, summed by psum)."""

    def __init__(self, data, geo, axis, dtype):
        self.data, self.geo, self.axis, self.dt = data, geo, axis, dtype
        self.low = jnp.float32 if jnp.finfo(dtype).bits > 32 else dtype
        self.T = geo.n_rows

    def _sum(self, fn, init, dtype=None):
        acc = _over_chunks(self.data, self.geo, self.axis, fn, init, dtype or self.dt)
        return jax.tree_util.tree_map(lambda a: _psum(a, self.axis), acc)

    def value_grad(self, W, b):
        """Data loss (N,), ``X^T(lambda - y)/T`` (F, N), ``mean(lambda - y)`` (N,) and the
        smallest linear predictor per neuron (N,)."""
        F, N = W.shape

        def fn(acc, X, y, v):
            loss, gX, gb, low = acc
            eta = X @ W + b
            resid = (EXP.inverse(eta) - y) * v[:, None]
            loss = loss + jnp.sum(v[:, None] * (EXP.inverse(eta) - y * EXP.log_inverse(eta)),
                                  axis=0)
            low = jnp.minimum(low, jnp.min(jnp.where(v[:, None] > 0, eta, jnp.inf), axis=0))
            return loss, gX + X.T @ resid, gb + jnp.sum(resid, axis=0), low

        z = jnp.zeros(N, self.dt)
        init = (z, jnp.zeros((F, N), self.dt), z, jnp.full(N, jnp.inf, self.dt))
        loss, gX, gb, low = _over_chunks(self.data, self.geo, self.axis, fn, init, self.dt)
        loss, gX, gb = (_psum(a, self.axis) for a in (loss, gX, gb))
        if self.axis is not None:
            low = jax.lax.pmin(low, self.axis)
        return loss / self.T, gX / self.T, gb / self.T, low

    def loss_along(self, W, b, dW, db):
        """``t -> data loss at (W + t dW, b + t db)`` (N,), one pass per call."""
        N = W.shape[1]
        WdW = jnp.concatenate([W, dW], axis=1)

        def at(t):
            def fn(acc, X, y, v):
                Z = X @ WdW
                eta = Z[:, :N] + b + t * (Z[:, N:] + db)
                return acc + jnp.sum(
                    v[:, None] * (EXP.inverse(eta) - y * EXP.log_inverse(eta)), axis=0)

            return self._sum(fn, jnp.zeros(N, self.dt)) / self.T

        return at

    def hessian_vector(self, W, b, Mf, l2):
        """``V (F+1, N) -> H V`` at ``(W, b)``, products in ``self.low`` precision."""
        F, N = W.shape
        Wl, bl = W.astype(self.low), b.astype(self.low)

        def hv(V):
            Vl = V.astype(self.low)
            WV = jnp.concatenate([Wl, Vl[:F]], axis=1)

            def fn(acc, X, y, v):
                Z = X @ WV
                U = (v[:, None] * EXP.inverse(Z[:, :N] + bl)) * (Z[:, N:] + Vl[F])
                return acc + jnp.concatenate([X.T @ U, jnp.sum(U, axis=0)[None]], axis=0)

            out = self._sum(fn, jnp.zeros((F + 1, N), self.low), self.low)
            return (out.astype(self.dt) / self.T) * Mf + l2 * V.at[F].set(0.0)

        return hv

    def gram(self, F, N):
        """``X^T X / T`` (F, F), ``X^T 1 / T`` (F,) and the mean target (N,)."""

        def fn(acc, X, y, v):
            G, s, ys = acc
            Xv = X * v[:, None]
            return G + X.T @ Xv, s + jnp.sum(Xv, axis=0), ys + v @ y

        init = (jnp.zeros((F, F), self.dt), jnp.zeros(F, self.dt), jnp.zeros(N, self.dt))
        G, s, ys = self._sum(fn, init)
        return G / self.T, s / self.T, ys / self.T

    def hessians(self, W, b, M, l2):
        """Masked, augmented Hessians ``(N, F+1, F+1)`` of the smooth part at ``(W, b)``
        (as ``newton._hessians``, from :meth:`hessian_blocks`)."""
        Hww, hwb, hbb = self.hessian_blocks(W, b)
        return jax.vmap(_augmented_hessian, (0, 1, 0, 1, None))(Hww, hwb, hbb, M, l2)

    def hessian_blocks(self, W, b):
        """Per neuron ``X^T diag(lambda) X / T`` (N, F, F), ``X^T lambda / T`` (F, N) and
        ``mean(lambda)`` (N,) at ``(W, b)``."""
        F, N = W.shape

        def fn(acc, X, y, v):
            Hww, hwb, hbb = acc
            R = EXP.inverse(X @ W + b) * v[:, None]
            H = jax.lax.map(lambda r: (X * r[:, None]).T @ X, R.T)
            return Hww + H, hwb + X.T @ R, hbb + jnp.sum(R, axis=0)

        init = (jnp.zeros((N, F, F), self.dt), jnp.zeros((F, N), self.dt),
                jnp.zeros(N, self.dt))
        Hww, hwb, hbb = self._sum(fn, init)
        return Hww / self.T, hwb / self.T, hbb / self.T


def _placeholder_state(W0, b0, N, F, dt):
    """The glm solvers' loop state with a ``(1, N)`` placeholder for the linear predictor
    (a streamed fit keeps none; ``_take_step`` then adds ``t * 0`` to it)."""
    from ..glm.newton import _initial_state

    return _initial_state(jnp.zeros((1, F), dt), W0, b0, N)


def _report(progress, axis, k, f, kkt, active):
    """Progress from the first device only (every device runs the same loop)."""
    if not progress:
        return
    if axis is None:
        _report_fit(True, k, f, kkt, active)
    else:
        jax.lax.cond(jax.lax.axis_index(axis) == 0,
                     lambda: _report_fit(True, k, f, kkt, active), lambda: None)


def _solve_local(data, M, groups, alpha, ratio, tol, maxiter, *, geo, kind, solver, masked,
                 axis, progress=False):
    """One device's part of the fit (all sums over time are psum over ``axis``)."""
    pen = Penalty.of(kind, alpha, ratio, groups)
    dt = data.basis.dtype
    F, N = M.shape
    ops = _Ops(data, geo, axis, dt)
    XtX, colmean, ybar = ops.gram(F, N)
    scale = _scale_from_mean_squares(jnp.diagonal(XtX))  # units of the KKT test, as dense
    W0 = jnp.zeros((F, N), dt)
    b0 = jnp.log(ybar)
    l2 = pen.l2
    Mf = jnp.concatenate([M, jnp.ones((1, N), dt)], axis=0)

    def cond(s):
        return (s["k"] < maxiter) & jnp.any(s["active"])

    if solver == "newton-cg":
        precond = _gram_preconditioner(_augmented_gram(XtX, colmean), ybar, M, l2, masked)
        floor = 1e-5 if jnp.finfo(ops.low).bits <= 32 else 1e-10

        def body(s):
            W, b, active = s["W"], s["b"], s["active"]
            f_data, gX, gb, _ = ops.value_grad(W, b)
            gW = gX * M + l2 * W
            kkt = pen.smooth_part().kkt_residual(W, gW, gb, M, scale)
            done = active & (kkt <= tol)
            g = jnp.concatenate([gW, gb[None]], axis=0)
            d, ncg = _truncated_cg(ops.hessian_vector(W, b, Mf, l2), precond, g, active, Mf,
                                   4 * (F + 1), floor)
            dW, db = d[:F], d[F]
            decrease = jnp.sum(g * d, axis=0)
            f0 = f_data + pen.ridge(W)
            _report(progress, axis, s["k"], f0, kkt, active)
            t, ok = _line_search(None, None, W, dW, b, db, None, f0, decrease, active,
                                 pen.smooth_part(), data_loss_at=ops.loss_along(W, b, dW, db))
            return dict(_take_step(s, W, b, s["eta"], t, dW, db, 0.0, active, ok, done),
                        n_cg=s["n_cg"] + ncg)

        state = dict(_placeholder_state(W0, b0, N, F, dt), n_cg=0)
    else:
        smooth = kind in ("none", "ridge")

        def body(s):
            W, b, active = s["W"], s["b"], s["active"]
            f_data, gX, gb, _ = ops.value_grad(W, b)
            gW = gX * M + l2 * W
            kkt = pen.kkt_residual(W, gW, gb, M, scale)
            done = active & (kkt <= tol)
            H = ops.hessians(W, b, M, l2)
            f0 = f_data + pen.ridge(W) + pen.nonsmooth(W)
            _report(progress, axis, s["k"], f0, kkt, active)
            dW, db, decrease = _newton_direction(H, gW, gb, W, b, M, pen, kkt, active, tol,
                                                 smooth)
            t, ok = _line_search(None, None, W, dW, b, db, None, f0, decrease, active, pen,
                                 data_loss_at=ops.loss_along(W, b, dW, db))
            return _take_step(s, W, b, s["eta"], t, dW, db, 0.0, active, ok, done)

        state = _placeholder_state(W0, b0, N, F, dt)

    s = jax.lax.while_loop(cond, body, state)
    W = s["W"] * M
    f_data, gX, gb, low = ops.value_grad(W, s["b"])
    gW = gX * M + l2 * W
    f = f_data + pen.ridge(W) + pen.nonsmooth(W)
    kkt = pen.kkt_residual(W, gW, gb, M, scale)
    # the verdict at the returned coefficients, as the dense fit's (glm/solve.py)
    converged = jnp.all(jnp.isfinite(W), axis=0) & jnp.isfinite(s["b"]) & (kkt <= tol)
    return dict(W=W, b=s["b"], n_iter=s["n_iter"], converged=converged,
                kkt=kkt, objective=f,
                lowest=low - jnp.log(ybar), last_step=s["last_step"],
                n_cg=s.get("n_cg", 0))


def _shard_map(fn, mesh, in_specs, out_specs):
    """``shard_map`` without replication checks (the loops carry psum-ed values), on the
    JAX of the venv (``jax.shard_map``) and older ones (``jax.experimental``)."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                             check_vma=False)
    from jax.experimental.shard_map import shard_map

    return shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_rep=False)


def _sharded(fn, mesh, n_rest, out_split=False):
    """``fn(data, *rest, axis=...)`` on each device's block: data split along the mesh
    axis, the ``n_rest`` other arguments replicated, the outputs replicated (or split
    along time with ``out_split``). Without a mesh: ``fn`` with ``axis=None``."""
    if mesh is None:
        return partial(fn, axis=None)
    axis = mesh.axis_names[0]
    P = jax.sharding.PartitionSpec
    data_spec = _Data(P(axis), P(axis), P(axis), P())
    return _shard_map(partial(fn, axis=axis), mesh, (data_spec,) + (P(),) * n_rest,
                      P(axis) if out_split else P())


@partial(jax.jit, static_argnames=("geo", "kind", "solver", "masked", "mesh", "progress"))
def _solve_design(data, M, groups, alpha, ratio, tol, maxiter, *, geo, kind, solver, masked,
                  mesh, progress=False):
    run = _sharded(partial(_solve_local, geo=geo, kind=kind, solver=solver, masked=masked,
                           progress=progress), mesh, 6)
    return run(data, M, groups, alpha, ratio, tol, maxiter)


def _objective_local(data, W, b, groups, alpha, ratio, *, geo, kind, axis):
    ops = _Ops(data, geo, axis, data.basis.dtype)
    pen = Penalty.of(kind, alpha, ratio, groups)
    return ops.value_grad(W, b)[0] + pen.ridge(W) + pen.nonsmooth(W)


@partial(jax.jit, static_argnames=("geo", "kind", "mesh"))
def _objective_design(data, W, b, groups, alpha, ratio, *, geo, kind, mesh):
    run = _sharded(partial(_objective_local, geo=geo, kind=kind), mesh, 5)
    return run(data, W, b, groups, alpha, ratio)


def _predictor_local(data, W, b, *, geo, axis):
    """This device's linear predictor ``X W + b``, ``(1, L, N)``."""
    def fn(c, out):
        X = _design_chunk(geo, data.basis, data.counts[0],
                          None if data.inputs is None else data.inputs[0], c)
        return jax.lax.dynamic_update_slice_in_dim(out, X @ W + b, c * geo.chunk, axis=0)

    L = geo.chunk * geo.chunks_per_block
    out = jax.lax.fori_loop(0, geo.chunks_per_block, fn,
                            jnp.zeros((L, W.shape[1]), data.basis.dtype))
    return out[None]


def _fisher_local(data, W, b, M, l2, *, geo, axis):
    """Augmented, masked Hessians ``(N, F+1, F+1)`` (as ``newton._hessians``, exact
    products) and the penalised gradient ``(F+1, N)`` at ``(W, b)``: what
    :mod:`coupling_tutorial.glm.fisher` needs from the data."""
    ops = _Ops(data, geo, axis, data.basis.dtype)
    H = ops.hessians(W, b, M, l2)
    _, gX, gb, _ = ops.value_grad(W, b)
    return H, jnp.concatenate([gX * M + l2 * W, gb[None]], axis=0)


@partial(jax.jit, static_argnames=("geo", "mesh"))
def _fisher_design(data, W, b, M, l2, *, geo, mesh):
    return _sharded(partial(_fisher_local, geo=geo), mesh, 4)(data, W, b, M, l2)


@partial(jax.jit, static_argnames=("geo", "mesh"))
def _predictor_design(data, W, b, *, geo, mesh):
    return _sharded(partial(_predictor_local, geo=geo), mesh, 2, out_split=True)(data, W, b)
