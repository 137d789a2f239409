"""The claims scoreboard as a figure and as ``figures/claims.md``."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd

from companion.claims import OUTCOMES, PENDING
from companion.style import VERDICT_COLORS
from companion.tables import to_markdown


def verdict_counts(board: pd.DataFrame) -> dict[str, int]:
    """Number of claims per verdict, every verdict listed (zeros included), pending last."""
    counts = board["verdict"].value_counts()
    return {verdict: int(counts.get(verdict, 0)) for verdict in (*OUTCOMES, PENDING)}


def markdown(board: pd.DataFrame) -> str:
    """The scoreboard page: counts, then one row per claim with links to the figures."""
    linked = board.assign(
        figure=[f"[figure]({path})" if path else "" for path in board["figure"]],
        notebook=[f"`{nb}`" for nb in board["notebook"]],
    )[["claim", "paper_value", "companion_value", "verdict", "reason", "figure", "notebook"]]
    counts = ", ".join(f"{n} {verdict}" for verdict, n in verdict_counts(board).items() if n)
    return (
        "# Claims scoreboard\n\n"
        "Each claim of the JCRA and MultiWrite abstracts, the value the paper reports, what this "
        "companion measured, and its verdict. Paper values are *reported by the paper*; companion "
        "values are *measured here* under the conditions recorded in each notebook's `claims.json`.\n\n"
        f"**{counts}.**\n\n" + to_markdown(linked)
    )


def figure(board: pd.DataFrame) -> plt.Figure:
    """A one-row-per-claim chart: verdict as a coloured cell, paper and companion values as text."""
    rows = len(board)
    fig, ax = plt.subplots(figsize=(12, 0.48 * rows + 1.2))
    ax.set_xlim(0, 12)
    ax.set_ylim(rows, -1)
    ax.axis("off")
    headers = [(0.0, "claim"), (2.4, "verdict"), (4.3, "paper (reported)"), (7.3, "companion (measured here)")]
    for x, text in headers:
        ax.text(x, -0.6, text, fontweight="bold", va="center", fontsize=10)
    for i, row in enumerate(board.itertuples(index=False)):
        ax.text(0.0, i, row.claim, va="center", fontsize=9, family="monospace")
        ax.add_patch(plt.Rectangle((2.35, i - 0.38), 1.8, 0.76, color=VERDICT_COLORS[row.verdict], alpha=0.85))
        ax.text(
            3.25,
            i,
            row.verdict,
            va="center",
            ha="center",
            fontsize=8.5,
            color="white" if row.verdict != PENDING else "black",
        )
        ax.text(4.3, i, row.paper_value or "-", va="center", fontsize=8.5)
        measured = textwrap.shorten(row.companion_value or "-", width=80, placeholder=" ...")
        ax.text(7.3, i, measured, va="center", fontsize=8)
    ax.set_title("Claims of JCRA and MultiWrite: verdicts of this companion", loc="left")
    return fig
