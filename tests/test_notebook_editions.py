"""The two notebook editions of every chapter, as Jupyter and Colab show them.

* ``book/NN_name.ipynb``, the **reader notebook** (what the book's Colab button opens):
  every solution there but folded (prose in ``<details>``, code behind a Colab form title
  and ``jupyter.source_hidden``), a first cell linking the chapter's student notebook on
  Colab, citations linked to their DOI or URL;
* ``student/NN_name.ipynb``, the **student notebook**: exercise stubs, no solution;
* neither shows MyST syntax, which Jupyter and Colab would print as raw text: no
  ``{role}`` backtick roles, no ```` ```{directive} ```` or ``:::{directive}`` fences, no
  ``(label)=`` targets, no ``{solution-start}``.

The committed reader notebooks are checked to be what the generator writes in
tests/test_book.py, the student notebooks in tests/test_student_edition.py; that every
launch link opens the right edition in tests/test_launch_links.py, tests/test_browser.py
and tests/test_student_edition.py. Both editions are executed: the reader notebooks by
nbmake (`book/*.ipynb` in the test command), the student notebooks by the executed
student HTML build (tests/test_student_edition.py).
"""

import re
import subprocess
from pathlib import Path

import pytest

from conftest import (SOLUTION_TITLE, folded_solution_cells, load_student_edition,
                      myst_syntax, notebook_edition)

jupytext = pytest.importorskip("jupytext")  # not in the `oldest` environment
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
se = load_student_edition()
CHAPTERS = se.chapters(ROOT)
EDITIONS = {"reader": se.BOOK_DIR, "student": se.STUDENT_DIR}


def committed(edition: str, chapter: Path):
    path = ROOT / EDITIONS[edition] / chapter.with_suffix(".ipynb").name
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    return nbformat.read(path, as_version=4)


def source_solutions(chapter: Path) -> tuple[list[str], int]:
    """The chapter's solution code cells (sources) and the number of solution blocks."""
    nb = jupytext.read(chapter)
    code, inside, n_blocks = [], False, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                m = se.FENCE_OPEN.match(line)
                if m and m.group("name") in ("solution-start", "solution"):
                    n_blocks += 1
                    inside = m.group("name") == "solution-start"
                elif m and m.group("name") == "solution-end":
                    inside = False
        elif inside or "solution" in cell.metadata.get("tags", []):
            code.append(cell.source)
    return code, n_blocks


@pytest.mark.parametrize("edition", sorted(EDITIONS))
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_myst_syntax_survives(edition, chapter):
    left = myst_syntax(committed(edition, chapter))
    assert not left, f"MyST in the {edition} notebook {chapter.stem}:\n" + "\n".join(left)


@pytest.mark.parametrize("edition", sorted(EDITIONS))
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_committed_notebook_is_of_its_edition(edition, chapter):
    assert notebook_edition(committed(edition, chapter)) == edition


def test_myst_check_catches_what_jupyter_shows_raw():
    def md(text):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])

    for raw in ("see {ref}`sec-x`", "in {cite:p}`Pillow2008`", ":::{admonition} Goals\n:::",
                "```{note}\nx\n```", "(sec-x)=\n# X", "::::{solution-start} ex-1\n::::",
                "$$\na\n$$ (eq-a)", ":::{exercise} T\n:label: ex-t\n:::"):
        assert myst_syntax(md(raw)), raw
    for plain in ("see *Section X*", "**Goals**\n\ntext", "```python\nx = {'a': 1}\n```",
                  "$$\na\n$$", "[Pillow et al. 2008](https://doi.org/10.1038/nature07140)",
                  "<details>\n<summary>Solution to Exercise 1.1</summary>\n\nx\n\n</details>"):
        assert not myst_syntax(md(plain)), plain


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_reader_notebook_has_every_solution_folded(chapter):
    """Every solution code cell of the chapter is in the reader notebook, unchanged under
    a Colab form title naming its exercise and hidden in JupyterLab; every solution's
    prose is there in a <details> block; every exercise keeps its number."""
    nb = committed("reader", chapter)
    code, n_blocks = source_solutions(chapter)
    assert n_blocks >= 3 and code, f"{chapter.name}: too few solutions to check"
    folded = folded_solution_cells(nb)
    assert [c.source.split("\n", 1)[1] for c in folded] == code, \
        f"{chapter.name}: solution code cells missing, changed or not folded"
    n = se.chapter_number(chapter, ROOT)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    exercises = [m for s in markdown for m in re.findall(rf"^\*\*Exercise ({n}\.\d+):", s, re.M)]
    assert exercises == [f"{n}.{k}" for k in range(1, len(exercises) + 1)] and exercises
    titled = {c.source.split("\n", 1)[0][len(SOLUTION_TITLE):] for c in folded}
    summaries = [m for s in markdown
                 for m in re.findall(r"<summary>Solution to Exercise (\S+)</summary>", s)]
    assert titled | set(summaries) == set(exercises), "a solution names no/another exercise"
    for s in markdown:  # a <details> block opens and closes in one cell
        assert s.count("<details>") == s.count("</details>"), s[:200]
    assert sum(s.count("<details>") for s in markdown) == len(summaries)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_reader_notebook_links_its_student_notebook(chapter):
    """The reader notebook's first cell links the chapter's student notebook on Colab,
    which is committed, not git-ignored, and of the student edition."""
    nb = committed("reader", chapter)
    first = nb.cells[0]
    assert first.cell_type == "markdown", "the first cell is not the link to the student one"
    org, repo, branch = se.repository(ROOT)
    links = re.findall(r"\((https://colab\.research\.google\.com/github/[^)\s]+)\)",
                       first.source)
    prefix = f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/"
    want = f"{prefix}{se.STUDENT_DIR}/{chapter.stem}.ipynb"
    assert links == [want], links
    rel = want[len(prefix):]
    assert (ROOT / rel).is_file(), rel
    assert subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT).returncode != 0
    assert notebook_edition(nbformat.read(ROOT / rel, as_version=4)) == "student"


@pytest.mark.parametrize("edition", sorted(EDITIONS))
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_citations_are_linked(edition, chapter):
    """Each reference the chapter cites is "Author et al. year", linked to its DOI or URL
    where references.bib has one."""
    nb = committed(edition, chapter)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    keys = {k.strip() for body in re.findall(r"\{cite:?\w*\}`([^`]+)`", chapter.read_text())
            for k in body.split(",")}
    bib, links = se.bibliography(ROOT), se.bibliography_links(ROOT)
    assert keys, f"{chapter.name} cites nothing"
    for key in sorted(keys):
        who, year = bib[key].rsplit(" ", 1)
        cited = rf"{re.escape(who)} \(?{year}\)?"
        if key in links:
            pattern = rf"\[{cited}\]\({re.escape(links[key])}\)"
        else:
            pattern = rf"(?<!\[){cited}(?!\]\()"
        assert re.search(pattern, text), f"{edition} {chapter.stem}: {key} ({pattern})"


def test_bibliography_links():
    links = se.bibliography_links(ROOT)
    assert links["Pillow2008"] == "https://doi.org/10.1038/nature07140"
    assert links["NeMoS"].startswith("https://github.com/")


def test_citation_links_in_markdown():
    out = se._plain_roles("{cite:t}`A2000` and {cite:p}`A2000,B1999`", {},
                          {"A2000": "Smith et al. 2000", "B1999": "Doe 1999"}, {},
                          {"A2000": "https://doi.org/10.1/x"})
    assert out == ("[Smith et al. (2000)](https://doi.org/10.1/x) and "
                   "([Smith et al. 2000](https://doi.org/10.1/x); Doe 1999)")
