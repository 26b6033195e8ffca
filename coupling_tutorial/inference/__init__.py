r"""Is this coupling real? Uncertainty, significance and model checking (Chapter 6).

A fitted coupling filter is an estimate. This subpackage says how sure it is and whether
the fitted model describes the data:

* standard errors from the observed Fisher information
  (:meth:`coupling_tutorial.glm.PopulationGLM.standard_errors`),
* tests of every sender -> receiver filter and false-discovery-rate control over all of
  them,
* pointwise confidence bands on the filters,
* the time-rescaling goodness-of-fit test for binned spike trains,
* cross-validation that respects time,
* predicting whether a fitted model runs away when simulated, before simulating it.

One file per concept; the public names are re-exported here and at the top level.
"""

__all__: list[str] = []

# model checking (time rescaling, cross-validation in time, stability before simulating)
from . import cross_validation, stability, time_rescaling  # noqa: E402
from .cross_validation import *  # noqa: E402,F401,F403
from .stability import *  # noqa: E402,F401,F403
from .time_rescaling import *  # noqa: E402,F401,F403

__all__ += time_rescaling.__all__ + cross_validation.__all__ + stability.__all__
