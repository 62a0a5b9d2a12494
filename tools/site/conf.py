"""Sphinx configuration of the course site. `python -m tools.site` copies it into build/site-src/
with the notebooks and the pages it writes, then builds build/html/ from there.

Offline by construction: nothing executes (the committed outputs are rendered), MathJax 2 comes
from the jupyter-server-mathjax package (copied into _static/mathjax/ by the builder), and the
widget manager MyST-NB would load from a CDN is switched off (the builder drops widget views).
"""
from tools._shared import COURSE_TITLE, MATHJAX_CONFIG   # the builder's (python -m tools.site)

project = COURSE_TITLE
copyright = "the course's authors"
extensions = ["myst_nb"]
exclude_patterns = ["_extra", "_static", "**/.ipynb_checkpoints"]

# MyST-NB: the committed outputs, never a kernel
nb_execution_mode = "off"
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_update_mathjax = False          # the MathJax 2 configuration below says what to typeset
suppress_warnings = ["mystnb.unknown_mime_type"]

# MathJax 2 from the build itself; mathjax-config.js, which the builder writes (tools/_shared.py:
# STIX-Web fonts, the only ones jupyter-server-mathjax ships), is loaded first
mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
mathjax_config_path = "mathjax-config.js"

html_theme = "sphinx_book_theme"
html_title = "Latent variable models"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = [("course.js", {"defer": "defer"})]   # search snippets, arrow keys in code
html_favicon = "_static/favicon.svg"
html_extra_path = ["_extra"]         # the notebooks' .ipynb / .md / .py, next to their pages
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,    # each page links its own three forms instead
    "use_fullscreen_button": False,
    "navigation_with_keys": True,    # ← →: previous, next page (course.js: not inside code)
    "footer_content_items": ["copyright.html"],     # not the theme's "By Author name not set"
    # pydata-sphinx-theme fills an unset navbar_persistent with a search field, which renders its
    # whole top bar: a second search box and a hidden copy of the ☰ and "contents" buttons that
    # comes first in the page, so the theme's script binds the sidebars to the hidden copies.
    "navbar_persistent": [],
}
html_context = {"default_mode": "auto"}   # empty, the theme logs "Got invalid theme mode"


def setup(app):
    from tools.site import sized_images          # the builder's own module (python -m tools.site)

    app.connect("html-page-context", sized_images)
