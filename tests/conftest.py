"""Shared test set-up: float64 everywhere (reference values are float64) and paths."""

import importlib.util
import re
import sys
from pathlib import Path

import jax
import pytest

# (imported hooks are registered: a test whose xdist worker crashes runs once more)
from _crash_rerun import (pytest_handlecrashitem, pytest_report_teststatus,  # noqa: F401
                          pytest_terminal_summary)

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def pytest_configure(config):
    config.addinivalue_line("markers", "book: builds the book (slow; skipped by `oldest`)")
    config.addinivalue_line(
        "markers", "slow: a long simulation whose functions quicker tests also exercise "
        "(skipped by `oldest` to keep CI under 20 minutes)")


@pytest.fixture(scope="session")
def data_dir():
    return DATA


def float32_mode():
    """Context in which JAX's default float is float32 (API moved between JAX versions)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(False)
    from jax.experimental import disable_x64
    return disable_x64()


def load_student_edition():
    """Import .ci/student_edition.py (not a package) once, as module `student_edition`."""
    name = "student_edition"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / ".ci" / "student_edition.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# --------------------------------------------------------------------------------------
# Figures: what a chapter's SOURCE says must be on its page, and what a built page shows
# --------------------------------------------------------------------------------------
def expected_figures(nb) -> list[dict]:
    """The figures a chapter must show, derived from its source (a jupytext notebook).

    A code cell draws a figure when it calls ``plt.<something>`` (besides ``import``,
    ``plt.close``, ``plt.style`` and ``plt.rcParams``); cells whose output is removed
    (``remove-output``/``remove-cell``) and exercise stubs (tag ``exercise``, which raise
    before they plot) show none. Returns one dict per figure, in page order, with the
    myst-nb figure ``name``, ``caption`` and image ``alt`` from the cell's metadata
    (``None`` where missing) and the cell ``source``.
    """
    se = load_student_edition()
    out = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if (cell.cell_type != "code" or not se.draws_figure(cell.source)
                or tags & {"remove-output", "remove-cell", "exercise"}):
            continue
        meta = cell.metadata.get("mystnb", {})
        out.append({"name": meta.get("figure", {}).get("name"),
                    "caption": meta.get("figure", {}).get("caption"),
                    "alt": meta.get("image", {}).get("alt"),
                    "source": cell.source})
    return out


def shown_figures(html: str, page_dir: Path) -> list[dict]:
    """Every image a built page shows in a cell's output, in page order.

    Each dict: ``src``, ``alt``, the enclosing ``<figure>``'s ``id`` and caption number
    (e.g. "Fig. 2.3") and text, the CSS ``width`` the page gives it, the PNG's pixel
    size, and ``blank`` (True when the file is missing, tiny or of one flat colour).
    """
    from bs4 import BeautifulSoup
    from PIL import Image

    doc = BeautifulSoup(html, "html.parser")
    article = doc.select_one("article.bd-article") or doc
    out = []
    for img in article.select(".cell_output img"):
        src = img.get("src", "")
        fig = img.find_parent("figure")
        number = fig.select_one(".caption-number") if fig else None
        text = fig.select_one(".caption-text") if fig else None
        item = {"src": src, "alt": img.get("alt"), "id": fig.get("id") if fig else None,
                "number": number.get_text(strip=True) if number else None,
                "caption": text.get_text(" ", strip=True) if text else None,
                "css_width": _css_width(img), "pixels": None, "blank": True}
        path = page_dir / src
        if src and not src.startswith(("http:", "https:", "data:")) and path.is_file():
            with Image.open(path) as im:
                lo, hi = im.convert("L").getextrema()
                item["pixels"] = im.size
                item["blank"] = min(im.size) <= 50 or hi - lo <= 32
        out.append(item)
    return out


def _css_width(img) -> float | None:
    """The width (CSS px) a page gives an image: its width attribute or style."""
    import re

    if img.get("width"):
        return float(str(img["width"]).removesuffix("px"))
    m = re.search(r"(?:^|;)\s*width:\s*([\d.]+)px", img.get("style", ""))
    return float(m.group(1)) if m else None


def figure_problems(expected: list[dict], shown: list[dict], chapter_number: int) -> list[str]:
    """What is wrong with a page's figures, compared with what its source says."""
    problems = []
    if len(shown) != len(expected):
        problems.append(f"{len(expected)} figures in the source, {len(shown)} images shown")
    for k, (want, got) in enumerate(zip(expected, shown), start=1):
        where = f"figure {k} ({want['name']})"
        if got["blank"]:
            problems.append(f"{where}: image {got['src']!r} missing or blank")
        if got["id"] != want["name"]:
            problems.append(f"{where}: shown in <figure id={got['id']!r}>")
        if got["number"] != f"Fig. {chapter_number}.{k}":
            problems.append(f"{where}: caption number {got['number']!r}, "
                            f"expected 'Fig. {chapter_number}.{k}'")
        if not got["caption"] or not want["caption"]:
            problems.append(f"{where}: no caption text")
        if (got["alt"] or "").strip() != " ".join((want["alt"] or "").split()) or not got["alt"]:
            problems.append(f"{where}: alt text {got['alt']!r} is not the source's")
        if got["pixels"] and got["css_width"]:
            # high-DPI: the PNG has twice the pixels of the space the page gives it
            if got["pixels"][0] < 1.9 * float(got["css_width"]):
                problems.append(f"{where}: {got['pixels'][0]} px shown {got['css_width']} "
                                f"px wide (not high-DPI)")
        elif not got["blank"]:
            problems.append(f"{where}: no width attribute (not a retina PNG)")
    return problems


# --------------------------------------------------------------------------------------
# Notebook editions: what a committed .ipynb is (reader, student, raw MyST)
# --------------------------------------------------------------------------------------
SOLUTION_TITLE = "#@title Solution to Exercise "
# MyST that Jupyter and Colab would show as raw text (checked in markdown cells; the
# directive fences and solution markers also in code cells)
MYST_SYNTAX = {
    "a {role}`...`": re.compile(r"\{[\w:-]+\}`"),
    "a ```{directive} or :::{directive} fence": re.compile(r"(?m)^[ \t]*(?:`{3,}|:{3,})\{[\w-]+\}"),
    "a (label)= target": re.compile(r"(?m)^\([\w-]+\)=[ \t]*$"),
    "a $$ (label)": re.compile(r"(?m)^[ \t]*\$\$[ \t]*\([\w-]+\)[ \t]*$"),
    "a directive option": re.compile(r"(?m)^[ \t]*:(?:class|label|tags|name|caption|align):"),
    "a {solution-start}/{exercise} marker": re.compile(
        r"\{(?:solution|solution-start|solution-end|exercise|exercise-start|exercise-end)\}"),
}
MYST_IN_CODE = ("a ```{directive} or :::{directive} fence", "a {solution-start}/{exercise} marker")


def myst_syntax(nb) -> list[str]:
    """Every piece of MyST syntax left in a notebook's cells: ["cell 3: a (label)= target"]."""
    out = []
    for i, cell in enumerate(nb.cells):
        for what, pattern in MYST_SYNTAX.items():
            if cell.cell_type == "code" and what not in MYST_IN_CODE:
                continue
            m = pattern.search(cell.source)
            if m:
                out.append(f"cell {i} ({cell.cell_type}): {what}: {m.group(0)!r}")
    return out


def folded_solution_cells(nb) -> list:
    """Code cells folded as solutions: Colab form title, cellView form, source hidden."""
    return [c for c in nb.cells if c.cell_type == "code"
            and c.source.startswith(SOLUTION_TITLE)
            and c.metadata.get("cellView") == "form"
            and c.metadata.get("jupyter", {}).get("source_hidden") is True]


def notebook_edition(nb) -> str:
    """Which edition a committed notebook is: "reader" (no MyST, every solution there and
    folded, no stub), "student" (no MyST, exercise stubs, no solution), "myst" (raw MyST
    left, e.g. a jupytext twin of the .md) or "other"."""
    if myst_syntax(nb):
        return "myst"
    code = [c for c in nb.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    stubs = [c for c in code if "exercise" in c.metadata.get("tags", [])
             and "raise NotImplementedError(" in c.source]
    folded = folded_solution_cells(nb)
    unfolded = [c for c in code if "solution" in c.metadata.get("tags", []) and c not in folded]
    if folded and not stubs and not unfolded:
        return "reader"
    if stubs and not folded and "Solution to Exercise" not in markdown \
            and "BEGIN SOLUTION" not in "\n".join(c.source for c in code):
        return "student"
    return "other"
