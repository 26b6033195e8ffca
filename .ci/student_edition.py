#!/usr/bin/env python3
"""Build the student edition and the reader notebooks from the same sources as the book.

    python3 .ci/tasks.py student          # what the README documents (runs this script)
    python3 .ci/tasks.py student --no-html   # only the notebooks (seconds)

writes

* ``book/NN_name.ipynb``: the **reader notebooks**, one output-free notebook per chapter
  beside its ``.md`` (the ``.md`` is the only source; a test checks that the committed
  notebooks are what this script writes now). The book's Colab button opens this file.
  It is the chapter as Jupyter and Colab show it: a first cell linking the chapter's
  student notebook on Colab, the Colab install cell first among the code cells, MyST
  rewritten as plain Markdown (as for students, below), citations linked to their DOI,
  each figure's numbered caption under it, and every solution kept but folded: its prose
  in a ``<details><summary>Solution to Exercise N.M</summary>`` cell, its code cells
  behind a Colab form title (first line ``#@title Solution to Exercise N.M``, cell
  metadata ``cellView: form``) and ``jupyter.source_hidden`` (JupyterLab folds them);
* ``student/NN_name.ipynb``: one output-free notebook per chapter, the folder an instructor
  hands out (committed, so that the student Colab links resolve; a test checks that they
  are up to date with this script);
* ``_build/student/html``: the student edition of the book (HTML), built by Jupyter Book
  from a generated source tree ``_build/student/src`` whose Colab buttons point at
  ``student/NN_name.ipynb``.

What changes for students (the chapters follow the authoring guide's exercise format):

* ``{solution-start}`` ... ``{solution-end}`` blocks (and plain ``{solution}`` directives)
  are removed with all their prose;
* solution code cells (inside such a block, or tagged ``solution``) that contain
  ``# BEGIN SOLUTION`` / ``# END SOLUTION`` become exercise stubs: the lines between the
  markers are replaced by a ``...`` comment and ``raise NotImplementedError("Exercise N.M:
  ...")`` at the same indentation, and the cell ends with its self-check call (what the
  solution does after ``ct.checks.check_*``, which would give the answer away, is cut); the cell is tagged ``exercise`` and ``raises-exception``
  (so a notebook run or a book build goes on past it) and ``remove-output`` (so the
  student HTML shows the stub, not a traceback). Solution code cells without markers are
  dropped;
* everything else, the Colab install cell first, is kept verbatim. In the ``.ipynb``
  files the MyST that Jupyter and Colab would show as raw text is rewritten as plain
  Markdown: ``{exercise}`` and other colon-fence directives become a bold title and their
  body, ``{ref}`` the section title, ``{cite:t}`` "Author et al. (year)" linked to the
  reference's DOI or URL from references.bib, ``{eq}`` the equation's label, and
  ``(label)=`` targets are dropped.

Options (for tests and local use)::

    --notebooks DIR   write the student notebooks to DIR instead of student/
    --build-dir DIR   student HTML build folder (default _build/student)
    --no-html         only write the notebooks
    --no-execute      build the HTML without executing the notebooks (no figures)
    --check           write nothing; exit 1 if student/ or book/*.ipynb is not up to date

Why the student HTML is executed (the default): students read it for its figures, as they
read the public book; the exercise stubs are tagged ``raises-exception`` so the build goes
on past them, and ``-W -n`` still fails on any *other* error, exactly as for the public
book; tests/test_student_edition.py reads the executed student notebooks back. (The
reader notebooks are executed by nbmake in the test command.)

The chapters' jupytext front matter may still say ``formats: ipynb,md:myst`` (pairing the
``.md`` with a jupytext twin): nothing here reads it. Drop ``ipynb,`` from it, or jupytext
in Jupyter would overwrite the reader notebook with a raw-MyST twin when the ``.md`` is
saved (the tests then fail until this script is run again).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
STUDENT_DIR = "student"  # committed student notebooks, relative to the repository root
BOOK_DIR = "book"  # where the chapters live; flattened to the root of the student source

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
# A MyST directive opening fence: ::::{name} argument   or   ```{name} argument
FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")
FENCE_CLOSE = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*$")
SOLUTION_TAGS = {"solution"}
# Tags that would hide a stub from the student: dropped from stub cells.
HIDING_TAGS = {"solution", "hide-input", "hide-cell", "remove-input", "remove-cell",
               "hide-output", "remove-output"}
STUB_TAGS = ["exercise", "raises-exception", "remove-output"]
EDITIONS = ("student", "reader")
STUDENT_README = """\
# Student notebooks

Generated by `python3 .ci/tasks.py student` from the chapters in `book/`; do not edit
by hand (a test checks that they are up to date). One notebook per chapter, without
outputs and without solutions: each implement-it-yourself exercise is a stub that raises
`NotImplementedError` until the student fills it in (the cell is tagged
`raises-exception`, so *Run all* goes on), and `coupling_tutorial.checks` has a
self-check for each (`ct.checks.EXERCISES`; see the book's page "Teaching with this
book"). The first cell installs the package on Google Colab.

Open one in Colab:
`https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/student/<notebook>.ipynb`
"""


@dataclass
class Exercise:
    label: str
    title: str
    number: str  # "N.M"


@dataclass
class StudentChapter:
    """The result of converting one chapter."""

    source: Path
    notebook: nbformat.NotebookNode  # student notebook in jupytext's representation
    exercises: list[Exercise] = field(default_factory=list)
    n_stubs: int = 0
    stub_labels: list[str] = field(default_factory=list)  # exercise label of each stub
    n_dropped_code: int = 0
    n_solutions: int = 0
    edition: str = "student"  # or "reader" (solutions kept, folded)


# --------------------------------------------------------------------------------------
# Table of contents and configuration
# --------------------------------------------------------------------------------------
def _toc_entries(node) -> list[str]:
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                out += _toc_entries(child)
    return out


def toc_files(root: Path = ROOT) -> list[str]:
    """Every page of ``_toc.yml`` (without suffix), root first, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return [toc["root"]] + _toc_entries(toc)


def _source_path(root: Path, entry: str) -> Path:
    for suffix in (".md", ".ipynb", ".rst"):
        p = root / (entry + suffix)
        if p.exists():
            return p
    raise FileNotFoundError(f"_toc.yml lists {entry!r} but no such .md/.ipynb/.rst exists")


def is_notebook(path: Path) -> bool:
    """A MyST markdown notebook (jupytext front matter with a kernelspec)."""
    if path.suffix != ".md":
        return path.suffix == ".ipynb"
    text = path.read_text()
    if not text.startswith("---"):
        return False
    front = text.split("---", 2)[1]
    return "kernelspec" in (yaml.safe_load(front) or {})


def chapters(root: Path = ROOT) -> list[Path]:
    """The notebook chapters listed in ``_toc.yml``, in order (``book/NN_name.md``)."""
    out = []
    for entry in toc_files(root):
        try:
            path = _source_path(root, entry)
        except FileNotFoundError:
            continue  # reported by the book build itself
        if path.suffix == ".md" and is_notebook(path):
            out.append(path)
    return out


def chapter_number(path: Path, root: Path = ROOT) -> int:
    m = re.match(r"(\d+)_", path.name)
    if m:
        return int(m.group(1))
    return chapters(root).index(path) + 1


def repository(root: Path = ROOT) -> tuple[str, str, str]:
    """(org, repo, branch) from ``_config.yml``'s repository section."""
    cfg = yaml.safe_load((root / "_config.yml").read_text())
    url = cfg["repository"]["url"].rstrip("/")
    org, repo = url.split("/")[-2:]
    return org, repo, cfg["repository"].get("branch", "master")


def student_notebook_name(chapter: Path) -> str:
    return chapter.with_suffix(".ipynb").name


# --------------------------------------------------------------------------------------
# Converting one chapter
# --------------------------------------------------------------------------------------
def _skip_directive(lines: list[str], i: int) -> int:
    """Index just past the directive that opens at ``lines[i]`` (nested fences honoured)."""
    stack = [FENCE_OPEN.match(lines[i]).group("fence")]
    i += 1
    while i < len(lines) and stack:
        m_open = FENCE_OPEN.match(lines[i])
        m_close = FENCE_CLOSE.match(lines[i])
        if m_open:
            stack.append(m_open.group("fence"))
        elif m_close:
            fence = m_close.group("fence")
            if fence[0] == stack[-1][0] and len(fence) >= len(stack[-1]):
                stack.pop()
        i += 1
    if stack:
        raise ValueError(f"unclosed directive opened by {lines[i - 1]!r}")
    return i


def _directive_options(lines: list[str], i: int) -> dict[str, str]:
    opts = {}
    for line in lines[i + 1:]:
        m = re.match(r"^\s*:([\w-]+):\s*(.*)$", line)
        if not m:
            break
        opts[m.group(1)] = m.group(2).strip()
    return opts


def stub_source(source: str, exercise: str) -> str:
    """Replace every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a stub."""
    out, inside = [], False
    for n, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {n}: nested {BEGIN!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# ... your code here ({exercise}); then delete the next line")
            out.append(f'{indent}raise NotImplementedError("{exercise}: not implemented yet")')
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {n}: {END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return "\n".join(_end_at_the_check(out))


_CHECK_CALL = re.compile(r"^ct\.checks\.check_\w+\(")


def _end_at_the_check(lines: list[str]) -> list[str]:
    """A stub ends with its self-check: what a solution does after ``ct.checks.check_*``
    (printing, plotting, asserting the values the text states) would hand the student
    the answer, so it is cut. Cells without a top-level check call are kept whole."""
    for i, line in enumerate(lines):
        if _CHECK_CALL.match(line):
            depth, j = 0, i
            for j in range(i, len(lines)):  # to the end of the (maybe multi-line) call
                depth += lines[j].count("(") - lines[j].count(")")
                if depth <= 0:
                    break
            return lines[: j + 1]
    return lines


# A line that draws with pyplot (not its import, nor plt.close / plt.style / plt.rcParams).
_DRAWS = re.compile(r"^(?!\s*(?:import|from)\s).*\bplt\.(?!close\b|style\b|rcParams\b)\w+",
                    re.M)


def draws_figure(source: str) -> bool:
    """Whether a code cell draws a figure: it calls pyplot (beyond import/close/style)
    outside a function definition (a cell that only defines a plotting function, e.g.
    for an interactive widget, draws nothing until the function is called)."""
    import ast

    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                     for ln in source.split("\n"))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return bool(_DRAWS.search(source))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if _DRAWS.search(ast.get_source_segment(code, node) or ""):
            return True
    return False


def figure_cells(nb) -> list:
    """The code cells of a (jupytext) notebook that draw a figure, in order."""
    return [c for c in nb.cells if c.cell_type == "code" and draws_figure(c.source)]


def figure_numbers(root: Path = ROOT) -> dict[str, str]:
    """``{figure name: "N.k"}``: figure k of chapter N, numbered as the book numbers them.

    Names and order come from the chapters' myst-nb figure metadata (every drawing cell
    has a ``mystnb.figure.name``; tests/test_book.py checks that).
    """
    out = {}
    for path in chapters(root):
        n = chapter_number(path, root)
        for k, cell in enumerate(figure_cells(jupytext.read(path)), start=1):
            name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
            if name:
                out[name] = f"{n}.{k}"
    return out


def has_markers(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.split("\n"))


def _solution_title(ex: Exercise | None, number: int) -> str:
    return f"Solution to Exercise {ex.number}" if ex else f"Solution to Exercise {number}"


def _details(summary: str, body: str) -> str:
    """A folded Markdown block (Jupyter and Colab render HTML ``<details>``)."""
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def fold_code(source: str, title: str, metadata) -> str:
    """Fold a code cell in Colab (a form title hides the code) and JupyterLab."""
    metadata["cellView"] = "form"
    metadata.setdefault("jupyter", {})["source_hidden"] = True
    return f"#@title {title}\n{source}"


def convert(path: Path, number: int | None = None, edition: str = "student") -> StudentChapter:
    """Turn one chapter (MyST notebook) into its student or reader version (jupytext
    notebook).

    ``edition="student"`` removes the solutions (prose, and code without markers) and turns
    marked solution code into stubs; ``edition="reader"`` keeps every solution, folded:
    its prose in a ``<details>`` Markdown cell, its code cells behind a Colab form title
    (``#@title Solution to Exercise N.M``, ``cellView: form``) and hidden in JupyterLab.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
    reader = edition == "reader"
    nb = jupytext.read(path)
    number = chapter_number(path) if number is None else number
    result = StudentChapter(source=path, notebook=nb, edition=edition)
    exercises: dict[str, Exercise] = {}
    current: Exercise | None = None  # the exercise whose solution we are in
    in_solution = False
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            # pieces of this cell: ("text", lines) or ("solution", lines, exercise)
            pieces: list[tuple] = [("text", [])]
            if in_solution:  # a solution block continued from an earlier cell
                pieces.append(("solution", [], current))
            i = 0
            while i < len(lines):
                m = FENCE_OPEN.match(lines[i])
                name = m.group("name") if m else None
                if in_solution:
                    if name == "solution-end":
                        in_solution = False
                        pieces.append(("text", []))
                        i = _skip_directive(lines, i)
                    else:
                        pieces[-1][1].append(lines[i])
                        i += 1
                    continue
                if name == "solution-start":
                    label = m.group("arg").strip()
                    current = exercises.get(label)
                    result.n_solutions += 1
                    in_solution = True
                    pieces.append(("solution", [], current))
                    i = _skip_directive(lines, i)
                    continue
                if name == "solution":
                    result.n_solutions += 1
                    end = _skip_directive(lines, i)
                    body = lines[i + 1: end - 1]
                    while body and (re.match(r"^\s*:([\w-]+):", body[0]) or not body[0].strip()):
                        body = body[1:]
                    ex = exercises.get(m.group("arg").strip()) or (
                        result.exercises[-1] if result.exercises else None)
                    indent = len(m.group("indent"))
                    pieces += [("solution", [b[indent:] for b in body], ex), ("text", [])]
                    i = end
                    continue
                if name in ("exercise", "exercise-start"):
                    label = _directive_options(lines, i).get("label", "")
                    ex = Exercise(label, m.group("arg").strip(),
                                  f"{number}.{len(exercises) + 1}")
                    exercises[label or ex.number] = ex
                    result.exercises.append(ex)
                pieces[-1][1].append(lines[i])
                i += 1
            if not reader:  # the text around solutions stays one cell, as in the source
                pieces = [("text", [ln for p in pieces if p[0] == "text" for ln in p[1]])]
            first = True
            for piece in pieces:
                text = "\n".join(piece[1]).strip("\n")
                if not text.strip():
                    continue
                if piece[0] == "solution":
                    text = _details(_solution_title(piece[2], number), text)
                new = cell if first else nbformat.v4.new_markdown_cell()
                new.source = text
                cells.append(new)
                first = False
            continue
        if cell.cell_type == "code":
            tags = list(cell.metadata.get("tags", []))
            if in_solution or SOLUTION_TAGS & set(tags):
                ex = current if in_solution and current else (
                    result.exercises[-1] if result.exercises else None)
                if reader:
                    cell.source = fold_code(cell.source, _solution_title(ex, number),
                                            cell.metadata)
                    cells.append(cell)
                    continue
                label = f"Exercise {ex.number}" if ex else f"Exercise {number}"
                if not has_markers(cell.source):
                    result.n_dropped_code += 1
                    continue
                try:
                    cell.source = stub_source(cell.source, label)
                except ValueError as err:
                    raise ValueError(f"{path}: solution cell of {label}: {err}") from None
                cell.metadata["tags"] = [t for t in tags if t not in HIDING_TAGS] + STUB_TAGS
                cell.outputs = []
                cell.execution_count = None
                result.n_stubs += 1
                result.stub_labels.append(ex.label if ex else "")
        cells.append(cell)
    if in_solution:
        raise ValueError(f"{path}: {{solution-start}} without {{solution-end}}")
    nb.cells = cells
    return result


def _plain_exercises(source: str, exercises: list[Exercise]) -> str:
    """Rewrite ``{exercise}`` directives as plain Markdown (for Jupyter/Colab)."""
    lines = source.split("\n")
    out, i, k = [], 0, 0
    by_title = {ex.title: ex for ex in exercises}
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if m and m.group("name") == "exercise":
            end = _skip_directive(lines, i)
            body = lines[i + 1: end - 1]
            while body and (re.match(r"^\s*:([\w-]+):", body[0]) or not body[0].strip()):
                body = body[1:]
            ex = by_title.get(m.group("arg").strip())
            head = f"**Exercise {ex.number}: {ex.title}**" if ex else "**Exercise**"
            out += [head, ""] + [b[len(m.group("indent")):] for b in body]
            i, k = end, k + 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def bibliography(root: Path = ROOT) -> dict[str, str]:
    """``{key: "Pillow et al. 2008"}`` from references.bib (for the notebooks' citations)."""
    out = {}
    for key, entry in _bib_entries(root):
        author = re.search(r"author\s*=\s*[{\"](.+?)[}\"],?\s*\n", entry, re.S)
        year = re.search(r"year\s*=\s*[{\"]?(\d{4})", entry)
        names = [a.strip() for a in author.group(1).split(" and ")] if author else []
        surname = names[0].split(",")[0].strip("{} ") if names else key
        who = surname + (" et al." if len(names) > 2 else
                         f" and {names[1].split(',')[0].strip('{} ')}" if len(names) == 2 else "")
        out[key] = f"{who} {year.group(1) if year else ''}".strip()
    return out


def _bib_entries(root: Path):
    """``(key, entry text)`` for each entry of references.bib (none if it is absent)."""
    path = root / "references.bib"
    if not path.exists():
        return
    for entry in re.split(r"\n(?=@)", path.read_text()):
        m = re.match(r"@\w+\{([^,\s]+),", entry.strip())
        if m:
            yield m.group(1), entry


def bibliography_links(root: Path = ROOT) -> dict[str, str]:
    """``{key: URL}`` from references.bib: ``https://doi.org/<doi>`` where the entry has a
    DOI, else its ``url`` field or a ``\\url{...}`` in ``howpublished``."""
    out = {}
    for key, entry in _bib_entries(root):
        doi = re.search(r"\bdoi\s*=\s*[{\"]\s*([^}\"\s]+)", entry, re.I)
        url = (re.search(r"\burl\s*=\s*[{\"]\s*([^}\"\s]+)", entry, re.I)
               or re.search(r"\\url\{([^}\s]+)\}", entry))
        if doi:
            out[key] = "https://doi.org/" + re.sub(r"^https?://(dx\.)?doi\.org/", "",
                                                          doi.group(1))
        elif url:
            out[key] = url.group(1)
    return out


def section_titles(root: Path = ROOT) -> dict[str, str]:
    """``{label: heading text}`` for every ``(label)=`` target before a heading."""
    out = {}
    for path in sorted((root / BOOK_DIR).glob("*.md")):
        lines = path.read_text().split("\n")
        for i, line in enumerate(lines[:-1]):
            m = re.match(r"^\(([\w-]+)\)=\s*$", line)
            h = re.match(r"^#+\s+(.*)$", lines[i + 1])
            if m and h:
                out[m.group(1)] = h.group(1).strip()
    return out


ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")


def _plain_roles(text: str, titles: dict[str, str], bib: dict[str, str],
                 figures: dict[str, str] | None = None,
                 links: dict[str, str] | None = None) -> str:
    """MyST roles as text Jupyter shows well: {ref}, {doc}, {numref}, {eq}, {cite:*}.

    Citations become "Author et al. (year)" / "(Author et al. year)", each a Markdown link
    to the reference's DOI or URL where ``links`` (``bibliography_links``) has one.
    """
    figures = figures or {}
    links = links or {}

    def cite(key: str, text: str) -> str:
        return f"[{text}]({links[key]})" if key in links else text

    def role(m):
        name, body = m.group("role"), m.group("body")
        explicit = re.match(r"^(.*?)\s*<([^>]+)>$", body)
        if name in ("ref", "doc", "numref"):
            if explicit:
                return explicit.group(1)
            if name == "numref" and body in figures:
                return f"Figure {figures[body]}"
            return f"*{titles.get(body, body)}*"
        if name == "eq":
            return f"equation ({body})"
        if name.startswith("cite"):
            keys = [k.strip() for k in body.split(",")]
            refs = [bib.get(k, k) for k in keys]
            if name == "cite:t":
                return "; ".join(cite(k, re.sub(r" (\d{4})$", r" (\1)", r))
                                 for k, r in zip(keys, refs))
            return "(" + "; ".join(cite(k, r) for k, r in zip(keys, refs)) + ")"
        return body
    return ROLE.sub(role, text)


def _plain_directives(text: str) -> str:
    """Directives (admonitions, notes, math) as Markdown Jupyter renders; code blocks kept.

    A directive becomes its title (its argument, else its name) in bold followed by its
    body without the options; ``{math}`` becomes a ``$$`` block.
    """
    out, stack = [], []  # stack of (fence, kind): kind "code", "math" or "directive"
    options = False
    for line in text.split("\n"):
        m = FENCE_OPEN.match(line)
        close = FENCE_CLOSE.match(line)
        plain_code = re.match(r"^\s*(`{3,}|~{3,})[\w+-]*\s*$", line)
        if m:
            name = m.group("name")
            if name == "math":
                stack.append((m.group("fence"), "math"))
                out.append("$$")
            else:
                stack.append((m.group("fence"), "directive"))
                title = m.group("arg").strip() or name.replace("-", " ").capitalize()
                out += [f"**{title}**", ""]
            options = True
            continue
        if options and re.match(r"^\s*:[\w-]+:", line):
            continue  # a directive option such as :class: tip
        if options and not line.strip() and out and out[-1] == "":
            continue  # the blank line after the options: the title has one already
        options = False
        if close and stack and close.group("fence")[0] == stack[-1][0][0] \
                and len(close.group("fence")) >= len(stack[-1][0]):
            kind = stack.pop()[1]
            if kind == "code":
                out.append(line)
            elif kind == "math":
                out.append("$$")
            continue
        if plain_code:
            stack.append((plain_code.group(1), "code"))
        out.append(line)
    return "\n".join(out)


def _jupyter_markdown(text: str, exercises, titles, bib, figures=None, links=None) -> str:
    """The MyST of one markdown cell, rewritten for Jupyter and Colab."""
    text = _plain_exercises(text, exercises)
    text = re.sub(r"(?m)^\([\w-]+\)=[ \t]*\n", "", text)  # (label)= targets
    text = re.sub(r"(?m)^([ \t]*\$\$)[ \t]*\([\w-]+\)[ \t]*$", r"\1", text)  # $$ (label)
    text = _plain_directives(text)
    return _plain_roles(text, titles, bib, figures, links)


def colab_url(rel: str, root: Path = ROOT) -> str:
    """The Colab URL of a notebook of the repository (``rel``: path from its root), as
    the book's launch buttons write it (``_config.yml``)."""
    org, repo, branch = repository(root)
    cfg = yaml.safe_load((root / "_config.yml").read_text())
    colab = (cfg.get("launch_buttons") or {}).get("colab_url", "https://colab.research.google.com")
    return f"{colab.rstrip('/')}/github/{org}/{repo}/blob/{branch}/{rel}"


def reader_intro(chapter: StudentChapter, root: Path = ROOT) -> str:
    """The reader notebook's first cell: what it is, and a link to the student notebook."""
    title = yaml.safe_load((root / "_config.yml").read_text()).get("title", "")
    student = colab_url(f"{STUDENT_DIR}/{student_notebook_name(chapter.source)}", root)
    return (f"*{title}*, Chapter {chapter_number(chapter.source, root)}: every solution is "
            "under its exercise, folded (click *Solution to Exercise ...* to open it). To "
            "do the exercises without seeing them, open this chapter's "
            f"[student notebook in Colab]({student}).")


def to_ipynb(chapter: StudentChapter, root: Path = ROOT) -> str:
    """The notebook as committed: plain nbformat JSON, no outputs, stable ids.

    Both editions: MyST rewritten as plain Markdown, citations linked, a numbered caption
    under each figure. The reader edition starts with a cell linking the student notebook.
    """
    nb = copy.deepcopy(chapter.notebook)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    titles, bib, figures = section_titles(root), bibliography(root), figure_numbers(root)
    links = bibliography_links(root)
    cells = []
    if chapter.edition == "reader":
        cells.append(nbformat.v4.new_markdown_cell(reader_intro(chapter, root)))
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "markdown":
            cell.source = _jupyter_markdown(cell.source, chapter.exercises, titles, bib,
                                            figures, links)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            # Jupyter and Colab do not show myst-nb's caption: put it under the figure
            fig = cell.metadata.get("mystnb", {}).get("figure", {})
            if fig.get("name") in figures and "exercise" not in cell.metadata.get("tags", []):
                caption = _plain_roles(" ".join(fig.get("caption", "").split()), titles,
                                       bib, figures, links)
                cells.append(nbformat.v4.new_markdown_cell(
                    f"*Figure {figures[fig['name']]}. {caption}*"))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        # deterministic ids, so that regenerating gives byte-identical files
        digest = hashlib.sha1(f"{i}\0{cell.cell_type}\0{cell.source}".encode()).hexdigest()
        cell["id"] = digest[:12]
    nb.nbformat, nb.nbformat_minor = 4, 5
    text = jupytext.writes(nb, fmt="ipynb")
    return text if text.endswith("\n") else text + "\n"


def to_markdown(chapter: StudentChapter) -> str:
    """The student chapter as MyST markdown (the source of the student HTML)."""
    return jupytext.writes(chapter.notebook, fmt="md:myst")


# --------------------------------------------------------------------------------------
# Writing notebooks and the HTML edition
# --------------------------------------------------------------------------------------
def student_notebooks(root: Path = ROOT) -> dict[str, tuple[StudentChapter, str]]:
    """``{notebook file name: (converted chapter, ipynb text)}`` for every chapter."""
    out = {}
    for path in chapters(root):
        ch = convert(path, chapter_number(path, root))
        out[student_notebook_name(path)] = (ch, to_ipynb(ch, root))
    return out


def reader_notebooks(root: Path = ROOT) -> dict[str, tuple[StudentChapter, str]]:
    """``{notebook file name: (converted chapter, ipynb text)}``: the reader notebooks."""
    out = {}
    for path in chapters(root):
        ch = convert(path, chapter_number(path, root), edition="reader")
        out[student_notebook_name(path)] = (ch, to_ipynb(ch, root))
    return out


def write_reader_notebooks(root: Path = ROOT) -> dict[str, tuple[StudentChapter, str]]:
    """Write ``book/NN_name.ipynb`` beside each chapter (what its Colab button opens)."""
    books = reader_notebooks(root)
    for name, (_, text) in books.items():
        (root / BOOK_DIR / name).write_text(text)
    return books


def reader_out_of_date(root: Path = ROOT) -> list[str]:
    """Problems with the committed reader notebooks ``book/*.ipynb`` (empty: up to date)."""
    books = reader_notebooks(root)
    problems = []
    for name, (_, text) in books.items():
        p = root / BOOK_DIR / name
        if not p.exists():
            problems.append(f"{BOOK_DIR}/{name} is missing")
        elif p.read_text() != text:
            problems.append(f"{BOOK_DIR}/{name} differs from its chapter")
    for p in sorted((root / BOOK_DIR).glob("*.ipynb")):
        if p.name not in books:
            problems.append(f"{BOOK_DIR}/{p.name} has no chapter in _toc.yml")
    return problems


def readme_text(root: Path = ROOT) -> str:
    org, repo, branch = repository(root)
    return STUDENT_README.format(org=org, repo=repo, branch=branch)


def write_notebooks(dest: Path, root: Path = ROOT) -> dict[str, tuple[StudentChapter, str]]:
    """Write the student notebooks (and a README) into ``dest``; remove stale ones."""
    dest.mkdir(parents=True, exist_ok=True)
    books = student_notebooks(root)
    for stale in dest.glob("*.ipynb"):
        if stale.name not in books:
            stale.unlink()
    for name, (_, text) in books.items():
        (dest / name).write_text(text)
    (dest / "README.md").write_text(readme_text(root))
    return books


def out_of_date(root: Path = ROOT) -> list[str]:
    """Problems with the committed ``student/`` folder (empty list: up to date)."""
    dest = root / STUDENT_DIR
    books = student_notebooks(root)
    problems = []
    for name, (_, text) in books.items():
        p = dest / name
        if not p.exists():
            problems.append(f"{STUDENT_DIR}/{name} is missing")
        elif p.read_text() != text:
            problems.append(f"{STUDENT_DIR}/{name} differs from its chapter")
    for p in sorted(dest.glob("*.ipynb")):
        if p.name not in books:
            problems.append(f"{STUDENT_DIR}/{p.name} has no chapter in _toc.yml")
    readme = dest / "README.md"
    if not readme.exists() or readme.read_text() != readme_text(root):
        problems.append(f"{STUDENT_DIR}/README.md is missing or outdated")
    return problems


def _strip_book(entry: str) -> str:
    prefix = BOOK_DIR + "/"
    if not entry.startswith(prefix):
        raise ValueError(f"_toc.yml entry {entry!r} is not under {BOOK_DIR}/")
    return entry[len(prefix):]


def _retoc(node):
    if isinstance(node, dict):
        node = dict(node)
        for key in ("file", "root"):
            if key in node:
                node[key] = _strip_book(node[key])
        for key in ("parts", "chapters", "sections"):
            if key in node:
                node[key] = [_retoc(c) for c in node[key]]
    return node


def student_config(root: Path = ROOT, execute: bool = True) -> dict:
    """The public ``_config.yml`` with the student edition's changes."""
    cfg = yaml.safe_load((root / "_config.yml").read_text())
    cfg["title"] = f"{cfg.get('title', '')} (student edition)".strip()
    cfg.setdefault("repository", {})["path_to_book"] = STUDENT_DIR  # Colab -> student/*.ipynb
    sphinx = cfg.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    sphinx["local_extensions"] = {
        name: _strip_book(p) if p.startswith(BOOK_DIR + "/") else p
        for name, p in (sphinx.get("local_extensions") or {}).items()}
    cfg.setdefault("execute", {})["execute_notebooks"] = "force" if execute else "off"
    # the student .ipynb beside each flattened chapter must not be read as a second source
    # ("**/*.ipynb" matches only inside folders)
    excludes = cfg.setdefault("exclude_patterns", [])
    if "*.ipynb" not in excludes:
        excludes.append("*.ipynb")
    return cfg


def write_source_tree(src: Path, books, root: Path = ROOT, execute: bool = True) -> None:
    """The student book's sources: book/ flattened, student chapters, student notebooks."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(root / BOOK_DIR, src,
                    ignore=shutil.ignore_patterns("*.ipynb", "__pycache__", ".*"))
    for f in ("references.bib",):
        if (root / f).exists():
            shutil.copy2(root / f, src / f)
    for name, (ch, text) in books.items():
        (src / name).with_suffix(".md").write_text(to_markdown(ch))
        # the .ipynb beside the .md makes the Colab button link to student/NN_name.ipynb
        (src / name).write_text(text)
    toc = _retoc(yaml.safe_load((root / "_toc.yml").read_text()))
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    cfg = student_config(root, execute)
    (src / "_config.yml").write_text(
        "# Generated by .ci/student_edition.py from the public _config.yml: do not edit.\n"
        + yaml.safe_dump(cfg, sort_keys=False))


def build_html(build_dir: Path, books, root: Path = ROOT, execute: bool = True) -> Path:
    """Build the student HTML into ``build_dir/html``; return that folder."""
    src = build_dir / "src"
    write_source_tree(src, books, root, execute)
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernels must plot inline (see .ci/tasks.py)
    env["COUPLING_TUTORIAL_HEADLESS"] = "1"  # no slider widgets (ct.plotting.show_widgets)
    env.setdefault("JAX_PLATFORMS", "cpu")
    # (jupyter_book has no __main__, so `python -m jupyter_book` does not work)
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           str(src), "--path-output", str(build_dir), "-W", "-n", "--keep-going"]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=root, env=env, check=True)
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(build_dir / "_build" / "html"), str(html))
    return html


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", type=Path, default=ROOT / STUDENT_DIR)
    ap.add_argument("--build-dir", type=Path, default=ROOT / "_build" / "student")
    ap.add_argument("--no-html", action="store_true")
    ap.add_argument("--no-execute", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    if args.check:
        problems = out_of_date() + reader_out_of_date()
        for p in problems:
            print(p)
        if problems:
            print("Regenerate with: python3 .ci/tasks.py student --no-html")
        return 1 if problems else 0
    for name, (ch, _) in write_reader_notebooks().items():
        print(f"{BOOK_DIR}/{name}: reader notebook, {len(ch.exercises)} exercises, "
              f"{ch.n_solutions} solutions folded")
    books = write_notebooks(args.notebooks.resolve())
    for name, (ch, _) in books.items():
        print(f"{args.notebooks / name}: {len(ch.exercises)} exercises, {ch.n_stubs} stub "
              f"cells, {ch.n_solutions} solutions removed")
    if not args.no_html:
        html = build_html(args.build_dir.resolve(), books, execute=not args.no_execute)
        print(f"\nThe student edition is in {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
