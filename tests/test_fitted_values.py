"""Replacing a fitted model's ``coef_`` and ``intercept_`` (public, validated setters).

Chapter 6 scales the couplings of a fitted model to ask when it runs away; before these
setters, assigning ``coef_`` changed nothing that ``predict``, ``score`` or
``predict_stability`` read (they use the fit's private matrix), so the edit passed
silently. Every expected value here is computed with numpy from the assigned values.
"""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaln

import coupling_tutorial as ct

from conftest import float32_mode


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 3))
    y = rng.poisson(np.exp(X @ np.array([[0.4, 0.0], [0.0, -0.3], [0.2, 0.1]]) - 1.0))
    return ct.PopulationGLM().fit(X, y), X, y


def test_replaced_coefficients_drive_predict_and_score(fitted):
    model, X, y = fitted
    m = copy.copy(model)
    W = 2.0 * np.asarray(model.coef_) + 0.1
    b = np.asarray(model.intercept_) - 0.5
    m.coef_, m.intercept_ = W, b
    rate = np.exp(X @ W + b)
    np.testing.assert_allclose(np.asarray(m.predict(X)), rate, rtol=1e-12)
    ll = np.mean(y * np.log(rate) - rate - gammaln(y + 1.0), axis=0)
    np.testing.assert_allclose(np.asarray(m.score(X, y, aggregate_sample_scores=lambda a:
                                                   jnp.mean(a, axis=0))), ll, rtol=1e-10)
    np.testing.assert_array_equal(np.asarray(m.coef_), W)
    # the original is untouched
    np.testing.assert_allclose(np.asarray(model.predict(X)),
                               np.exp(X @ np.asarray(model.coef_) + np.asarray(model.intercept_)),
                               rtol=1e-12)
    assert not np.allclose(np.asarray(model.coef_), W)


def test_replaced_coefficients_are_not_the_optimum_for_standard_errors(fitted):
    model, X, y = fitted
    model.standard_errors(jnp.asarray(X), jnp.asarray(y))   # cached on the fitted model
    m = copy.copy(model)
    m.coef_ = 1.5 * model.coef_
    with pytest.raises(ValueError, match="not the optimum"):
        m.standard_errors(jnp.asarray(X), jnp.asarray(y))


def test_predict_stability_reads_replaced_couplings():
    # one neuron, one basis function at lag 1: the linearised gain is nu * (e^h - 1)
    B = np.eye(3)[:, :1]
    y = np.asarray(jax.random.poisson(jax.random.key(0), 0.1, (500, 1)))
    model = ct.PopulationGLM().fit(ct.coupling_features(y, B), y)
    radii = []
    for h in (0.2, 1.0):
        m = copy.copy(model)
        m.coef_, m.intercept_ = np.full((1, 1), h), np.full(1, np.log(0.05))
        radii.append(ct.predict_stability(m, B).spectral_radius)
    nu0 = 0.05
    for h, rho in zip((0.2, 1.0), radii):
        g = np.expm1(h)
        nu = nu0
        for _ in range(200):   # the fixed point nu = nu0 exp(g nu), by iteration
            nu = nu0 * np.exp(g * nu)
        np.testing.assert_allclose(rho, nu * g, rtol=1e-6)


def test_dict_coefficients_and_dtype():
    rng = np.random.default_rng(1)
    X = {"a": rng.normal(size=(600, 2)), "b": rng.normal(size=(600, 1))}
    y = rng.poisson(np.exp(0.3 * X["a"][:, :1] - 1.0), size=(600, 1))
    model = ct.PopulationGLM().fit(X, y)
    m = copy.copy(model)
    m.coef_ = {"a": np.array([[0.5], [-0.2]]), "b": np.array([[0.1]])}
    full = np.hstack([X["a"], X["b"]])
    rate = np.exp(full @ np.array([[0.5], [-0.2], [0.1]]) + np.asarray(m.intercept_))
    np.testing.assert_allclose(np.asarray(m.predict(X)), rate, rtol=1e-12)
    with float32_mode():
        X32 = jnp.asarray(X["a"], jnp.float32)
        m32 = ct.GLM().fit(X32, jnp.asarray(y[:, 0], jnp.float32))
        m32.coef_ = np.array([0.1, 0.2])          # float64 values take the fit's dtype
        assert m32.coef_.dtype == jnp.float32 and m32.coef_.shape == (2,)
        assert m32.predict(X32).dtype == jnp.float32


@pytest.mark.parametrize("name, value, err, message", [
    ("coef_", np.ones((2, 2)), ValueError,
     r"`coef_` must have the fitted shape \(3, 2\); got shape \(2, 2\)\."),
    ("coef_", np.full((3, 2), np.nan), ValueError,
     r"`coef_` must contain only finite values; got 6 NaN or inf entries\."),
    ("coef_", np.ones((3, 2)) * 1j, TypeError,
     r"`coef_` must be real; got a complex value \(an array of shape \(3, 2\)\)\."),
    ("coef_", {"a": np.ones((3, 2))}, ValueError,
     r"`coef_` must be an array of the fitted shape \(3, 2\) \(the model was fitted on an "
     r"array X\); got a dict with keys \['a'\]\."),
    ("coef_", None, TypeError, r"`coef_` must be an array; got None\."),
    ("intercept_", np.ones(3), ValueError,
     r"`intercept_` must have the fitted shape \(2,\); got shape \(3,\)\."),
    ("intercept_", np.array([0.0, np.inf]), ValueError,
     r"`intercept_` must contain only finite values; got 1 NaN or inf entry\."),
])
def test_bad_replacements_raise(fitted, name, value, err, message):
    m = copy.copy(fitted[0])
    with pytest.raises(err, match=message):
        setattr(m, name, value)


def test_masked_and_unfitted_replacements_raise(fitted):
    _, X, y = fitted
    mask = np.array([[1, 0], [0, 1], [1, 1]])
    model = ct.PopulationGLM(feature_mask=mask).fit(X, y)
    m = copy.copy(model)
    m.coef_ = 3.0 * model.coef_                      # zeros stay zeros: accepted
    with pytest.raises(ValueError, match=r"`coef_` must be 0 where the fit's feature_mask is "
                       r"0 \(.*\); got 1 nonzero entry, the first at feature 0, neuron 1\."):
        m.coef_ = np.asarray(model.coef_) + np.array([[0, 1.0], [0, 0], [0, 0]])
    fresh = ct.PopulationGLM()
    assert not hasattr(fresh, "coef_") and not hasattr(fresh, "intercept_")
    with pytest.raises(ValueError, match=r"`coef_` can be set only on a fitted model"):
        fresh.coef_ = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"`intercept_` can be set only on a fitted model"):
        fresh.intercept_ = np.ones(2)
