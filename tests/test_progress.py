"""Progress reports of fits and simulations (issue 16): what they say, and that they cost
nothing when off (no callback compiled) and change no result when on."""

import inspect
import io
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import coupling_tutorial as ct
from coupling_tutorial.glm.solve import _solve
from coupling_tutorial.lif import brunel
from coupling_tutorial.lif._brunel_loop import _brunel_scan
from coupling_tutorial.simulate._recurrent_loops import _recurrent_event_core


@pytest.fixture(scope="module")
def data():
    X = jax.random.normal(jax.random.key(0), (3000, 5))
    W = 0.3 * jax.random.normal(jax.random.key(1), (5, 4))
    y = jax.random.poisson(jax.random.key(2), jnp.exp(X @ W - 1.0)).astype(float)
    return X, y


def _fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ct.ConvergenceWarning)
        return ct.PopulationGLM(**kw).fit(X, y)


# ------------------------------------------------------------------------------- fits
@pytest.mark.parametrize("solver", ["newton", "newton-cg", "proximal-gradient"])
def test_fit_reports_every_iterate(data, solver):
    X, y = data
    log = []
    model = _fit(X, y, solver=solver, progress=log.append)
    plain = _fit(X, y, solver=solver)
    # the progress display changes nothing, to the last bit
    for name in ("coef_", "intercept_", "n_iter_", "objective_", "kkt_residual_"):
        assert np.array_equal(getattr(model, name), getattr(plain, name)), name

    *loop, last = log
    K = int(model.n_iter_.max())
    every = 10 if solver == "proximal-gradient" else 1
    assert [r.iteration for r in loop] == list(range(0, K, every))
    assert not any(r.done for r in loop) and last.done
    assert (last.iteration, last.n_active, last.n_neurons) == (K, 0, 4)
    assert last.objective == pytest.approx(model.objective_.sum(), rel=1e-14)
    assert last.kkt_residual == model.kkt_residual_.max()
    assert [r.n_active for r in loop] == [int(np.sum(model.n_iter_ > r.iteration))
                                          for r in loop]
    assert all(r.label == f"PopulationGLM ({solver})" and r.tol == 1e-8 for r in log)
    assert np.all(np.diff([r.elapsed for r in log]) >= 0)

    # iteration 0 is the start, W = 0 and b = log(mean y): objective sum(m - m log m)
    m = np.asarray(y).mean(axis=0)
    assert loop[0].objective == pytest.approx(np.sum(m - m * np.log(m)), rel=1e-12)
    f = [r.objective for r in loop] + [last.objective]
    if solver != "proximal-gradient":  # (FISTA is not monotone)
        assert np.all(np.diff(f) <= 1e-13 * abs(f[0]))
    # the numbers of iteration k are those of the iterate a fit stopped after k gives
    for r in loop[1:3]:
        stopped = _fit(X, y, solver=solver, maxiter=r.iteration)
        assert r.objective == pytest.approx(stopped.objective_.sum(), rel=1e-12)
        if solver != "proximal-gradient":  # (its measure is taken at another point)
            assert r.kkt_residual == pytest.approx(stopped.kkt_residual_.max(), rel=1e-8)


def test_single_neuron_glm_and_nonsmooth_penalty(data):
    X, y = data
    log = []
    model = ct.GLM(regularizer="Lasso", regularizer_strength=0.01,
                   progress=log.append).fit(X, y[:, 0])
    plain = ct.GLM(regularizer="Lasso", regularizer_strength=0.01).fit(X, y[:, 0])
    assert np.array_equal(model.coef_, plain.coef_)
    assert [r.iteration for r in log] == list(range(model.n_iter_ + 1))
    assert log[-1].label == "GLM (newton)" and log[-1].n_neurons == 1
    assert log[-1].objective == model.objective_


def test_progress_off_compiles_no_callback():
    X, Y, M = jnp.ones((10, 2)), jnp.ones((10, 3)), jnp.ones((2, 3))
    for solver in ("newton", "newton-cg", "proximal-gradient"):
        text = {p: _solve.lower(X, Y, M, None, 0.0, 0.5, 1e-8, 10, kind="none",
                                solver=solver, masked=False, progress=p).as_text()
                for p in (False, True)}
        assert "callback" not in text[False] and "callback" in text[True], solver

    B = ct.raised_cosine_log_basis(2, 5)
    args = (jnp.zeros((3, 3, 2)), None, None, jnp.zeros(3), jax.random.key(0), B,
            jnp.zeros((5, 3)), jnp.inf)
    text = {p: _recurrent_event_core.lower(*args, n_steps=600, inverse_link_function=jnp.exp,
                                           progress=p).as_text() for p in (0, 512)}
    assert "callback" not in text[0] and "callback" in text[512]

    bound = inspect.signature(ct.simulate_brunel).bind(
        jax.random.key(0), 5.0, 2.0, n_exc=40, n_inh=10, t_sim=0.01, t_warmup=0.0)
    bound.apply_defaults()
    kw = dict(bound.arguments)
    kw.pop("progress")
    r = brunel._set_up(**kw)
    text = {p: _brunel_scan.lower(r.carry, jnp.asarray(0, jnp.int32), *r.consts, r.ext,
                                  r.rec_idx, **r.static, progress=p).as_text()
            for p in (0, 512)}
    assert "callback" not in text[0] and "callback" in text[512]


# ------------------------------------------------------------------------- simulations
@pytest.fixture
def report_often(monkeypatch):
    """Reports every 512 steps instead of 2048, so that short runs report several times."""
    monkeypatch.setattr(ct.progress, "_MIN_REPORT_STEPS", 512)


def _check_step_reports(log, total, label, unit):
    *loop, last = log
    steps = [r.step for r in loop]
    assert steps == sorted(set(steps)) and steps[-1] == total
    assert all(s % 512 == 0 for s in steps[:-1])
    assert last.done and last.step == last.n_steps == total and last.eta == 0.0
    assert not any(r.done for r in loop)
    assert all(r.label == label and r.rate_unit == unit and r.n_steps == total for r in log)
    assert math.isnan(loop[0].eta) and all(r.eta >= 0 for r in loop[1:])
    return loop


def test_simulate_recurrent_reports_steps_and_rates(report_often):
    B = ct.raised_cosine_log_basis(3, 20)
    # rates high enough that the padding of the last chunk (bins 1300..1407, drawn with
    # the last bin's key) has spikes: counting them would show in the last report
    args = (-0.3 * jnp.ones((4, 4, 3)), None, -0.5 * jnp.ones(4), jax.random.key(0), None,
            B, jnp.zeros((20, 4)))
    log = []
    spikes, rates = ct.simulate_recurrent(*args, n_steps=1300, progress=log.append)
    plain = ct.simulate_recurrent(*args, n_steps=1300)
    assert np.array_equal(spikes, plain[0]) and np.array_equal(rates, plain[1])
    loop = _check_step_reports(log, 1300, "simulate_recurrent", "spikes/bin")
    assert [r.step for r in loop] == [512, 1024, 1300]
    # mean count per neuron and bin over the last chunk of 128 bins (20 in the last one)
    s = np.asarray(spikes)
    for r, start in zip(loop, (384, 896, 1280)):
        assert r.mean_rate == pytest.approx(s[start:r.step].mean(), rel=1e-12)
    assert log[-1].mean_rate == loop[-1].mean_rate

    # inside jax.jit there is no display to report to: progress is ignored
    log.clear()
    jitted = jax.jit(lambda k: ct.simulate_recurrent(*args[:3], k, *args[4:], n_steps=600,
                                                     progress=log.append, max_rate=None))
    assert jitted(jax.random.key(0))[0].shape == (600, 4) and log == []


def test_simulate_network_counts_burn_in(report_often):
    W0 = ct.normal_network(jax.random.key(0), 30, std=1.0, density=0.1, glorot=True)
    net = ct.PoissonGLMNetwork(W0, alpha=1.0, beta=1.0, T=10, tau=5.0, dt=1.0, r=0.5, b=-3.0)
    log = []
    spikes = ct.simulate_network(net, jax.random.key(1), 1000, burn_in=100,
                                 progress=log.append)
    assert np.array_equal(spikes, ct.simulate_network(net, jax.random.key(1), 1000,
                                                      burn_in=100))
    loop = _check_step_reports(log, 1100, "simulate_network", "spikes/bin")
    assert [r.step for r in loop] == [512, 1024, 1100]
    s = np.asarray(spikes)  # bins after the burn-in: step k is row k - 100
    assert loop[-1].mean_rate == pytest.approx(s[1024 - 100:].mean(), rel=1e-12)


def test_simulate_brunel_reports_rate_since_warmup(report_often):
    kw = dict(g=5.0, eta=2.0, n_exc=400, n_inh=100, t_sim=0.2, t_warmup=0.05)
    log = []
    res = ct.simulate_brunel(jax.random.key(0), **kw, progress=log.append)
    plain = ct.simulate_brunel(jax.random.key(0), **kw)
    assert np.array_equal(res.spike_times, plain.spike_times)
    assert np.array_equal(res.spike_counts, plain.spike_counts)
    loop = _check_step_reports(log, 2500, "simulate_brunel", "Hz")
    dt, n_warm, n = 1e-4, 500, 500
    for r in loop:  # spikes of steps n_warm .. step-1 (stamped (k + 1) dt)
        k = np.round(res.spike_times / dt).astype(int) - 1
        count = np.sum(k < r.step)
        assert r.mean_rate == pytest.approx(count / (n * (r.step - n_warm) * dt), rel=1e-6)
    assert log[-1].mean_rate == pytest.approx(
        (res.rate_exc * 400 + res.rate_inh * 100) / 500, rel=1e-6)


# ---------------------------------------------------------------------------- displays
def test_text_display_on_stderr(data, capsys):
    X, y = data
    for off in (False, None, np.False_):
        ct.PopulationGLM(progress=off).fit(X, y)
    assert capsys.readouterr().err == ""
    ct.PopulationGLM(progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert err.startswith("\rPopulationGLM (newton): iteration 0, objective ")
    for words in ("KKT residual", "(tol 1e-08)", "4/4 neurons active", "elapsed",
                  "done after"):
        assert words in err
    assert err.endswith("\n") and err.count("\n") == 1 and err.rstrip().endswith(" s")

    B = ct.raised_cosine_log_basis(2, 5)
    ct.simulate_recurrent(jnp.zeros((3, 3, 2)), None, -jnp.ones(3), jax.random.key(0), None,
                          B, jnp.zeros((5, 3)), n_steps=1100, progress=True)
    err = capsys.readouterr().err
    assert "simulate_recurrent: 1100/1100 steps (100%), elapsed" in err
    assert err.count("\r") == 2  # the loop's one report (at least 2048 steps apart) + done
    assert "spikes/bin" in err and err.endswith("\n")


def test_text_display_is_rate_limited_and_reusable():
    out = io.StringIO()
    show = ct.TextProgress(stream=out, min_interval=1e9)
    for run in range(2):  # a second run after `done` opens a new line
        for k in range(100):
            show(ct.FitProgress("fit", k, 1.0 / (k + 1), 0.1, 3, 3, 1e-8, 0.01 * k, False))
        show(ct.FitProgress("fit", 100, 0.01, 1e-9, 0, 3, 1e-8, 1.0, True))
    text = out.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 2  # first and last of each run
    assert text.split("\n")[0].startswith("\rfit: iteration 0, objective 1, KKT residual "
                                          "1.00e-01 (tol 1e-08), 3/3 neurons active")
    assert "\rfit: done after 100 iterations, objective 0.01," in text


def test_bad_progress_values():
    msg = "`progress` must be True, False, None or a callable taking one progress report; got"
    with pytest.raises(ValueError, match=f"^{msg} str 'yes'\\.$"):
        ct.PopulationGLM(progress="yes")
    model = ct.GLM()
    model.progress = 1
    with pytest.raises(ValueError, match=f"^{msg} 1.$"):
        model.fit(jnp.ones((5, 1)), jnp.ones(5))
    B = ct.raised_cosine_log_basis(2, 5)
    with pytest.raises(ValueError, match=f"^{msg} 2.0.$"):
        ct.simulate_recurrent(jnp.zeros((3, 3, 2)), None, jnp.zeros(3), jax.random.key(0),
                              None, B, jnp.zeros((5, 3)), n_steps=10, progress=2.0)
    with pytest.raises(ValueError, match=f"^{msg} list \\[True\\]\\.$"):
        ct.simulate_brunel(jax.random.key(0), 5.0, 2.0, n_exc=40, n_inh=10, t_sim=0.01,
                           progress=[True])
    for bad in (-1.0, "0.1", True):
        with pytest.raises(ValueError, match="^`min_interval` must be a non-negative number "
                                             "of seconds; got "):
            ct.TextProgress(min_interval=bad)


def test_error_in_progress_callable_is_raised_after_the_run(data):
    X, y = data
    calls = []

    def fails(report):
        calls.append(report)
        raise RuntimeError("display broke")

    with pytest.raises(RuntimeError, match="^display broke$"):
        ct.PopulationGLM(progress=fails).fit(X, y)
    assert len(calls) == 1  # not called again after it failed


def test_notebook_shows_a_widget_or_falls_back_to_text(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("ipywidgets")
    from tests.conftest import ROOT

    cells = [
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "import jax, jax.numpy as jnp, coupling_tutorial as ct\n"
        "X = jax.random.normal(jax.random.key(0), (500, 2))\n"
        "y = jax.random.poisson(jax.random.key(1), jnp.exp(X @ jnp.array([[.3], [-.2]])))",
        "model = ct.PopulationGLM(progress=True).fit(X, y)",
        "sys.modules['ipywidgets'] = None  # as if it were not installed\n"
        "model = ct.PopulationGLM(progress=True).fit(X, y)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    widget, = nb.cells[1].outputs
    assert widget.output_type == "display_data"
    assert "application/vnd.jupyter.widget-view+json" in widget.data
    assert "FloatProgress" in widget.data["text/plain"]
    states = [w["state"] for w in nb.metadata.widgets[
        "application/vnd.jupyter.widget-state+json"]["state"].values()]
    bar, = [s for s in states if s.get("_model_name") == "FloatProgressModel"]
    assert bar["value"] == 1.0 and bar["bar_style"] == "success"
    assert any("done after" in s.get("value", "") for s in states
               if s.get("_model_name") == "HTMLModel")
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert {o.name for o in nb.cells[2].outputs} == {"stderr"}
    assert "\rPopulationGLM (newton): iteration 0" in text and "done after" in text
