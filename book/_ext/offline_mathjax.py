"""Serve MathJax from the build folder so that math renders with no network.

Sphinx links MathJax from a CDN by default; offline, readers would see raw LaTeX.
MathJax 2.7 ships in the PyPI package ``jupyter-server-mathjax`` (installed by
``requirements.txt``); this extension copies its ``static`` folder to
``_build/html/mathjax`` at the end of the build and points ``mathjax_path`` at it.
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
        dest = Path(app.outdir) / "mathjax"
        if not (dest / "MathJax.js").exists():
            shutil.copytree(_static_dir(), dest, dirs_exist_ok=True)


def setup(app):
    app.config.mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    app.config.mathjax2_config = {
        "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                    "processRefs": False, "processEnvironments": False},
        "messageStyle": "none",
    }
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
