r"""A spiking simulator of leaky integrate-and-fire (LIF) neurons to check the theory (Chapter 4).

Two simulators, both exact in the membrane integration, written with ``jax.lax.scan``
and compiled once per network size:

* :func:`simulate_lif_neuron`: independent LIF neurons driven by Gaussian white noise of
  mean :math:`\mu` and strength :math:`\sigma` (the diffusion approximation), the setting
  in which the Siegert formula is exact.
* :func:`simulate_brunel`: the sparse excitatory--inhibitory network of Brunel (2000):
  delta synapses, fixed in-degree, one transmission delay, refractory clamp and external
  Poisson drive.

Units are SI throughout (V, s, Hz) and potentials are relative to rest, as in the
mean-field module. Everything random comes from an explicit ``key``: the same key gives
the same spikes.

Where each section of Chapter 4 lives
-------------------------------------
=================================================  =======================================
Chapter 4 section                                  file
=================================================  =======================================
Checking the formula against a simulated neuron    ``neuron.py`` (``simulate_lif_neuron``)
The Brunel network: theory against simulation      ``brunel.py`` (``simulate_brunel``: set-up,
                                                   run and summary), ``connectivity.py``
=================================================  =======================================

``results.py`` holds the result types; the compiled time loop of the network is private
(``_brunel_loop.py``), and the external Poisson drive is drawn by the package's sampler
module, :mod:`coupling_tutorial._poisson`.
"""

from .results import *  # noqa: F401,F403
from .results import __all__ as _results
from .connectivity import *  # noqa: F401,F403
from .connectivity import __all__ as _connectivity
from .brunel import *  # noqa: F401,F403
from .brunel import __all__ as _brunel
from .neuron import *  # noqa: F401,F403
from .neuron import __all__ as _neuron

# (the order of the former single module's __all__)
__all__ = [
    "LIFResult",
    "LIFNeuronResult",
    "Connectivity",
    "fixed_indegree_connectivity",
    "simulate_brunel",
    "simulate_lif_neuron",
]
assert sorted(__all__) == sorted(_results + _connectivity + _brunel + _neuron)

# Public objects print and pickle under the package's name, as before the split.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
