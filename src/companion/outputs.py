"""What a notebook produces: figures, tables and claim verdicts, all in one folder.

    out = Outputs("multiwrite/01_duplicates")
    out.figure(fig, "per_link_bytes", data=frame)   # shown here; PNG + PDF + CSV saved
    out.table(frame, "summary")                     # CSV + Markdown
    out.glue("duplicate_ratio", ratio)              # a number the prose quotes: {glue:text}`duplicate_ratio`
    out.record_claim("mw.duplicates", verdicts.duplicates(...), measured=...)

Files go to ``<output root>/<notebook name>/``. Under ``make figures`` the output root is the
runner's staging tree (published only when the whole notebook succeeded); a notebook run by hand
writes to ``build/scratch/`` and never touches published outputs (see :mod:`companion.session`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from companion import claims, hardware, paths, session, style, tables
from companion.atomic import write_text

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{kind} name must use letters, digits, '.', '_' or '-', got {name!r}")


class Outputs:
    """The output folder of one notebook (``notebook`` is e.g. ``"jcra/02_train_eval"``).

    Created in the notebook's first code cell: it settles the run's profile and parameters
    (:func:`companion.session.start`, which also checks path parameters) before any work starts.
    """

    def __init__(self, notebook: str):
        parts = notebook.split("/")
        for part in parts:
            _check_name("notebook", part)
        self.notebook = notebook
        self.session = session.start(notebook, session.notebook_namespace())
        self.profile = self.session.profile
        self.published = paths.figures_dir(self.profile)  # the profile's published tree: other notebooks' records
        self.dir = self.session.output_root / notebook
        self.dir.mkdir(parents=True, exist_ok=True)
        self._figures = 0
        if not self.session.by_runner:
            print(self.session.describe())
        style.apply()

    def figure(
        self, fig: plt.Figure, name: str, data: pd.DataFrame, close: bool = True, caption: str | None = None
    ) -> None:
        """Save ``fig`` as PNG and PDF plus ``data`` (the numbers it shows) as CSV, and show it here.

        The notebook shows the saved PNG (so the book shows exactly the published file) with a
        caption: ``caption``, else the figure's title.
        """
        _check_name("figure", name)
        if not isinstance(data, pd.DataFrame) or data.empty:
            raise ValueError(f"figure {name!r}: data must be the non-empty DataFrame behind the figure")
        stem = self.dir / name
        style.save_figure(fig, stem)
        write_text(stem.with_suffix(".csv"), data.to_csv(index=False, lineterminator="\n"))
        self._figures += 1
        _show_png(stem.with_suffix(".png").read_bytes(), self._caption(fig, name, caption))
        if close:
            plt.close(fig)

    def _caption(self, fig: plt.Figure, name: str, caption: str | None) -> str:
        text = (caption or style.figure_title(fig)).strip()
        if text and not text.endswith((".", "?", "!")):
            text += "."
        files = f"Saved as `{name}` (PNG, PDF, and CSV of its numbers)."
        return f"**Figure {self._figures}.** {text + ' ' if text else ''}{files}"

    def glue(self, name: str, value: Any) -> None:
        """Make ``value`` quotable in the notebook's prose as ``{glue:text}`name``` (``myst_nb.glue``).

        Numbers in Markdown come from the run this way, never typed by hand; print the value too
        where a reader in JupyterLab needs it (Lab shows the role, the book shows the number).
        """
        from myst_nb import glue

        _check_name("glue", name)
        glue(name, value, display=False)

    def table(self, frame: pd.DataFrame, name: str, caption: str | None = None) -> list[Path]:
        """Save a table as CSV and Markdown."""
        _check_name("table", name)
        return tables.write_table(frame, self.dir / name, caption=caption)

    def text(self, name: str, content: str) -> Path:
        """Save a small text artefact (e.g. a Markdown note) beside the figures."""
        _check_name("text", name)
        return write_text(self.dir / name, content)

    def root_text(self, name: str, content: str) -> Path:
        """Save a file at the top of the output tree (the scoreboard's ``claims.md``)."""
        _check_name("text", name)
        return write_text(self.session.output_root / name, content)

    def record_claim(
        self,
        claim_id: str,
        decision: claims.Verdict,
        *,
        measured: dict[str, float] | None = None,
        unit: str | dict[str, str] | None = None,
        conditions: dict[str, Any] | None = None,
        figure: str | None = None,
    ) -> claims.ClaimRecord:
        """Record this notebook's verdict on a registered claim (replaces its earlier record).

        ``decision`` comes from a rule function in a wing's ``verdicts.py``. A run below the claim's
        declared evidence profile (every smoke run) is recorded as ``not evidence (<profile>)``,
        with the rule's outcome kept in ``rule_outcome``. ``unit`` is one unit for every measured
        value or a mapping ``name -> unit`` (interval bounds ``<name>_ci_low/_ci_high`` take
        ``name``'s unit).
        """
        if not isinstance(decision, claims.Verdict):
            raise TypeError(
                f"claim {claim_id}: record_claim takes the Verdict of the claim's rule (a wing's verdicts.py), "
                f"got {type(decision).__name__}"
            )
        registry = claims.load_registry()
        if claim_id not in registry:
            raise ValueError(f"unknown claim id {claim_id!r}; known ids: {', '.join(sorted(registry))}")
        if self.notebook not in registry[claim_id].notebooks:
            raise ValueError(
                f"claim {claim_id} is rebuilt by {', '.join(registry[claim_id].notebooks)} (data/claims.yaml "
                f"`notebook`/`also`), not by {self.notebook}"
            )
        conditions = {"profile": self.profile, "hardware": hardware.describe(), **(conditions or {})}
        counts = claims.counts_as_evidence(self.profile, registry[claim_id].test.evidence)
        record = claims.ClaimRecord(
            claim_id=claim_id,
            verdict=decision.outcome if counts else claims.no_evidence(self.profile),
            reason=decision.reason.strip(),
            notebook=self.notebook,
            measured={k: float(v) for k, v in (measured or {}).items()},
            unit=dict(unit) if isinstance(unit, dict) else unit,
            conditions=conditions,
            figure=figure,
            rule_outcome=decision.outcome,
            design=decision.design,
        )
        record.validate(registry)
        if figure is not None and not (self.dir / f"{figure}.png").exists():
            raise ValueError(f"claim {claim_id}: figure {figure!r} has not been saved by this notebook yet")
        path = self.dir / claims.RECORDS_FILE
        records = claims.read_records(path)
        records[claim_id] = record
        claims.write_records(path, records)
        return record


def _png_width(png: bytes) -> int:
    """Pixel width from the PNG header (IHDR)."""
    return int.from_bytes(png[16:20], "big")


def _show_png(png: bytes, caption: str) -> None:
    """Display a PNG and its Markdown caption in the running notebook (nothing outside IPython)."""
    if session.notebook_namespace() is None:
        return
    from IPython.display import Image, Markdown, display

    # saved at style.DPI, shown at the screen's 100 dpi so text keeps its printed size
    display(Image(data=png, format="png", width=round(_png_width(png) * 100 / style.DPI)))
    display(Markdown(caption))
