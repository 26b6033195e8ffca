#!/usr/bin/env python3
"""One entry point for every job on the book, each doing its own set-up.

    python3 .ci/tasks.py book      # build the public book into _build/html (executes every chapter)
    python3 .ci/tasks.py test      # every test: unit, doctests, notebooks (nbmake), sync, book build
    python3 .ci/tasks.py student   # student edition: _build/student/html + student/*.ipynb
    python3 .ci/tasks.py oldest    # unit tests + doctests against the oldest jax/numpy we claim

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
          "pytest-xdist==3.8.0", "statsmodels==0.14.4", "pandas==2.2.3", "mpmath==1.4.1"]


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if IS_WINDOWS else "bin") / (name + (".exe" if IS_WINDOWS else ""))


def _run(*cmd, env=None, ok=(0,), **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, **kw).returncode
    if code not in ok:
        raise subprocess.CalledProcessError(code, [str(c) for c in cmd])


def ensure_env(name: str = ".venv", requirements: list[str] | None = None) -> Path:
    """Create (or refresh) a virtual environment and return its python executable."""
    env = ROOT / name
    req_args = requirements or ["-r", "requirements.txt"]
    stamp_src = " ".join(req_args).encode()
    for f in ("requirements.txt", "pyproject.toml"):
        stamp_src += (ROOT / f).read_bytes()
    stamp = hashlib.sha256(stamp_src).hexdigest()
    stamp_file = env / ".installed"
    python = _bin(env, "python")
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    if not python.exists():
        print(f"Creating virtual environment {name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
    _run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    _run(python, "-m", "pip", "install", "-q", *req_args)
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "-e", ".")
    stamp_file.write_text(stamp)
    return python


def _clean_env(jax_cache: bool = True) -> dict:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
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


def cmd_student() -> None:
    python = ensure_env()
    _run(python, ".ci/student_edition.py", env=_clean_env())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"book", "test", "student", "oldest"}:
        print(__doc__)
        return 2
    try:
        {"book": lambda: cmd_book(),
         "test": lambda: cmd_test(argv[1:]),
         "oldest": lambda: cmd_oldest(argv[1:]),
         "student": lambda: cmd_student()}[argv[0]]()
    except subprocess.CalledProcessError as err:
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
