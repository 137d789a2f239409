"""Sphinx configuration of the reading companion (copied into the generated source folder).

The notebooks are rendered as they ran under ``make figures`` (never re-executed); math comes from
the MathJax 2 copy bundled by jupyter-server-mathjax under ``_static/mathjax`` so the site works
from ``file://`` with no network.
"""

project = "JCRA and MultiWrite: reading companion"

extensions = ["myst_nb", "sphinxcontrib.bibtex"]
exclude_patterns = ["_build", "_doctrees", "figures", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# Notebooks: rendered from their saved outputs only.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False  # else myst marks pages mathjax_ignore and MathJax 2 renders nothing

# Math: MathJax 2.7.9 with STIX-Web fonts, from this site's own _static folder.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web", "webFont": "STIX-Web", "imageFont": None},
    "showMathMenu": False,
    "messageStyle": "none",
}

bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

html_theme = "sphinx_book_theme"
html_title = "JCRA and MultiWrite: reading companion"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_show_copyright = False
html_show_sphinx = False
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "footer_content_items": [],
}
