"""The public API is pinned, and a built wheel provides all of it (issue 14).

The names below were taken from `main` (411a4ea), before the big modules became
subpackages: every ``ct.<name>``, ``ct.<module>.<name>`` and ``ct.checks.<name>`` listed
here must keep existing, with ``ct.<name>`` the same object as ``ct.<module>.<name>``.
"""

import importlib
import json
import pkgutil
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import coupling_tutorial as ct

ROOT = Path(__file__).resolve().parent.parent

MODULE_ALL = {'features': ['coupling_features', 'coupling_filters', 'coupling_mask_to_feature_mask',
              'split_coupling', 'to_simulation_layout'],
 'filters': ['difference_of_gammas', 'exponential_filter', 'gamma_ppf', 'history_basis',
             'raised_cosine_linear_basis', 'raised_cosine_log_basis', 'regress_filter'],
 'glm': ['ConvergenceWarning', 'GLM', 'PopulationGLM'],
 'lif': ['Connectivity', 'LIFNeuronResult', 'LIFResult', 'fixed_indegree_connectivity',
         'simulate_brunel', 'simulate_lif_neuron'],
 'linear_response': ['Linearization', 'StationaryRates', 'correlation_coefficients',
                     'cross_spectrum', 'empirical_covariance', 'linear_kernel', 'linearize',
                     'linearize_network', 'network_filters', 'predicted_covariance',
                     'spectral_radius', 'stationary_rates'],
 'meanfield': ['ALPHA_SHIFT', 'FixedPointError', 'FixedPointResult',
               'MICROCIRCUIT_POPULATIONS', 'brunel_parameters', 'dawson', 'erfcx',
               'firing_rate_exp_synapses', 'fit_transfer_function', 'mean_input',
               'microcircuit_parameters', 'parabolic_cylinder_u', 'self_consistent_rates',
               'siegert_rate', 'std_input', 'threshold_shift', 'transfer_function'],
 'simulate': ['PoissonGLMNetwork', 'RunawayError', 'mean_field_rate', 'mexican_hat_network',
              'network_as_recurrent', 'network_input', 'network_rate', 'normal_network',
              'simulate_network', 'simulate_recurrent', 'tune_network', 'uniform_network']}

CHECKS_ALL = ['check_coupling_features', 'check_raised_cosine_log_basis', 'check_poisson_loglik',
 'check_newton_fit', 'check_simulate_recurrent', 'check_siegert_mean_driven',
 'check_relaxation', 'check_empirical_covariance', 'CHECKS', 'EXERCISES']

EXERCISES = {'ex-ch1-basis': 'check_raised_cosine_log_basis',
 'ex-ch1-features': 'check_coupling_features',
 'ex-ch2-loglik': 'check_poisson_loglik',
 'ex-ch2-newton': 'check_newton_fit',
 'ex-ch3-scan': 'check_simulate_recurrent',
 'ex-ch4-relaxation': 'check_relaxation',
 'ex-ch4-siegert': 'check_siegert_mean_driven',
 'ex-ch5-xcov': 'check_empirical_covariance'}

TOP_LEVEL = sorted({n for names in MODULE_ALL.values() for n in names}
                   | set(MODULE_ALL) | {"checks"})


def test_every_public_name_of_before_still_exists():
    missing = [n for n in TOP_LEVEL if not hasattr(ct, n)]
    assert not missing, f"ct.<name> removed: {missing}"
    for module, names in MODULE_ALL.items():
        mod = importlib.import_module(f"coupling_tutorial.{module}")
        assert set(mod.__all__) >= set(names), f"{module}.__all__ lost names"
        for name in names:
            assert getattr(ct, name) is getattr(mod, name), f"ct.{name} is not {module}.{name}"
    assert set(ct.__all__) >= {n for names in MODULE_ALL.values() for n in names}
    missing = [n for n in ct.__all__ if not hasattr(ct, n)]  # names added since, too
    assert not missing, f"ct.__all__ lists names ct lacks: {missing}"


def test_checks_registry_is_unchanged():
    # every name of main@411a4ea, in order; added since: the answer checks (issue 13)
    # (names may be added after these, for new chapters)
    # (the checks of new chapters come before "CHECKS" in __all__: the old names keep
    # their order among themselves)
    kept = CHECKS_ALL + ["check_answer", "ANSWERS"]
    assert [n for n in ct.checks.__all__ if n in kept] == kept
    registered = {k: f.__name__ for k, f in ct.checks.EXERCISES.items()}
    assert {k: registered.get(k) for k in EXERCISES} == EXERCISES
    old = [n for n in CHECKS_ALL if n.startswith("check_")]
    assert list(ct.checks.CHECKS)[:len(old)] == old
    for name in CHECKS_ALL:
        assert hasattr(ct.checks, name)


def _site_packages(prefix: Path) -> Path:
    rel = Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)
    return prefix / rel


WHEEL_PROBE = r"""
import json, sys
import coupling_tutorial as ct
from coupling_tutorial import checks
names = json.loads(sys.argv[1])
missing = [n for n in names["top"] if not hasattr(ct, n)]
for module, mod_names in names["modules"].items():
    mod = getattr(ct, module)
    missing += [f"{module}.{n}" for n in mod_names if not hasattr(mod, n)]
missing += [f"checks.{n}" for n in names["checks"] if not hasattr(checks, n)]
assert not missing, missing
assert ct.microcircuit_parameters()["K"].shape == (8, 8)  # package data shipped
import pkgutil
mods = {m.name for m in pkgutil.walk_packages(ct.__path__, "coupling_tutorial.")}
assert mods >= set(names["submodules"]), set(names["submodules"]) - mods
print(ct.__file__)
"""


def test_wheel_installs_in_a_fresh_environment_with_every_public_name(tmp_path):
    """Build the wheel, install it (offline, no deps) in a new venv and import everything.

    The new environment reuses this one's jax and numpy through a ``.pth`` line (one
    that names this environment's site-packages; ``.pth`` files found *there*, such as
    the editable install of the repository, are not processed), so nothing is downloaded
    and only the wheel's copy of ``coupling_tutorial`` can be imported.
    """
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"building needs setuptools >= 77 (pyproject); have {setuptools.__version__}")
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "coupling_tutorial", src / "coupling_tutorial",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                    "--no-build-isolation", "-q", "-w", str(dist), str(src)], check=True)
    wheel, = dist.glob("coupling_tutorial-*.whl")
    env = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    site = _site_packages(env)
    (site / "reuse_test_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q",
                    str(wheel)], check=True)
    here = {m.name for m in pkgutil.walk_packages(ct.__path__, "coupling_tutorial.")}
    names = {"top": TOP_LEVEL, "modules": MODULE_ALL, "checks": CHECKS_ALL,
             "submodules": sorted(here)}
    out = subprocess.run([str(python), "-c", WHEEL_PROBE, json.dumps(names)], check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout
    assert Path(out.strip()).is_relative_to(site), out
