"""The student edition holds no solution and every student notebook still runs.

* the generator (``.ci/student_edition.py``) on a small synthetic chapter: stubs, tags,
  numbering, dropped prose and code, malformed markers rejected;
* on the real chapters (from ``_toc.yml``): no solution code or prose survives in the
  student notebooks, every exercise is kept, each marked solution became a stub;
* the committed ``student/*.ipynb`` are what the generator writes now;
* (book) the student HTML, built from the generated sources, shows no solution text and
  its Colab buttons open ``student/*.ipynb``;
* (book) the student HTML is built *executed*, as students read it: every chapter runs
  top to bottom (the exercise stubs raise ``NotImplementedError``, tagged
  ``raises-exception``, so execution goes on, and nothing else fails), and each page
  shows every figure its source draws (solutions' figures excepted), numbered,
  captioned, described and high-DPI;
* the student notebooks show each figure's numbered caption under it (Jupyter and
  Colab do not show myst-nb's), and the text's figure references are plain numbers.
"""

import re
import time
from pathlib import Path

import pytest

from conftest import (expected_figures, figure_problems, load_student_edition,
                      notebook_edition, shown_figures)

jupytext = pytest.importorskip("jupytext")  # not in the `oldest` environment
nbformat = pytest.importorskip("nbformat")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent


se = load_student_edition()
CHAPTERS = se.chapters(ROOT)

HEADER = """\
---
jupytext:
  formats: ipynb,md:myst
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Toy chapter

```{code-cell} ipython3
:tags: [remove-cell]

print("install cell")
```

Some text.

## Exercises

::::{exercise} Implement it (medium)
:label: ex-toy-impl

Write `my_fn(x)`.
::::

::::{solution-start} ex-toy-impl
:class: dropdown
::::

SECRET-PROSE-1 explains the trick.

```{code-cell} ipython3
:tags: [solution]

def my_fn(x):
    \"\"\"Docstring stays.\"\"\"
    y = 2 * x
    # BEGIN SOLUTION
    if y > 0:
        return y + 1  # SECRET-CODE-1
    # END SOLUTION

my_fn(1)
```

SECRET-PROSE-2 after the code.

::::{solution-end}
::::

::::{exercise} Explain it (easy)
:label: ex-toy-explain

Why?
::::

::::{solution}
:label: sol-toy-explain-plain
:class: dropdown

SECRET-PROSE-3 in a plain solution, with a nested directive:

:::{note}
SECRET-PROSE-4
:::
::::

::::{solution-start} ex-toy-explain
::::

```{code-cell} ipython3
:tags: [solution]

print("SECRET-CODE-2 without markers")
```

::::{solution-end}
::::

```{code-cell} ipython3
:tags: [solution]

# BEGIN SOLUTION
z = 3  # SECRET-CODE-3
# END SOLUTION
```

Final words.
"""


@pytest.fixture()
def toy(tmp_path):
    path = tmp_path / "book" / "03_toy.md"
    path.parent.mkdir()
    path.write_text(HEADER)
    return path


def test_toy_chapter(toy):
    ch = se.convert(toy)
    md = se.to_markdown(ch)
    ipynb = se.to_ipynb(ch)
    for text in (md, ipynb):
        assert "SECRET" not in text, text
        assert "solution" not in text.lower().replace("delete", ""), text
    assert [(e.number, e.label) for e in ch.exercises] == [
        ("3.1", "ex-toy-impl"), ("3.2", "ex-toy-explain")]
    assert (ch.n_stubs, ch.n_dropped_code, ch.n_solutions) == (2, 1, 3)
    code = [c for c in ch.notebook.cells if c.cell_type == "code"]
    assert code[0].source == 'print("install cell")'
    assert code[1].source == (
        'def my_fn(x):\n    """Docstring stays."""\n    y = 2 * x\n'
        "    # ... your code here (Exercise 3.1); then delete the next line\n"
        '    raise NotImplementedError("Exercise 3.1: not implemented yet")\n\nmy_fn(1)')
    assert code[1].metadata["tags"] == ["exercise", "raises-exception", "remove-output"]
    # a solution cell after the last exercise's block belongs to that exercise, top level
    assert code[2].source.startswith("# ... your code here (Exercise 3.2)")
    assert "Final words." in md and "Some text." in md
    # notebooks show exercises as plain Markdown; the MyST edition keeps the directive
    assert "**Exercise 3.1: Implement it (medium)**" in ipynb
    assert "::::{exercise} Implement it (medium)" in md
    # stable output: same text twice (cell ids are content hashes, not random)
    assert se.to_ipynb(se.convert(toy)) == ipynb
    nb = nbformat.reads(ipynb, as_version=4)
    nbformat.validate(nb)
    assert "jupytext" not in nb.metadata


def test_toy_chapter_reader_edition(toy):
    """The reader edition keeps every solution, folded: prose in <details>, code behind a
    Colab form title and hidden in JupyterLab; no stub, no MyST."""
    from conftest import folded_solution_cells, myst_syntax, notebook_edition

    ch = se.convert(toy, edition="reader")
    text = se.to_ipynb(ch)
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    for secret in ("SECRET-PROSE-1", "SECRET-PROSE-2", "SECRET-PROSE-3", "SECRET-PROSE-4",
                   "SECRET-CODE-1", "SECRET-CODE-2", "SECRET-CODE-3", "# BEGIN SOLUTION"):
        assert secret in text, secret
    assert "NotImplementedError" not in text and not myst_syntax(nb)
    assert notebook_edition(nb) == "reader"
    assert [c.source.split("\n")[0] for c in folded_solution_cells(nb)] == [
        "#@title Solution to Exercise 3.1", "#@title Solution to Exercise 3.2",
        "#@title Solution to Exercise 3.2"]
    details = [c.source for c in nb.cells if c.cell_type == "markdown"
               and c.source.startswith("<details>")]
    # prose before and after the code of 3.1, the plain {solution} of 3.2 (nested note)
    assert [d.split("\n")[1] for d in details] == [
        "<summary>Solution to Exercise 3.1</summary>"] * 2 + [
        "<summary>Solution to Exercise 3.2</summary>"]
    assert "SECRET-PROSE-1" in details[0] and "SECRET-PROSE-2" in details[1]
    assert "SECRET-PROSE-3" in details[2] and "**Note**\n\nSECRET-PROSE-4" in details[2]
    assert all(d.endswith("\n\n</details>") for d in details)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == 'print("install cell")' and "cellView" not in code[0].metadata
    # the first cell links the student notebook on Colab
    assert nb.cells[0].cell_type == "markdown" and (
        "/student/03_toy.ipynb)" in nb.cells[0].source)
    assert se.to_ipynb(se.convert(toy, edition="reader")) == text
    with pytest.raises(ValueError, match="edition"):
        se.convert(toy, edition="teacher")


def test_notebook_markdown_is_plain_for_jupyter():
    """MyST that Jupyter/Colab would show raw is rewritten in the student .ipynb."""
    src = (":::{admonition} Goals\n:class: tip\n\nLearn things.\n:::\n\n"
           "(sec-x)=\n## Section X\n\nSee {ref}`sec-x`, {ref}`that part <sec-x>` and "
           "{eq}`eq-a`; {cite:t}`Key2000` and {cite:p}`Key2000,Other1999`.\n\n"
           "$$\na = b\n$$ (eq-a)\n\n```{math}\nc = d\n```\n\n```python\nx = 1\n```\n")
    bib = {"Key2000": "Smith et al. 2000", "Other1999": "Doe 1999"}
    out = se._jupyter_markdown(src, [], {"sec-x": "Section X"}, bib)
    assert out.startswith("**Goals**\n\nLearn things.\n")
    assert ":class:" not in out and ":::" not in out and "(sec-x)=" not in out
    assert "See *Section X*, that part and equation (eq-a);" in out
    assert "Smith et al. (2000) and (Smith et al. 2000; Doe 1999)." in out
    assert "$$\na = b\n$$\n\n$$\nc = d\n$$\n\n```python\nx = 1\n```" in out


def test_bibliography_and_titles_from_the_repository():
    bib = se.bibliography(ROOT)
    assert bib["Pillow2008"] == "Pillow et al. 2008"
    titles = se.section_titles(ROOT)
    assert titles.get("ch-filters") == "Coupling filters"


def test_stub_keeps_indentation():
    src = "def f():\n\tif True:\n\t\t# BEGIN SOLUTION\n\t\treturn 1\n\t\t# END SOLUTION\n"
    out = se.stub_source(src, "Exercise 9.9")
    assert '\t\traise NotImplementedError("Exercise 9.9: not implemented yet")' in out
    compile(out, "<stub>", "exec")


@pytest.mark.parametrize("bad, match", [
    ("# BEGIN SOLUTION\nx = 1\n", "without '# END SOLUTION'"),
    ("x = 1\n# END SOLUTION\n", "without '# BEGIN SOLUTION'"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "nested"),
])
def test_malformed_markers_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        se.stub_source(bad, "Exercise 1.1")


def test_unclosed_solution_block_is_rejected(toy):
    end = "::::{solution-end}\n::::\n"
    i = HEADER.rindex(end)
    toy.write_text(HEADER[:i] + HEADER[i + len(end):])
    with pytest.raises(ValueError, match="without"):
        se.convert(toy)


# --------------------------------------------------------------------------------------
# The real chapters
# --------------------------------------------------------------------------------------
def solution_text(chapter: Path) -> tuple[set[str], int, int]:
    """Lines only a solution holds (code between markers, prose, unmarked solution code),
    the number of exercises and of marked solution cells of a chapter."""
    nb = jupytext.read(chapter)
    secret, public = set(), set()
    n_exercises = n_marked = 0
    inside = False
    for cell in nb.cells:
        lines = cell.source.split("\n")
        if cell.cell_type == "markdown":
            for line in lines:
                m = se.FENCE_OPEN.match(line)
                if m and m.group("name") == "exercise":
                    n_exercises += 1
                if m and m.group("name") == "solution-start":
                    inside = True
                    continue
                if m and m.group("name") == "solution-end":
                    inside = False
                    continue
                (secret if inside else public).add(line.strip())
            continue
        solution = inside or "solution" in cell.metadata.get("tags", [])
        if not solution:
            public.update(line.strip() for line in lines)
            continue
        if se.has_markers(cell.source):
            n_marked += 1
            between = False
            for line in lines:
                if line.strip() in (se.BEGIN, se.END):
                    between = line.strip() == se.BEGIN
                elif between:
                    secret.add(line.strip())
                else:
                    public.add(line.strip())
        else:
            secret.update(line.strip() for line in lines)
    # short or shared lines (`return out`, blank, fences) prove nothing
    return {s for s in secret - public if len(s) >= 12 and not set(s) <= set(":`")}, \
        n_exercises, n_marked


@pytest.fixture(scope="module")
def student_books(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student")
    return dest, se.write_notebooks(dest, ROOT)


def test_chapters_found():
    assert CHAPTERS, "no notebook chapter in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_solution_in_student_notebook(chapter, student_books):
    dest, books = student_books
    text = (dest / chapter.with_suffix(".ipynb").name).read_text()
    secret, n_exercises, n_marked = solution_text(chapter)
    ch, _ = books[chapter.with_suffix(".ipynb").name]
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "{solution", '"solution"'):
        assert marker not in text, f"{marker!r} survives in the student {chapter.name}"
    leaked = sorted(s for s in secret if s in text)
    assert not leaked, f"solution lines in the student {chapter.name}: {leaked[:5]}"
    assert len(ch.exercises) == n_exercises >= 3, "every chapter has at least 3 exercises"
    assert ch.n_stubs == n_marked
    nb = nbformat.reads(text, as_version=4)
    stubs = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    assert len(stubs) == n_marked
    assert all("raises-exception" in c.metadata["tags"] for c in stubs)
    assert all("raise NotImplementedError(" in c.source for c in stubs)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_at_least_one_implement_it_yourself_exercise_per_chapter(student_books):
    _, books = student_books
    missing = [name for name, (ch, _) in books.items() if ch.n_stubs < 1]
    assert not missing, f"no implement-it-yourself (marked) solution in {missing}"


def test_committed_student_notebooks_are_up_to_date():
    problems = se.out_of_date(ROOT)
    assert not problems, "\n".join(problems) + "\nRegenerate: python3 .ci/tasks.py student"


def test_every_implement_it_yourself_exercise_has_a_check(student_books):
    """Each exercise whose solution has BEGIN/END SOLUTION markers (a stub for students)
    is listed in ct.checks.EXERCISES, so readers and autograders can check it."""
    import coupling_tutorial as ct

    _, books = student_books
    missing = sorted({label for _, (ch, _) in books.items() for label in ch.stub_labels
                      if label not in ct.checks.EXERCISES and label not in ct.checks.ANSWERS})
    assert not missing, f"no check in ct.checks.EXERCISES or ANSWERS for {missing}"


def test_every_exercise_stub_calls_its_check(student_books):
    """In the student notebook, each stub cell ends with its self-check, so a student who
    fills it in gets specific feedback instead of a bare AssertionError."""
    import coupling_tutorial as ct

    dest, books = student_books
    for name, (ch, _) in books.items():
        nb = nbformat.read(dest / name, as_version=4)
        stubs = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
        assert len(stubs) == len(ch.stub_labels)
        for cell, label in zip(stubs, ch.stub_labels):
            if label in ct.checks.ANSWERS:
                call = f'ct.checks.check_answer("{label}"'
            else:
                call = f"ct.checks.{ct.checks.EXERCISES[label].__name__}("
            code = "\n".join(ln for ln in cell.source.split("\n")
                             if not ln.lstrip().startswith("#"))
            assert call in code, f"{name}: the stub of {label} does not call {call}...)"


def test_checks_named_in_chapters_exist():
    import coupling_tutorial as ct

    for chapter in CHAPTERS:
        for name in re.findall(r"ct\.checks\.(\w+)", chapter.read_text()):
            assert hasattr(ct.checks, name), f"{chapter.name} calls missing ct.checks.{name}"


# --------------------------------------------------------------------------------------
# The student HTML, built and executed as students read it
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def student_html(tmp_path_factory, student_books):
    _, books = student_books
    build = tmp_path_factory.mktemp("student_build")
    start = time.perf_counter()
    html = se.build_html(build, books, ROOT, execute=True)
    print(f"student HTML built and executed in {time.perf_counter() - start:.0f} s")
    return html


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_html_shows_every_figure(chapter, student_html, student_books):
    """As many non-blank, numbered, captioned, high-DPI figures as the student source
    draws (derived from the source, not from the executed notebook)."""
    _, books = student_books
    ch, _ = books[chapter.with_suffix(".ipynb").name]
    expected = expected_figures(ch.notebook)
    assert expected, f"{chapter.name}: the student chapter draws no figure"
    page = student_html / chapter.with_suffix(".html").name
    problems = figure_problems(expected, shown_figures(page.read_text(), page.parent),
                               se.chapter_number(chapter))
    assert not problems, f"student {chapter.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_captions_every_figure(chapter, student_books):
    dest, books = student_books
    ch, _ = books[chapter.with_suffix(".ipynb").name]
    numbers = se.figure_numbers(ROOT)
    nb = nbformat.read(dest / chapter.with_suffix(".ipynb").name, as_version=4)
    for fig in expected_figures(ch.notebook):
        i = next(i for i, c in enumerate(nb.cells) if c.source == fig["source"])
        below = nb.cells[i + 1]
        assert below.cell_type == "markdown" and below.source.startswith(
            f"*Figure {numbers[fig['name']]}. "), f"{chapter.name}: {fig['name']} uncaptioned"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{numref}" not in text and "fig-ch" not in text, f"{chapter.name}: raw reference"


@pytest.mark.book
def test_student_html_has_no_solution(student_html, student_books):
    pages = sorted(student_html.rglob("*.html"))
    assert pages
    # a line that is public in *any* student notebook (e.g. `for r in r_values:` in the
    # main text of one chapter and a solution of another) proves nothing
    dest, _ = student_books
    public = {line.strip() for nb in dest.glob("*.ipynb")
              for cell in nbformat.read(nb, as_version=4).cells
              for line in cell.source.split("\n")}
    secrets = {ch: solution_text(ch)[0] - public for ch in CHAPTERS}
    for page in pages:
        html = page.read_text()
        assert "BEGIN SOLUTION" not in html, page
        assert 'class="solution' not in html and "solution-start" not in html, page
        for ch, secret in secrets.items():
            # compare against the HTML-escaped text, as Sphinx writes it
            plain = re.sub(r"<[^>]+>", "", html).replace("&quot;", '"').replace(
                "&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            leaked = sorted(s for s in secret if s in plain)
            assert not leaked, f"{page.name}: solution text of {ch.name}: {leaked[:3]}"


@pytest.mark.book
def test_student_html_colab_links_open_student_notebooks(student_html):
    org, repo, branch = se.repository(ROOT)
    for chapter in CHAPTERS:
        html = (student_html / chapter.with_suffix(".html").name).read_text()
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html))
        want = (f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/"
                f"student/{chapter.stem}.ipynb")
        assert links == {want}, links
        nb = ROOT / "student" / f"{chapter.stem}.ipynb"
        assert nb.is_file() and notebook_edition(nbformat.read(nb, as_version=4)) == "student"


# --------------------------------------------------------------------------------------
# Every student notebook runs (exercise stubs raise, execution goes on)
# --------------------------------------------------------------------------------------
@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_executes(chapter, student_html):
    """The student HTML build executed each chapter (with -W, any error outside a
    ``raises-exception`` cell fails it); here its executed notebooks are read back."""
    path = student_html.parent / "_build" / "jupyter_execute" / chapter.with_suffix(
        ".ipynb").name
    assert path.is_file(), f"no executed student notebook {path}"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tags = cell.metadata.get("tags", [])
        if "exercise" not in tags:
            assert not errors, cell.source
            continue
        assert all(e.ename == "NotImplementedError" for e in errors), \
            [f"{e.ename}: {e.evalue}" for e in errors]
        if "ct.checks.check_" in cell.source or not re.search(r"^\s*def ", cell.source, re.M):
            assert errors and "not implemented yet" in errors[0].evalue, cell.source


def test_student_stub_gives_no_answer_away(student_books):
    """A stub ends with its self-check, and no checked answer's value appears in it (the
    solution's own prints and asserts after the check would state it)."""
    import coupling_tutorial as ct
    from coupling_tutorial.checks.answers import NumberAnswer, TupleAnswer

    dest, books = student_books
    for name, (ch, _) in books.items():
        nb = nbformat.read(dest / name, as_version=4)
        stubs = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
        for cell, label in zip(stubs, ch.stub_labels):
            last = [ln for ln in cell.source.split("\n") if ln.strip()][-1]
            if "ct.checks.check_" in cell.source:
                assert "ct.checks.check_" in last or last.strip().endswith(")"), \
                    f"{name}: {label} continues after its check: {last!r}"
            spec = ct.checks.ANSWERS.get(label)
            parts = spec.parts if isinstance(spec, TupleAnswer) else (
                (spec,) if isinstance(spec, NumberAnswer) else ())
            for part in parts:
                for digits in (3, 4):
                    shown = f"{part.value:.{digits}g}"
                    if len(shown) >= 3:  # "4" or "50" could be any number
                        assert shown not in cell.source, f"{name}: {label} shows {shown}"
