"""The book builds with -W -n and every page renders in a real (headless) browser.

This file holds THE book build of the test command: a module fixture (each test file runs
in a single xdist worker, ``--dist loadfile``) builds the public book once into
``_build/html`` exactly as ``python3 .ci/tasks.py book`` does (every chapter executed,
warnings are errors). The pages are then served on 127.0.0.1 and opened in headless
Chromium (Debian's ``chromium``, installed by ``.ci/run``), which runs MathJax; the DOM it
dumps is checked for:

* the page loaded (article, title) and no JavaScript error / failed resource load;
* math typeset by MathJax (every ``math`` element processed, no MathJax error, no raw
  ``\\(``, ``\\[``, ``$$`` or ``\\begin{`` left in the visible text);
* every figure there: as many non-blank, high-DPI images as the chapter's *source* has
  drawing cells, each in a numbered ``<figure>`` with the source's name, caption and alt
  text (tests/conftest.py ``expected_figures``, ``shown_figures``);
* no error output, except in cells tagged ``raises-exception``;
* the Colab launch button (the link ``_config.yml`` implies), whose target is the
  chapter's committed reader notebook, and the download buttons (``.md`` source and
  ``.ipynb``), whose targets exist;
* at least three exercises per chapter, each solution present but collapsed;
* all shown code and every printed result fit the page at a 1280-px window (nothing
  hidden behind a horizontal scrollbar; measured by Chromium in a harness page);
* no page shows a path of the machine that built it (a warning's file name).

A screenshot of each chapter is saved to ``_build/screenshots/`` for people to look at.
Fully offline: MathJax is served from the build folder (book/_ext/offline_mathjax.py) and
Chromium runs with background networking off.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (expected_figures, figure_problems, load_student_edition,
                      notebook_edition, shown_figures)

nbformat = pytest.importorskip("nbformat")  # not in the `oldest` environment
jupytext = pytest.importorskip("jupytext")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())

pytestmark = pytest.mark.book


def toc_pages() -> list[str]:
    def walk(node):
        out = [node["file"]] if "file" in node else []
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                out += walk(child)
        return out

    return [TOC["root"]] + walk(TOC)


def is_chapter(page: str) -> bool:
    """A notebook chapter: MyST markdown with a kernelspec in its jupytext front matter."""
    md = (ROOT / page).with_suffix(".md")
    if not md.exists() or not md.read_text().startswith("---"):
        return False
    return "kernelspec" in (yaml.safe_load(md.read_text().split("---", 2)[1]) or {})


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if is_chapter(p)]


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.fail("Chromium not found: install Debian's `chromium` (.ci/run does) or set "
                "CHROMIUM to a Chrome/Chromium binary")


# --------------------------------------------------------------------------------------
# The build (once per test session in this worker) and a local server
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build():
    """Build the public book like `python3 .ci/tasks.py book`; return (process, seconds).

    For local iteration on this file only, REUSE_BOOK_BUILD=1 reuses an existing
    _build/html (the build test is then skipped, never passed).
    """
    if os.environ.get("REUSE_BOOK_BUILD") == "1" and (HTML / "index.html").exists():
        return None, 0.0
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("MPLBACKEND", None)  # kernels plot inline (an Agg backend shows no figure)
    env["COUPLING_TUTORIAL_HEADLESS"] = "1"  # no slider widgets (ct.plotting.show_widgets)
    env.setdefault("JAX_PLATFORMS", "cpu")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
           ".", "-W", "-n", "--keep-going"]  # writes _build/html
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(f"book build: {seconds:.0f} s, exit code {proc.returncode}")
    return proc, seconds


@pytest.fixture(scope="module")
def site(build):
    """The built pages, served on 127.0.0.1 (MathJax needs http:// to load its fonts)."""
    assert (HTML / "index.html").exists(), "the book build wrote no index.html"
    failures = []  # (status, path) of every request the server could not answer
    handler = functools.partial(_RecordingHandler, failures, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", failures
    server.shutdown()
    server.server_close()


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, failures, *args, **kwargs):
        self.failures = failures
        super().__init__(*args, **kwargs)

    def log_request(self, code="-", size="-"):
        status = getattr(code, "value", code)
        if str(status).isdigit() and int(status) >= 400 and self.path != "/favicon.ico":
            self.failures.append((int(status), self.path))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def rendered(site, tmp_path_factory):
    """{page: (DOM after MathJax, browser console lines)}; screenshots of chapters."""
    url, failures = site
    browser = chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for page in PAGES:
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                f"--user-data-dir={profile}", "--virtual-time-budget=15000",
                "--window-size=1280,2000", "--enable-logging=stderr", "--v=0", "--dump-dom"]
        if page in CHAPTERS:
            args.append(f"--screenshot={SCREENSHOTS / (Path(page).name + '.png')}")
        failures.clear()
        start = time.perf_counter()
        proc = subprocess.run(args + [f"{url}/{page}.html"], capture_output=True, text=True,
                              timeout=180)
        console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
        out[page] = (proc.stdout, console, proc.returncode, time.perf_counter() - start,
                     list(failures))
    return out


def soup(dom: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(dom, "html.parser")


# --------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------
def test_book_builds_without_warnings(build):
    proc, seconds = build
    if proc is None:
        pytest.skip("REUSE_BOOK_BUILD=1: the book was not built by this run")
    log = proc.stdout + proc.stderr
    warnings = [ln for ln in log.splitlines() if "WARNING" in ln and "IPKernelApp" not in ln]
    assert proc.returncode == 0, "\n".join(warnings) or log[-5000:]
    assert not warnings, "\n".join(warnings)
    for page in PAGES:
        assert (HTML / f"{page}.html").is_file(), page


# --------------------------------------------------------------------------------------
# Every page in the browser
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_page_loads(page, rendered):
    dom, console, rc, seconds, failed = rendered[page]
    assert rc == 0, f"chromium exit code {rc}"
    failed = [(status, path) for status, path in failed if not unused_font(path, dom)]
    assert not failed, f"{page}: requests the local server could not answer: {failed}"
    doc = soup(dom)
    article = doc.select_one("article.bd-article")
    assert article is not None, f"{page}: no article in the rendered DOM"
    assert article.find("h1"), f"{page}: no title"
    bad = [ln for ln in console if re.search(r"Uncaught|Failed to load resource|net::ERR_", ln)
           and not any(known in ln for known in KNOWN_CONSOLE_ERRORS)]
    assert not bad, f"{page}: browser console:\n" + "\n".join(bad)


def unused_font(path: str, dom: str) -> bool:
    """A font MathJax 2 only probed for: no glyph in the page is set in it.

    MathJax 2 declares @font-face rules for its TeX fonts while it decides which font to
    use (here the STIX-Web fonts, the only ones the PyPI MathJax ships), which can make
    the browser request a TeX font file that is absent. That matters only if a glyph ends
    up set in that font, i.e. if some element's inline style names its family.
    """
    m = re.search(r"/fonts/.*/(?P<family>[A-Za-z_]+)-[A-Za-z]+\.(otf|woff|eot|svg)$", path)
    if not m:
        return False
    return not re.search(r'style="[^"]*font-family:\s*' + m.group("family") + r'[;"]', dom)


# Upstream, harmless here: JB1 1.0.4's sphinx-thebe config script (`const THEBE_JS_URL`)
# lands twice in every page's <head>; Thebe is off, nothing reads it.
KNOWN_CONSOLE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)

VISIBLE_RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{")


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset(page, rendered):
    dom = rendered[page][0]
    doc = soup(dom)
    raw = (HTML / f"{page}.html").read_text()
    n_math = len(soup(raw).select(".math"))
    # MathJax 2 keeps each formula's TeX in a <script type="math/tex"> and renders it
    # into a sibling span.MathJax / div.MathJax_Display; MathJax 3 into mjx-container.
    rendered_math = doc.select("span.MathJax, div.MathJax_Display, mjx-container")
    if n_math:
        assert rendered_math, f"{page}: {n_math} formulas, none typeset by MathJax"
        scripts = doc.select('script[type^="math/tex"]')
        assert len(scripts) >= n_math or len(rendered_math) >= n_math, \
            f"{page}: {n_math} formulas but only {len(scripts)} processed"
    assert not doc.select(".MathJax_Error, .merror, .noError, mjx-merror"), \
        f"{page}: MathJax reports a TeX error"
    for tag in doc(["script", "style", "pre", "code", "textarea", "noscript"]):
        tag.decompose()
    for tag in doc.select(".highlight, .cell_input, .MathJax, .MathJax_Display"):
        tag.decompose()
    text = doc.get_text(" ")
    m = VISIBLE_RAW_TEX.search(text)
    assert not m, f"{page}: raw LaTeX in the rendered text: ...{text[max(0, m.start() - 80):m.end() + 80]}..."


def executed_notebook(page: str):
    path = ROOT / "_build" / "jupyter_execute" / f"{page}.ipynb"
    assert path.exists(), f"no executed notebook {path}"
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_figure_is_shown(page, rendered):
    """Each figure the chapter's SOURCE draws is on the page: a non-blank, high-DPI image
    in a numbered <figure> with the source's name, caption and alt text, in order.

    The count comes from the .md source (cells that draw with pyplot), never from the
    executed notebook: a kernel that plots to a non-inline backend executes fine and
    shows nothing, and then both would be zero.
    """
    se = load_student_edition()
    expected = expected_figures(jupytext.read(ROOT / f"{page}.md"))
    assert expected, f"{page}: the source draws no figure"
    shown = shown_figures(rendered[page][0], (HTML / page).parent)
    problems = figure_problems(expected, shown, se.chapter_number(ROOT / f"{page}.md"))
    assert not problems, f"{page}:\n" + "\n".join(problems)
    nb = executed_notebook(page)
    shown_cells = [cell for cell in nb.cells if cell.cell_type == "code" and not (
        {"remove-cell", "remove-output"} & set(cell.metadata.get("tags", [])))]
    n_images = sum(1 for cell in shown_cells
                   for o in cell.get("outputs", []) if "image/png" in o.get("data", {}))
    assert n_images == len(expected), f"{page}: executed notebook has {n_images} images"
    for img in soup(rendered[page][0]).select("article.bd-article img"):
        assert not img.get("src", "").startswith(("http:", "https:")), f"{page}: {img}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_no_error_outputs(page, rendered):
    doc = soup(rendered[page][0])
    for out in doc.select(".output.traceback, .output.error, .output_error"):
        cell = out.find_parent(class_="cell")
        classes = cell.get("class", []) if cell else []
        assert "tag_raises-exception" in classes, \
            f"{page}: error output outside a raises-exception cell:\n{out.get_text()[:500]}"
    text = doc.get_text(" ")
    n_allowed = len(doc.select(".cell.tag_raises-exception"))
    assert text.count("Traceback (most recent call last)") <= n_allowed, page


@pytest.mark.parametrize("page", CHAPTERS)
def test_launch_and_download_buttons(page, rendered):
    doc = soup(rendered[page][0])
    hrefs = [a.get("href", "") for a in doc.select("a")]
    org, repo = CONFIG["repository"]["url"].rstrip("/").split("/")[-2:]
    branch = CONFIG["repository"]["branch"]
    colab = (f"{CONFIG['launch_buttons']['colab_url']}/github/{org}/{repo}/blob/{branch}/"
             f"{page}.ipynb")
    assert colab in hrefs, f"{page}: no Colab button to {colab}"
    assert (ROOT / f"{page}.ipynb").is_file()
    # it opens the reader notebook (plain Markdown, solutions folded), not raw MyST
    edition = notebook_edition(nbformat.read(ROOT / f"{page}.ipynb", as_version=4))
    assert edition == "reader", f"{page}: the Colab button opens a {edition!r} notebook"
    downloads = [h for h in hrefs if "_sources/" in h]
    md = [h for h in downloads if h.endswith(".md")]
    nb = [h for h in downloads if h.endswith(".ipynb")]
    assert md and nb, f"{page}: download buttons missing ({downloads})"
    for h in md + nb:
        target = ((HTML / page).parent / h).resolve()
        assert target.is_file() and target.stat().st_size > 0, f"{page}: {h} missing"


@pytest.mark.parametrize("page", CHAPTERS)
def test_exercises_with_collapsed_solutions(page, rendered):
    """At least three exercises, each with its solution present but collapsed (the
    toggle button hides it until clicked), solution code inside the solution."""
    doc = soup(rendered[page][0])
    exercises = doc.select("article.bd-article div.exercise")
    solutions = doc.select("article.bd-article div.solution")
    assert len(exercises) >= 3, f"{page}: {len(exercises)} exercises"
    assert len(solutions) == len(exercises), f"{page}: {len(solutions)} solutions"
    for sol in solutions:
        classes = sol.get("class", [])
        assert "dropdown" in classes and "toggle-hidden" in classes, f"{page}: open {classes}"
        assert sol.select_one("button.toggle-button"), f"{page}: no toggle button"
    for cell in doc.select(".cell.tag_solution"):
        assert cell.find_parent(class_="solution"), f"{page}: solution code outside dropdown"


# a page of this width in an iframe of this harness, its output blocks measured by the
# browser (the dumped DOM carries the result); written into the site for the check only
_OVERFLOW_WIDTH = 1280
_OVERFLOW_HARNESS = """<!DOCTYPE html><html><body>
<iframe id="page" src="PAGE" style="width: WIDTHpx; height: 1000px; border: 0"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const wide = pre => pre.scrollWidth > pre.clientWidth + 1;   // the pre scrolls
  const first = pre => pre.textContent.trim().split("\\n")[0].slice(0, 100);
  const report = {};
  for (const [kind, selector] of [["outputs", "div.cell_output pre"],
                                  ["code", "div.cell_input pre"]]) {
    const blocks = [...doc.querySelectorAll(selector)].filter(pre => pre.offsetWidth > 0);
    report[kind] = {blocks: blocks.length, hidden: blocks.filter(wide).map(first)};
  }
  const out = document.createElement("pre");
  out.id = "overflow";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script></body></html>
"""


@pytest.fixture(scope="module")
def overflow(site, tmp_path_factory):
    """{chapter: {"outputs" | "code": {"blocks": n, "hidden": [first line of each shown
    block wider than its box]}}} at a 1280-px-wide window, measured by Chromium."""
    import json

    url, _ = site
    harness = HTML / "_overflow_check.html"
    profile = tmp_path_factory.mktemp("chromium-overflow")  # fresh: no cached stylesheet
    out = {}
    try:
        for page in CHAPTERS:
            harness.write_text(_OVERFLOW_HARNESS.replace("PAGE", f"{page}.html")
                               .replace("WIDTH", str(_OVERFLOW_WIDTH)))
            proc = subprocess.run(
                [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                 "--no-first-run", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                 "--window-size=1300,1100", "--dump-dom",
                 f"{url}/_overflow_check.html"], capture_output=True, text=True, timeout=180)
            found = soup(proc.stdout).find(id="overflow")
            out[page] = json.loads(found.get_text()) if found else None
    finally:
        harness.unlink(missing_ok=True)
    return out


@pytest.mark.parametrize("page", CHAPTERS)
@pytest.mark.parametrize("kind", ["code", "outputs"])
def test_code_and_outputs_fit_the_page(page, kind, overflow):
    """No code and no printed result hides behind a horizontal scrollbar on a 1280-px
    window: every shown code cell and output block of the chapter fits its box (the
    book's _static/book.css sets the code's size and wraps the outputs)."""
    assert overflow[page] is not None, "the harness page reported nothing (no page load)"
    res = overflow[page][kind]
    assert res["blocks"] > 0, f"no {kind} block found: the selector no longer matches"
    assert not res["hidden"], (f"{len(res['hidden'])} of {res['blocks']} {kind} blocks "
                               f"are wider than the page: {res['hidden'][:5]}")


@pytest.mark.parametrize("page", PAGES)
def test_no_build_paths_on_the_page(page, rendered):
    """A page never shows where the book was built (a warning's file path, a traceback
    into site-packages): the reader's page is the same on every machine."""
    text = soup(rendered[page][0]).get_text()
    for leak in (str(ROOT), "site-packages", "/tmp/"):
        assert leak not in text, f"the page shows {leak!r}: {text[text.find(leak) - 80:][:240]}"


def test_screenshots_saved(rendered):
    for page in CHAPTERS:
        png = SCREENSHOTS / f"{Path(page).name}.png"
        assert png.is_file() and png.stat().st_size > 10_000, png
    times = {p: round(v[3], 1) for p, v in rendered.items()}
    print(f"browser seconds per page: {times}")


@pytest.mark.parametrize("page", CHAPTERS)
def test_solutions_pass_their_own_checks(page, rendered):
    """Every self-check the executed public chapter calls (its solutions') says ✓: a
    wrong answer key or a wrong solution would print ✗ and still execute."""
    nb = executed_notebook(page)
    failed = [o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "stream"
              and re.search(r"^✗", o.get("text", ""), re.M)]
    calls = sum(cell.source.count("ct.checks.check_") for cell in nb.cells
                if cell.cell_type == "code")
    passed = sum(o.get("text", "").count("✓") for cell in nb.cells
                 if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert not failed, f"{page}: a solution fails its check:\n" + "\n".join(failed)
    assert passed >= calls, f"{page}: {calls} check calls, {passed} ✓ lines"
