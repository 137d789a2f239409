"""One HTML page per executed notebook, with nbconvert's HTML exporter (JupyterLab look).

The page is the notebook as it ran, plus three things a reader needs:
- a navigation bar (back to the index, to the scoreboard);
- a banner with the verdict just before the cell that records each claim, whose id
  ``claim-<claim id>`` is what the index links to;
- a closing section with every figure and table the notebook wrote to ``figures/<name>/``, each
  figure with id ``figure-<stem>``, its image a file of the book (``figures/...``).

No page loads a script: require.js, MathJax and Mermaid are dropped so pages work offline from
``file://`` (TeX in Markdown shows as written).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import jinja2
import mistune
import nbformat
from nbconvert import HTMLExporter

from companion import claims
from companion.book.contents import BookContents, NotebookEntry
from companion.style import VERDICT_COLORS

BOOK_CSS = """
.book-nav { position: sticky; top: 0; z-index: 10; background: #f7f7f7; border-bottom: 1px solid #ddd;
  padding: 6px 12px; font: 14px sans-serif; }
.book-nav a { margin-right: 1.2em; }
.book-nav a, .book-claim a, .book-outputs a { color: #0645ad; text-decoration: underline; }
.book-claim { border-left: 6px solid var(--verdict); background: #fafafa; padding: 6px 12px; margin: 10px 0;
  font: 14px sans-serif; }
.book-badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: white; font: 12px sans-serif;
  background: var(--verdict); white-space: nowrap; }
.book-outputs { padding: 12px 24px; font: 14px sans-serif; }
.book-outputs figure { margin: 18px 0; }
.book-outputs img { max-width: 100%; border: 1px solid #eee; }
.book-outputs table { border-collapse: collapse; font-size: 13px; }
.book-outputs td, .book-outputs th { border: 1px solid #ddd; padding: 2px 6px; }
"""

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.book.css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.book.nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book.outputs }}{{ super() }}{% endblock body_footer %}
"""

_markdown = mistune.create_markdown(escape=False, plugins=["table"])


def badge(verdict: str) -> str:
    """A coloured verdict label (colour from the shared style)."""
    color = VERDICT_COLORS.get(verdict, "#777777")
    return f'<span class="book-badge" style="--verdict: {color}">{html.escape(verdict)}</span>'


def relative(target: str, page: str) -> str:
    """Link from the book page ``page`` to the book path ``target`` (both relative to the book root)."""
    return os.path.relpath(target, os.path.dirname(page) or ".").replace(os.sep, "/")


def claim_banner(record: claims.ClaimRecord, page: str) -> str:
    color = VERDICT_COLORS.get(record.verdict, "#777777")
    measured = "; ".join(f"{name} = {value:.4g}" for name, value in record.measured.items())
    figure = f' <a href="#figure-{html.escape(record.figure)}">figure</a>' if record.figure else ""
    return (
        f'<div class="book-claim" id="claim-{html.escape(record.claim_id)}" style="--verdict: {color}">'
        f"<b>Claim <code>{html.escape(record.claim_id)}</code></b> {badge(record.verdict)} "
        f"{html.escape(measured)} {html.escape(record.unit or '')}<br>{html.escape(record.reason)}{figure}"
        f' &middot; <a href="{relative("index.html", page)}#claim-{html.escape(record.claim_id)}">in the index</a></div>'
    )


def _records_claim(source: str, claim_id: str) -> bool:
    """Does this cell call ``record_claim`` with ``claim_id`` as a literal?"""
    return "record_claim" in source and re.search(rf"""["']{re.escape(claim_id)}["']""", source) is not None


def with_claim_banners(notebook: nbformat.NotebookNode, entry: NotebookEntry, page: str) -> list[claims.ClaimRecord]:
    """Insert a banner before each cell that records one of ``entry``'s claims; return the claims not placed."""
    unplaced = []
    for record in entry.records:
        index = next(
            (
                i
                for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and _records_claim(cell.source, record.claim_id)
            ),
            None,
        )
        if index is None:
            unplaced.append(record)
            continue
        notebook.cells.insert(index, nbformat.v4.new_markdown_cell(claim_banner(record, page)))
    return unplaced


def outputs_section(entry: NotebookEntry, contents: BookContents, page: str, unplaced: list[claims.ClaimRecord]) -> str:
    """The closing section: claims recorded elsewhere in the notebook, then every figure and table."""
    parts = ['<section class="book-outputs" id="outputs"><h2>Figures and tables written by this notebook</h2>']
    parts += [claim_banner(record, page) for record in unplaced]
    if not entry.figures and not entry.tables:
        parts.append("<p>This notebook wrote no figure or table.</p>")
    for stem in entry.figures:
        base = relative(f"figures/{entry.name}/{stem}", page)
        downloads = [
            f'<a href="{base}{suffix}">{label}</a>'
            for suffix, label in ((".pdf", "PDF"), (".csv", "data (CSV)"))
            if (contents.figures_root / entry.name / f"{stem}{suffix}").exists()
        ]
        parts.append(
            f'<figure id="figure-{html.escape(stem)}"><img src="{base}.png" alt="figure {html.escape(stem)}">'
            f"<figcaption>{' &middot; '.join([f'<code>{html.escape(stem)}</code>', *downloads])}</figcaption></figure>"
        )
    for stem in entry.tables:
        table = (contents.figures_root / entry.name / f"{stem}.md").read_text(encoding="utf-8")
        csv = relative(f"figures/{entry.name}/{stem}.csv", page)
        link = (
            f' &middot; <a href="{csv}">CSV</a>'
            if (contents.figures_root / entry.name / f"{stem}.csv").exists()
            else ""
        )
        parts.append(
            f'<div id="table-{html.escape(stem)}"><h3><code>{html.escape(stem)}</code>{link}</h3>'
            f"{_markdown(table)}</div>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def navigation(page: str, has_scoreboard: bool) -> str:
    links = [
        f'<a href="{relative("index.html", page)}">Index</a>',
        f'<a href="{relative("index.html", page)}#by-claim">Claims</a>',
    ]
    if has_scoreboard:
        links.append(f'<a href="{relative("scoreboard.html", page)}">Scoreboard</a>')
    return f'<nav class="book-nav">{"".join(links)}</nav>'


def exporter() -> HTMLExporter:
    return HTMLExporter(
        template_name="lab",
        template_file="book.html.j2",
        extra_loaders=[jinja2.DictLoader({"book.html.j2": _TEMPLATE})],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )


def render_notebook(
    entry: NotebookEntry, contents: BookContents, source_dir: Path | None, html_exporter: HTMLExporter | None = None
) -> str:
    """The page of one executed notebook. ``source_dir`` resolves images its Markdown cells reference."""
    notebook = nbformat.read(entry.executed, as_version=4)
    notebook.metadata["title"] = entry.title
    page = entry.href
    unplaced = with_claim_banners(notebook, entry, page)
    resources = {
        "metadata": {"name": entry.name, "path": str(source_dir or entry.executed.parent)},
        "book": {
            "css": BOOK_CSS,
            "nav": navigation(page, contents.scoreboard_markdown is not None),
            "outputs": outputs_section(entry, contents, page, unplaced),
        },
    }
    body, _ = (html_exporter or exporter()).from_notebook_node(notebook, resources=resources)
    return body
