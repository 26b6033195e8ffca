r"""The GLM as a generative network: recurrent simulation (Chapter 3).

Two ways to write the same kind of model:

* :func:`simulate_recurrent` takes coupling filters expressed in a basis, in the layout
  ``coupling_coef`` ``(n_receivers, n_senders, n_basis)`` of NeMoS and of
  :func:`coupling_tutorial.features.to_simulation_layout`. With the same key, link and
  inputs it draws **the same spikes as** ``nemos.simulation.simulate_recurrent``
  (per-step keys from ``jax.random.split(key, n_steps)``, ``jax.random.poisson``'s
  draws; in float32 the few bins where rounding could move a draw are recomputed in
  NeMoS's order, see its docstring).
  Differences, on purpose: the default inverse link is ``exp`` (the link of a fitted
  Poisson GLM; NeMoS defaults to softplus), ``feedforward_input=None`` means coupling
  only, the core is jitted (a second call with the same shapes does not recompile), and
  runaway excitation raises :class:`RunawayError` instead of passing silently.
* :class:`PoissonGLMNetwork` is the network model of spikeometric's ``PoissonGLM``
  (Das & Fiete): a truncated exponential coupling kernel on a sparse graph,
  ``W0[j, i]`` from source ``j`` to target ``i``. :func:`simulate_network` updates one
  exponential trace per neuron (O(N) per step) and does one sparse product over the edges
  per step, so memory is O(edges + T N), never O(edges T).

Where each section of Chapter 3 lives
-------------------------------------
=====================================================  ==================================
Chapter 3 section                                      file
=====================================================  ==================================
The GLM as a generative network; the loop as a scan    ``recurrent.py`` (the public
                                                       function), ``_recurrent_loops.py``
                                                       (the compiled loops and the
                                                       one-bin model step ``_rate``)
NeMoS's default link is softplus                       ``recurrent.py``
                                                       (``inverse_link_function``)
Stability: self-inhibition and runaway excitation      ``runaway.py``
A network model on a sparse graph                      ``network.py``, ``generators.py``
One trace per neuron instead of a window per edge      ``network_simulation.py``,
                                                       ``_network_loop.py``
The same model as a GLM with a history basis           ``network.py``
                                                       (``network_as_recurrent``)
Tuning a network to a target rate by gradient          ``mean_field.py``, ``tuning.py``
=====================================================  ==================================

Speed machinery shared by both simulators is private: ``_scan.py`` (the chunked time
loop with batched random numbers and the runaway guard) and the package's one sampler
module, :mod:`coupling_tutorial._poisson`.
"""

from .generators import *  # noqa: F401,F403
from .generators import __all__ as _generators
from .mean_field import *  # noqa: F401,F403
from .mean_field import __all__ as _mean_field
from .network import *  # noqa: F401,F403
from .network import __all__ as _network
from .network_simulation import *  # noqa: F401,F403
from .network_simulation import __all__ as _network_simulation
from .recurrent import *  # noqa: F401,F403
from .recurrent import __all__ as _recurrent
from .runaway import DEFAULT_MAX_RATE  # noqa: F401
from .runaway import *  # noqa: F401,F403
from .runaway import __all__ as _runaway
from .tuning import *  # noqa: F401,F403
from .tuning import __all__ as _tuning

# (the order of the former single module's __all__)
__all__ = [
    "RunawayError",
    "simulate_recurrent",
    "PoissonGLMNetwork",
    "network_input",
    "network_rate",
    "simulate_network",
    "network_as_recurrent",
    "normal_network",
    "uniform_network",
    "mexican_hat_network",
    "mean_field_rate",
    "tune_network",
]
assert sorted(__all__) == sorted(_generators + _mean_field + _network + _network_simulation
                                 + _recurrent + _runaway + _tuning)

# Public objects print and pickle under the package's name, as before the split.
for _name in __all__:
    if hasattr(globals()[_name], "__module__"):
        try:
            globals()[_name].__module__ = __name__
        except (AttributeError, TypeError):
            pass
del _name
