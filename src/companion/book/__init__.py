"""The reading companion: the executed notebooks and the claims scoreboard as a static HTML book.

    python -m companion.book            # after `make figures`; writes build/book/

Sphinx with myst-nb and sphinx-book-theme renders the notebooks as they ran (never re-executed):
the scoreboard is the landing page, notebooks are grouped by paper, figures sit where they are
made, math is rendered by a bundled MathJax, and the site works from ``file://`` with no network.
"""
