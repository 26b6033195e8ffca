#!/usr/bin/env python3
"""Run notebooks top to bottom, two at a time, and print a table of the results.

    python .ci/run_notebooks.py book/01_coupling_filters.ipynb student/01_coupling_filters.ipynb

Run by `python3 .ci/tasks.py colab` with the Colab-like environment's Python (nbclient,
ipykernel and the notebooks' own dependencies installed there). Each notebook is executed
with nbclient in its own folder, as Jupyter would, with its outputs thrown away (nothing
is written). A cell tagged ``raises-exception`` may raise (the student notebooks' exercise
stubs raise ``NotImplementedError`` until the student fills them in); an error in any other
cell fails the notebook (the table names the first such cell, numbered from 0 as in the
.ipynb). Exit code 1 if any notebook failed.
"""

from __future__ import annotations

import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600  # seconds per cell, as for the book build
# notebooks executed at once, each in its own process and kernel: a notebook leaves a core
# idle much of the time (Python between the XLA calls), so two at once on the 2 CI cores
# take less wall time than one after the other
WORKERS = int(os.environ.get("NOTEBOOK_WORKERS", "2"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(path: Path) -> tuple[float, str, bool]:
    """(seconds, result, ok) of executing one notebook.

    Every cell is run, as far as the kernel lives, even after an error (the result names
    the first failing cell and counts the others, which may only follow from it): one run
    shows every cell that breaks, where Colab's *Run all* stops at the first.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as err:  # the kernel died, a cell timed out...
        return time.perf_counter() - start, f"FAILED: {type(err).__name__}: {err}"[:120], False
    seconds = time.perf_counter() - start
    stubs = others = 0
    failed = []  # (cell number, "Error: message") outside raises-exception cells
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            if "raises-exception" not in cell.metadata.get("tags", []):
                failed.append((i, f"{out.ename}: {ANSI.sub('', out.evalue)}"[:100]))
            elif out.ename == "NotImplementedError":
                stubs += 1
            else:
                others += 1
    if failed:
        i, error = failed[0]
        more = f" (+{len(failed) - 1} later cells failed)" if len(failed) > 1 else ""
        return seconds, f"FAILED: cell {i}: {error}{more}", False
    detail = []
    if stubs:
        detail.append(f"{stubs} exercise stub{'s' * (stubs > 1)} raised NotImplementedError")
    if others:
        detail.append(f"{others} raises-exception cell{'s' * (others > 1)} raised")
    return seconds, "ok" + (f" ({'; '.join(detail)})" if detail else ""), True


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    total = time.perf_counter()
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        futures = {name: pool.submit(run, Path(name).resolve()) for name in argv}
        rows = []
        for name, future in futures.items():  # in the order given
            seconds, result, ok = future.result()
            print(f"{name}: {seconds:.0f} s: {result}", flush=True)
            rows.append((name, seconds, result, ok))
    total = time.perf_counter() - total
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'notebook':<{width}} | seconds | result")
    print(f"|{'-' * (width + 2)}|---------|-------")
    for name, seconds, result, _ in rows:
        print(f"| {name:<{width}} | {seconds:7.0f} | {result}")
    failed = [r[0] for r in rows if not r[3]]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed in {total:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
