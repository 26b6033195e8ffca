"""Penalties on the coefficients (Chapter 2, "Regularisation and choosing its strength").

:class:`Penalty` holds a penalty's strengths; its methods take coefficients ``W`` of shape
``(F, N)``; values are per neuron.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp


_REGULARIZERS = {
    None: "none",
    "none": "none",
    "unregularized": "none",
    "ridge": "ridge",
    "lasso": "lasso",
    "elasticnet": "elasticnet",
    "grouplasso": "grouplasso",
}


_PUBLIC_NAMES = {"none": "UnRegularized", "ridge": "Ridge", "lasso": "Lasso",
                 "elasticnet": "ElasticNet", "grouplasso": "GroupLasso"}


def _penalty_parts(kind, alpha, ratio):
    """Split a penalty into its smooth (l2) and non-smooth (l1 / group) strengths."""
    if kind == "ridge":
        return alpha, 0.0, 0.0
    if kind == "lasso":
        return 0.0, alpha, 0.0
    if kind == "elasticnet":
        return alpha * (1.0 - ratio), alpha * ratio, 0.0
    if kind == "grouplasso":
        return 0.0, 0.0, alpha
    return 0.0, 0.0, 0.0


def _group_norms(V, groups):
    # groups: (n_groups, F) 0/1 -> (n_groups, N)
    return jnp.sqrt(groups @ (V * V))


class Penalty(NamedTuple):
    r"""A penalty split into the strengths the solvers use (a pytree).

    ``l2``: the smooth (ridge) part, :math:`\tfrac12 l_2 \sum_f w_f^2`; ``l1``: the lasso
    part, :math:`l_1 \sum_f |w_f|`; ``ga``: the group-lasso part,
    :math:`g_a \sum_g \sqrt{|g|}\,\lVert w_g\rVert_2` over the 0/1 rows of ``groups``
    (``gw`` = :math:`\sqrt{|g|}`). Every method takes coefficients ``(F, N)`` and returns
    one value per neuron. Build one with :meth:`of`.
    """

    l2: Any
    l1: Any
    ga: Any
    groups: Any = None
    gw: Any = None

    @classmethod
    def of(cls, kind, alpha, ratio, groups=None):
        """The penalty of a regulariser ``kind`` (see ``_REGULARIZERS``) of strength ``alpha``."""
        l2, l1, ga = _penalty_parts(kind, alpha, ratio)
        gw = None if groups is None else jnp.sqrt(jnp.sum(groups, axis=1))
        return cls(l2, l1, ga, groups, gw)

    def smooth_part(self) -> "Penalty":
        """The same penalty without its non-smooth parts."""
        return Penalty(self.l2, 0.0, 0.0, None, None)

    def ridge(self, W):
        r"""The smooth part per neuron, :math:`\tfrac12 l_2 \sum_f w_f^2`."""
        return 0.5 * self.l2 * jnp.sum(W * W, axis=0)

    def nonsmooth(self, W):
        """Non-smooth penalty per neuron: l1 * sum|w| + ga * sum_g sqrt|g| ||w_g||."""
        l1, ga, groups, gw = self.l1, self.ga, self.groups, self.gw
        out = l1 * jnp.sum(jnp.abs(W), axis=0)
        if groups is not None:
            out = out + ga * jnp.sum(gw[:, None] * _group_norms(W, groups), axis=0)
        return out

    def prox(self, V, step):
        """Proximal operator of ``step * nonsmooth`` applied to coefficients V (F, N)."""
        l1, ga, groups, gw = self.l1, self.ga, self.groups, self.gw
        out = jnp.sign(V) * jnp.maximum(jnp.abs(V) - step * l1, 0.0)
        if groups is not None:
            norms = _group_norms(out, groups)  # (G, N)
            thr = step * ga * gw[:, None]
            factor = jnp.where(norms > thr, 1.0 - thr / jnp.where(norms > 0, norms, 1.0), 0.0)
            in_group = jnp.sum(groups, axis=0)[:, None]  # (F, 1) 1 if grouped
            out = out * (groups.T @ factor + (1.0 - in_group))
        return out

    def kkt_residual(self, W, gW, gb, M, scale=None):
        """Largest entry of the minimum-norm subgradient (per neuron), masked coords ignored.

        With ``scale`` (shape ``(F,)``, positive), feature ``f``'s entry is divided by
        ``scale[f]``: with the columns' RMS this is the residual of the problem in
        standardised columns, so the test does not depend on the units of ``X``.
        """
        l1, ga, groups, gw = self.l1, self.ga, self.groups, self.gw
        inv = 1.0 if scale is None else 1.0 / scale[:, None]
        gW = gW * M
        nz = W != 0
        res = jnp.where(nz, jnp.abs(gW + l1 * jnp.sign(W)), jnp.maximum(jnp.abs(gW) - l1, 0.0))
        res = res * inv
        if groups is not None:
            in_group = jnp.sum(groups, axis=0)[:, None] > 0
            res = jnp.where(in_group, 0.0, res)
            wn = _group_norms(W, groups)  # (G, N)
            thr = ga * gw[:, None]
            # w_g / ||w_g|| for grouped features (ungrouped ones are divided by 1, then ignored)
            unit = W / (groups.T @ jnp.where(wn > 0, wn, 1.0) + (1.0 - in_group.astype(W.dtype)))
            g_active = _group_norms((gW + (groups.T @ thr) * unit) * inv, groups)
            # zero group: the subgradient's minimum-norm element is g_g (1 - thr/||g_g||)_+
            gn = _group_norms(gW, groups)
            shrink = jnp.maximum(1.0 - thr / jnp.where(gn > 0, gn, 1.0), 0.0)
            g_zero = _group_norms(gW * inv, groups) * shrink
            gres = jnp.where(wn > 0, g_active, g_zero)
            res = jnp.concatenate([res, gres], axis=0)
        return jnp.maximum(jnp.max(res, axis=0, initial=0.0), jnp.abs(gb))
