"""The reading companion: the executed notebooks, claims and figures as a static HTML site.

    python -m companion.book --out build/book      # after `make figures`

``build/book/index.html`` lists the notebooks by paper and every claim with its verdict, each
claim linking to the notebook section that records it and to the figure that shows it. Pages
need no Jupyter, no server and no network: images are files beside the pages (or embedded),
and no page loads a script.
"""
