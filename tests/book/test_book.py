"""The static book: pages for every executed notebook, an index by paper and by claim, working links."""

import re

import pytest

from companion import claims
from companion.book.__main__ import main
from companion.book.build import build
from companion.book.contents import BookError, collect
from companion.book.links import check_site


def test_book_has_index_scoreboard_and_one_page_per_executed_notebook(built_book):
    out = built_book.out
    names = {str(p.relative_to(out)) for p in built_book.pages}
    assert names == {
        "index.html",
        "scoreboard.html",
        "notebooks/00_claims.html",
        "notebooks/jcra/02_train_eval.html",
        "notebooks/multiwrite/01_duplicates.html",
    }
    assert (out / "figures/jcra/02_train_eval/oks_curve.png").exists()
    assert (out / "figures/jcra/02_train_eval/claims.json").exists()
    assert not (out / "figures/.state").exists(), "the runner's hidden state is not part of the book"
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in [out, *out.rglob("*")]), "everyone may read the book"


def test_every_local_link_and_image_resolves_and_nothing_loads_from_the_network(built_book):
    assert built_book.broken == [] and built_book.external == []
    for page in built_book.pages:
        assert "<script" not in page.read_text(), f"{page.name} loads a script; pages must work offline"


def test_index_lists_papers_and_every_claim_with_its_verdict_and_links(built_book):
    index = (built_book.out / "index.html").read_text()
    by_paper = index[index.index('id="by-paper"') : index.index('id="by-claim"')]
    assert by_paper.index("JCRA") < by_paper.index("MultiWrite") < by_paper.index("Companion")
    assert "OKS by the book" in by_paper, "titles come from the first heading, Markdown marks removed"
    for claim_id in claims.load_registry():
        assert f'id="claim-{claim_id}"' in index
    assert 'href="notebooks/jcra/02_train_eval.html#claim-jcra.coco_ap"' in index
    assert 'src="figures/jcra/02_train_eval/oks_curve.png"' in index
    row = re.search(r'<tr id="claim-jcra.speed_78">.*?</tr>', index, re.S).group(0)
    assert "pending" in row and "not executed yet" in row, "a claim whose notebook has not run says so"


def test_notebook_page_marks_the_cell_that_records_each_claim_and_shows_its_figures(built_book):
    page = (built_book.out / "notebooks/jcra/02_train_eval.html").read_text()
    banner = page.index('id="claim-jcra.coco_ap"')
    assert banner < page.index("record_claim"), "the banner sits just before the recording cell"
    assert 'id="figure-oks_curve"' in page and 'src="../../figures/jcra/02_train_eval/oks_curve.png"' in page
    assert "data:image/png;base64" in page, "inline outputs stay embedded"
    assert 'id="table-summary"' in page and "<table>" in page
    assert 'href="../../index.html"' in page


def test_a_claim_recorded_without_a_literal_id_gets_its_anchor_in_the_closing_section(built_book):
    page = (built_book.out / "notebooks/multiwrite/01_duplicates.html").read_text()
    outputs = page[page.index('id="outputs"') :]
    assert 'id="claim-mw.eliminates"' in outputs
    assert 'id="claim-mw.duplicates"' not in outputs


def test_scoreboard_links_point_into_the_copied_figures(built_book):
    scoreboard = (built_book.out / "scoreboard.html").read_text()
    assert 'href="figures/jcra/02_train_eval/oks_curve.png"' in scoreboard


def test_nothing_executed_gives_a_clear_message(tmp_path, capsys):
    with pytest.raises(BookError, match="make figures"):
        collect(tmp_path / "executed", tmp_path / "figures")
    assert (
        main(["--out", str(tmp_path / "book"), "--executed", str(tmp_path / "none"), "--figures", str(tmp_path)]) == 1
    )
    assert "no executed notebooks" in capsys.readouterr().err
    assert not (tmp_path / "book").exists()


def test_rebuild_replaces_the_book_whole(book_inputs, tmp_path):
    out = tmp_path / "book"
    build(out, book_inputs["executed"], book_inputs["figures"])
    (out / "stale.html").write_text("old")
    build(out, book_inputs["executed"], book_inputs["figures"])
    assert not (out / "stale.html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder is left behind"


def test_link_check_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="here"><a href="b.html">b</a> <a href="a.html#nowhere">x</a> '
        '<a href="#here">ok</a> <img src="https://example.org/x.png"></p>'
        '<h1 id="A-%C2%B7-B"><a href="#A-%C2%B7-B">encoded, as nbconvert writes it</a></h1>'
        '<h2 id="C-·"><a href="#C-%C2%B7">decoded</a></h2>'
    )
    broken, external = check_site(tmp_path)
    assert len(broken) == 2 and "b.html" in broken[0] and "nowhere" in broken[1]
    assert external == ["a.html: <img> https://example.org/x.png"]
