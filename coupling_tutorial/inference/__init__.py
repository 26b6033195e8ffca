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

=============================================  ==========================================
Chapter 6 section                              file
=============================================  ==========================================
The Fisher information and standard errors     ``glm/fisher.py``
                                               (``PopulationGLM.standard_errors``)
Confidence bands on filters                    ``confidence_bands.py``
Testing every connection                       ``connection_tests.py`` (Wald, LR)
Controlling the false discovery rate           ``fdr.py`` (Benjamini-Hochberg)
=============================================  ==========================================

``_coupling_blocks.py`` (private) finds the coupling columns of a fitted model and their
covariance blocks. Layouts: tests and p-values are ``(n_senders, n_receivers)`` (entry
``[j, i]`` is the filter ``j -> i``, as in the split layout ``(n_senders, n_basis,
n_receivers)`` of :func:`coupling_tutorial.features.split_coupling`); bands are
``(window_size, n_receivers, n_senders)`` as
:func:`coupling_tutorial.features.coupling_filters`.
"""

from . import (confidence_bands, connection_tests, cross_validation, fdr,  # noqa: F401
               stability, time_rescaling)
# significance: standard errors live on PopulationGLM; tests, FDR and bands here
from .confidence_bands import *  # noqa: F401,F403
from .connection_tests import *  # noqa: F401,F403
from .fdr import *  # noqa: F401,F403
# model checking: time rescaling, cross-validation in time, stability before simulating
from .time_rescaling import *  # noqa: F401,F403
from .cross_validation import *  # noqa: F401,F403
from .stability import *  # noqa: F401,F403

__all__: list[str] = (connection_tests.__all__ + fdr.__all__ + confidence_bands.__all__
                      + time_rescaling.__all__ + cross_validation.__all__
                      + stability.__all__)
