#!/usr/bin/env python3
"""One entry point for every job on the book, each doing its own set-up.

    python3 .ci/tasks.py book      # build the public book into _build/html (executes every chapter)
    python3 .ci/tasks.py test      # every test: unit, doctests, notebooks (nbmake), sync, book build
    python3 .ci/tasks.py student   # both notebook editions (book/*.ipynb reader notebooks,
                                   # student/*.ipynb) + the student HTML (_build/student/html);
                                   # `student --no-html`: only the notebooks (seconds)
    python3 .ci/tasks.py oldest    # unit tests + doctests against the oldest jax/numpy we claim
    python3 .ci/tasks.py colab     # every reader and student notebook, run top to bottom on
                                   # Colab's Python and jax/numpy/matplotlib/ipywidgets

Needs only a Python >= 3.10 with `venv`. The first run creates `.venv/` in the repository
and installs `requirements.txt` and the package (editable) into it; later runs reuse it
and reinstall only when `requirements.txt` or `pyproject.toml` changed. Nothing is
downloaded after that: building and testing work offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IS_WINDOWS = os.name == "nt"

# Oldest versions the package claims to support (pyproject.toml lower bounds; Colab 2026.01).
OLDEST = ["jax==0.7.2", "jaxlib==0.7.2", "numpy==2.0.2", "scipy==1.14.1", "pytest==9.2.0",
          "pytest-xdist==3.8.0", "statsmodels==0.14.4", "pandas==2.2.3", "mpmath==1.4.1",
          "matplotlib==3.9.0"]  # the lowest with numpy-2 wheels: ct.plotting's doctest


# Colab's current runtime, for `colab` (what a reader gets on clicking the Colab button):
# * Python 3.13: Colab's default since 2026-08-25 (googlecolab/colabtools issue #6081,
#   "Upgrade to Python 3.13", announced 2026-08-18, "This is live!" 2026-08-25).
# * jax/jaxlib 0.7.2, numpy 2.1.3: the latest published runtime list, googlecolab/
#   backend-info pip-freeze.txt after the Python 3.13 upgrade (2026-08), as issue 13 read it.
# * matplotlib 3.10.0, ipywidgets 7.7.1, scipy 1.16.3 (jax's dependency): googlecolab/
#   backend-info pip-freeze.txt at commit bd8aaa4580401a7fbf96a52fab5a7acf96f50b73, the
#   list of runtime 2026.01 (frozen mid-January 2026; jax 0.7.2 there too; Python 3.12 and
#   numpy 2.0.2 there), the newest full list we could read; the 3.13 list's own matplotlib
#   and ipywidgets were not visible to us, so check them when updating these pins.
# * nbclient/ipykernel: only to execute the notebooks here (Colab runs its own kernel),
#   the versions of requirements.txt.
# To follow a new Colab runtime, update these pins from the newest backend-info list.
COLAB_PYTHON = "3.13"
COLAB = ["jax==0.7.2", "jaxlib==0.7.2", "numpy==2.1.3", "scipy==1.16.3",
         "matplotlib==3.10.0", "ipywidgets==7.7.1", "nbclient==0.11.0", "ipykernel==7.4.0",
         "nbformat", "pyyaml"]


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if IS_WINDOWS else "bin") / (name + (".exe" if IS_WINDOWS else ""))


def _run(*cmd, env=None, ok=(0,), **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, **kw).returncode
    if code not in ok:
        raise subprocess.CalledProcessError(code, [str(c) for c in cmd])


def ensure_env(name: str = ".venv", requirements: list[str] | None = None,
               base_python: str | None = None, package: list[str] | None = None) -> Path:
    """Create (or refresh) a virtual environment and return its python executable.

    ``base_python``: the interpreter to create it with (default: the one running this);
    ``package``: how to install the package (default: editable, without dependencies).
    """
    env = ROOT / name
    req_args = requirements or ["-r", "requirements.txt"]
    package = package or ["--no-deps", "-e", "."]
    stamp_src = " ".join(req_args + package + [base_python or ""]).encode()
    for f in ("requirements.txt", "pyproject.toml"):
        stamp_src += (ROOT / f).read_bytes()
    stamp = hashlib.sha256(stamp_src).hexdigest()
    stamp_file = env / ".installed"
    python = _bin(env, "python")
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    if base_python is not None:
        print(f"Creating virtual environment {name}/ with {base_python} ...", flush=True)
        _run(base_python, "-m", "venv", "--clear", env)
    elif not python.exists():
        print(f"Creating virtual environment {name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
    _run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    _run(python, "-m", "pip", "install", "-q", *req_args)
    _run(python, "-m", "pip", "install", "-q", *package)
    stamp_file.write_text(stamp)
    return python


def _clean_env(jax_cache: bool = True) -> dict:
    env = dict(os.environ)
    # No MPLBACKEND: a notebook kernel must use the inline backend, or plt.show() shows
    # nothing and the book has no figures (the chapters also say `%matplotlib inline`).
    env.pop("MPLBACKEND", None)
    # Headless: the chapters' slider widgets are not built (ct.plotting.show_widgets)
    env["COUPLING_TUTORIAL_HEADLESS"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env["JAX_PLATFORMS"] = env.get("JAX_PLATFORMS", "cpu")
    if jax_cache:
        # JAX's persistent compilation cache: every chapter is executed three times by the
        # tests (nbmake, the book build, the student notebook) and most of a chapter's time
        # is XLA compilation; the second and third runs load the compiled programs from
        # disk instead (Chapter 3: 61 s cold, 17 s warm; Chapter 1: 48 s, 18 s). Keys
        # include the program and the jax/jaxlib versions, so a stale entry is never used.
        # Every compilation is cached (most are small, and together they are most of the
        # time); no size limit, because with one JAX locks the directory and rescans it on
        # every write (Chapter 1 cold: 54 s instead of 48 s). A half-written entry read by
        # the other test worker would only cost a warning and a recompilation.
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / "_build" / "jax_cache"))
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
    return env


def build_book(python: Path) -> None:
    """Build the book into _build/html with warnings as errors (-W -n); a failing cell fails."""
    # (jupyter_book has no __main__, so `python -m jupyter_book` does not work)
    _run(python, "-c", "from jupyter_book.cli.main import main; main()", "build", ".",
         "-W", "-n", "--keep-going", env=_clean_env())


def cmd_book() -> None:
    build_book(ensure_env())
    print(f"\nThe book is in {ROOT / '_build' / 'html' / 'index.html'}")


def cmd_test(extra: list[str]) -> None:
    python = ensure_env()
    pytest = [python, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider"]
    # Two passes: first the unit tests, doctests and every chapter through nbmake (which
    # fills JAX's compilation cache), then the book build + browser test and the student
    # notebooks, which execute the same chapters again and find their programs compiled.
    second = ["tests/test_browser.py", "tests/test_student_edition.py"]
    # (chapters first: the longest items start first; test by test (`--dist load`) the
    # unit tests fill in around them, where whole files left one worker idle at the end)
    _run(*pytest, "--dist", "load", "--nbmake", "--nbmake-timeout=600", "book", "tests",
         "coupling_tutorial", *[f"--ignore={t}" for t in second], *extra, env=_clean_env())
    # (by file: the book is built once; exit code 5, "no tests collected", is fine when
    # -k selected none of them)
    _run(*pytest, "--dist", "loadfile", *second, *extra, env=_clean_env(),
         ok=(0, 5) if extra else (0,))


def cmd_oldest(extra: list[str]) -> None:
    """The package's own tests (tests/test_<module>.py) and doctests, on the oldest deps."""
    python = ensure_env(".venv-oldest", OLDEST)
    # (modules, and subpackages such as coupling_tutorial/simulate/)
    modules = sorted(p.stem if p.is_file() else p.name
                     for p in (ROOT / "coupling_tutorial").glob("[!_]*")
                     if p.suffix == ".py" or (p / "__init__.py").is_file())
    tests = [f"tests/test_{m}.py" for m in modules if (ROOT / f"tests/test_{m}.py").exists()]
    # No compilation cache (every program runs once here). Tests marked `slow` (long
    # simulations whose functions the quicker tests also exercise) run only in `test`,
    # which keeps CI under 20 minutes.
    _run(python, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-m", "not book and not slow",
         *tests, "coupling_tutorial", *extra, env=_clean_env(jax_cache=False))


def cmd_student(extra: list[str]) -> None:
    """Both notebook editions (reader: book/*.ipynb, student: student/*.ipynb) and, unless
    ``--no-html``, the student HTML; see .ci/student_edition.py for the options."""
    python = ensure_env()
    _run(python, ".ci/student_edition.py", *extra, env=_clean_env())


def colab_python() -> str:
    """A Python of Colab's version: pyenv's newest 3.13.x, else `python3.13` on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob(f"{COLAB_PYTHON}.*/bin/python"),
                   key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    if found:
        return str(found[-1])
    on_path = shutil.which(f"python{COLAB_PYTHON}")
    if on_path:
        return on_path
    raise SystemExit(f"colab: no Python {COLAB_PYTHON} found (looked for "
                     f"{pyenv}/{COLAB_PYTHON}.*/bin/python and python{COLAB_PYTHON} on PATH). "
                     f"Install Python {COLAB_PYTHON} (e.g. `pyenv install {COLAB_PYTHON}`), "
                     "Colab's version, and run this again.")


def cmd_colab(extra: list[str]) -> None:
    """Every reader notebook (book/*.ipynb) and student notebook (student/*.ipynb), run
    top to bottom as on Colab: Colab's Python and versions of jax, numpy, matplotlib and
    ipywidgets (COLAB above) in .venv-colab, the package installed as the notebooks'
    install cell does (`pip install "coupling-tutorial @ ..."`, here from this checkout
    instead of GitHub, and with the dependencies it asks for, which Colab already has).
    Prints a table (notebook, seconds, result); fails if any notebook fails outside a
    cell tagged `raises-exception` (the student stubs' NotImplementedError is expected)."""
    package = f"coupling-tutorial @ {ROOT.as_uri()}"  # the install cell's, from here
    python = ensure_env(".venv-colab", COLAB, base_python=colab_python(), package=[package])
    # (not editable, as on Colab: reinstalled each run, so that it is this checkout's code)
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", package)
    _run(python, "-c", "import sys, jax, numpy, matplotlib, ipywidgets; print("
         "'Colab-like environment: Python', sys.version.split()[0], '| jax', jax.__version__,"
         " '| numpy', numpy.__version__, '| matplotlib', matplotlib.__version__,"
         " '| ipywidgets', ipywidgets.__version__)")
    notebooks = extra or sorted(str(p.relative_to(ROOT)) for d in ("book", "student")
                                for p in (ROOT / d).glob("*.ipynb"))
    _run(python, ".ci/run_notebooks.py", *notebooks, env=_clean_env())


def main(argv: list[str]) -> int:
    commands = {"book": lambda: cmd_book(),
                "test": lambda: cmd_test(argv[1:]),
                "oldest": lambda: cmd_oldest(argv[1:]),
                "student": lambda: cmd_student(argv[1:]),
                "colab": lambda: cmd_colab(argv[1:])}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    try:
        commands[argv[0]]()
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
