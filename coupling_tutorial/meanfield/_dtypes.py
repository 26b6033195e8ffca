"""The float dtype of a mean-field computation: float32 in, float32 out (private).

With ``jax_enable_x64`` on, ``jnp.asarray(x, dtype=jnp.result_type(float))`` would turn
float32 inputs into float64; the functions of the mean-field theory instead compute in
the dtype of their floating inputs (as ``jax.numpy`` does), and in JAX's default float
when no input carries one (Python numbers, integers, lists).
"""

from __future__ import annotations

import jax
import numpy as np

from .._validation import as_array, float_dtype


def result_float_dtype(*values):
    """The float dtype to compute in: the promotion of the inputs' own float dtypes.

    Python numbers and JAX's weakly typed scalars do not count (as in ``jax.numpy``);
    complex inputs count with their real dtype; half precision is raised to float32;
    without any float input, :func:`float_dtype`.
    """
    dtypes = []
    for v in values:
        dt = getattr(v, "dtype", None)
        if dt is None or getattr(v, "weak_type", False):
            continue
        dt = np.dtype(dt)
        if dt.kind == "c":  # a complex input counts with its real dtype
            dt = np.finfo(dt).dtype
        if dt.kind == "f":
            dtypes.append(np.promote_types(dt, np.float32))
    if not dtypes:
        return float_dtype()
    # (canonicalize: float64 -> float32 without x64, quietly)
    return jax.dtypes.canonicalize_dtype(np.result_type(*dtypes))


def as_float(x, name, dtype=None, **kwargs):
    """``as_array`` in ``dtype`` (default: :func:`result_float_dtype` of ``x``)."""
    return as_array(x, name, dtype=result_float_dtype(x) if dtype is None else dtype, **kwargs)
