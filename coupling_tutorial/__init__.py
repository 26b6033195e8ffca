"""coupling_tutorial: the companion package of the book *Coupling in neural populations*.

Each module (or subpackage, where the idea is big) holds one idea and is taught by the
chapter of the same name; every public name is also available here at the top level::

    import coupling_tutorial as ct
    B = ct.raised_cosine_log_basis(8, 100)

Modules
-------
filters
    Coupling filters (difference of gammas, exponential) and bases (Chapter 1).
features
    Causal design matrices and the coupling-array layouts (Chapter 1).
glm (subpackage)
    Poisson GLMs fitted jointly for a population, with feature masks (Chapter 2).
simulate (subpackage)
    Recurrent simulation of GLM networks and the sparse Poisson network model (Chapter 3).
meanfield (subpackage)
    LIF mean-field theory: Siegert rates, fixed points, transfer functions (Chapter 4).
lif (subpackage)
    A spiking LIF network simulator to check the theory (Chapter 4).
linear_response
    Linear-response (Hawkes) theory of rates and covariances of GLM networks (Chapter 5).
inference (subpackage)
    Standard errors, coupling tests, false discovery rate, confidence bands, goodness of
    fit, cross-validation in time and stability prediction (Chapter 6).
scale (subpackage)
    Fitting whole recordings: the lazy, streamed coupling design
    (:class:`~coupling_tutorial.scale.CouplingDesign`), data parallel over devices and
    processes (Scaling up).
progress
    Opt-in progress displays of long fits and simulations (``progress=True``, or a
    callable receiving :class:`FitProgress` / :class:`SimulationProgress` reports).
plotting
    The book's figure style and role colours (``ct.plotting.use_book_style()``,
    ``ct.plotting.COLORS``; needs matplotlib; not re-exported at the top level).
links
    The inverse link functions (:class:`~coupling_tutorial.links.Link`) shared by fitting,
    simulation and linear response (not re-exported at the top level).
checks (subpackage)
    Self-checks for the implement-it-yourself exercises (``ct.checks.check_*``; not
    re-exported at the top level).

Each subpackage's docstring maps its chapter's sections to its files; speed machinery
(compiled loops, samplers, host fast paths) lives in private files (``_name.py``) beside
the model it serves.

Array layouts are the same everywhere; see the book's introduction ("Notation and
shape conventions") or :mod:`coupling_tutorial.features`.
"""

from . import checks, plotting  # noqa: F401
from . import (features, filters, glm, inference, lif, linear_response, links,  # noqa: F401
               meanfield, progress, scale, simulate)
from .features import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from .glm import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .lif import *  # noqa: F401,F403
from .linear_response import *  # noqa: F401,F403
from .meanfield import *  # noqa: F401,F403
from .progress import *  # noqa: F401,F403
from .scale import *  # noqa: F401,F403
from .simulate import *  # noqa: F401,F403

__version__ = "0.1.0"

__all__ = (filters.__all__ + features.__all__ + glm.__all__ + simulate.__all__
           + meanfield.__all__ + lif.__all__ + linear_response.__all__ + inference.__all__
           + progress.__all__ + scale.__all__)
