"""The streamed coupling design (coupling_tutorial.scale): same fit as the dense design,
on one device, on several virtual devices and across two processes; bad input."""

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import coupling_tutorial as ct
from coupling_tutorial.scale._streamed import _Data, _solve_design

from conftest import ROOT, float32_mode

N, T, W, K = 4, 2000, 12, 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    t = np.arange(T)[:, None]
    rate = np.exp(-2.0 + 0.7 * np.sin(2 * np.pi * t / 150.0 + rng.uniform(0, 6, N)))
    counts = rng.poisson(rate)
    inputs = rng.standard_normal((T, 2))
    basis = np.asarray(ct.raised_cosine_log_basis(K, W))
    return counts, inputs, basis


def brute_design(counts, basis, inputs=None):
    """X[t, j K + k] = sum_l y[t + W - 1 - l, j] B[l, k], rows t = 0 .. T - W - 1 (numpy)."""
    n, m = counts.shape
    w, k = basis.shape
    X = np.zeros((n - w, m * k))
    for t in range(n - w):
        past = counts[t + w - 1 - np.arange(w)]  # (w, m), lag 1 first
        X[t] = (past.T @ basis).ravel()
    return X if inputs is None else np.hstack([X, inputs[w:]])


def test_materialize_is_the_dense_design(data):
    counts, inputs, basis = data
    D = ct.CouplingDesign(counts[:300], basis, inputs=inputs[:300], chunk_size=40)
    assert D.shape == (288, N * K + 2) and D.counts.dtype == np.uint8
    np.testing.assert_allclose(D.materialize(), brute_design(counts[:300], basis,
                                                             inputs[:300]), atol=1e-13)


CASES = {
    "ridge-newton-cg-mask-inputs": dict(regularizer="Ridge", regularizer_strength=1e-3,
                                        solver="newton-cg"),
    "lasso-newton": dict(regularizer="Lasso", regularizer_strength=2e-3),
    "grouplasso-newton": dict(regularizer="GroupLasso", regularizer_strength=2e-3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_fit_equals_dense_fit(data, case):
    counts, inputs, basis = data
    kw = dict(CASES[case])
    F = N * K + 2
    if case.startswith("ridge"):
        mask = np.ones((F, N))
        mask[:K, 1] = 0.0  # neuron 1 may not use neuron 0
        kw["feature_mask"] = mask
    if case.startswith("group"):
        # one group per sender's K columns; the two input columns are not grouped
        kw["group_mask"] = np.hstack([np.kron(np.eye(N), np.ones(K)), np.zeros((N, 2))])
    X = np.hstack([np.asarray(ct.coupling_features(counts, basis)), inputs])
    D = ct.CouplingDesign(counts, basis, inputs=inputs, chunk_size=256)
    dense = ct.PopulationGLM(**kw).fit(X, counts)
    lazy = ct.PopulationGLM(**kw).fit(D, counts)
    assert lazy.solver_ == dense.solver_ and lazy.converged_.all()
    scale = np.max(np.abs(dense.coef_))
    assert np.max(np.abs(lazy.coef_ - dense.coef_)) <= 1e-8 * scale
    np.testing.assert_allclose(lazy.intercept_, dense.intercept_, rtol=1e-8)
    assert np.max(np.abs(lazy.objective_ - dense.objective_)) <= 1e-12
    if "feature_mask" in kw:
        assert np.all(np.asarray(lazy.coef_)[:K, 1] == 0.0)
    # the other methods on the design give what they give on X
    np.testing.assert_allclose(lazy.objective(D, counts), dense.objective(X, counts),
                               rtol=0, atol=1e-13)
    np.testing.assert_allclose(lazy.predict(D), dense.predict(X), rtol=1e-12)
    for score in ("log-likelihood", "pseudo-r2-McFadden", "pseudo-r2-Cohen"):
        np.testing.assert_allclose(lazy.score(D, counts, score), dense.score(X, counts, score),
                                   rtol=1e-12)


def test_standard_errors_on_the_design_equal_statsmodels(data):
    """Issue 16: standard_errors accepts a CouplingDesign. Reference: statsmodels' Poisson
    GLM on the brute-force design, one neuron at a time, masked columns left out."""
    sm = pytest.importorskip("statsmodels.api")
    counts, inputs, basis = data
    F = N * K + 2
    mask = np.ones((F, N))
    mask[:K, 1] = 0.0
    D = ct.CouplingDesign(counts, basis, inputs=inputs, chunk_size=256)
    model = ct.PopulationGLM(feature_mask=mask, tol=1e-12).fit(D, counts)
    se = model.standard_errors(D, counts)
    assert se.coef.shape == (F, N) and se.intercept.shape == (N,)
    assert np.all(np.asarray(se.coef)[:K, 1] == 0.0)
    X = brute_design(counts, basis, inputs)
    for i in range(N):
        free = mask[:, i] > 0
        ref = sm.GLM(counts[W:, i], sm.add_constant(X[:, free], prepend=False),
                     family=sm.families.Poisson()).fit(tol=1e-13)
        np.testing.assert_allclose(se.coef[free, i], ref.bse[:-1], rtol=1e-6)
        np.testing.assert_allclose(se.intercept[i], ref.bse[-1], rtol=1e-6)
    with pytest.raises(ValueError, match="must have 14 features"):
        model.standard_errors(ct.CouplingDesign(counts, basis), counts)


def test_single_neuron_glm_and_float32(data):
    counts, _, basis = data
    D = ct.CouplingDesign(counts[:, :2], basis, chunk_size=200)
    X = np.asarray(ct.coupling_features(counts[:, :2], basis))
    a = ct.GLM().fit(D, counts[:, 0])
    b = ct.GLM().fit(X, counts[:, 0])
    assert a.coef_.shape == (2 * K,) and a.converged_
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)
    with float32_mode():
        c = ct.PopulationGLM().fit(ct.CouplingDesign(counts, basis), counts)
        assert c.coef_.dtype == jnp.float32 and c.converged_.all()


def _float_shapes(jaxpr, kind=jnp.floating):
    """Shapes of every floating-point (or ``kind``) value computed in a jaxpr (and its
    sub-jaxprs)."""
    try:
        from jax.extend.core import jaxprs_in_params
    except ImportError:  # JAX 0.7
        from jax.core import jaxprs_in_params

    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            if jnp.issubdtype(v.aval.dtype, kind):
                yield v.aval.shape
        for sub in jaxprs_in_params(eqn.params):
            yield from _float_shapes(sub, kind)


def test_spike_totals_never_widen_the_whole_counts(data):
    """The fit's check that every neuron spikes sums the compact counts one chunk at a
    time: a whole-array sum in int64 made XLA materialise an int64 copy (8x the uint8
    counts, the largest buffer of a streamed fit)."""
    from coupling_tutorial.scale._model import _target_totals

    counts, _, basis = data
    D = ct.CouplingDesign(counts, basis, chunk_size=64)
    targets = D.targets(counts)
    totals = _target_totals(targets, 0, D.chunks_per_block, 64, jnp.int64)
    np.testing.assert_array_equal(totals, counts[W:].sum(axis=0))
    jaxpr = jax.make_jaxpr(lambda a: _target_totals(a, 0, D.chunks_per_block, 64, jnp.int64))(
        targets)
    wide = [s for s in _float_shapes(jaxpr.jaxpr, jnp.signedinteger) if np.prod(s) > 64 * N]
    assert not wide, wide
    # the check sees a whole-array conversion where there is one
    jaxpr = jax.make_jaxpr(lambda a: jnp.sum(a.astype(jnp.int64), axis=(0, 1)))(targets)
    assert [s for s in _float_shapes(jaxpr.jaxpr, jnp.signedinteger) if np.prod(s) > 64 * N]


def test_the_counts_as_targets_are_read_from_the_design_not_copied(data):
    """``fit(CouplingDesign(counts, B), counts)`` (a recording explained by its own past)
    reads the targets from the design's blocked counts: no second copy is made, and fit,
    objective, score and standard errors equal those with a copy of the counts as ``y``
    (the separate-targets path), and their spike totals agree."""
    from coupling_tutorial.scale._model import _data, _target_totals

    counts, _, basis = data
    D = ct.CouplingDesign(counts, basis, chunk_size=64)
    copy = np.array(counts, copy=True)
    own, geo = _data(D, counts)
    other, geo2 = _data(D, copy)
    assert own.targets is None and geo.own_targets
    assert other.targets is not None and not geo2.own_targets
    np.testing.assert_array_equal(
        _target_totals(own.counts, W, D.chunks_per_block, 64, jnp.int64),
        _target_totals(other.targets, 0, D.chunks_per_block, 64, jnp.int64))
    a = ct.PopulationGLM("Ridge", 1e-3).fit(D, counts)
    b = ct.PopulationGLM("Ridge", 1e-3).fit(D, copy)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.objective(D, counts), b.objective(D, copy), rtol=1e-14)
    np.testing.assert_allclose(a.score(D, counts), b.score(D, copy), rtol=1e-14)
    np.testing.assert_allclose(a.standard_errors(D, counts)[0], b.standard_errors(D, copy)[0],
                               rtol=1e-12)
    # and both equal the dense fit (whose targets are the counts' rows W on)
    dense = ct.PopulationGLM("Ridge", 1e-3).fit(D.materialize(), counts[W:])
    np.testing.assert_allclose(a.coef_, dense.coef_, rtol=1e-7, atol=1e-9)


def test_fit_never_holds_a_time_by_neuron_array(data):
    """No float value of the streamed fit spans more than one chunk of rows (plus the
    window): neither the design (n_rows, F) nor the linear predictor (n_rows, N) is
    formed; only the (integer) counts are held whole (and extra ``inputs`` columns, which
    are data: none here)."""
    counts, _, basis = data
    chunk = 64
    D = ct.CouplingDesign(counts, basis, chunk_size=chunk)
    F = D.shape[1]
    args = (_Data(D.counts, D.inputs, D.targets(counts), D.basis), jnp.ones((F, N)), None,
            1e-3, 0.5, 1e-8, 100)
    for kind, solver in (("ridge", "newton-cg"), ("lasso", "newton")):
        jaxpr = jax.make_jaxpr(lambda *a: _solve_design(
            *a, geo=D._static(), kind=kind, solver=solver, masked=False, mesh=None))(*args)
        longest = max(max(s, default=0) for s in _float_shapes(jaxpr.jaxpr))
        # the float segment of counts a chunk is made of (chunk + W - 1 rows) and the
        # chunk's Toeplitz operator (at most K * chunk rows), both far below T
        assert chunk + W - 1 <= longest <= K * chunk < T
    # the check sees a design-sized value where there is one
    jaxpr = jax.make_jaxpr(lambda y: ct.coupling_features(y, basis))(jnp.asarray(counts))
    assert max(max(s, default=0) for s in _float_shapes(jaxpr.jaxpr)) >= T


SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np, coupling_tutorial as ct
rng = np.random.default_rng(1)
counts = rng.poisson(0.15, (3000, 3))
basis = ct.raised_cosine_log_basis(3, 16)
mesh = ct.time_mesh()
assert mesh.size == 4
for kw in (dict(solver="newton-cg"), dict(regularizer="Lasso", regularizer_strength=3e-3)):
    one = ct.PopulationGLM(**kw).fit(ct.CouplingDesign(counts, basis, chunk_size=128), counts)
    D4 = ct.CouplingDesign(counts, basis, chunk_size=128, mesh=mesh)
    assert len(D4.counts.sharding.device_set) == 4
    four = ct.PopulationGLM(**kw).fit(D4, counts)
    print("diff", float(np.max(np.abs(np.asarray(one.coef_) - np.asarray(four.coef_)))))
try:
    ct.CouplingDesign(counts[:300], basis, chunk_size=128, mesh=mesh)
except ValueError as err:
    print("error", err)
"""


def test_sharded_fit_equals_single_device():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SHARDED], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    diffs = [float(x) for x in re.findall(r"^diff (\S+)$", out.stdout, re.M)]
    assert len(diffs) == 2 and max(diffs) <= 1e-10, out.stdout
    assert ("error `mesh` must have at most 3 devices for 284 rows in chunks of 128 (every "
            "shard needs at least one chunk of rows); got 4 devices.") in out.stdout


def test_two_processes_equal_one_process():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "distributed_fit.py"), "--processes", "2",
         "--neurons", "4", "--samples", "6000", "--window", "20", "--basis", "3",
         "--chunk", "512"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"max coefficient difference: (\S+)", last)
    assert m and float(m.group(1)) <= 1e-10, out.stdout


BAD = [
    (dict(counts=np.ones((10, 2)), basis=np.ones((12, 3))),
     "`counts` must have more samples than the basis window (12); got 10."),
    (dict(counts=np.ones((50, 2)), basis=np.ones(12)),
     "`basis` must be 2-D; got a 1-D array of shape (12,)."),
    (dict(counts=np.ones((50, 2)), basis=np.ones((12, 3)), inputs=np.ones((49, 1))),
     "`inputs` must have as many samples as `counts` (50); got 49."),
    (dict(counts=np.ones((50, 2)), basis=np.ones((12, 3)), chunk_size=0),
     "`chunk_size` must be an integer >= 1; got 0."),
    (dict(counts=np.ones((50, 2)), basis=np.ones((12, 3)), chunk_size=8),
     "`chunk_size` must be at least the basis window (12) so that a chunk's halo fits in "
     "one chunk; got 8."),
    (dict(counts=np.full((50, 2), 0.5), basis=np.ones((12, 3))),
     "`counts` must hold integer spike counts; got non-integer values."),
    (dict(counts=np.ones((50, 2)), basis=np.ones((12, 3)),
          mesh=jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("a", "b"))),
     "`mesh` must be a jax.sharding.Mesh with one axis (time); got"),
]


@pytest.mark.parametrize("kwargs,message", BAD)
def test_bad_design(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ct.CouplingDesign(**kwargs)


def test_bad_fit_input(data):
    counts, _, basis = data
    D = ct.CouplingDesign(counts, basis, chunk_size=256)
    with pytest.raises(ValueError, match=re.escape(
            f"`y` must have as many samples as the design's counts ({T}); got {T - 1}.")):
        ct.PopulationGLM().fit(D, counts[1:])
    with pytest.raises(ValueError, match=re.escape(
            "`solver` must be one of ('newton', 'newton-cg') (or None) with a CouplingDesign; "
            "got 'proximal-gradient'.")):
        ct.PopulationGLM(solver="proximal-gradient").fit(D, counts)
    with pytest.raises(ValueError, match=re.escape("`feature_mask` must have shape (12, 4)")):
        ct.PopulationGLM(feature_mask=np.ones((3, 4))).fit(D, counts)
    model = ct.PopulationGLM().fit(D, counts)
    small = ct.CouplingDesign(counts[:, :2], basis)
    with pytest.raises(ValueError, match=re.escape(
            "`X` must have 12 features; got a CouplingDesign with 6.")):
        model.predict(small)
