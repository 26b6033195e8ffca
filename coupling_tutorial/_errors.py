"""The package's one way to say that a stationary state does not exist or was not found.

Every solver of a self-consistent (stationary) state raises :class:`FixedPointError`
when it finds none: the mean-field fixed point (:func:`coupling_tutorial.self_consistent_rates`)
and the stationary rates of linear response (:func:`coupling_tutorial.linearize`). It is
public as ``coupling_tutorial.FixedPointError`` (and ``coupling_tutorial.meanfield``'s).
:func:`coupling_tutorial.stationary_rates` and :func:`coupling_tutorial.mean_field_rate`
report the same condition without raising, through their ``converged`` flag / residual.
"""

from __future__ import annotations

__all__ = ["FixedPointError"]


class FixedPointError(RuntimeError):
    """No fixed point was found. ``rates`` holds the last iterate, ``residual`` its max residual."""

    def __init__(self, message, rates=None, residual=None):
        super().__init__(message)
        self.rates = rates
        self.residual = residual
