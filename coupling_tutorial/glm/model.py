"""The estimators :class:`PopulationGLM` and :class:`GLM` (Chapter 2)."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from .._validation import (
    ArgumentTypeError,
    _describe,
    as_array,
    check_finite,
    check_int,
    check_mask,
    check_positive,
    check_scalar,
)
from ..links import EXP
from ..progress import _check_progress, _start
from ._inputs import _flatten_mask, _flatten_X, _unflatten, _usable_rows
from .fisher import StandardErrors, _standard_errors
from .objective import _objective
from .penalties import _PUBLIC_NAMES, _REGULARIZERS, Penalty
from .solve import (
    _DEFAULT_MAXITER,
    _default_tol,
    _NEWTON_MAX_FEATURES,
    _redundant_columns,
    _SCORES,
    _solve,
    _SOLVERS,
)

__all__ = ["PopulationGLM", "GLM", "ConvergenceWarning", "StandardErrors"]


class ConvergenceWarning(UserWarning):
    """The fit stopped before reaching the optimum, or the optimum may not exist or not be
    unique (the coefficients are then not identifiable)."""


def _check_spikes(totals):
    """Raise unless every neuron's total count ``totals`` (n_neurons,) is positive."""
    silent = np.flatnonzero(np.asarray(totals) == 0)
    if silent.size:
        raise ValueError(
            f"`y` must have at least one spike per neuron in the rows used for fitting; "
            f"got none for neuron(s) {silent.tolist()}. Their maximum-likelihood rate is 0 "
            "(intercept -inf, for any penalty on the coefficients): drop them from the fit.")


class PopulationGLM:
    r"""Poisson GLM (exp link) for a population of neurons, fitted to the optimum.

    Minimises :eq:`glm-objective`: for each neuron :math:`i`,
    :math:`\frac1T\sum_t(\lambda_{ti} - y_{ti}\log\lambda_{ti}) + P(w_i)` with
    :math:`\lambda = \exp(X (W\odot M) + b)`; the penalty conventions are NeMoS's (see the
    module docstring).

    Parameters
    ----------
    regularizer : {None, "UnRegularized", "Ridge", "Lasso", "ElasticNet", "GroupLasso"}
        Penalty on the coefficients (names are case-insensitive). The intercept is never
        penalised.
    regularizer_strength : float or (float, float), optional
        :math:`\alpha \ge 0` (required for every penalty). For ``"ElasticNet"`` also
        ``(alpha, ratio)`` with the L1 share ``ratio`` in ``[0, 1]`` (default 0.5).
    solver : {None, "newton", "newton-cg", "proximal-gradient"}
        ``None`` picks ``"newton"`` for non-smooth penalties or at most 63 features,
        ``"newton-cg"`` otherwise.
    tol : float, optional
        Stop when the KKT residual (largest entry of the minimum-norm subgradient) is at
        most ``tol``. Default ``1e-8`` in float64, ``1e-5`` in float32.
    maxiter : int, optional
        Maximum iterations (default 100 for the Newton solvers, 10000 for
        ``"proximal-gradient"``).
    feature_mask : array_like of 0/1, shape ``(n_features, n_neurons)``, or dict, optional
        ``M[f, i] = 1`` lets neuron ``i`` use feature ``f``. With a dict ``X``, a dict with
        the same keys whose leaves are ``(n_neurons,)`` (one flag per input group) or
        ``(n_features_of_leaf, n_neurons)``.
    group_mask : array_like of 0/1, shape ``(n_groups, n_features)``, optional
        Groups for ``"GroupLasso"`` (NeMoS's ``GroupLasso(mask=...)``); disjoint rows.
        Default with a dict ``X``: one group per entry.
    progress : bool or callable, optional
        Report the fit's progress (off by default): ``True`` shows the iteration, the
        objective (summed over neurons), the largest KKT residual, the neurons still
        iterating and the elapsed time, as a bar in a notebook or a text line on
        ``sys.stderr`` (at most 10 refreshes per second); a callable receives a
        :class:`~coupling_tutorial.FitProgress` per iteration (see
        :mod:`coupling_tutorial.progress`). It is a setting of the estimator, like the
        others, not an argument of :meth:`fit`. The fitted values do not depend on it.

    Attributes
    ----------
    coef_ : jax.Array, shape ``(n_features, n_neurons)`` (or a dict mirroring ``X``)
    intercept_ : jax.Array, shape ``(n_neurons,)``
        Both can be replaced on a fitted model, e.g. on a ``copy.copy`` of it, to predict,
        score or test stability with edited couplings: the new values must have the fitted
        shapes (keys for a dict), be finite and be 0 where ``feature_mask`` is 0, and take
        the fit's dtype. The fit's diagnostics below still describe the fit.
    n_iter_ : numpy.ndarray of int, shape ``(n_neurons,)``
        Iterations each neuron needed.
    converged_ : numpy.ndarray of bool, shape ``(n_neurons,)``
    kkt_residual_ : numpy.ndarray, shape ``(n_neurons,)``
        Optimality measure at the returned coefficients (0 at the exact optimum).
    objective_ : numpy.ndarray, shape ``(n_neurons,)``
        Penalised objective per neuron at the returned coefficients.
    solver_ : str
        The solver that was used.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> X = jax.random.normal(jax.random.key(0), (2000, 3))
    >>> y = jax.random.poisson(jax.random.key(1), jnp.exp(X @ jnp.array([[.5, 0.], [0., -.3], [.2, .1]]) - 1.0))
    >>> model = ct.PopulationGLM().fit(X, y)
    >>> model.coef_.shape, bool(model.converged_.all()), bool(model.kkt_residual_.max() < 1e-6)
    ((3, 2), True, True)
    """

    _single = False

    def __init__(self, regularizer=None, regularizer_strength=None, solver=None, tol=None,
                 maxiter=None, feature_mask=None, group_mask=None, progress=False):
        self.regularizer = regularizer
        self.regularizer_strength = regularizer_strength
        self.solver = solver
        self.tol = tol
        self.maxiter = maxiter
        self.feature_mask = feature_mask
        self.group_mask = group_mask
        self.progress = progress
        self._check_settings()

    # ---------------------------------------------------------------- settings
    def _check_settings(self):
        reg = self.regularizer
        key = reg.lower().replace("_", "").replace("-", "") if isinstance(reg, str) else reg
        if key not in _REGULARIZERS:
            raise ValueError(
                "`regularizer` must be one of None, 'UnRegularized', 'Ridge', 'Lasso', "
                f"'ElasticNet', 'GroupLasso'; got {reg!r}.")
        kind = _REGULARIZERS[key]
        strength, ratio = self.regularizer_strength, 0.5
        if kind == "none":
            if strength is not None:
                raise ValueError("`regularizer_strength` must be None without a regularizer; "
                                 f"got {strength!r}.")
            strength = 0.0
        else:
            if strength is None:
                raise ValueError(f"`regularizer_strength` must be given for regularizer "
                                 f"'{_PUBLIC_NAMES[kind]}'; got None.")
            if kind == "elasticnet" and isinstance(strength, (tuple, list)):
                if len(strength) != 2:
                    raise ValueError("`regularizer_strength` must be alpha or (alpha, ratio) "
                                     f"for ElasticNet; got {strength!r}.")
                strength, ratio = strength
                check_positive(ratio, "regularizer_strength ratio", strict=False)
                if not 0.0 <= float(ratio) <= 1.0:
                    raise ValueError("`regularizer_strength` ratio must be in [0, 1]; "
                                     f"got {ratio!r}.")
            strength = check_scalar(strength, "regularizer_strength", "nonneg")
        solver = self.solver
        if solver is not None and solver not in _SOLVERS:
            raise ValueError(f"`solver` must be one of None, {', '.join(map(repr, _SOLVERS))}; "
                             f"got {solver!r}.")
        if solver == "newton-cg" and kind not in ("none", "ridge"):
            raise ValueError(f"`solver` must be 'newton' or 'proximal-gradient' for the "
                             f"non-smooth regularizer '{_PUBLIC_NAMES[kind]}'; got 'newton-cg'.")
        if self.tol is not None:
            check_scalar(self.tol, "tol", "positive")
        if self.maxiter is not None:
            check_int(self.maxiter, "maxiter")
        if self.group_mask is not None and kind != "grouplasso":
            raise ValueError(f"`group_mask` must be None unless regularizer='GroupLasso'; "
                             f"got a mask with regularizer '{_PUBLIC_NAMES[kind]}'.")
        _check_progress(self.progress)
        return kind, float(strength), float(ratio)

    def _groups(self, kind, structure, n_features):
        if kind != "grouplasso":
            return None
        if self.group_mask is None:
            if structure is None:
                raise ValueError("`group_mask` must be given for GroupLasso when X is an "
                                 "array (one row per group); got None.")
            rows, start = [], 0
            for _, size in structure:
                row = np.zeros(n_features)
                row[start:start + size] = 1.0
                rows.append(row)
                start += size
            return jnp.asarray(np.array(rows), dtype=jnp.result_type(float))
        g = as_array(self.group_mask, "group_mask", ndim=2)
        g = check_mask(g, "group_mask", (g.shape[0], n_features))
        if np.any(np.asarray(g).sum(axis=0) > 1):
            raise ValueError("`group_mask` must assign each feature to at most one group; "
                             "got overlapping groups.")
        return g

    # ---------------------------------------------------------------- data
    def _prepare(self, X, y, fitting):
        Xf, structure = _flatten_X(X)
        if fitting:
            self._structure = structure
        elif structure != self._structure:
            want = "an array" if self._structure is None else (
                f"a dict with keys/columns {self._structure}")
            raise ValueError(f"`X` must have the structure used in fit ({want}); "
                             f"got {'an array' if structure is None else structure}.")
        if y is None:
            if fitting:
                raise ArgumentTypeError("`y` must be an array of spike counts; got None.")
            return Xf, None, structure
        y = as_array(y, "y", ndim=1 if self._single else 2)
        if self._single:
            y = y[:, None]
        if y.shape[0] != Xf.shape[0]:
            raise ValueError(f"`y` must have as many samples as `X` ({Xf.shape[0]}); "
                             f"got {y.shape[0]}.")
        y = y.astype(Xf.dtype)
        return Xf, y, structure

    def _mask_array(self, structure, n_features, n_neurons):
        if self.feature_mask is None:
            return None
        return _flatten_mask(self.feature_mask, structure, n_features, n_neurons, self._single)

    def _check_fitted(self):
        if not hasattr(self, "_W"):
            raise ValueError("`model` must be fitted before use; call fit(X, y) first.")
        current = self._mask_array(self._structure, self._W.shape[0], self._W.shape[1])
        same = (current is None and self._fit_mask is None) or (
            current is not None and self._fit_mask is not None
            and current.shape == self._fit_mask.shape
            and bool(jnp.all(current == self._fit_mask)))
        if not same:
            raise ValueError("`feature_mask` must be the mask used in fit; it was changed after "
                             "fitting. Refit the model with the new mask.")

    # ---------------------------------------------------------------- fitted values
    @property
    def coef_(self):
        """Fitted coefficients, in the layout of ``X`` (settable on a fitted model)."""
        if "_W" not in self.__dict__:
            raise AttributeError("`coef_` exists only after fit(X, y).")
        return _unflatten(self._W[:, 0] if self._single else self._W, self._structure)

    @coef_.setter
    def coef_(self, value):
        self._W = self._replacement_coef(value)

    @property
    def intercept_(self):
        """Fitted intercepts, shape ``(n_neurons,)`` (settable on a fitted model)."""
        if "_b" not in self.__dict__:
            raise AttributeError("`intercept_` exists only after fit(X, y).")
        return self._b

    @intercept_.setter
    def intercept_(self, value):
        self._check_replaceable("intercept_")
        shape = self._b.shape
        b = as_array(value, "intercept_", ndim=1)
        if b.shape != shape:
            raise ValueError(f"`intercept_` must have the fitted shape {shape}; got shape "
                             f"{b.shape}.")
        check_finite(b, "intercept_")
        self._b = b.astype(self._b.dtype)

    def _check_replaceable(self, name):
        if "_W" not in self.__dict__:
            raise ValueError(f"`{name}` can be set only on a fitted model (it keeps the fit's "
                             "features, mask and dtype); call fit(X, y) first.")

    def _replacement_coef(self, value):
        """``value`` (shaped like ``coef_``) as the ``(n_features, n_neurons)`` matrix of the
        fit's dtype, validated: the fitted shape (keys for a dict), finite, 0 where the
        fit's ``feature_mask`` is 0."""
        self._check_replaceable("coef_")
        F, N = self._W.shape
        lead = () if self._single else (N,)
        if self._structure is None:
            if isinstance(value, dict):
                raise ValueError(f"`coef_` must be an array of the fitted shape {(F, *lead)} "
                                 f"(the model was fitted on an array X); got a dict with keys "
                                 f"{sorted(value)}.")
            parts = [("coef_", value, F)]
        else:
            keys = [k for k, _ in self._structure]
            if not isinstance(value, dict) or sorted(value) != keys:
                raise ValueError(f"`coef_` must be a dict with the keys of the fitted X "
                                 f"{keys}; got {_describe(value)}.")
            parts = [(f"coef_['{k}']", value[k], size) for k, size in self._structure]
        blocks = []
        for name, leaf, size in parts:
            w = as_array(leaf, name)
            if w.shape != (size, *lead):
                raise ValueError(f"`{name}` must have the fitted shape {(size, *lead)}; got "
                                 f"shape {w.shape}.")
            check_finite(w, name)
            blocks.append(w.reshape(size, -1).astype(self._W.dtype))
        W = jnp.concatenate(blocks, axis=0)
        if self._fit_mask is not None:
            off = np.argwhere(np.asarray((W != 0) & (self._fit_mask == 0)))
            if off.size:
                f, i = (int(v) for v in off[0])
                where = f"feature {f}" + ("" if self._single else f", neuron {i}")
                raise ValueError(
                    f"`coef_` must be 0 where the fit's feature_mask is 0 (the model does not "
                    f"use those features); got {off.shape[0]} nonzero entr"
                    f"{'y' if off.shape[0] == 1 else 'ies'}, the first at {where}.")
        return W

    # ---------------------------------------------------------------- API
    def fit(self, X, y):
        r"""Fit coefficients and intercepts by minimising :eq:`glm-objective`.

        Parameters
        ----------
        X : array_like, shape ``(n_samples, n_features)``, or dict of such arrays
            Design matrix; rows with NaN are dropped (with the same rows of ``y``); inf
            raises a ``ValueError``.
        y : array_like, shape ``(n_samples, n_neurons)``
            Spike counts (non-negative integers). Rows with NaN are dropped too (as NeMoS
            does), with a ``UserWarning`` when ``X`` is finite in those rows.

        Returns
        -------
        self

        Notes
        -----
        Guarantees: the coefficients are finite, and ``converged_`` is True only where the
        KKT residual at the returned coefficients is at most ``tol``. The residual is
        measured in standardised columns (each feature's entry divided by its column's RMS),
        so the test does not depend on the units of ``X``. Without a penalty, a
        rank-deficient design (a constant column, duplicated or collinear columns) has
        many optima with the same objective: the Newton solver then takes minimum-norm
        steps and returns one of them, with a ``ConvergenceWarning`` that the coefficients
        are not identifiable.
        """
        kind, alpha, ratio = self._check_settings()
        if getattr(X, "_lazy_design", False):  # a coupling_tutorial.scale.CouplingDesign
            from ..scale._model import fit_design
            return fit_design(self, X, y, kind, alpha, ratio)
        Xf, y, structure = self._prepare(X, y, fitting=True)
        n_samples, n_features = Xf.shape
        n_neurons = y.shape[1]
        Xf, y = _usable_rows(Xf, y)
        M = self._mask_array(structure, n_features, n_neurons)
        masked = M is not None
        Mf = jnp.ones((n_features, n_neurons), Xf.dtype) if M is None else M.astype(Xf.dtype)
        _check_spikes(jnp.sum(y, axis=0))
        groups = self._groups(kind, structure, n_features)
        solver, tol, maxiter = self._solver_settings(kind, n_features, Xf.dtype)
        with _start(self.progress, f"{type(self).__name__} ({solver})", n_neurons=n_neurons,
                    tol=tol) as run:
            out = _solve(Xf, y, Mf, groups, alpha, ratio, tol, maxiter,
                         kind=kind, solver=solver, masked=masked, progress=run.on)
            run.finish_fit(out)
        self._store_fit(out, M, structure, kind, solver, tol, maxiter)
        if alpha == 0.0:
            redundant = _redundant_columns(Xf, Mf)
            if redundant.any():
                who = "" if self._single else " for neuron(s) {}".format(
                    np.flatnonzero(redundant).tolist()[:10])
                warnings.warn(
                    f"The coefficients are not identifiable{who}: the design with the "
                    f"intercept has {int(redundant.max())} redundant direction(s) (a constant, "
                    "duplicated or collinear column), so the unpenalised optimum is not "
                    "unique. One optimum (finite, same objective) is returned; remove the "
                    "redundant columns or add a ridge penalty.", ConvergenceWarning,
                    stacklevel=2)
        return self

    def _store_fit(self, out, M, structure, kind, solver, tol, maxiter):
        """Set the fitted attributes from a solver's output, warn, return self."""
        self._W, self._b = out["W"], out["b"]
        self._fit_mask = M
        self.n_iter_ = np.asarray(out["n_iter"])
        self.converged_ = np.asarray(out["converged"])
        self.kkt_residual_ = np.asarray(out["kkt"])
        self.objective_ = np.asarray(out["objective"])
        self.n_cg_iter_ = int(out["n_cg"])
        self.solver_ = solver
        if self._single:
            self.n_iter_, self.converged_ = int(self.n_iter_[0]), bool(self.converged_[0])
            self.kkt_residual_ = float(self.kkt_residual_[0])
            self.objective_ = float(self.objective_[0])
        self._warn(out, kind, solver, tol, maxiter)
        return self

    def _solver_settings(self, kind, n_features, dtype):
        """The solver, tolerance and iteration limit a fit uses (defaults resolved)."""
        solver = self.solver
        if solver is None:
            solver = ("newton" if kind not in ("none", "ridge")
                      or n_features + 1 <= _NEWTON_MAX_FEATURES else "newton-cg")
        tol = _default_tol(dtype) if self.tol is None else float(self.tol)
        maxiter = _DEFAULT_MAXITER[solver] if self.maxiter is None else int(self.maxiter)
        return solver, tol, maxiter

    def _warn(self, out, kind, solver, tol, maxiter):
        conv = np.asarray(out["converged"])
        kkt = np.asarray(out["kkt"])
        who = "" if self._single else " for neuron(s) {}"
        if not conv.all():
            bad = np.flatnonzero(~conv).tolist()
            warnings.warn(
                f"{type(self).__name__} did not converge{who.format(bad[:10])}: KKT residual "
                f"{kkt[~conv].max():.2e} > tol={tol:g} after {maxiter} iterations or a failed "
                f"line search (solver='{solver}'). Increase `maxiter`, use solver='newton' "
                "(or float64 if running in float32), or add a ridge penalty if the data "
                "separate.", ConvergenceWarning, stacklevel=3)
        if kind == "none":
            # the MLE does not exist when a feature direction drives some rates to 0 without
            # bound: the fit "converges" (the gradient vanishes like the rates) with tiny
            # rates and Newton steps that stay large; at a true optimum the last step is tiny
            lowest = np.asarray(out["lowest"])
            last = np.asarray(out["last_step"])
            sep = (lowest < math.log(1e-4)) & (last > 0.1)
            if sep.any():
                bad = np.flatnonzero(sep).tolist()
                warnings.warn(
                    f"The maximum-likelihood estimate probably does not exist"
                    f"{who.format(bad[:10])}: some predicted rates are driven to ~0 "
                    f"(down to {math.exp(lowest[sep].min()):.1e} x the mean rate) by "
                    "coefficients that keep growing (a feature is non-zero only in bins "
                    "without spikes). Add a ridge penalty (regularizer='Ridge') or remove "
                    "that feature.", ConvergenceWarning, stacklevel=3)

    def predict(self, X):
        r"""Predicted rates :math:`\exp(X(W\odot M) + b)` (counts per bin).

        Parameters
        ----------
        X : array_like, shape ``(n_samples, n_features)``, or dict

        Returns
        -------
        jax.Array, shape ``(n_samples, n_neurons)`` (``(n_samples,)`` for :class:`GLM`)
            NaN where the row of ``X`` has NaN; inf in ``X`` raises a ``ValueError``.
        """
        self._check_fitted()
        if getattr(X, "_lazy_design", False):
            from ..scale._model import predict_design
            return predict_design(self, X)
        Xf, _, _ = self._prepare(X, None, fitting=False)
        if Xf.shape[1] != self._W.shape[0]:
            raise ValueError(f"`X` must have {self._W.shape[0]} features; got {Xf.shape[1]}.")
        check_finite(Xf, "X", allow_nan=True)  # NaN rows: NaN predictions (documented)
        rate = EXP.inverse(Xf @ self._W + self._b)
        return rate[:, 0] if self._single else rate

    def objective(self, X, y):
        r"""Penalised objective :eq:`glm-objective` per neuron at the fitted parameters.

        Parameters
        ----------
        X : array_like, shape ``(n_samples, n_features)``, or dict
        y : array_like, shape ``(n_samples, n_neurons)`` (``(n_samples,)`` for :class:`GLM`)
            Rows with NaN in ``X`` or ``y`` are dropped as in :meth:`fit` (with the same
            ``UserWarning`` for NaN in ``y`` only); inf in ``X`` raises a ``ValueError``.

        Returns
        -------
        jax.Array, shape ``(n_neurons,)`` (a scalar for :class:`GLM`)
        """
        if getattr(X, "_lazy_design", False):
            from ..scale._model import objective_design
            return objective_design(self, X, y)
        Xf, y = self._score_data(X, y)
        kind, alpha, ratio = self._check_settings()
        groups = self._groups(kind, self._structure, Xf.shape[1])
        f = _objective(Xf, y, self._W, self._b, Penalty.of(kind, alpha, ratio, groups))
        return f[0] if self._single else f

    def _score_data(self, X, y):
        self._check_fitted()
        if y is None:
            raise ArgumentTypeError("`y` must be an array of spike counts; got None.")
        Xf, y, _ = self._prepare(X, y, fitting=False)
        if Xf.shape[1] != self._W.shape[0]:
            raise ValueError(f"`X` must have {self._W.shape[0]} features; got {Xf.shape[1]}.")
        if y.shape[1] != self._W.shape[1]:
            raise ValueError(f"`y` must have {self._W.shape[1]} neurons; got {y.shape[1]}.")
        return _usable_rows(Xf, y, stacklevel=4)

    def score(self, X, y, score_type="log-likelihood", aggregate_sample_scores=jnp.mean):
        r"""Log-likelihood or pseudo-:math:`R^2` of the fitted model (NaN rows dropped).

        * ``"log-likelihood"``: ``aggregate_sample_scores`` of the full Poisson
          log-likelihood :math:`y\log\lambda - \lambda - \log y!` of every entry
          (default: the mean over all ``n_samples * n_neurons`` entries, as NeMoS).
        * ``"pseudo-r2-McFadden"``: :math:`1 - \mathrm{LL}_\text{model}/\mathrm{LL}_\text{null}`,
          the null model predicting each neuron's mean count.
        * ``"pseudo-r2-Cohen"``: :math:`(D_0 - D_M)/D_0` with Poisson deviances
          :math:`D = 2\,\mathrm{agg}[y\log(y/\lambda) - (y - \lambda)]`.

        Parameters
        ----------
        X : array_like, shape ``(n_samples, n_features)``, or dict
        y : array_like, shape ``(n_samples, n_neurons)``
            Rows with NaN in ``X`` or ``y`` are dropped as in :meth:`fit` (with the same
            ``UserWarning`` for NaN in ``y`` only); inf in ``X`` raises a ``ValueError``.
        score_type : str
        aggregate_sample_scores : callable
            Maps the ``(n_samples, n_neurons)`` per-entry scores to the result (e.g.
            ``lambda s: s.mean(axis=0)`` for one score per neuron).

        Returns
        -------
        jax.Array
        """
        if score_type not in _SCORES:
            raise ValueError(f"`score_type` must be one of {', '.join(map(repr, _SCORES))}; "
                             f"got {score_type!r}.")
        if not callable(aggregate_sample_scores):
            raise ValueError("`aggregate_sample_scores` must be callable; got "
                             f"{type(aggregate_sample_scores).__name__}.")
        if getattr(X, "_lazy_design", False):
            from ..scale._model import rate_design
            y, rate = rate_design(self, X, y)
        else:
            Xf, y = self._score_data(X, y)
            rate = EXP.inverse(Xf @ self._W + self._b)
        null = jnp.broadcast_to(jnp.mean(y, axis=0), y.shape)

        def ll(r):
            return aggregate_sample_scores(jax.scipy.special.xlogy(y, r) - r - gammaln(y + 1.0))

        def dev(r):
            return 2.0 * aggregate_sample_scores(
                jax.scipy.special.xlogy(y, y) - jax.scipy.special.xlogy(y, r) - (y - r))

        if score_type == "log-likelihood":
            return ll(rate)
        if score_type == "pseudo-r2-McFadden":
            return 1.0 - ll(rate) / ll(null)
        d0 = dev(null)
        return (d0 - dev(rate)) / d0

    def standard_errors(self, X, y):
        r"""Standard errors of ``coef_`` and ``intercept_`` from the observed Fisher information.

        For each neuron :math:`i`, with :math:`\tilde X = [X, \mathbf 1]` restricted to the
        columns its feature mask leaves free, :math:`\hat\lambda` the fitted rates and
        :math:`T` the rows used (NaN rows dropped),

        .. math::

            \widehat{\operatorname{Cov}}(\hat w_i, \hat b_i) = \big(\tilde X^\top
                \operatorname{diag}(\hat\lambda_{\cdot i})\tilde X + T\alpha\,
                \operatorname{diag}(1, \dots, 1, 0)\big)^{-1},

        the inverse of :math:`T` times the Hessian of :eq:`glm-objective` (a *mean* over
        samples, so the Fisher information of the log-likelihood is :math:`T` times it), and
        the standard errors are the square roots of its diagonal.

        * Unpenalised (:math:`\alpha = 0`): the inverse observed (= expected, for the exp
          link) Fisher information, the asymptotic covariance of the maximum-likelihood
          estimate; equal to statsmodels' ``GLM(..., family=Poisson()).fit().bse``.
        * ``"Ridge"``: the ridge objective times :math:`T` is the negative log posterior under
          the prior :math:`w \sim \mathcal N(0, (T\alpha)^{-1} I)` (flat on the intercept),
          and this is the inverse of its Hessian at the mode: the Laplace approximation of the
          *posterior* covariance. It is what the penalty claims to know and it shrinks with
          :math:`\alpha`; the sandwich covariance of the shrunken (biased) estimator would
          not measure the distance to the true coefficients.
        * Lasso, ElasticNet with an L1 part, GroupLasso: a ``ValueError``, because at their
          optimum coefficients sit at the kink of the penalty, where there is no Hessian
          and no valid normal approximation.
        * Masked-out coefficients are fixed at 0, not estimated: their standard error is 0
          and the covariance of the free parameters is the inverse of the Hessian restricted
          to them (not a block of the inverse of the full Hessian).

        Parameters
        ----------
        X : array_like, shape ``(n_samples, n_features)``, dict, or CouplingDesign
            The design the model was fitted to. With a
            :class:`~coupling_tutorial.scale.CouplingDesign` the Hessians are summed chunk
            by chunk (exact products; the ``(N, F+1, F+1)`` covariance is the memory
            needed).
        y : array_like, shape ``(n_samples, n_neurons)`` (``(n_samples,)`` for :class:`GLM`)
            The counts the model was fitted to. A ``ValueError`` is raised if the fitted
            parameters are not the optimum of the objective on ``(X, y)`` (other data, or a
            fit that stopped early: Newton decrement above 1).

        Returns
        -------
        StandardErrors
            ``(coef, intercept)``, shaped like ``coef_`` (a dict when ``X`` is one) and
            ``intercept_``.

        Notes
        -----
        Cost :math:`T F^2` per neuron for the Hessians; see
        :mod:`coupling_tutorial.glm.fisher` for the precision used with many features. When
        ``X`` and ``y`` are JAX arrays the covariance is kept on the model and reused by
        :func:`~coupling_tutorial.inference.coupling_tests` and
        :func:`~coupling_tutorial.inference.filter_confidence_band` on the same arrays.
        Reference: Pawitan (2001), *In All Likelihood*, ch. 2.7 and 8.

        Examples
        --------
        >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
        >>> X = jax.random.normal(jax.random.key(0), (4000, 2))
        >>> y = jax.random.poisson(jax.random.key(1), jnp.exp(X @ jnp.array([0.4, 0.0]) - 1))
        >>> model = ct.GLM().fit(X, y)
        >>> coef_se, intercept_se = model.standard_errors(X, y)
        >>> coef_se.shape, intercept_se.shape
        ((2,), (1,))
        >>> bool(abs(model.coef_[0] - 0.4) < 4 * coef_se[0])
        True
        """
        return _standard_errors(self, X, y)


class GLM(PopulationGLM):
    r"""Poisson GLM (exp link) for a single neuron: :class:`PopulationGLM` with 1-D ``y``.

    Same parameters as :class:`PopulationGLM`; ``feature_mask`` has shape
    ``(n_features,)`` (or, with a dict ``X``, leaves that are scalars or
    ``(n_features_of_leaf,)``); ``coef_`` has shape ``(n_features,)``, ``intercept_``
    shape ``(1,)`` (as NeMoS), ``n_iter_`` is an int and ``converged_`` a bool.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> X = jax.random.normal(jax.random.key(0), (5000, 2))
    >>> y = jax.random.poisson(jax.random.key(1), jnp.exp(X @ jnp.array([0.3, -0.2]) - 0.5))
    >>> model = ct.GLM(regularizer="Ridge", regularizer_strength=0.1).fit(X, y)
    >>> model.coef_.shape, model.intercept_.shape, model.converged_
    ((2,), (1,), True)
    """

    _single = True
