"""The book's figure conventions (ct.plotting): a valid style, distinct role colours."""

import subprocess
import sys

import pytest

import coupling_tutorial as ct

mpl = pytest.importorskip("matplotlib")

OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000"}


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, coupling_tutorial; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_style_file_is_valid_and_applies():
    """Every key of the style file is one matplotlib knows, with a valid value
    (matplotlib only prints a bad key to stderr and skips it), and applying it works."""
    keys = [ln.split(":", 1)[0].strip() for ln in ct.plotting.STYLE.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]
    unknown = [k for k in keys if k not in mpl.rcParams]
    assert not unknown, unknown
    parsed = mpl.rc_params_from_file(ct.plotting.STYLE, use_default_template=False)
    assert sorted(parsed) == sorted(keys)  # none dropped for an invalid value
    with mpl.rc_context():
        ct.plotting.use_book_style()
        rc = mpl.rcParams
        assert list(rc["figure.figsize"]) == [7.0, 3.4]
        assert rc["figure.constrained_layout.use"]
        cycle = [c.upper() for c in rc["axes.prop_cycle"].by_key()["color"]]
    assert {"#" + c.lstrip("#") for c in cycle} <= OKABE_ITO


def test_role_colours_are_distinct_and_colour_blind_safe():
    colors = ct.plotting.COLORS
    assert set(colors) == {"excitatory", "inhibitory", "sender", "receiver", "data", "model"}
    rgb = {role: mpl.colors.to_rgb(c) for role, c in colors.items()}
    assert len(set(rgb.values())) == len(rgb)
    assert {c.upper() for r, c in colors.items() if r != "data"} <= OKABE_ITO
    # the data colour is a neutral grey, distinct from every hue
    r, g, b = rgb["data"]
    assert r == g == b and r < 0.5


def test_coupling_colormap_is_red_for_positive_and_blue_for_negative():
    cmap = mpl.colormaps[ct.plotting.COUPLING_CMAP]
    hi, mid, lo = cmap(1.0), cmap(0.5), cmap(0.0)
    assert hi[0] > hi[2] and lo[2] > lo[0]  # positive red (excitatory), negative blue
    assert min(mid[:3]) > 0.9  # zero is white
