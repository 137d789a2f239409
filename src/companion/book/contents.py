"""What the book shows: the executed notebooks of the last ``make figures``, their figures and the claims.

Everything is read from the two trees the pipeline writes: ``build/executed/**/*.ipynb`` (papermill's
executed copies, written by :mod:`companion.run`) and ``figures/`` (PNG/PDF/CSV/Markdown outputs, each
notebook's ``claims.json`` and the scoreboard ``claims.md``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from companion import claims

PAPER_ORDER = ("JCRA", "MultiWrite")
COMPANION = "Companion"  # notebooks outside a paper's folder, e.g. the scoreboard 00_claims
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)


class BookError(ValueError):
    """Nothing to render, or an input the book cannot read."""


@dataclass
class NotebookEntry:
    """One executed notebook.

    Attributes:
        name: the pipeline name, e.g. ``jcra/02_train_eval``.
        executed: path of the executed ``.ipynb``.
        title: the first Markdown heading (the name when there is none).
        paper: ``JCRA``, ``MultiWrite`` or ``Companion``.
        profile: the profile it ran with (papermill's parameters), if recorded.
        finished: papermill's end time, if recorded.
        figures: stems of the PNG figures in ``figures/<name>/``, sorted.
        tables: stems of the Markdown tables in ``figures/<name>/``, sorted.
        records: the claim records in ``figures/<name>/claims.json``.
    """

    name: str
    executed: Path
    title: str
    paper: str
    profile: str | None = None
    finished: str | None = None
    figures: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    records: list[claims.ClaimRecord] = field(default_factory=list)

    @property
    def href(self) -> str:
        """The page's path inside the book."""
        return f"notebooks/{self.name}.html"


@dataclass
class BookContents:
    notebooks: list[NotebookEntry]
    board: pd.DataFrame  # claims.scoreboard(): one row per registered claim
    figures_root: Path
    scoreboard_markdown: str | None  # figures/claims.md, when present

    def notebook(self, name: str) -> NotebookEntry | None:
        return next((nb for nb in self.notebooks if nb.name == name), None)

    def by_paper(self) -> dict[str, list[NotebookEntry]]:
        """Papers in a fixed order (JCRA, MultiWrite, others, Companion last), notebooks sorted by name."""
        grouped: dict[str, list[NotebookEntry]] = {}
        for entry in sorted(self.notebooks, key=lambda nb: nb.name):
            grouped.setdefault(entry.paper, []).append(entry)
        order = [p for p in PAPER_ORDER if p in grouped] + sorted(set(grouped) - {*PAPER_ORDER, COMPANION})
        return {paper: grouped[paper] for paper in order + ([COMPANION] if COMPANION in grouped else [])}


def notebook_title(cells: list[dict], fallback: str) -> str:
    """The first Markdown heading of the notebook, without Markdown emphasis or code marks."""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            match = _HEADING.search(source)
            if match:
                return re.sub(r"[*_`]", "", match["title"]).strip()
    return fallback


def _folder_papers(registry: dict[str, claims.Claim]) -> dict[str, str]:
    """Notebook folder -> paper, read off the registry (``jcra/...`` rebuilds JCRA claims)."""
    folders = {}
    for claim in registry.values():
        for notebook in claim.notebooks:
            if "/" in notebook:
                folders.setdefault(notebook.split("/")[0], claim.paper)
    return folders


def _outputs(folder: Path, suffix: str) -> list[str]:
    return sorted(p.stem for p in folder.glob(f"*{suffix}")) if folder.is_dir() else []


def collect(executed_dir: Path, figures_root: Path, registry: dict[str, claims.Claim] | None = None) -> BookContents:
    """Read every executed notebook and the figures tree; raise :class:`BookError` when nothing ran yet."""
    notebooks_found = (
        sorted(p for p in executed_dir.rglob("*.ipynb") if not p.name.startswith(".")) if executed_dir.is_dir() else []
    )
    if not notebooks_found:
        raise BookError(
            f"nothing to render: no executed notebooks under {executed_dir}. Run `make figures` first "
            "(`make figures PROFILE=smoke` takes a few minutes), then `make book`."
        )
    registry = registry if registry is not None else claims.load_registry()
    papers = _folder_papers(registry)
    records = claims.collect_records(figures_root) if figures_root.is_dir() else []
    entries = []
    for path in notebooks_found:
        name = str(path.relative_to(executed_dir).with_suffix(""))
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            cells = notebook["cells"]
        except (OSError, ValueError, KeyError) as error:
            raise BookError(f"{path}: not a readable executed notebook ({error})") from error
        papermill = notebook.get("metadata", {}).get("papermill", {})
        folder = figures_root / name
        entries.append(
            NotebookEntry(
                name=name,
                executed=path,
                title=notebook_title(cells, name),
                paper=papers.get(name.split("/")[0], COMPANION) if "/" in name else COMPANION,
                profile=(papermill.get("parameters") or {}).get("profile"),
                finished=papermill.get("end_time"),
                figures=_outputs(folder, ".png"),
                tables=_outputs(folder, ".md"),
                records=[r for r in records if r.notebook == name],
            )
        )
    scoreboard_path = figures_root / "claims.md"
    return BookContents(
        notebooks=entries,
        board=claims.scoreboard(registry, records),
        figures_root=figures_root,
        scoreboard_markdown=scoreboard_path.read_text(encoding="utf-8") if scoreboard_path.exists() else None,
    )
