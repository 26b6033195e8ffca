"""Run a test once more when its pytest-xdist worker process dies while running it.

A worker that dies in native code (a segmentation fault or abort inside XLA, seen once in
about ten full CI runs, in a doctest that passes on its own and in every other run) fails
the test it was running with "worker 'gwN' crashed while running ...", and a red CI
blocks the whole project on one rare crash. These hooks, imported by ``conftest.py``,
give such a test one more run on a fresh worker: it fails if it crashes again. Ordinary
failures are never rerun, and every rerun is reported in the terminal summary with the
test's name (the worker's fatal-error traceback is printed above it, by faulthandler), so
a crash is never hidden. (pytest-rerunfailures does this too, but takes over the run
protocol of every test to do it; this needs only xdist's own crash hook.)
"""

import pytest

RERUN_CRASHED: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem, report, sched):
    """On the controller: reschedule a crashed test once (xdist's own hook)."""
    if crashitem in RERUN_CRASHED:
        return  # crashed on its second run too: a real failure
    try:
        sched.mark_test_pending(crashitem)
    except NotImplementedError:
        return  # `--dist loadfile` cannot reschedule one test: it stays failed
    RERUN_CRASHED.append(crashitem)
    report.outcome = "rerun"  # not "failed": the test's second run decides


def pytest_report_teststatus(report):
    if report.outcome == "rerun":
        return "rerun", "R", ("RERUN", {"yellow": True})
    return None


def pytest_terminal_summary(terminalreporter):
    if RERUN_CRASHED:
        terminalreporter.write_sep(
            "!", f"{len(RERUN_CRASHED)} test(s) crashed their worker and were run again",
            yellow=True)
        for nodeid in RERUN_CRASHED:
            terminalreporter.write_line(f"crashed once, rerun: {nodeid}")
