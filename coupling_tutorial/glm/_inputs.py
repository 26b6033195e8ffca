"""Input handling of the GLM classes (private): dict inputs, masks, rows with NaN."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_counts, check_finite, check_mask


def _flatten_X(X, name="X"):
    """Return (2-D array, structure); structure is None or [(key, n_columns), ...]."""
    if isinstance(X, dict):
        if not X:
            raise ValueError(f"`{name}` must be a 2-D array or a non-empty dict of 2-D arrays; "
                             "got an empty dict.")
        leaves, sizes = [], []
        for key in sorted(X):
            leaf = as_array(X[key], f"{name}['{key}']", ndim=2)
            leaves.append(leaf)
            sizes.append((key, leaf.shape[1]))
        n = {leaf.shape[0] for leaf in leaves}
        if len(n) > 1:
            raise ValueError(f"`{name}` must have the same number of samples in every entry; "
                             f"got {sorted(n)}.")
        dtype = jnp.result_type(float)
        return jnp.concatenate([leaf.astype(dtype) for leaf in leaves], axis=1), sizes
    return as_array(X, name, ndim=2).astype(jnp.result_type(float)), None


def _unflatten(arr, structure):
    if structure is None:
        return arr
    out, start = {}, 0
    for key, size in structure:
        out[key] = arr[start:start + size]
        start += size
    return out


def _flatten_mask(mask, structure, n_features, n_neurons, single):
    """Mask as an (n_features, n_neurons) float array (validated)."""
    shape = (n_features,) if single else (n_features, n_neurons)
    if structure is None:
        if isinstance(mask, dict):
            raise ValueError("`feature_mask` must be an array when X is an array; got a dict.")
        m = check_mask(mask, "feature_mask", shape)
        return m if not single else m[:, None]
    if not isinstance(mask, dict):
        raise ValueError("`feature_mask` must be a dict with the same keys as X when X is a "
                         f"dict; got {type(mask).__name__}.")
    keys = [k for k, _ in structure]
    if sorted(mask) != keys:
        raise ValueError(f"`feature_mask` must have the keys of X {keys}; got {sorted(mask)}.")
    blocks = []
    for key, size in structure:
        leaf = as_array(mask[key], f"feature_mask['{key}']")
        group_shape = () if single else (n_neurons,)
        full_shape = (size,) if single else (size, n_neurons)
        if leaf.shape == group_shape:
            leaf = check_mask(leaf, f"feature_mask['{key}']", group_shape)
            leaf = jnp.broadcast_to(leaf, full_shape)
        elif leaf.shape == full_shape:
            leaf = check_mask(leaf, f"feature_mask['{key}']", full_shape)
        else:
            raise ValueError(
                f"`feature_mask['{key}']` must have shape {group_shape} (one flag per "
                f"{'input' if single else 'neuron'}) or {full_shape}; got shape {leaf.shape}.")
        blocks.append(leaf if not single else leaf[:, None])
    return jnp.concatenate(blocks, axis=0)


def _valid_rows(X, y):
    """Boolean mask of rows where X and y are both free of NaN (None if all valid)."""
    bad = jnp.any(jnp.isnan(X), axis=1) | jnp.any(jnp.isnan(y), axis=1)
    bad = np.asarray(bad)
    if not bad.any():
        return None
    if bad.all():
        raise ValueError("`X` must have at least one row without NaN; got NaN in every row.")
    return jnp.asarray(~bad)


def _usable_rows(X, y, stacklevel=3):
    """``(X, y)`` without the rows that hold NaN, checked: the one rule of the GLM methods.

    A row with NaN in ``X`` (e.g. the first ``window_size`` rows of
    :func:`~coupling_tutorial.coupling_features`) is dropped silently, as documented; a row
    with NaN in ``y`` only is dropped with a ``UserWarning`` (NeMoS drops it too, but a NaN
    count is more likely a bug than a convention). What remains must be finite (inf in
    ``X`` is a ``ValueError`` naming `X`) and ``y`` spike counts. Used by ``fit``,
    ``score``, ``objective`` (so all three see the same rows).
    """
    valid = _valid_rows(X, y)
    if valid is not None:
        n_y = int(jnp.sum(jnp.any(jnp.isnan(y), axis=1) & ~jnp.any(jnp.isnan(X), axis=1)))
        if n_y:
            warnings.warn(f"`y` has NaN in {n_y} row(s) where `X` is finite; these rows "
                          "are dropped.", UserWarning, stacklevel=stacklevel)
        X, y = X[valid], y[valid]
    if not bool(jnp.all(jnp.isfinite(X))):  # (np.asarray(X) would keep a copy of X)
        check_finite(X, "X")
    check_counts(y, "y")
    return X, y
