"""coupling_tutorial.features against brute-force numpy and the NeMoS conventions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import coupling_tutorial as ct


def brute_force_design(counts, basis):
    """X[t, j*K + k] = sum_l counts[t-1-l, j] * basis[l, k], first ws rows NaN (NeMoS)."""
    T, N = counts.shape
    ws, K = basis.shape
    X = np.full((T, N * K), np.nan)
    for t in range(ws, T):
        window = counts[t - ws:t][::-1]  # row l = counts[t-1-l]
        for j in range(N):
            for k in range(K):
                X[t, j * K + k] = np.dot(window[:, j], basis[:, k])
    return X


@pytest.fixture(scope="module")
def counts():
    return np.random.default_rng(1).poisson(0.7, size=(120, 4)).astype(float)


def test_matches_brute_force(counts):
    B = np.asarray(ct.raised_cosine_log_basis(5, 17))
    X = np.asarray(ct.coupling_features(counts, B))
    ref = brute_force_design(counts, B)
    assert X.shape == (120, 20)
    np.testing.assert_array_equal(np.isnan(X), np.isnan(ref))
    np.testing.assert_allclose(X[17:], ref[17:], rtol=1e-12, atol=1e-12)


def test_history_basis_is_pure_shift(counts):
    ws = 6
    X = np.asarray(ct.coupling_features(counts, ct.history_basis(ws)))
    for j in range(counts.shape[1]):
        for lag in range(1, ws + 1):
            np.testing.assert_array_equal(X[ws:, j * ws + lag - 1], counts[ws - lag:-lag, j])


def test_causality_a_spike_never_explains_its_own_bin():
    T, ws = 50, 8
    y = np.zeros((T, 1))
    y[20] = 1
    X = np.asarray(ct.coupling_features(y, ct.history_basis(ws)))
    assert np.all(X[:21][ws:] == 0)  # nothing at or before bin 20
    assert X[21, 0] == 1 and X[28, 7] == 1 and np.all(X[29:] == 0)


def test_first_window_rows_are_nan_rest_finite(counts):
    X = np.asarray(ct.coupling_features(counts, ct.raised_cosine_log_basis(4, 30)))
    assert np.all(np.isnan(X[:30])) and np.all(np.isfinite(X[30:]))


def test_one_dimensional_counts_are_one_neuron(counts):
    B = ct.raised_cosine_log_basis(3, 10)
    np.testing.assert_array_equal(ct.coupling_features(counts[:, 1], B),
                                  ct.coupling_features(counts[:, 1:2], B))


def test_integer_counts_accepted_and_float32_follows_jax_config(counts):
    B = ct.raised_cosine_log_basis(3, 10)
    X = ct.coupling_features(counts.astype(np.int32), B)
    assert X.dtype == jnp.float64
    np.testing.assert_array_equal(X, ct.coupling_features(counts, B))


def test_split_and_layouts_are_consistent():
    S, K, R = 3, 4, 5
    coef = np.arange(S * K * R, dtype=float).reshape(S * K, R)
    split = np.asarray(ct.split_coupling(coef, K))
    sim = np.asarray(ct.to_simulation_layout(split))
    for j in range(S):
        for k in range(K):
            for i in range(R):
                assert split[j, k, i] == coef[j * K + k, i] == sim[i, j, k]


def test_coupling_filters_roundtrip_with_regress_filter():
    B = ct.raised_cosine_log_basis(5, 40)
    split = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 2))
    filt = ct.coupling_filters(split, B)  # (ws, R, S)
    assert filt.shape == (40, 2, 3)
    sim = ct.regress_filter(filt, B)  # (R, S, K)
    np.testing.assert_allclose(sim, ct.to_simulation_layout(split), atol=1e-10)


def test_design_times_coef_equals_filter_convolution(counts):
    # X @ coef equals sum_j (counts_j * h_{j->i}) computed directly with np.convolve
    B = np.asarray(ct.raised_cosine_log_basis(4, 12))
    split = np.random.default_rng(3).normal(size=(4, 4, 2))
    coef = split.reshape(16, 2)
    X = np.asarray(ct.coupling_features(counts, B))
    h = np.asarray(ct.coupling_filters(split, B))  # (ws, R, S)
    for i in range(2):
        direct = sum(np.convolve(counts[:, j], np.r_[0.0, h[:, i, j]])[:len(counts)]
                     for j in range(4))
        np.testing.assert_allclose((X @ coef)[12:, i], direct[12:], atol=1e-12)


def test_mask_expansion_matches_feature_columns():
    mask = np.array([[1, 0, 1], [0, 1, 1]])
    fm = np.asarray(ct.coupling_mask_to_feature_mask(mask, 3))
    assert fm.shape == (6, 3)
    for j in range(2):
        for k in range(3):
            np.testing.assert_array_equal(fm[j * 3 + k], mask[j])


@pytest.mark.parametrize("call, message", [
    (lambda: ct.coupling_features(np.zeros((10, 2, 2)), np.ones((3, 2))),
     r"`counts` must be 1-D or 2-D; got a 3-D array of shape \(10, 2, 2\)"),
    (lambda: ct.coupling_features(np.zeros((10, 2)), np.ones(3)),
     r"`basis` must be 2-D; got a 1-D array of shape \(3,\)"),
    (lambda: ct.coupling_features(np.full((10, 2), np.nan), np.ones((3, 2))),
     r"`counts` must contain only finite values; got 20 NaN or inf entries"),
    (lambda: ct.coupling_features(np.array([[1.0], [np.inf], [0], [0], [0]]), np.ones((2, 1))),
     r"`counts` must contain only finite values; got 1 NaN or inf entry"),
    (lambda: ct.coupling_features(-np.ones((10, 2)), np.ones((3, 2))),
     r"`counts` must hold non-negative spike counts; got a minimum of -1.0"),
    (lambda: ct.coupling_features(np.full((10, 2), 0.5), np.ones((3, 2))),
     r"`counts` must hold integer spike counts"),
    (lambda: ct.coupling_features(np.zeros((5, 2)), np.ones((5, 2))),
     r"`counts` must have more samples than the basis window \(5\); got 5"),
    (lambda: ct.split_coupling(np.zeros((7, 2)), 3),
     r"`coef` must have a multiple of `n_basis` = 3 rows \(n_senders \* n_basis\); got 7 rows"),
    (lambda: ct.split_coupling(np.zeros((6, 2)), 0), r"`n_basis` must be an integer >= 1; got 0"),
    (lambda: ct.coupling_filters(np.zeros((2, 3, 2)), np.ones((10, 4))),
     r"`split_coef` axis 1 \(n_basis\) must equal the number of basis columns 4; got 3"),
    (lambda: ct.coupling_mask_to_feature_mask(np.array([[0, 2]]), 2),
     r"`mask` must contain only 0 and 1; got other values"),
    (lambda: ct.coupling_mask_to_feature_mask(np.array([0, 1]), 2),
     r"`mask` must be 2-D; got a 1-D array of shape \(2,\)"),
])
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()
