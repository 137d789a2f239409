"""A small fake `make figures PROFILE=smoke` result for the book tests: executed notebooks with outputs
(parameters and papermill's injected cell, math, an inline figure with its caption), a published tree
with PNG/PDF/CSV/Markdown outputs, claim records and the scoreboard. No kernel runs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from companion import claims, scoreboard  # noqa: E402
from companion.tables import write_table  # noqa: E402


def _png(title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 4], label="measured here")
    ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    plt.close(fig)
    return buffer.getvalue()


def _executed(path: Path, title: str, cells: list, profile: str = "smoke") -> None:
    notebook = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nWhich claim this rebuilds.\n\n## Set-up"), *cells])
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "papermill": {"parameters": {"profile": profile}, "end_time": "2026-01-02T03:04:05.678901"},
    }
    for index, cell in enumerate(notebook.cells):
        cell.id = f"c{index}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _record(figures: Path, notebook: str, claim_id: str, verdict: str, figure: str | None) -> None:
    path = figures / notebook / claims.RECORDS_FILE
    records = claims.read_records(path)
    records[claim_id] = claims.ClaimRecord(
        claim_id=claim_id,
        verdict=claims.no_evidence("smoke"),
        rule_outcome=verdict,
        reason=f"fixture reason for {claim_id}",
        notebook=notebook,
        measured={"value": 1.5},
        unit="x",
        conditions={"profile": "smoke"},
        figure=figure,
    )
    claims.write_records(path, records)


def _figure(figures: Path, notebook: str, stem: str) -> None:
    folder = figures / notebook
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.png").write_bytes(_png(stem))
    (folder / f"{stem}.pdf").write_bytes(b"%PDF-1.4 fixture\n")
    (folder / f"{stem}.csv").write_text("x,y\n0,0\n1,1\n")


CAPTION = "**Figure 1.** OKS against distance. Saved as `oks_curve` (PNG, PDF, and CSV of its numbers)."


@pytest.fixture(scope="session")
def book_inputs(tmp_path_factory) -> dict[str, Path]:
    """``executed`` and ``figures`` folders as `make figures` leaves them, for two wing notebooks and 00_claims."""
    root = tmp_path_factory.mktemp("book_inputs")
    executed, figures = root / "executed", root / "figures"
    inline_png = base64.b64encode(_png("inline")).decode()
    _executed(
        executed / "jcra" / "02_train_eval.ipynb",
        "OKS *by* the book",
        [
            new_code_cell('profile: str = "smoke"', metadata={"tags": ["parameters"]}),
            new_code_cell('# Parameters\nprofile = "smoke"\n', metadata={"tags": ["injected-parameters"]}),
            new_code_cell(
                "out.glue('persons', 12)",
                outputs=[
                    new_output(
                        "display_data",
                        data={"application/papermill.record/text/plain": "12"},
                        metadata={"scrapbook": {"name": "persons", "mime_prefix": "application/papermill.record/"}},
                    )
                ],
            ),
            new_markdown_cell("The run found {glue:text}`persons` persons with keypoints."),
            new_markdown_cell(
                "Joint $k$ at distance $d_k$ scores\n\n"
                "$$\\mathrm{ks}_k = \\exp\\left(-\\frac{d_k^2}{2 s^2 \\kappa_k^2}\\right)$$"
            ),
            new_code_cell(
                "out.figure(fig, 'oks_curve', data=frame)",
                outputs=[
                    new_output("display_data", data={"image/png": inline_png, "text/plain": "<Image>"}),
                    new_output("display_data", data={"text/markdown": CAPTION, "text/plain": "<Markdown>"}),
                ],
            ),
            new_code_cell(
                'out.record_claim("jcra.coco_ap", verdicts.coco_ap(stats), figure="oks_curve")',
                outputs=[new_output("stream", name="stdout", text="AP 12.3\n")],
            ),
        ],
    )
    _figure(figures, "jcra/02_train_eval", "oks_curve")
    write_table(pd.DataFrame({"method": ["a", "b"], "AP": [1.0, 2.0]}), figures / "jcra/02_train_eval" / "summary")
    _record(figures, "jcra/02_train_eval", "jcra.coco_ap", "partly", "oks_curve")

    _executed(
        executed / "multiwrite" / "01_duplicates.ipynb",
        "Duplicates on shared links",
        [
            new_code_cell('profile: str = "smoke"', metadata={"tags": ["parameters"]}),
            new_code_cell('out.record_claim("mw.duplicates", verdicts.duplicates(copies), figure="per_link_bytes")'),
            new_code_cell("for claim, decision in decisions.items():\n    out.record_claim(claim, decision)"),
        ],
        profile="default",
    )
    _figure(figures, "multiwrite/01_duplicates", "per_link_bytes")
    _record(figures, "multiwrite/01_duplicates", "mw.duplicates", "reproduced", "per_link_bytes")
    _record(figures, "multiwrite/01_duplicates", "mw.eliminates", "reproduced", None)

    _executed(
        executed / "00_claims.ipynb",
        "Claims scoreboard",
        [new_code_cell('profile: str = "smoke"', metadata={"tags": ["parameters"]})],
    )
    board = claims.scoreboard(claims.load_registry(), claims.collect_records(figures))
    (figures / "claims.md").write_text(scoreboard.markdown(board))
    (figures / ".state").mkdir()
    (figures / ".state" / "hidden.json").write_text("{}")
    return {"executed": executed, "figures": figures}


@pytest.fixture(scope="session")
def built_book(book_inputs, tmp_path_factory):
    from companion.book.build import build

    out = tmp_path_factory.mktemp("book") / "book"
    return build(out, "smoke", book_inputs["executed"], book_inputs["figures"])
