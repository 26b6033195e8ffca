r"""Fitting coupled GLMs to whole recordings: a streamed design, data parallel in time.

A fully coupled GLM of :math:`N` neurons, :math:`K` basis functions and :math:`T` bins has a
design matrix of :math:`T \times NK` numbers (1000 neurons x 3.6e6 bins x 5 = 72 GB in
float32), though it is a fixed function of the :math:`T \times N` counts.
:class:`CouplingDesign` holds only the counts; every sum over time the solvers need is
computed chunk by chunk from them, and split over devices (and processes) along time.

Usage
-----
One device (drop-in for ``X``; ``y`` is the counts, rows ``window_size:`` are used)::

    D = ct.CouplingDesign(counts, basis, chunk_size=4096)
    model = ct.PopulationGLM(regularizer="Ridge", regularizer_strength=1e-4).fit(D, counts)

Several devices of one process (data parallel over time; sums become ``psum``)::

    mesh = jax.make_mesh((jax.device_count(),), ("time",))
    D = ct.CouplingDesign(counts, basis, mesh=mesh)

Several processes or machines: call ``jax.distributed.initialize()`` first in every
process, then build the same mesh over ``jax.devices()`` (all processes' devices). Every
process passes the same ``counts`` (e.g. a ``numpy.memmap`` of one file) and reads only
the rows of its own blocks, plus the ``window_size`` bins of halo before them. On a Slurm
cluster ``srun -N 4 --ntasks-per-node=1 python fit.py`` (``initialize()`` reads the
coordinator, process count and id from Slurm's variables; with Open MPI, ``mpirun -np 4
python fit.py``); on CPUs add ``jax.config.update("jax_cpu_collectives_implementation",
"gloo")`` before initialising. ``benchmarks/distributed_fit.py`` runs this on one machine
with N local processes over loopback.

Memory: counts (compact integers, once, plus a halo per block), coefficients and CG
vectors (``(F+1, N)`` a few times), one chunk of features ``chunk_size x F`` and its
Toeplitz blocks (about ``2 chunk_size x N`` counts); never the linear predictor ``(T, N)``.

Where it lives
--------------
``design.py``: :class:`CouplingDesign` (validation, blocks with halos, placement on the
mesh); ``_streamed.py``: the chunked sums and the Newton / Newton-CG loops on them (the
directions, line search and penalties are those of :mod:`coupling_tutorial.glm`);
``_model.py``: what ``PopulationGLM.fit/predict/score/objective`` do with a design;
``distributed.py``: starting a multi-process run (:func:`init_distributed`).
"""

from .design import *  # noqa: F401,F403
from .design import __all__ as _design_all
from .distributed import *  # noqa: F401,F403
from .distributed import __all__ as _distributed_all

__all__ = _design_all + _distributed_all

for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
