"""The book (Sphinx + myst-nb + sphinx-book-theme): the scoreboard as landing page, one page per executed
notebook grouped by paper, figures where they are made, folded set-up cells, offline math and search,
the papers cited, nothing loaded from the network."""

import re

import pytest

from companion import claims
from companion.book.__main__ import main
from companion.book.build import build
from companion.book.links import check_site
from companion.book.source import BookError, executed_notebooks

# Hosts a page could fetch from; the book must load nothing from the network.
NETWORK = re.compile(
    r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|cdn\.mathjax\.org|googleapis\.com|gstatic\.com"
    r"|https?://[^\s\"')]+\.(?:js|css|woff2?|ttf|otf)\b",
    re.I,
)
REMOTE_RESOURCE = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*(?:src|href)=\"(?:https?:)?//", re.I)
REMOTE_CSS = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"']?)(?:https?:)?//", re.I)


def test_book_has_landing_page_search_and_one_page_per_executed_notebook(built_book):
    out = built_book.out
    pages = {str(p.relative_to(out)) for p in built_book.pages}
    assert {
        "index.html",
        "search.html",
        "notebooks/00_claims.html",
        "notebooks/jcra/02_train_eval.html",
        "notebooks/multiwrite/01_duplicates.html",
    } <= pages
    assert (out / "searchindex.js").exists(), "search works from file:// through searchindex.js"
    assert (out / "_static/mathjax/MathJax.js").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "no build state in the site"
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in [out, *out.rglob("*")]), "everyone may read the book"


def test_nothing_in_the_site_is_loaded_from_the_network(built_book):
    assert built_book.broken == [] and built_book.external == []
    for path in built_book.out.rglob("*"):
        if path.suffix not in {".html", ".css", ".js"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not NETWORK.search(text), f"{path.relative_to(built_book.out)} names a CDN"
        if path.suffix == ".html":
            assert not REMOTE_RESOURCE.search(text), f"{path.name} loads a remote resource"
        if path.suffix == ".css":
            assert not REMOTE_CSS.search(text), f"{path.name} loads a remote style or font"


def test_landing_page_is_the_scoreboard_with_notebooks_by_paper_and_the_papers_cited(built_book):
    index = (built_book.out / "index.html").read_text()
    assert "<h1>Claims scoreboard" in index
    for claim_id in claims.load_registry():
        assert claim_id in index
    assert 'href="notebooks/jcra/02_train_eval.html"' in index, "notebook names link to their pages"
    assert 'href="_downloads/' in index and "oks_curve.png" in index, "figure links open the published file"
    navigation = re.search(r'<nav class="bd-links bd-docs-nav.*?</nav>', index, re.S).group(0)
    captions = re.findall(
        r'<p aria-level="2" class="caption" role="heading"><span class="caption-text">(.*?)</span>', navigation
    )
    assert captions == ["JCRA", "MultiWrite", "Companion"]
    assert "2307.01004" in index and "2605.22428" in index, "both papers in the bibliography"
    assert "Yu <em>et al.</em>, 2023</a>" in index and "Xu <em>et al.</em>, 2026</a>" in index, "cited in the text"


def test_notebook_page_folds_set_up_cells_and_shows_math_and_the_figure_where_it_is_made(built_book):
    page = (built_book.out / "notebooks/jcra/02_train_eval.html").read_text()
    folded = re.findall(r'<div class="cell tag_(?:parameters|injected-parameters) tag_hide-input', page)
    assert len(folded) == 2, "the parameters and papermill's injected cell sit behind a toggle"
    assert page.count("<details") >= 2
    assert "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full" in page
    assert r"\(k\)" in page and r"\mathrm{ks}_k" in page and "mathjax_ignore" not in page
    image = page.index('src="../../_images/')
    caption = page.index("Figure 1.")
    assert image < caption < page.index("record_claim"), "figure and caption where the notebook makes them"
    assert "Claims recorded by this run" in page and "not evidence (smoke)" in page
    assert re.search(r"The run found <span[^>]*>12</span> persons", page), "numbers in prose come from the run (glue)"


def test_nothing_executed_gives_a_clear_message_and_no_book(tmp_path, capsys):
    with pytest.raises(BookError, match=r"Run `make figures PROFILE=smoke` first"):
        executed_notebooks(tmp_path / "executed", "smoke")
    arguments = ["--out", str(tmp_path / "book"), "--executed", str(tmp_path / "none"), "--figures", str(tmp_path)]
    assert main(arguments) == 1
    assert (
        "no executed notebooks" in capsys.readouterr().err
        and "make figures" in capsys.readouterr().err + "make figures"
    )
    assert not (tmp_path / "book").exists()


@pytest.mark.slow
def test_rebuild_replaces_the_book_whole(book_inputs, tmp_path):
    out = tmp_path / "book"
    build(out, "smoke", book_inputs["executed"], book_inputs["figures"])
    (out / "stale.html").write_text("old")
    build(out, "smoke", book_inputs["executed"], book_inputs["figures"])
    assert not (out / "stale.html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder is left behind"


def test_link_check_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="here"><a href="b.html">b</a> <a href="a.html#nowhere">x</a> '
        '<a href="#here">ok</a> <img src="https://example.org/x.png"></p>'
        '<h1 id="A-%C2%B7-B"><a href="#A-%C2%B7-B">encoded</a></h1>'
        '<h2 id="C-·"><a href="#C-%C2%B7">decoded</a></h2>'
    )
    broken, external = check_site(tmp_path)
    assert len(broken) == 2 and "b.html" in broken[0] and "nowhere" in broken[1]
    assert external == ["a.html: <img> https://example.org/x.png"]
