"""What the course site (`tools.site`, `make html`) and the slide decks (`tools.slides`,
`make slides`) share: the repository's folders, the MIME type of a widget view, finding an
installed package without importing it, the course's title, and MathJax 2 offline.

MathJax 2 comes from the `jupyter-server-mathjax` package, copied into the build (English only:
its translations load only for a browser set to another language), with settings read before
MathJax.js (`mathjax_config_js`). The package ships the STIX-Web fonts only, as the classic
Notebook used them; MathJax's default TeX web fonts are not there, and its combined
configurations declare them, so every page names its fonts before MathJax.js loads and nothing
asks the network for a font.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

COURSE_TITLE = "Latent variable models: from PCA to VAEs in PyTorch and Pyro"
ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"     # MathJax.js?config=...


def package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it; exits naming the fix."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{pip_name} is not installed: run `make html` or `make slides`, "
                 f"or `.venv/bin/pip install -r requirements-dev.txt`")
    return Path(list(spec.submodule_search_locations)[0])


def mathjax_dir() -> Path:
    """MathJax 2 as `jupyter-server-mathjax` ships it (the folder holding MathJax.js)."""
    return package_dir("jupyter_server_mathjax", "jupyter-server-mathjax") / "static"


def mathjax_files() -> list[tuple[Path, Path]]:
    """(file, path relative to the MathJax folder) of every file a build copies: all of MathJax
    but the translations other than English."""
    root = mathjax_dir()
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not (rel.parts[0] == "localization" and rel.parts[1] != "en"):
            files.append((path, rel))
    return files


def mathjax_config_js(linebreaks: bool, extra: str = "") -> str:
    """The MathJax 2 settings of a page, read before MathJax.js: the STIX-Web fonts for every
    output (HTML-CSS, SVG, and the hidden MathML copy kept for screen readers, which would
    otherwise ask for the missing TeX fonts), automatic line breaks or not, and `extra`
    (more top-level entries of the `window.MathJax` object, each line ending with a comma)."""
    return (
        "// MathJax 2 settings, read before MathJax.js (written by tools/_shared.py). "
        "jupyter-server-mathjax\n// ships the STIX-Web fonts only, so no other font is ever "
        "requested.\nwindow.MathJax = {\n" + extra +
        """  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: %s},
               // HTML-CSS declares a blank fallback font at url('about:blank'), which Chromium
               // refuses with a console error: a local() source names the same nothing quietly
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  SVG: {font: "STIX-Web"},
  NativeMML: {styles: {
    '[mathvariant="double-struck"]': {"font-family": "serif"},
    '[mathvariant="script"]': {"font-family": "serif"},
    '[mathvariant="fraktur"]': {"font-family": "serif"},
    '[mathvariant="bold-script"]': {"font-family": "serif", "font-weight": "bold"},
    '[mathvariant="bold-fraktur"]': {"font-family": "serif", "font-weight": "bold"}
  }},
  menuSettings: {zoom: "Double-Click"}
};
""" % ("true" if linebreaks else "false"))
