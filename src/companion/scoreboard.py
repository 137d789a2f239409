"""The claims scoreboard as a figure and as ``figures/claims.md``.

The board comes from :func:`companion.claims.scoreboard`; a row counts as evidence only when its
run reached the claim's declared evidence profile (``counts_as_evidence``). Every page and figure
says where the verdicts come from: profile, hardware, git commit.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from companion.claims import OUTCOMES, PENDING
from companion.manifest import git_commit
from companion.style import verdict_color, verdict_text_color
from companion.tables import to_markdown

EVIDENCE, NO_EVIDENCE = "evidence", "no evidence"


@dataclass(frozen=True)
class Provenance:
    """Where a board's verdicts come from."""

    profiles: tuple[str, ...]
    hardware: tuple[str, ...]
    commit: str
    evidence: int
    claims: int

    def line(self) -> str:
        profiles = ", ".join(self.profiles) or "none (nothing recorded)"
        hardware = "; ".join(self.hardware) or "none"
        return (
            f"Profile: {profiles}. Hardware: {hardware}. Git commit: {self.commit}. "
            f"{self.evidence} of {self.claims} verdicts count as evidence."
        )


def provenance(board: pd.DataFrame, commit: str | None = None) -> Provenance:
    """The profiles and machines the board's records were made with, and how many count as evidence;
    ``commit`` defaults to the checkout's (:func:`companion.manifest.git_commit`)."""
    return Provenance(
        profiles=tuple(sorted({p for p in board["profile"] if p})),
        hardware=tuple(sorted({h for h in board["hardware"] if h})),
        commit=commit if commit is not None else git_commit(),
        evidence=int(board["counts_as_evidence"].sum()),
        claims=len(board),
    )


def verdict_counts(board: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Claims per verdict in two groups: ``evidence`` (every outcome, zeros included) and
    ``no evidence`` (each ``not evidence (<profile>)`` found, then ``pending``)."""
    counts = board["verdict"].value_counts()
    evidence = {verdict: int(counts.get(verdict, 0)) for verdict in OUTCOMES}
    below = sorted(v for v in counts.index if v not in OUTCOMES and v != PENDING)
    no_evidence = {verdict: int(counts[verdict]) for verdict in below}
    no_evidence[PENDING] = int(counts.get(PENDING, 0))
    return {EVIDENCE: evidence, NO_EVIDENCE: no_evidence}


def counts_text(board: pd.DataFrame) -> str:
    """The grouped counts as lines, e.g. ``'evidence: 0'`` then ``'  reproduced: 0'`` ..."""
    lines = []
    for group, counts in verdict_counts(board).items():
        lines.append(f"{group}: {sum(counts.values())}")
        lines.extend(f"  {verdict}: {n}" for verdict, n in counts.items())
    return "\n".join(lines)


def table(board: pd.DataFrame) -> pd.DataFrame:
    """The reader's columns: claim, what the abstract says, what was measured, its interval, the verdict,
    the rule's outcome where the verdict is not evidence, and the reason."""
    return pd.DataFrame(
        {
            "claim": board["claim"],
            "paper": board["paper_value"],
            "measured here": board["companion_value"],
            "95% interval": board["interval"],
            "verdict": board["verdict"],
            "rule outcome (no evidence)": board["rule_outcome"],
            "reason": [f"{r} (by design: {d})" if d else r for r, d in zip(board["reason"], board["design"])],
        }
    )


def markdown(board: pd.DataFrame, commit: str | None = None) -> str:
    """The scoreboard page: provenance, grouped counts, then one row per claim with links to the figures."""
    shown = table(board).assign(
        figure=[f"[figure]({path})" if path else "" for path in board["figure"]],
        notebook=[f"`{nb}`" for nb in board["notebook"]],
    )
    counts = "; ".join(_group_text(group, c) for group, c in verdict_counts(board).items())
    return (
        "# Claims scoreboard\n\n"
        f"{provenance(board, commit).line()}\n\n"
        "Each claim of the JCRA and MultiWrite abstracts: **paper** is what the abstract reports (nothing "
        "else), **measured here** what this companion measured under the conditions in each notebook's "
        "`claims.json`, with its 95% bootstrap interval where the verdict compares noisy numbers. A verdict "
        "counts as evidence only from the claim's declared evidence profile up (`data/claims.yaml`, "
        "`test.evidence`); below it the row says `not evidence (<profile>)` and shows what the rule would "
        "have said.\n\n"
        f"**{counts}.**\n\n" + to_markdown(shown)
    )


def _group_text(group: str, counts: dict[str, int]) -> str:
    """E.g. ``'no evidence 12 (12 not evidence (smoke))'``."""
    found = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    return f"{group} {sum(counts.values())}" + (f" ({found})" if found else "")


def figure(board: pd.DataFrame, commit: str | None = None) -> plt.Figure:
    """A one-row-per-claim chart: the verdict as a coloured cell, the abstract's and measured values as text."""
    rows = len(board)
    fig, ax = plt.subplots(figsize=(13, 0.5 * rows + 1.6))
    ax.set_xlim(0, 13)
    ax.set_ylim(rows, -1.4)
    ax.axis("off")
    headers = [
        (0.0, "claim"),
        (2.4, "verdict"),
        (4.8, "paper (abstract)"),
        (7.2, "measured here: what the rule decided on (95% interval)"),
    ]
    for x, text in headers:
        ax.text(x, -0.6, text, fontweight="bold", va="center", fontsize=10)
    for i, row in enumerate(board.itertuples(index=False)):
        ax.text(0.0, i, row.claim, va="center", fontsize=9, family="monospace")
        ax.add_patch(plt.Rectangle((2.35, i - 0.4), 2.3, 0.8, color=verdict_color(row.verdict)))
        label = row.verdict if not row.rule_outcome else f"{row.verdict}\nrule: {row.rule_outcome}"
        ax.text(3.5, i, label, va="center", ha="center", fontsize=7.5, color=verdict_text_color(row.verdict))
        ax.text(4.8, i, row.paper_value or "-", va="center", fontsize=8.5)
        ax.text(7.2, i, textwrap.shorten(row.headline or "-", width=80, placeholder=" ..."), va="center", fontsize=7.5)
    ax.set_title("Claims of JCRA and MultiWrite: verdicts of this companion", loc="left")
    ax.text(0.0, -1.2, textwrap.fill(provenance(board, commit).line(), 170), fontsize=7.5, va="center", color="#333333")
    return fig
