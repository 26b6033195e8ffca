"""The crash rerun of tests/_crash_rerun.py: a test whose worker dies runs once more on a
fresh worker; a second crash, or an ordinary failure, still fails the run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A test that kills its own worker (SIGABRT, as a native crash) on its first `crashes` runs
CRASHER = """
import os, pathlib
def test_crashes_first(tmp_path_factory):
    runs = pathlib.Path({marker!r})
    n = int(runs.read_text()) if runs.exists() else 0
    runs.write_text(str(n + 1))
    if n < {crashes}:
        os.abort()

def test_fails_normally():
    assert {fail_normally} is False
"""


def _run(tmp_path, crashes: int, fail_normally: bool):
    (tmp_path / "conftest.py").write_text(
        "from _crash_rerun import (pytest_handlecrashitem, pytest_report_teststatus,\n"
        "                          pytest_terminal_summary)\n")
    (tmp_path / "test_crash.py").write_text(textwrap.dedent(CRASHER.format(
        marker=str(tmp_path / "runs"), crashes=crashes, fail_normally=fail_normally)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "1", "-p", "no:cacheprovider", "-q",
         str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr, int((tmp_path / "runs").read_text())


def test_a_test_that_crashes_its_worker_once_is_run_again_and_named(tmp_path):
    rc, out, runs = _run(tmp_path, crashes=1, fail_normally=False)
    assert rc == 0, out
    assert runs == 2
    assert "2 passed" in out and "1 rerun" in out, out
    assert "crashed once, rerun: test_crash.py::test_crashes_first" in out, out


def test_a_second_crash_and_ordinary_failures_still_fail(tmp_path):
    rc, out, runs = _run(tmp_path, crashes=2, fail_normally=True)
    assert rc == 1, out
    assert runs == 2  # one rerun only
    assert "2 failed" in out and "1 rerun" in out, out
    assert "crashed while running 'test_crash.py::test_crashes_first'" in out, out
    assert "test_fails_normally" in out
