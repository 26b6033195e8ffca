"""coupling_tutorial: the companion package of the book *Coupling in neural populations*.

Each module holds one idea and is taught by the chapter of the same name; every public
name is also available here at the top level::

    import coupling_tutorial as ct
    B = ct.raised_cosine_log_basis(8, 100)

Modules
-------
filters
    Coupling filters (difference of gammas, exponential) and bases (Chapter 1).
features
    Causal design matrices and the coupling-array layouts (Chapter 1).
"""

from . import features, filters
from . import checks  # noqa: F401  (ct.checks.check_*: self-checks for the exercises)
from . import meanfield
from .features import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from . import glm
from .glm import *  # noqa: F401,F403
from .meanfield import *  # noqa: F401,F403
from . import lif
from .lif import *  # noqa: F401,F403
from . import simulate
from .simulate import *  # noqa: F401,F403
from . import linear_response
from .linear_response import *  # noqa: F401,F403

__version__ = "0.1.0"

__all__ = (filters.__all__ + features.__all__ + glm.__all__ + meanfield.__all__ + lif.__all__ + simulate.__all__
           + linear_response.__all__)
