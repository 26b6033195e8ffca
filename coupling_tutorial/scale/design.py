r"""The lazy coupling design matrix :class:`CouplingDesign` (Scaling up).

A coupled GLM of :math:`N` neurons with :math:`K` basis functions has the design
:math:`X = [\,y * B\,]`, ``(n_samples, N K)``: at 1000 neurons x 3.6e6 bins x 5 basis
functions that is 72 GB in float32, while the counts it is made of are 3.6e9 small
integers. :class:`CouplingDesign` keeps only the counts (in the smallest unsigned integer
type that holds them) and computes rows of :math:`X` on demand, one chunk of ``chunk_size``
rows at a time, inside the objective, gradient, Hessian-vector products and Hessians of
the fit (see :mod:`coupling_tutorial.scale._streamed`).

Rows and blocks
---------------
Row :math:`t = 0 \dots T-1` of the design is bin :math:`s = t + W` of the recording
(:math:`W` = ``window_size``; the first :math:`W` bins, NaN rows of
:func:`~coupling_tutorial.features.coupling_features`, are dropped), and its features are

.. math:: X[t, jK + k] = \sum_{\ell=0}^{W-1} y[t + W - 1 - \ell,\, j]\, B[\ell, k],

computed from the counts ``z[t : t + W]`` (oldest first) times the flipped basis, the same
banded Toeplitz-matrix product :func:`~coupling_tutorial.features.coupling_features` uses. The
:math:`T` rows are split into ``n_blocks`` equal blocks of ``n_chunks * chunk_size`` rows
(zero-padded at the end, padded rows carry weight 0). Block :math:`d` stores the counts
``z[d L : d L + L + W]``: its own rows plus the :math:`W`-bin halo before them (and the
target bin after the last row). With a ``mesh``, block :math:`d` lives on device :math:`d`
of the mesh, and sums over time become ``psum`` collectives; in a multi-process run
(``jax.distributed``) each process only ever reads (and holds) the blocks of its own
devices, so ``counts`` may be a ``numpy.memmap`` of a file too big for one machine.
"""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_counts, check_finite, check_int, float_dtype

__all__ = ["CouplingDesign"]

# default chunk: C * W * N about this many numbers (a pass costs the same per row from
# 128 to 2048 rows at 256 neurons; small chunks keep the working set small)
_CHUNK_BUDGET = 1 << 22


def _compact_dtype(max_count):
    """Smallest unsigned integer dtype that holds ``max_count``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_count <= np.iinfo(dt).max:
            return dt
    return np.float64


def _host_array(x, name, ndim):
    """``x`` as a host numpy array (no copy for numpy arrays and memmaps)."""
    if x is None:
        raise ValueError(f"`{name}` must be an array; got None.")
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    if a.dtype.kind not in "iufb":
        raise ValueError(f"`{name}` must be a numeric array; got dtype {a.dtype}.")
    if a.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"`{name}` must be {want}; got a {a.ndim}-D array of shape {a.shape}.")
    return a


class CouplingDesign:
    r"""Lazy causal coupling design: what ``coupling_features(counts, basis)`` would be.

    Pass it to :class:`~coupling_tutorial.glm.PopulationGLM` ``fit``, ``predict``,
    ``score`` and ``objective`` in place of ``X``, with ``y`` the ``(n_samples,
    n_targets)`` counts to explain (usually ``counts`` itself). The result equals the fit
    on the dense design ``coupling_features(counts, basis)`` (plus ``inputs`` columns),
    whose first ``window_size`` (NaN) rows are dropped with the same rows of ``y``; the
    full ``(n_rows, n_features)`` matrix is never held.

    Parameters
    ----------
    counts : array_like, shape ``(n_samples, n_neurons)``
        Spike counts (finite, non-negative integers); a 1-D array is one neuron. May be a
        ``numpy.memmap``: with a multi-process ``mesh`` only the rows of this process's
        blocks are read.
    basis : array_like, shape ``(window_size, n_basis)``
        Row 0 is lag 1 (the most recent bin), as in
        :func:`~coupling_tutorial.features.coupling_features`.
    inputs : array_like, shape ``(n_samples, n_inputs)``, optional
        Extra columns appended after the coupling features (row ``s`` of ``inputs`` goes
        with bin ``s``), finite.
    chunk_size : int, optional
        Rows per chunk, ``>= window_size``. Default: about :math:`2^{22} / (W N)` rounded
        to a power of two (C W N ~ 4 M numbers; the cost per row is flat from 128 to 2048
        rows at 256 neurons, ``benchmarks/scale.py``), at least
        ``window_size``, at most the number of rows.
    mesh : jax.sharding.Mesh, optional
        A one-axis mesh: the rows are split into ``mesh.size`` blocks along time, one per
        device (data parallelism; also across processes after
        ``jax.distributed.initialize``). Default: one block on the default device.

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_features)`` with ``n_rows = n_samples - window_size`` and
        ``n_features = n_neurons * n_basis + n_inputs``, the shape of the dense design
        without its NaN rows.
    n_samples, n_neurons, window_size, n_basis, n_inputs, chunk_size : int
    n_blocks, chunks_per_block : int
        Blocks (devices) along time and chunks of ``chunk_size`` rows in each.
    dtype : numpy.dtype
        The float type the features are computed in (JAX's default float).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, coupling_tutorial as ct
    >>> y = jax.random.poisson(jax.random.key(0), 0.2, (500, 3))
    >>> D = ct.CouplingDesign(y, ct.raised_cosine_log_basis(2, 10), chunk_size=64)
    >>> D.shape, D.n_blocks, D.chunks_per_block
    ((490, 6), 1, 8)
    >>> X = ct.coupling_features(y, ct.raised_cosine_log_basis(2, 10))[10:]
    >>> bool(jnp.allclose(D.materialize(), X))
    True
    """

    _lazy_design = True  # PopulationGLM hands such an X to coupling_tutorial.scale

    def __init__(self, counts, basis, inputs=None, chunk_size=None, mesh=None):
        try:  # `y` is usually these very counts: then no second copy of them is made
            self._source = weakref.ref(counts)
        except TypeError:  # (a list, say)
            self._source = None
        counts = _host_array(counts, "counts", (1, 2))
        if counts.ndim == 1:
            counts = counts[:, None]
        basis = _host_array(basis, "basis", (2,))
        check_finite(basis, "basis")
        n_samples, n_neurons = counts.shape
        window, n_basis = basis.shape
        if n_samples <= window:
            raise ValueError(f"`counts` must have more samples than the basis window "
                             f"({window}); got {n_samples}.")
        if inputs is not None:
            inputs = _host_array(inputs, "inputs", (1, 2))
            if inputs.ndim == 1:
                inputs = inputs[:, None]
            if inputs.shape[0] != n_samples:
                raise ValueError(f"`inputs` must have as many samples as `counts` "
                                 f"({n_samples}); got {inputs.shape[0]}.")
        n_rows = n_samples - window
        if chunk_size is None:
            c = _CHUNK_BUDGET // max(window * n_neurons, 1)
            chunk_size = max(window, min(1 << max(c.bit_length() - 1, 0), n_rows))
        else:
            chunk_size = check_int(chunk_size, "chunk_size")
            if chunk_size < window:
                raise ValueError(f"`chunk_size` must be at least the basis window "
                                 f"({window}) so that a chunk's halo fits in one chunk; "
                                 f"got {chunk_size}.")
        if mesh is not None:
            if not isinstance(mesh, jax.sharding.Mesh) or len(mesh.axis_names) != 1:
                raise ValueError("`mesh` must be a jax.sharding.Mesh with one axis (time); "
                                 f"got {mesh!r}.")
        n_blocks = 1 if mesh is None else mesh.size
        if n_blocks > math.ceil(n_rows / chunk_size):
            raise ValueError(
                f"`mesh` must have at most {math.ceil(n_rows / chunk_size)} devices for "
                f"{n_rows} rows in chunks of {chunk_size} (every shard needs at least one "
                f"chunk of rows); got {n_blocks} devices.")
        chunks_per_block = max(1, math.ceil(n_rows / (n_blocks * chunk_size)))
        self.n_samples, self.n_neurons = n_samples, n_neurons
        self.window_size, self.n_basis = window, n_basis
        self.n_inputs = 0 if inputs is None else inputs.shape[1]
        self.chunk_size, self.n_blocks, self.chunks_per_block = (
            chunk_size, n_blocks, chunks_per_block)
        self.mesh = mesh
        self.dtype = np.dtype(float_dtype())
        self.shape = (n_rows, n_neurons * n_basis + self.n_inputs)
        self.basis = jnp.asarray(basis, self.dtype)
        # the counts, block by block, each with its halo (compact integer type)
        self.counts = self._blocked(counts, "counts", start=0, extra=window, integer=True)
        self.inputs = None if inputs is None else self._blocked(
            inputs, "inputs", start=window, extra=0, integer=False)

    def _is_counts(self, y):
        """Whether ``y`` is the very array the design was made of (its targets are then
        read from the blocked counts, rows ``window_size`` on of each block)."""
        return self._source is not None and self._source() is y

    def targets(self, y, name="y"):
        """The rows ``y[window_size:]`` blocked like the design, ``(n_blocks, L, n_cols)``.

        ``y``: ``(n_samples, n_targets)`` counts (a 1-D array is one target), checked as
        counts and stored in a compact integer type.
        """
        y = _host_array(y, name, (1, 2))
        if y.ndim == 1:
            y = y[:, None]
        if y.shape[0] != self.n_samples:
            raise ValueError(f"`{name}` must have as many samples as the design's counts "
                             f"({self.n_samples}); got {y.shape[0]}.")
        check_counts(np.asarray(y[:self.window_size]), name)  # dropped rows: counts too
        return self._blocked(y, name, start=self.window_size, extra=0, integer=True)

    # ------------------------------------------------------------ blocks
    @property
    def block_rows(self) -> int:
        """Rows per block, ``chunks_per_block * chunk_size`` (the last block is padded)."""
        return self.chunks_per_block * self.chunk_size

    def _blocked(self, a, name, start, extra, integer):
        """``a[start + d L : start + d L + L + extra]`` for every block ``d``, stacked
        ``(n_blocks, L + extra, n_cols)`` (zero-padded past the end), on the mesh."""
        L = self.block_rows
        n_cols = a.shape[1]
        shape = (self.n_blocks, L + extra, n_cols)

        def read(d):
            # (copied straight into the padded block: one host copy, however a is stored)
            lo = start + d * L
            hi = max(min(lo + L + extra, a.shape[0]), lo)
            out = np.zeros((L + extra, n_cols), a.dtype)
            out[:hi - lo] = a[lo:hi]
            if integer:
                check_counts(out, name)
            else:
                check_finite(out, name)
            return out

        if self.mesh is None:
            block = read(0)
            dt = _compact_dtype(block.max(initial=0)) if integer else self.dtype
            return jnp.asarray(block.astype(dt, copy=False)[None])
        sharding = jax.sharding.NamedSharding(
            self.mesh, jax.sharding.PartitionSpec(self.mesh.axis_names[0]))
        # every process decides the same compact type: the largest count of the whole array
        # would need a read of everything, so integers are stored as uint16 unless all
        # counts are known to be small (uint8 when a has an integer dtype of <= 8 bits)
        dt = (np.uint8 if a.dtype.itemsize == 1 and a.dtype.kind in "ub" else np.uint16
              ) if integer else self.dtype

        def callback(index):
            d = index[0].start or 0
            block = read(d)
            if integer and block.max(initial=0) > np.iinfo(dt).max:
                raise ValueError(f"`{name}` must hold counts below {np.iinfo(dt).max + 1} "
                                 f"for a sharded design; got {block.max()}.")
            return block.astype(dt, copy=False)[None]

        return jax.make_array_from_callback(shape, sharding, callback)

    def materialize(self):
        """The dense design, ``(n_rows, n_features)`` (for tests and small problems)."""
        from ._streamed import _design_chunk  # (the one feature computation)

        parts = []
        for d in range(self.n_blocks):
            cts = jnp.asarray(self.counts[d])
            inp = None if self.inputs is None else jnp.asarray(self.inputs[d])
            for c in range(self.chunks_per_block):
                parts.append(_design_chunk(self._static(), self.basis, cts, inp, c))
        return jnp.concatenate(parts)[:self.shape[0]]

    def _static(self, own_targets=False):
        """The static geometry the streamed computations need (a hashable tuple);
        ``own_targets``: the targets are the design's own counts."""
        return _Geometry(self.n_rows, self.window_size, self.n_basis, self.n_inputs,
                         self.chunk_size, self.chunks_per_block, self.n_blocks, own_targets)

    @property
    def n_rows(self) -> int:
        """Rows of the design, ``n_samples - window_size``."""
        return self.shape[0]

    def __repr__(self):
        return (f"CouplingDesign(n_samples={self.n_samples}, n_neurons={self.n_neurons}, "
                f"window_size={self.window_size}, n_basis={self.n_basis}, "
                f"n_inputs={self.n_inputs}, chunk_size={self.chunk_size}, "
                f"n_blocks={self.n_blocks})")


class _Geometry(NamedTuple):
    """The static geometry of a design (hashable: a static argument of the jitted fit)."""

    n_rows: int
    window: int
    n_basis: int
    n_inputs: int
    chunk: int
    chunks_per_block: int
    n_blocks: int
    own_targets: bool = False  # targets = rows window.. of each block of the counts
