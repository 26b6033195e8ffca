"""The book's figure conventions: one colour per role and one matplotlib style.

Every chapter starts with ``ct.plotting.use_book_style()`` and draws role-carrying
elements with :data:`COLORS`, so that a colour means the same thing on every page:

============  ===========  ==============================================================
role          colour       used for
============  ===========  ==============================================================
excitatory    vermillion   excitatory neurons, positive couplings
inhibitory    blue         inhibitory neurons, negative couplings
sender        orange       the presynaptic neuron j of a filter h_{j->i}
receiver      green        the postsynaptic neuron i
data          dark grey    what is measured or true: spikes, simulations, true filters
model         purple       what is fitted or predicted: fitted filters, theory
============  ===========  ==============================================================

Coupling matrices use the diverging map :data:`COUPLING_CMAP` (red positive, blue
negative, centred on zero), consistent with excitatory red and inhibitory blue.

matplotlib is needed only by :func:`use_book_style` (it is the book's dependency, not the
package's), so importing ``coupling_tutorial`` never imports it.
"""

from __future__ import annotations

from pathlib import Path

import os

__all__ = ["COLORS", "COUPLING_CMAP", "HEADLESS_ENV", "STYLE", "show_widgets", "use_book_style"]

#: Colour of each role, the same in every chapter (Okabe & Ito's colour-blind-safe set).
COLORS = {
    "excitatory": "#D55E00",
    "inhibitory": "#0072B2",
    "sender": "#E69F00",
    "receiver": "#009E73",
    "data": "#404040",
    "model": "#CC79A7",
}

#: Diverging colormap for coupling matrices: positive (excitatory) red, negative blue.
COUPLING_CMAP = "RdBu_r"

#: The matplotlib style file every chapter uses.
STYLE = Path(__file__).resolve().parent / "data" / "book.mplstyle"


def use_book_style() -> None:
    """Apply the book's matplotlib style (sizes, fonts, colour cycle) to later figures.

    Sets matplotlib's ``rcParams`` from :data:`STYLE`: figures sized for the book's text
    column (7 x 3.4 inches), 9-10.5 pt fonts, no top/right spines, constrained layout and
    Okabe & Ito's colour-blind-safe colour cycle. Call it once, after importing
    ``matplotlib.pyplot``; it needs matplotlib, which the package itself does not.

    Examples
    --------
    >>> import matplotlib
    >>> import coupling_tutorial as ct
    >>> ct.plotting.use_book_style()
    >>> matplotlib.rcParams["figure.figsize"]
    [7.0, 3.4]
    >>> ct.plotting.COLORS["excitatory"], ct.plotting.COLORS["inhibitory"]
    ('#D55E00', '#0072B2')
    """
    import matplotlib.pyplot as plt

    plt.style.use(STYLE)


#: Environment variable that marks a headless run (tests, the book build): ``"1"``.
HEADLESS_ENV = "COUPLING_TUTORIAL_HEADLESS"


def show_widgets() -> bool:
    """Whether a chapter should display its interactive (ipywidgets) figure.

    True in Jupyter and on Colab; False in the book's headless runs (the book build, the
    tests, the Colab-like job), which set the environment variable
    ``COUPLING_TUTORIAL_HEADLESS=1``: there no one can move a slider, the built book
    cannot run widgets offline, and a kernel executed by nbclient can intermittently hang
    on ipywidgets' ``interact`` (jupyter/nbclient#312, jupyter/nbconvert#2029). The
    widget cells themselves are tested outside a kernel (tests/test_book.py), and their
    plotting functions draw the static figures of the book.

    Returns
    -------
    bool
        False when ``COUPLING_TUTORIAL_HEADLESS`` is ``"1"``, else True.

    Examples
    --------
    >>> import os
    >>> import coupling_tutorial as ct
    >>> os.environ[ct.plotting.HEADLESS_ENV] = "1"
    >>> ct.plotting.show_widgets()
    False
    >>> del os.environ[ct.plotting.HEADLESS_ENV]
    >>> ct.plotting.show_widgets()
    True
    """
    return os.environ.get(HEADLESS_ENV) != "1"
