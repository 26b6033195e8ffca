"""Meshes along time, and starting a multi-process (multi-machine) run."""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["time_mesh", "init_distributed"]


def time_mesh(devices=None, axis_name: str = "time"):
    """A one-axis :class:`jax.sharding.Mesh` for splitting a design along time.

    Parameters
    ----------
    devices : sequence of jax.Device, optional
        Default: ``jax.devices()``, every device of every process (after
        :func:`init_distributed`).
    axis_name : str
        Name of the mesh axis (the sums over time are ``psum`` over it).

    Returns
    -------
    jax.sharding.Mesh
        Shape ``(n_devices,)``; block ``d`` of a :class:`CouplingDesign` goes to device
        ``d``.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.time_mesh().axis_names
    ('time',)
    """
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("`devices` must hold at least one device; got none.")
    return jax.sharding.Mesh(np.array(devices), (axis_name,))


def init_distributed(coordinator_address=None, num_processes=None, process_id=None):
    """Join a multi-process JAX run (before any other JAX call of the process).

    On CPUs the collectives go through gloo (``jax_cpu_collectives_implementation``);
    then :func:`jax.distributed.initialize` connects to the coordinator. With all three
    arguments ``None`` it auto-detects a Slurm job (``srun``) or an Open MPI launch
    (``mpirun``); on one machine give ``coordinator_address="127.0.0.1:PORT"``, the
    number of processes and this process's id (0 is the coordinator).

    Parameters
    ----------
    coordinator_address : str, optional
        ``"host:port"`` of process 0.
    num_processes : int, optional
    process_id : int, optional

    Returns
    -------
    int
        This process's index (``jax.process_index()``).

    Examples
    --------
    In process ``i`` of 2 on one machine (``benchmarks/distributed_fit.py`` does this):

    >>> i = ct.init_distributed("127.0.0.1:12345", 2, i)  # doctest: +SKIP
    >>> D = ct.CouplingDesign(np.load("counts.npy", mmap_mode="r"), B,
    ...                       mesh=ct.time_mesh())  # doctest: +SKIP
    """
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except Exception:  # pragma: no cover - option missing in some JAX versions
        pass
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    return jax.process_index()
