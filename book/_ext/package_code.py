"""``{literalinclude}`` of the package's own code from any copy of the book's sources.

Where a chapter presents an algorithm it shows the package's function with
``{literalinclude} ../coupling_tutorial/<file>.py`` and ``:pyobject:``, a path relative
to ``book/``. The student edition builds from a flattened copy of ``book/`` elsewhere
(``.ci/student_edition.py``), where that relative path leads nowhere; there this
extension resolves a path to ``coupling_tutorial/...`` that does not exist against the
installed ``coupling_tutorial`` package, so both editions show the same code. Paths that
exist are left to Sphinx unchanged.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from sphinx.directives.code import LiteralInclude

PACKAGE = "coupling_tutorial"


class PackageLiteralInclude(LiteralInclude):
    def run(self):
        argument = self.arguments[0]
        _, path = self.env.relfn2path(argument)
        marker = PACKAGE + "/"
        if not os.path.exists(path) and marker in argument:
            spec = importlib.util.find_spec(PACKAGE)  # locates it, imports nothing
            if spec is not None and spec.origin:
                root = Path(spec.origin).resolve().parent.parent
                target = root / argument[argument.index(marker):]
                docdir = Path(self.env.doc2path(self.env.docname)).parent
                self.arguments[0] = os.path.relpath(target, docdir)
        return super().run()


def setup(app):
    app.add_directive("literalinclude", PackageLiteralInclude, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
