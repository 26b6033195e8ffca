r"""Inverse link functions, as one named type shared by fitting, simulation and linear response.

A :class:`Link` bundles what the package needs of an inverse link :math:`f`
(linear predictor :math:`\eta` -> rate): :math:`f` itself (``inverse``), its derivative
:math:`f'` (``derivative``: the gain of linear response, the weights of a non-canonical
fit) and :math:`\log f` (``log_inverse``: the Poisson log-likelihood
:math:`y\log f(\eta) - f(\eta)`), written so that each is accurate where the other
forms are not (``log_inverse`` of :data:`EXP` is :math:`\eta` itself, never
``log(exp(eta))``).

The package's models use :data:`EXP` (the canonical link of the Poisson GLM, and
spikeometric's network model); :func:`~coupling_tutorial.simulate_recurrent` also takes
any :class:`Link` or plain callable, e.g. :data:`SOFTPLUS`, NeMoS's default. A ``Link``
is hashable and compares by its functions: define one once and reuse it, and a jitted
simulation compiles once for it.

Examples
--------
>>> import jax.numpy as jnp
>>> from coupling_tutorial.links import EXP, SOFTPLUS
>>> float(EXP.inverse(0.0)), float(EXP.log_inverse(2.0)), float(SOFTPLUS.derivative(0.0))
(1.0, 2.0, 0.5)
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Link", "EXP", "SOFTPLUS", "as_inverse_link"]


class Link(NamedTuple):
    """An inverse link: ``inverse`` (eta -> rate), its ``derivative`` and ``log_inverse``."""

    name: str
    inverse: Callable
    derivative: Callable
    log_inverse: Callable


def _identity(eta):
    return eta


def _log_softplus(eta):
    return jnp.log(jax.nn.softplus(eta))


#: The exponential link, :math:`f = f' = e^\eta`, :math:`\log f = \eta`.
EXP = Link("exp", jnp.exp, jnp.exp, _identity)

#: The softplus link :math:`f = \log(1 + e^\eta)`, :math:`f' = \sigma(\eta)` (NeMoS's default).
SOFTPLUS = Link("softplus", jax.nn.softplus, jax.nn.sigmoid, _log_softplus)


def as_inverse_link(link, name: str = "link") -> Callable:
    """The callable ``eta -> rate`` of a :class:`Link`, of a link's name (``"exp"``,
    ``"softplus"``) or of a plain callable (unchanged); anything else raises a
    ``TypeError``/``ValueError`` naming the argument (``name``)."""
    if isinstance(link, Link):
        return link.inverse
    if isinstance(link, str):
        links = {L.name: L for L in (EXP, SOFTPLUS)}
        if link not in links:
            raise ValueError(f"`{name}` must be a callable, a Link or one of "
                             f"{sorted(links)}; got {link!r}.")
        return links[link].inverse
    if not callable(link):
        from ._validation import ArgumentTypeError, _describe
        raise ArgumentTypeError(f"`{name}` must be a callable, a Link or one of "
                                f"['exp', 'softplus']; got {_describe(link)}.")
    return link
