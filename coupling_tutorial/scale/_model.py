"""What :class:`~coupling_tutorial.glm.PopulationGLM` does with a
:class:`~coupling_tutorial.scale.CouplingDesign` ``X`` (fit, predict, objective, score)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..glm.model import _check_spikes
from ..links import EXP
from ..progress import _start
from ._streamed import (_Data, _objective_design, _predictor_design, _solve_design,
                        _target_rows)

_STREAMED_SOLVERS = ("newton", "newton-cg")


def _data(design, y):
    """The arrays of a streamed computation on ``design`` with targets ``y`` (None for
    predict) and its static geometry. When ``y`` is the very counts the design was made of
    (a recording explained by its own past), the targets are read from the blocked counts:
    no second copy of them (77 MB at 256 neurons x 300 000 bins in uint8)."""
    own = y is not None and design._is_counts(y)
    targets = None if y is None or own else design.targets(y)
    return _Data(design.counts, design.inputs, targets, design.basis), design._static(own)


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _target_totals(blocks, start, n_chunks, chunk, dtype):
    """Spikes per target ``(n_targets,)``: rows ``start ... start + n_chunks * chunk - 1``
    of the blocked targets or counts ``(n_blocks, rows, n)``, summed one chunk of rows at a
    time: a sum over the whole array in a wide integer type made XLA materialise it (8x the
    uint8 counts: 0.6 GB at 256 neurons x 300 000 bins, the largest buffer of a streamed
    fit)."""

    def add(i, acc):
        part = jax.lax.dynamic_slice_in_dim(blocks, start + i * chunk, chunk, axis=1)
        return acc + jnp.sum(part, axis=(0, 1), dtype=dtype)

    return jax.lax.fori_loop(0, n_chunks, add, jnp.zeros(blocks.shape[2], dtype))


def _n_targets(model, y):
    a = np.shape(y)
    if model._single:
        if len(a) != 1:
            raise ValueError(f"`y` must be 1-D; got a {len(a)}-D array of shape {a}.")
        return 1
    if len(a) != 2:
        raise ValueError(f"`y` must be 2-D; got a {len(a)}-D array of shape {a}.")
    return a[1]


def fit_design(model, design, y, kind, alpha, ratio):
    """``model.fit(design, y)``: the streamed fit (same optimum as the dense design)."""
    n_features = design.shape[1]
    n_targets = _n_targets(model, y)
    data, geo = _data(design, y)
    targets, start = _target_rows(data, geo)
    _check_spikes(_target_totals(targets, start, geo.chunks_per_block, geo.chunk,
                                 jnp.int64 if design.dtype == np.float64 else jnp.int32))
    M = model._mask_array(None, n_features, n_targets)
    masked = M is not None
    dt = design.dtype
    Mf = jnp.ones((n_features, n_targets), dt) if M is None else M.astype(dt)
    groups = model._groups(kind, None, n_features)
    solver, tol, maxiter = model._solver_settings(kind, n_features, dt)
    if solver not in _STREAMED_SOLVERS:
        raise ValueError(f"`solver` must be one of {_STREAMED_SOLVERS} (or None) with a "
                         f"CouplingDesign; got {solver!r}.")
    with _start(model.progress, f"{type(model).__name__} ({solver}, streamed)",
                n_neurons=n_targets, tol=tol) as run:
        out = _solve_design(data, Mf, groups, alpha, ratio, tol, maxiter,
                            geo=geo, kind=kind, solver=solver, masked=masked,
                            mesh=design.mesh, progress=run.on)
        run.finish_fit(out)
    model._structure = None
    return model._store_fit(out, M, None, kind, solver, tol, maxiter)


def _check_design(model, design):
    model._check_fitted()
    if model._structure is not None:
        raise ValueError("`X` must have the structure used in fit (a dict with keys/columns "
                         f"{model._structure}); got a CouplingDesign.")
    if design.shape[1] != model._W.shape[0]:
        raise ValueError(f"`X` must have {model._W.shape[0]} features; "
                         f"got a CouplingDesign with {design.shape[1]}.")


def _linear_predictor(model, design):
    """``X W + b`` for the rows of the design, ``(n_rows, n_neurons)``."""
    data, geo = _data(design, None)
    eta = _predictor_design(data, model._W, model._b, geo=geo, mesh=design.mesh)
    return eta.reshape(-1, eta.shape[-1])[:design.n_rows]


def predict_design(model, design):
    """``model.predict(design)``: rates ``(n_samples, n_neurons)``, NaN in the first
    ``window_size`` rows (as the dense design's NaN rows)."""
    _check_design(model, design)
    rate = EXP.inverse(_linear_predictor(model, design))
    rate = jnp.concatenate([jnp.full((design.window_size, rate.shape[1]), jnp.nan,
                                     rate.dtype), rate])
    return rate[:, 0] if model._single else rate


def objective_design(model, design, y):
    """``model.objective(design, y)``, streamed."""
    _check_design(model, design)
    _n_targets(model, y)
    kind, alpha, ratio = model._check_settings()
    groups = model._groups(kind, None, design.shape[1])
    data, geo = _data(design, y)
    f = _objective_design(data, model._W, model._b, groups, alpha, ratio, geo=geo, kind=kind,
                          mesh=design.mesh)
    return f[0] if model._single else f


def rate_design(model, design, y):
    """Targets ``y[window_size:]`` and rates ``(n_rows, n_neurons)`` for ``score``."""
    _check_design(model, design)
    _n_targets(model, y)
    design.targets(y)  # (checks y)
    y = jnp.asarray(np.asarray(y)[design.window_size:], design.dtype)
    y = y[:, None] if y.ndim == 1 else y
    return y, EXP.inverse(_linear_predictor(model, design))
