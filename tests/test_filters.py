"""coupling_tutorial.filters against NeMoS 0.2.9 outputs, scipy and closed forms."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import coupling_tutorial as ct


@pytest.fixture(scope="module")
def nemos(data_dir):
    return np.load(data_dir / "nemos_elementary.npz")


# ---------------------------------------------------------------- NeMoS agreement
def test_difference_of_gammas_matches_nemos(nemos):
    params = json.loads(str(nemos["dog_params"]))
    for i, p in enumerate(params):
        p = dict(p)
        ws = p.pop("ws")
        np.testing.assert_allclose(ct.difference_of_gammas(ws, **p), nemos[f"dog{i}"],
                                   rtol=0, atol=1e-10)


@pytest.mark.parametrize("name, args, kwargs", [
    ("rcl_log_n5", (5, 100), {}),
    ("rcl_log_n10", (10, 100), {}),
    ("rcl_log_n10_w3_ts10_nodecay", (10, 100),
     dict(width=3.0, time_scaling=10.0, enforce_decay_to_zero=False)),
    ("rcl_log_n6_ws80", (6, 80), {}),
])
def test_log_basis_matches_nemos(nemos, name, args, kwargs):
    np.testing.assert_allclose(ct.raised_cosine_log_basis(*args, **kwargs), nemos[name],
                               rtol=0, atol=1e-10)


def test_linear_basis_matches_nemos(nemos):
    np.testing.assert_allclose(ct.raised_cosine_linear_basis(6, 100), nemos["rcl_lin_n6"],
                               rtol=0, atol=1e-10)


def test_regress_filter_matches_nemos(nemos):
    w = ct.regress_filter(nemos["regress_bank"], nemos["rcl_log_n6_ws80"])
    assert w.shape == (2, 3, 6)  # (n_receivers, n_senders, n_basis), not NeMoS's docstring
    np.testing.assert_allclose(w, nemos["regress_weights"], rtol=0, atol=1e-10)


# ---------------------------------------------------------------- independent references
@pytest.mark.parametrize("q, a, b", [(0.99, 1.0, 1.0), (0.99, 2.0, 2.0), (0.95, 4.0, 2.5),
                                     (0.5, 0.3, 1.0), (1e-8, 3.0, 0.7), (0.999999, 50.0, 3.0),
                                     (0.9, 200.0, 1.0)])
def test_gamma_ppf_matches_scipy(q, a, b):
    expected = scipy.stats.gamma(a, scale=1.0 / b).ppf(q)
    assert ct.gamma_ppf(q, a, b) == pytest.approx(expected, rel=1e-12)


def test_difference_of_gammas_closed_form():
    # independent construction with scipy: pdf_E - pdf_I on the quantile grid, L2-normalised
    ws, q, ia, ea, ib, eb = 60, 0.9, 1.5, 3.0, 0.8, 1.7
    xmax = max(scipy.stats.gamma(ia, scale=1 / ib).ppf(q), scipy.stats.gamma(ea, scale=1 / eb).ppf(q))
    x = np.linspace(0, xmax, ws)
    h = scipy.stats.gamma(ea, scale=1 / eb).pdf(x) - scipy.stats.gamma(ia, scale=1 / ib).pdf(x)
    got = ct.difference_of_gammas(ws, q, ia, ea, ib, eb)
    np.testing.assert_allclose(got, h / np.linalg.norm(h), rtol=0, atol=1e-12)
    assert float(jnp.linalg.norm(got)) == pytest.approx(1.0, abs=1e-14)


def test_exponential_filter_closed_form():
    c = ct.exponential_filter(10, tau=5.0, dt=0.5)
    np.testing.assert_allclose(c, np.exp(-0.5 * np.arange(10) / 5.0), rtol=1e-15)
    assert float(c[0]) == 1.0


def test_log_basis_properties():
    B = np.asarray(ct.raised_cosine_log_basis(8, 200))
    assert B.shape == (200, 8)
    assert np.all((B >= 0) & (B <= 1))
    np.testing.assert_array_equal(B[-1], 0.0)  # decays to zero at the window's end
    assert np.argmax(B[:, 0]) == 0  # first bump peaks at the most recent lag
    peaks = np.argmax(B, axis=0)
    assert np.all(np.diff(peaks) > 0) and np.all(np.diff(np.diff(peaks)) >= 0)  # log spacing


@pytest.mark.parametrize("width", [1.5, 2.0, 3.0])
def test_linear_basis_sums_to_a_constant_between_the_outer_peaks(width):
    # with 2*width an integer, overlapping raised cosines sum to width between the
    # outer peaks (the edge bumps have no neighbour outside the window)
    n = 10
    B = np.asarray(ct.raised_cosine_linear_basis(n, 901, width=width))
    x = np.linspace(0, 1, 901)
    margin = (width - 1) / (n - 1)
    inner = (x >= margin - 1e-12) & (x <= 1 - margin + 1e-12)
    np.testing.assert_allclose(B[inner].sum(axis=1), width, atol=1e-12)


def test_history_basis_is_identity():
    np.testing.assert_array_equal(ct.history_basis(7), np.eye(7))


def test_regress_filter_against_numpy_lstsq():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(50, 3, 4))
    B = np.asarray(ct.raised_cosine_log_basis(7, 50))
    w = np.asarray(ct.regress_filter(bank, B))
    for i in range(3):
        for j in range(4):
            ref, *_ = np.linalg.lstsq(B, bank[:, i, j], rcond=None)
            np.testing.assert_allclose(w[i, j], ref, rtol=1e-9, atol=1e-12)


def test_regress_filter_recovers_a_filter_in_the_span():
    B = ct.raised_cosine_log_basis(6, 80)
    true_w = jnp.arange(1.0, 7.0)
    bank = (B @ true_w)[:, None, None]
    np.testing.assert_allclose(ct.regress_filter(bank, B)[0, 0], true_w, rtol=1e-10)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: ct.difference_of_gammas(0), r"`window_size` must be an integer >= 1; got 0"),
    (lambda: ct.difference_of_gammas(10.5), r"`window_size` must be an integer >= 1; got 10.5"),
    (lambda: ct.difference_of_gammas(10, upper_percentile=1.0),
     r"`upper_percentile` must be in \[0, 1\); got 1.0"),
    (lambda: ct.difference_of_gammas(10, upper_percentile=-0.1),
     r"`upper_percentile` must be in \[0, 1\); got -0.1"),
    (lambda: ct.difference_of_gammas(10, inhib_a=-1.0),
     r"`inhib_a` must be positive and finite; got -1.0"),
    (lambda: ct.difference_of_gammas(10, excit_b=0.0),
     r"`excit_b` must be positive and finite; got 0.0"),
    (lambda: ct.difference_of_gammas(10, excit_a=0.5), r"`excit_a` must be >= 1"),
    (lambda: ct.difference_of_gammas(10, 0.9, 2.0, 2.0, 1.0, 1.0), r"identical"),
    (lambda: ct.exponential_filter(5, tau=0.0), r"`tau` must be positive and finite; got 0.0"),
    (lambda: ct.exponential_filter(5, tau=-2.0), r"`tau` must be positive and finite; got -2.0"),
    (lambda: ct.exponential_filter(5, tau=1.0, dt=float("nan")),
     r"`dt` must be positive and finite; got nan"),
    (lambda: ct.raised_cosine_log_basis(1, 10), r"`n_basis_funcs` must be an integer >= 2; got 1"),
    (lambda: ct.raised_cosine_log_basis(4, 10, width=1.0), r"`width` must be > 1"),
    (lambda: ct.raised_cosine_log_basis(4, 10, time_scaling=0.0),
     r"`time_scaling` must be positive and finite; got 0.0"),
    (lambda: ct.raised_cosine_linear_basis(4, 10, width=2.2),
     r"`width` must be a multiple of 0.5"),
    (lambda: ct.regress_filter(np.zeros((10, 2)), np.zeros((10, 3))),
     r"`coupling_filters` must be 3-D; got a 2-D array of shape \(10, 2\)"),
    (lambda: ct.regress_filter(np.zeros((10, 2, 2)), np.zeros((12, 3))),
     r"same window size \(axis 0\); got 10 and 12"),
    (lambda: ct.regress_filter(np.full((10, 1, 1), np.nan), np.ones((10, 3))),
     r"`coupling_filters` must contain only finite values; got 10 NaN or inf entries"),
    (lambda: ct.gamma_ppf(1.0, 2.0), r"`q` must be in \[0, 1\); got 1.0"),
])
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()
