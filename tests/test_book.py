"""The book's sources: every chapter is a MyST notebook with an in-sync, output-free twin.

Chapters are written as MyST markdown (`book/*.md`, what humans edit and review) and
paired by jupytext with a committed `.ipynb` (what nbmake executes and Colab opens).
"""

import json
import re
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


# --------------------------------------------------------------------------------------
# Figures: every drawing cell is a numbered, captioned, described, referenced figure
# --------------------------------------------------------------------------------------
FIGURE_NAME = re.compile(r"fig-ch(?P<n>\d+)-[a-z0-9-]+")


def chapter_figures(chapter):
    import jupytext

    from conftest import expected_figures

    nb = jupytext.read(ROOT / f"{chapter}.md")
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return expected_figures(nb), prose


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_is_captioned_described_and_referenced(chapter):
    figures, prose = chapter_figures(chapter)
    number = int(re.match(r"book/(\d+)_", chapter).group(1))
    assert figures, f"{chapter}: no figure"
    for k, fig in enumerate(figures, start=1):
        first = fig["source"].strip().split("\n")[0][:60]
        where = f"{chapter}, drawing cell {k} ({first}...)"
        assert fig["name"], f"{where}: no mystnb.figure.name"
        m = FIGURE_NAME.fullmatch(fig["name"])
        assert m and int(m.group("n")) == number, f"{where}: name {fig['name']!r}"
        caption = " ".join((fig["caption"] or "").split())
        assert len(caption.split()) >= 5, f"{where}: caption {caption!r}"
        alt = " ".join((fig["alt"] or "").split())
        assert len(alt.split()) >= 10, f"{where}: alt text {alt!r} says too little"
        assert not re.search(r"\.(png|svg|jpe?g)\b", alt), f"{where}: alt text is a file name"
        assert fig["source"].count("plt.show()") == 1, f"{where}: one plt.show() per figure"
        assert f"{{numref}}`{fig['name']}`" in prose, \
            f"{where}: the text never refers to {{numref}}`{fig['name']}`"
    assert "fig.tight_layout()" not in (ROOT / f"{chapter}.md").read_text(), \
        "the book style uses constrained layout; tight_layout() fights it"


def test_figure_names_are_unique_across_the_book():
    names = [f["name"] for ch in CHAPTERS for f in chapter_figures(ch)[0] if f["name"]]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_plots_inline_in_the_book_style(chapter):
    """Figures reach the page whatever MPLBACKEND says (an Agg backend shows nothing),
    as high-DPI PNGs, in the book's style."""
    text = (ROOT / f"{chapter}.md").read_text()
    setup = text.index("import coupling_tutorial as ct")
    body = text[setup:]
    first_plot = min(body.index(p) for p in ("plt.subplots(", "plt.figure(") if p in body)
    for line in ("%matplotlib inline", '%config InlineBackend.figure_formats = ["retina"]',
                 "ct.plotting.use_book_style()"):
        assert line in body[:first_plot], f"{chapter}: {line!r} before the first figure"


ROLE_LABEL = re.compile(r"\b(true|truth|fitted|theory|theoretical|simulat\w*|excitatory|"
                        r"inhibitory|measured|predicted|prediction)\b", re.I)


# ct.plotting.COLORS["data"] or an alias of it (C["model"]...): a lookup by role name
ROLE_COLOUR = re.compile(r"\[\s*['\"](excitatory|inhibitory|sender|receiver|data|model)['\"]\s*\]")


def role_colour_problems(source: str) -> list[str]:
    """Plot calls whose label names a role (true, fitted, theory, simulation, excitatory,
    inhibitory...) but whose colour does not come from ``ct.plotting.COLORS``."""
    import ast

    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                     for ln in source.split("\n"))
    problems = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        label = kw.get("label")
        if label is None:
            continue
        text = " ".join(v.value for v in ast.walk(label)
                        if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if not ROLE_LABEL.search(text):
            continue
        colour = next((kw[k] for k in ("color", "c", "colors", "facecolor", "fc")
                       if k in kw), None)
        if colour is None or not ROLE_COLOUR.search(ast.unparse(colour)):
            problems.append(f"line {node.lineno}: label {text!r} drawn in "
                            f"{ast.unparse(colour) if colour is not None else 'the default colour'}")
    return problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_roles_are_drawn_in_the_role_colours(chapter):
    """One colour convention in every chapter: what a legend calls true, fitted, theory,
    simulation, excitatory or inhibitory is drawn in ct.plotting.COLORS[role]."""
    import jupytext

    nb = jupytext.read(ROOT / f"{chapter}.md")
    problems = [f"cell {i}, {p}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
                for p in role_colour_problems(c.source)]
    assert not problems, f"{chapter}:\n" + "\n".join(problems)


def test_role_colour_check_catches_a_hard_coded_colour():
    assert role_colour_problems('ax.plot(x, y, "k--", label="true filter")')
    assert role_colour_problems('ax.plot(x, y, color="C0", label=f"fitted {k}")')
    assert not role_colour_problems(
        'ax.plot(x, y, color=ct.plotting.COLORS["model"], label="fitted")')
    assert not role_colour_problems('ax.plot(x, y, label="tau = 3 bins")')


# --------------------------------------------------------------------------------------
# A reading path: prerequisites and time up front, checks folded, lines that fit
# --------------------------------------------------------------------------------------
def chapter_notebook(chapter):
    import jupytext

    return jupytext.read(ROOT / f"{chapter}.md")


def in_solution_flags(nb) -> list[bool]:
    """For each cell: whether it lies inside a {solution-start} ... {solution-end} block."""
    flags, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                if "{solution-start}" in line:
                    inside = True
                elif "{solution-end}" in line:
                    inside = False
        flags.append(inside)
    return flags


def has_top_level_assert(source: str) -> bool:
    import ast

    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                     for ln in source.split("\n"))
    return any(isinstance(node, ast.Assert) for node in ast.parse(code).body)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_verification_cells_are_folded(chapter):
    """The assert cells stay (nbmake tests the text) but fold in the page."""
    nb = chapter_notebook(chapter)
    open_cells = [
        cell.source.split("\n")[0][:70]
        for cell, solution in zip(nb.cells, in_solution_flags(nb))
        if cell.cell_type == "code" and not solution
        and "solution" not in cell.metadata.get("tags", [])
        and has_top_level_assert(cell.source)
        and not {"hide-input", "hide-cell", "remove-cell", "remove-input"}
        & set(cell.metadata.get("tags", []))]
    assert not open_cells, f"{chapter}: unfolded assert cells: {open_cells}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_lines_fit_the_page(chapter):
    nb = chapter_notebook(chapter)
    long = [(i, ln) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for ln in cell.source.split("\n") if len(ln) > 88]
    assert not long, f"{chapter}: {len(long)} code lines over 88 characters: {long[:3]}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_states_prerequisites_and_time(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    head = text[:text.index("```{code-cell}")]  # before the first code
    assert re.search(r"\{admonition\}\s*Before you start", head), \
        f"{chapter}: no 'Before you start' admonition before the first code cell"
    m = re.search(r"[Rr]uns in about (\d+) s", head)
    assert m and int(m.group(1)) <= 120, f"{chapter}: no measured run time under 120 s"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_an_interactive_figure_and_its_static_twin(chapter):
    """A widget for Colab (removed from the offline book, which cannot run it) whose
    plotting function also draws a static small-multiples figure in the book."""
    nb = chapter_notebook(chapter)
    widgets = [c for c in nb.cells if c.cell_type == "code" and "interact(" in c.source]
    assert widgets, f"{chapter}: no interactive figure"
    for cell in widgets:
        assert "remove-cell" in cell.metadata.get("tags", []), \
            f"{chapter}: widget cell not removed from the static book"
        fn = re.search(r"interact\(\s*(\w+)", cell.source).group(1)
        statics = [c for c in nb.cells if c.cell_type == "code" and c is not cell
                   and re.search(rf"\b{fn}\(", c.source)
                   and c.metadata.get("mystnb", {}).get("figure")]
        assert statics, f"{chapter}: {fn} draws no static (captioned) figure in the book"


def test_glossary_capstone_and_chapter_map():
    """A learner's reading path: the intro links every chapter and maps which builds on
    which; a glossary; a capstone project with a rubric."""
    files = toc_files()
    assert "book/glossary" in files and "book/capstone" in files
    glossary = (BOOK / "glossary.md").read_text()
    terms = re.findall(r"^(\S[^\n]*)\n  \S", glossary.split("```{glossary}")[1], re.M)
    assert len(terms) >= 15, terms
    capstone = (BOOK / "capstone.md").read_text()
    assert "## Rubric" in capstone and capstone.count("\n|") >= 7
    intro = (BOOK / "intro.md").read_text()
    for chapter in CHAPTERS:
        label = re.search(r"^\(([\w-]+)\)=", (ROOT / f"{chapter}.md").read_text(), re.M)
        assert label and f"{{ref}}`{label.group(1)}`" in intro, f"intro does not link {chapter}"
    assert "builds on" in intro


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_widget_cells_build_their_sliders_headless(chapter, monkeypatch):
    """Each chapter's widget cell, run outside a kernel (ipywidgets then needs no
    frontend), builds its sliders and calls the plotting function once with their
    initial values, which must be the arguments the function takes."""
    import inspect

    pytest.importorskip("ipywidgets")
    import coupling_tutorial as ct

    monkeypatch.delenv("COUPLING_TUTORIAL_HEADLESS", raising=False)
    nb = chapter_notebook(chapter)
    cells = [c for c in nb.cells if c.cell_type == "code" and "interact(" in c.source]
    assert cells
    for cell in cells:
        fn = re.search(r"interact\(\s*(\w+)", cell.source).group(1)
        definition = next(c.source for c in nb.cells if c.cell_type == "code"
                          and re.search(rf"^def {fn}\(", c.source, re.M))
        params = _signature_of(definition, fn)
        calls = []

        def record(*args, **kwargs):
            calls.append(kwargs)

        exec(compile(cell.source, f"<{chapter} widget cell>", "exec"),
             {"ct": ct, fn: record})
        assert len(calls) == 1, f"{chapter}: {fn} called {len(calls)} times"
        assert set(calls[0]) <= params, f"{chapter}: {set(calls[0]) - params}"
        missing = {p for p in params if p not in calls[0]
                   and not re.search(rf"\b{p}\s*=", definition.split(")")[0])}
        assert not missing, f"{chapter}: sliders give no value for {missing}"
    assert ct.plotting.show_widgets()
    monkeypatch.setenv("COUPLING_TUTORIAL_HEADLESS", "1")
    assert not ct.plotting.show_widgets()


def _signature_of(source: str, name: str) -> set[str]:
    import ast

    tree = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                               for ln in source.split("\n")))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    return {a.arg for a in fn.args.args + fn.args.kwonlyargs}
