"""The book's sources: every chapter is a MyST notebook with an in-sync, output-free twin.

Chapters are written as MyST markdown (`book/*.md`, what humans edit and review) and
paired by jupytext with a committed `.ipynb` (what nbmake executes and Colab opens).
"""

import json
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

BOOK = ROOT / "book"


def chapter_names():
    """Chapters listed in _toc.yml that are notebooks (files with a jupytext header)."""
    return [f for f in toc_files()
            if (ROOT / f"{f}.md").exists() and "jupytext:" in (ROOT / f"{f}.md").read_text()[:400]]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


CHAPTERS = chapter_names()


def test_every_toc_entry_exists():
    for f in toc_files():
        assert (ROOT / f"{f}.md").exists(), f"_toc.yml lists {f} but {f}.md does not exist"


def test_every_notebook_in_book_is_in_the_toc():
    on_disk = sorted(f"book/{p.stem}" for p in BOOK.glob("*.ipynb"))
    assert on_disk == sorted(CHAPTERS), "each book/*.ipynb must be a chapter listed in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_pair_in_sync(chapter, tmp_path):
    """Regenerating the .ipynb from the .md (keeping cell ids) must give the committed file."""
    md = ROOT / f"{chapter}.md"
    committed = ROOT / f"{chapter}.ipynb"
    assert committed.exists(), f"{committed.name} is missing: run `jupytext --to ipynb {md}`"
    regenerated = tmp_path / committed.name
    regenerated.write_bytes(committed.read_bytes())
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "--update",
                    str(md), "-o", str(regenerated)], check=True)
    a = json.loads(committed.read_text())
    b = json.loads(regenerated.read_text())
    assert [c["source"] for c in a["cells"]] == [c["source"] for c in b["cells"]], (
        f"{committed.name} is out of sync with {md.name}: run "
        f"`jupytext --to ipynb --update {chapter}.md`")
    assert [c.get("metadata") for c in a["cells"]] == [c.get("metadata") for c in b["cells"]]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_notebook_has_no_outputs(chapter):
    nb = json.loads((ROOT / f"{chapter}.ipynb").read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {i} of {chapter}.ipynb has outputs"
            assert cell["execution_count"] is None, f"cell {i} of {chapter}.ipynb was executed"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_structure(chapter):
    """Goals at the top, x64 on, exercises with solutions, assert cells that check claims."""
    text = (ROOT / f"{chapter}.md").read_text()
    assert ":class: tip" in text and "Goals" in text, "each chapter states its goals"
    assert 'jax.config.update("jax_enable_x64", True)' in text
    n_ex = text.count("::::{exercise}")
    assert n_ex >= 3, f"{chapter}: {n_ex} exercises, need at least 3"
    assert text.count("::::{solution-start}") == n_ex, "every exercise has a solution"
    assert "# BEGIN SOLUTION" in text, "at least one implement-it-yourself exercise"
    assert text.count("\nassert ") + text.count("\n    assert ") >= 5, "claims are checked by asserts"
    assert "import coupling_tutorial as ct" in text


def test_no_package_code_copied_into_chapters():
    """Chapters import the package; they do not redefine its public functions."""
    import coupling_tutorial as ct

    public = set(ct.__all__)
    for chapter in CHAPTERS:
        text = (ROOT / f"{chapter}.md").read_text()
        for name in public:
            assert f"\ndef {name}(" not in text, f"{chapter} redefines ct.{name}"
