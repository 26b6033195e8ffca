"""Serve MathJax from the build folder so that math renders with no network.

Sphinx links MathJax from a CDN by default; offline, readers would see raw LaTeX.
MathJax 2.7 ships in the PyPI package ``jupyter-server-mathjax`` (installed by
``requirements.txt``); this extension copies its ``static`` folder to
``_build/html/_static/mathjax`` at the end of the build (Sphinx resolves a relative
``mathjax_path`` against ``_static``) and points ``mathjax_path`` at it. It is copied
after the build, not listed in ``html_static_path``, so Sphinx does not add a script tag
for each of its files to every page.
Nothing is vendored in the repository and nothing is downloaded at build time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"


def _static_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _copy(app, exception):
    if exception is None and app.builder.format == "html":
        dest = Path(app.outdir) / "_static" / "mathjax"
        if not (dest / "MathJax.js").exists():
            shutil.copytree(_static_dir(), dest, dirs_exist_ok=True)


def setup(app):
    app.config.mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    app.config.mathjax2_config = {
        # myst-nb marks each page `mathjax_ignore` and relies on the math elements'
        # classes to opt back in (MathJax 3's processHtmlClass); MathJax 2 spells it so:
        "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                    "processRefs": False, "processEnvironments": False,
                    "ignoreClass": "tex2jax_ignore|mathjax_ignore|document",
                    "processClass": "tex2jax_process|mathjax_process|math|output_area"},
        # The PyPI copy of MathJax 2 ships only the STIX-Web fonts (as Jupyter does);
        # without this MathJax looks for its TeX fonts and falls back to poor local ones.
        "HTML-CSS": {"availableFonts": [], "imageFont": None, "preferredFont": None,
                     "webFont": "STIX-Web", "linebreaks": {"automatic": True}},
        "SVG": {"font": "STIX-Web"},
        "messageStyle": "none",
    }
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
