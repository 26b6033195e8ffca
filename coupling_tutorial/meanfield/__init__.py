r"""Mean-field theory of leaky integrate-and-fire networks (Chapter 4).

A leaky integrate-and-fire (LIF) neuron driven by many small, independent inputs sees,
in the *diffusion approximation*, a Gaussian white-noise input with mean :math:`\mu` and
standard deviation :math:`\sigma`; its stationary firing rate is the Siegert formula. In a
network of populations the input statistics depend on the rates themselves, and the
stationary rates are a *fixed point* of that map. Around the fixed point the linear
response of each population to a modulation of its input is the *transfer function*.

Conventions (the same as NNMT 1.3.0, so numbers can be compared directly)
---------------------------------------------------------------------------
* SI units throughout: volts, seconds, hertz; angular frequencies :math:`\omega = 2\pi f`
  in rad/s; the transfer function in Hz/V.
* Potentials (``V_th``, ``V_r``, ``mu``) are relative to the resting potential.
* Connectivity matrices are ``[post, pre]``: ``K[i, j]`` is the number of inputs a neuron
  of population ``i`` receives from population ``j`` (in-degree) and ``J[i, j]`` their
  weight, a voltage (the PSP jump for delta synapses).
* Rates are returned in the float dtype JAX is configured with. Everything here is
  accurate to about ``1e-10`` relative in float64 (``jax_enable_x64``); in float32 expect
  about ``1e-5`` relative for the rates (the tests measure it).

Numerics
--------
The Siegert integral is evaluated with the three-region formulas used by NNMT, with the
scaled complementary error function :func:`erfcx` (exact for large arguments, unlike
``jax.scipy.special.erfcx``, which returns 0 in a band near 26.6 in float64 and 9.3 in
float32) and :func:`dawson`. The remaining integral of ``erfcx`` is computed by
Gauss-Legendre quadrature in the variable :math:`t = \log(1 + s)`, in which the integrand
is smooth and bounded; the quadrature order is chosen per point from the length of the
integration interval in :math:`t` (from 8 nodes for ordinary inputs to 64 for extreme
ones). Inside ``jax.jit``/``jax.grad`` (traced inputs) the highest order is used.

Where each section of Chapter 4 lives
-------------------------------------
==================================================  =====================================
Chapter 4 section                                   file
==================================================  =====================================
The LIF neuron and the diffusion approximation      ``inputs.py`` (``mean_input``,
                                                    ``std_input``)
The Siegert formula                                 ``siegert.py`` (the formula),
                                                    ``special.py`` (``erfcx``, ``dawson``),
                                                    ``_quadrature.py`` (its integral)
Coloured noise: the threshold shift                 ``synapses.py`` (the synapse models,
                                                    ``threshold_shift``),
                                                    ``siegert.py``
                                                    (``firing_rate_exp_synapses``)
Self-consistent rates and three solvers             ``fixed_point.py``, ``_solvers.py``
The Brunel network; the cortical microcircuit       ``parameters.py`` (and
                                                    :mod:`coupling_tutorial.lif`)
The transfer function                               ``transfer.py``,
                                                    ``parabolic_cylinder.py``
==================================================  =====================================

Host-side speed machinery is private: ``_siegert_host.py`` (validation and quadrature
order chosen per point on the host, one compiled call) beside ``siegert.py``.
"""

from .special import *  # noqa: F401,F403
from .special import __all__ as _special
from .inputs import *  # noqa: F401,F403
from .inputs import __all__ as _inputs
from .siegert import *  # noqa: F401,F403
from .siegert import __all__ as _siegert
from .synapses import *  # noqa: F401,F403
from .synapses import __all__ as _synapses
from .fixed_point import *  # noqa: F401,F403
from .fixed_point import __all__ as _fixed_point
from .transfer import *  # noqa: F401,F403
from .transfer import __all__ as _transfer
from .parabolic_cylinder import *  # noqa: F401,F403
from .parabolic_cylinder import __all__ as _parabolic_cylinder
from .parameters import *  # noqa: F401,F403
from .parameters import __all__ as _parameters

# (the order of the former single module's __all__)
__all__ = [
    "erfcx",
    "dawson",
    "mean_input",
    "std_input",
    "siegert_rate",
    "firing_rate_exp_synapses",
    "threshold_shift",
    "self_consistent_rates",
    "FixedPointResult",
    "FixedPointError",
    "parabolic_cylinder_u",
    "transfer_function",
    "fit_transfer_function",
    "brunel_parameters",
    "microcircuit_parameters",
    "MICROCIRCUIT_POPULATIONS",
    "ALPHA_SHIFT",
]
assert sorted(__all__) == sorted(_special + _inputs + _siegert + _synapses + _fixed_point
                                 + _transfer + _parabolic_cylinder + _parameters)

# Public objects print and pickle under the package's name, as before the split.
for _name in __all__:
    if hasattr(globals()[_name], "__module__"):
        try:
            globals()[_name].__module__ = __name__
        except (AttributeError, TypeError):
            pass
del _name
