"""Self-check of the Chapter 7 exercise: the gradient of a coupled GLM, chunk by chunk.

Each check registers itself with its exercise label (:func:`._harness.exercise_check`).
"""

from __future__ import annotations

import numpy as np

from ._harness import _Fail, _max_err, _rtol, _run, _tolerance_message, exercise_check

__all__ = ["check_chunked_gradient"]


def _gradient_case():
    """Counts (700, 3), a 3-function basis of 20 lags, coefficients ``(9, 3)`` and
    intercepts ``(3,)`` with rates of a few percent per bin."""
    from ..filters import raised_cosine_log_basis

    rng = np.random.default_rng(20260107)
    counts = rng.poisson(0.2, size=(700, 3)).astype(float)
    counts[1:, 2] += counts[:-1, 0]  # neuron 2 follows neuron 0: a non-trivial gradient
    basis = np.asarray(raised_cosine_log_basis(3, 20), dtype=float)
    W = 0.1 * rng.standard_normal((9, 3))
    b = np.log(counts.mean(axis=0))
    return counts, basis, W, b


def _features(counts, basis, first_lag=1, chunk_starts=None):
    r"""NumPy causal features, ``(n_samples, n_neurons * n_basis)`` (neuron-major), zero
    where the history leaves the recording.

    ``first_lag``: the lag of basis row 0 (1 is right). ``chunk_starts``: for each bin,
    the first bin its features may see (history before it treated as zero: a chunk
    computed without its halo); ``None`` for the whole past.
    """
    n, n_neurons = counts.shape
    window, n_basis = basis.shape
    out = np.zeros((n, n_neurons, n_basis))
    t = np.arange(n)
    lowest = np.zeros(n, int) if chunk_starts is None else chunk_starts
    for lag in range(window):
        src = t - first_lag - lag
        ok = (src >= lowest) & (src >= 0)
        past = np.where(ok[:, None], counts[np.clip(src, 0, n - 1)], 0.0)
        out += past[:, :, None] * basis[lag][None, None, :]
    return out.reshape(n, -1)


def _gradient(X, y, W, b, n):
    """``X^T (exp(X W + b) - y) / n``."""
    return X.T @ (np.exp(X @ W + b) - y) / n


@exercise_check("ex-ch7-gradient")
def check_chunked_gradient(fn) -> str:
    r"""Check a reader's chunked gradient of the coupled Poisson GLM's data loss.

    ``fn(counts, basis, W, b, chunk_size)`` must return

    .. math:: g = \frac{1}{T}\, X^\top\big(e^{X W + b} - y\big),

    shape ``(n_neurons * n_basis, n_neurons)``, where ``X`` is
    ``coupling_features(counts, basis)`` without its first ``window_size`` (NaN) rows,
    ``y = counts[window_size:]`` and ``T = n_samples - window_size`` the number of rows,
    computed chunk by chunk (``chunk_size`` rows at a time, each chunk's features from
    its counts and the ``window_size`` bins before them). It is called with several
    chunk sizes, one that does not divide the number of rows among them.

    Parameters
    ----------
    fn : callable
        The reader's function ``fn(counts, basis, W, b, chunk_size)``.
    verbose : bool
        Print the one-line verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np, coupling_tutorial as ct
    >>> def dense_gradient(counts, basis, W, b, chunk_size):
    ...     w = basis.shape[0]
    ...     X = np.asarray(ct.coupling_features(counts, basis))[w:]
    ...     return X.T @ (np.exp(X @ W + b) - counts[w:]) / len(X)
    >>> ct.checks.check_chunked_gradient(dense_gradient)
    ✓ check_chunked_gradient: matches X^T (exp(X W + b) - y) / T for chunks of 680, 128 and 50 rows.
    True
    """
    counts, basis, W, b = _gradient_case()
    n, n_neurons = counts.shape
    window, n_basis = basis.shape
    rows = n - window
    F = n_neurons * n_basis
    X = _features(counts, basis)[window:]
    y = counts[window:]
    want = _gradient(X, y, W, b, rows)
    rtol = _rtol(want)
    for chunk in (rows, 128, 50):
        where = f"(chunk_size={chunk})"
        got = _run(fn, (counts.copy(), basis.copy(), W.copy(), b.copy(), chunk))
        if got.shape != want.shape:
            if got.shape == (n_neurons, F):
                raise _Fail(f"shape {got.shape} {where}: one column per neuron, "
                            f"(n_features, n_neurons) = {want.shape}, like W.")
            if got.shape == (F + 1, n_neurons):
                raise _Fail(f"shape {got.shape} {where}: only the coefficients' gradient "
                            f"is asked, not the intercept's: {want.shape}.")
            raise _Fail(f"shape {got.shape} {where}: expected {want.shape}.")
        if np.isnan(got).any():
            raise _Fail(f"NaN in your gradient {where}: the first window_size rows of "
                        f"the features are NaN (no full history); drop them, and give "
                        f"each chunk the window_size bins before it.")
        scale = max(1.0, float(np.max(np.abs(want))))
        if np.allclose(got, want, rtol=0, atol=rtol * scale):
            continue
        starts = np.zeros(n, int)  # features of a chunk computed without its halo
        for lo in range(0, rows, chunk):
            starts[window + lo:window + lo + chunk] = window + lo
        X_nohalo = _features(counts, basis, chunk_starts=starts)[window:]
        X_all = _features(counts, basis)
        variants = [
            (_gradient(X_nohalo, y, W, b, rows),
             "the rows at the start of each chunk are wrong: their features need the "
             "window_size bins BEFORE the chunk (the halo), not only the chunk's own "
             "counts."),
            (_gradient(_features(counts, basis, first_lag=0)[window:], y, W, b, rows),
             "off by one lag: you include the current bin. Row 0 of the basis is lag 1, "
             "so row t sees counts[t - 1 - l], strictly before t."),
            (_gradient(_features(counts, basis, first_lag=2)[window:], y, W, b, rows),
             "off by one lag: row 0 of the basis is lag 1 (the bin just before t), not "
             "lag 2."),
            (_gradient(X_all, counts, W, b, n),
             "you keep the first window_size bins, whose history is incomplete: drop "
             "those rows of X and y, and divide by the rows kept."),
            (_gradient(X_all, counts, W, b, rows),
             "you keep the first window_size bins, whose history is incomplete: drop "
             "those rows of X and y."),
            (want * rows / n,
             "divide by the number of rows of the design, n_samples - window_size, not "
             "by n_samples."),
            (want * rows, "the loss is a mean over the rows: divide the sum by T."),
            (-want, "sign flipped: the gradient of mean(exp(eta) - y eta) is "
             "X^T (exp(eta) - y) / T, rate minus count."),
            (_gradient(X, y, W, 0.0, rows), "you left out the intercept b in eta."),
        ]
        for value, message in variants:
            if np.allclose(got, value, rtol=0, atol=rtol * scale):
                raise _Fail(f"{message} {where}")
        err, idx = _max_err(got, want)
        near = _tolerance_message(err / scale, rtol)
        if near:
            raise _Fail(f"{near} {where}")
        raise _Fail(f"values differ {where}: at feature {idx[0]}, neuron {idx[1]} "
                    f"expected {want[idx]:.6g}, got {got[idx]:.6g}.")
    return (f"matches X^T (exp(X W + b) - y) / T for chunks of {rows}, 128 and 50 rows.")
