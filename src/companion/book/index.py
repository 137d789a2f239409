"""The book's index (notebooks by paper, claims one by one) and its scoreboard page (``figures/claims.md``)."""

from __future__ import annotations

import jinja2
import mistune
from markupsafe import Markup
from mistune.renderers.html import HTMLRenderer

from companion.book.contents import BookContents
from companion.book.pages import BOOK_CSS, badge
from companion.claims import OUTCOMES, PENDING

_environment = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_environment.filters["badge"] = lambda verdict: Markup(badge(verdict))

_PAGE = _environment.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font: 15px/1.45 sans-serif; max-width: 1100px; margin: 0 auto; padding: 0 16px 40px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
td, th { border-bottom: 1px solid #e3e3e3; padding: 6px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img.thumb { width: 170px; border: 1px solid #ddd; }
code { font-size: 12.5px; }
.muted { color: #777; }
{{ css }}
</style></head>
<body>
<nav class="book-nav"><a href="index.html">Index</a><a href="index.html#by-paper">By paper</a><a href="index.html#by-claim">By claim</a>
{% if has_scoreboard %}<a href="scoreboard.html">Scoreboard</a>{% endif %}</nav>
{{ body }}
</body></html>
""")

_INDEX = _environment.from_string("""<h1>Reading companion: JCRA and MultiWrite</h1>
<p>The executed notebooks of the last <code>make figures</code>, the figures they wrote and the verdict on every
claim of the two abstracts. Paper values are <em>reported by the paper</em>; companion values are <em>measured here</em>
under the conditions each notebook records. Nothing here needs Jupyter: to re-run a notebook use <code>make lab</code>,
to rebuild everything <code>make figures</code>.</p>
<p><b>{{ counts }}</b> &middot; {{ notebooks|length }} notebooks, profile{{ 's' if profiles|length > 1 }} {{ profiles|join(', ') or 'unknown' }}.</p>

<h2 id="by-paper">By paper</h2>
{% for paper, entries in papers.items() %}
<h3 id="paper-{{ paper|lower }}">{{ paper }}</h3>
<table><tr><th>notebook</th><th>claims it records</th><th>figures</th><th>run</th></tr>
{% for nb in entries %}
<tr><td><a href="{{ nb.href }}">{{ nb.title }}</a><br><code class="muted">{{ nb.name }}</code></td>
<td>{% for r in nb.records %}<a href="{{ nb.href }}#claim-{{ r.claim_id }}"><code>{{ r.claim_id }}</code></a> {{ r.verdict|badge }}<br>{% else %}<span class="muted">none</span>{% endfor %}</td>
<td>{{ nb.figures|length }}</td>
<td class="muted">{{ nb.profile or '' }}<br>{{ (nb.finished or '')[:19] }}</td></tr>
{% endfor %}
</table>
{% endfor %}

<h2 id="by-claim">By claim</h2>
<table><tr><th>claim</th><th>paper (reported)</th><th>companion (measured here)</th><th>verdict</th><th>rebuilt in</th><th>figure</th></tr>
{% for c in claim_rows %}
<tr id="claim-{{ c.claim }}"><td><code>{{ c.claim }}</code><br>{{ c.statement }}</td>
<td>{{ c.paper_value or '-' }}</td><td>{{ c.companion_value or '-' }}<br><span class="muted">{{ c.reason }}</span></td>
<td>{{ c.verdict|badge }}</td>
<td>{% if c.page %}<a href="{{ c.page }}#claim-{{ c.claim }}">{{ c.title }}</a>{% else %}<code>{{ c.notebook }}</code><br><span class="muted">not executed yet</span>{% endif %}</td>
<td>{% if c.figure_png %}<a href="{{ c.figure_link }}"><img class="thumb" src="{{ c.figure_png }}" alt="figure of {{ c.claim }}"></a>{% else %}<span class="muted">-</span>{% endif %}</td></tr>
{% endfor %}
</table>
""")


class _FiguresLinks(HTMLRenderer):
    """Markdown links of ``figures/claims.md`` are relative to ``figures/``; the book copies that tree there."""

    @staticmethod
    def _rebase(url: str) -> str:
        return url if "://" in url or url.startswith(("#", "/", "mailto:")) else f"figures/{url}"

    def link(self, text: str, url: str, title: str | None = None) -> str:
        return super().link(text, self._rebase(url), title)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        return super().image(text, self._rebase(url), title)


def _counts(contents: BookContents) -> str:
    counts = contents.board["verdict"].value_counts()
    return ", ".join(f"{int(counts[v])} {v}" for v in (*OUTCOMES, PENDING) if v in counts)


def render_index(contents: BookContents) -> str:
    rows = []
    for row in contents.board.to_dict("records"):
        entry = contents.notebook(row["notebook"])
        stem = row["figure"].rsplit("/", 1)[-1].removesuffix(".png") if row["figure"] else ""
        figure_exists = bool(stem) and (contents.figures_root / row["figure"]).exists()
        rows.append(
            {
                **row,
                "page": entry.href if entry else None,
                "title": entry.title if entry else row["notebook"],
                "figure_png": f"figures/{row['figure']}" if figure_exists else None,
                "figure_link": f"{entry.href}#figure-{stem}" if entry and figure_exists else f"figures/{row['figure']}",
            }
        )
    profiles = sorted({nb.profile for nb in contents.notebooks if nb.profile})
    body = _INDEX.render(
        papers=contents.by_paper(),
        claim_rows=rows,
        counts=_counts(contents),
        notebooks=contents.notebooks,
        profiles=profiles,
    )
    return _PAGE.render(
        title="JCRA and MultiWrite: reading companion",
        css=Markup(BOOK_CSS),
        has_scoreboard=contents.scoreboard_markdown is not None,
        body=Markup(body),
    )


def render_scoreboard(contents: BookContents) -> str:
    """``figures/claims.md`` as a page, its links pointing into the book's copy of ``figures/``."""
    markdown = mistune.create_markdown(renderer=_FiguresLinks(escape=False), plugins=["table"])
    body = markdown(contents.scoreboard_markdown or "")
    return _PAGE.render(title="Claims scoreboard", css=Markup(BOOK_CSS), has_scoreboard=True, body=Markup(body))
