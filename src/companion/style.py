"""One figure style for the whole companion, and deterministic figure files.

Every notebook calls :func:`apply` (``Outputs`` does it for them), so fonts, colours and units
match across papers. :func:`save_figure` writes PNG and PDF whose bytes depend only on the
figure's content: no creation dates, no software versions, no random ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless and deterministic; Outputs.figure shows the saved PNG in the notebook
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from companion.atomic import atomic_path  # noqa: E402

DPI = 150

# How a number got into a figure. Use these exact labels in legends and tables.
MEASURED = "measured here"
SOURCE_LABELS = {"measured": MEASURED, "paper": "reported by the paper"}


def reported_by(source: str) -> str:
    """Label for a value read from a publication or repository, e.g. ``reported by PETR``."""
    return f"reported by {source}"


# Fixed colours for the methods that appear in several figures; others get a stable hashed colour.
METHOD_COLORS = {
    "jcra": "#1f77b4",
    "bottomup": "#ff7f0e",
    "bottom-up": "#ff7f0e",
    "ring": "#8c564b",
    "mesh": "#ff7f0e",
    "hierarchical": "#9467bd",
    "multiwrite": "#2ca02c",
    "hierarchical-multiwrite": "#17becf",
    "group-multicast": "#d62728",
    "analytic": "#7f7f7f",
    "paper": "#000000",
}

VERDICT_COLORS = {
    "reproduced": "#2ca02c",
    "partly": "#a86b00",  # dark amber: white text stays readable on it
    "not reproduced": "#d62728",
    "inconclusive": "#5b4b8a",  # muted violet: a measurement that cannot decide, neither good nor bad
    "by design": "#1f6f8b",  # steel blue: holds by construction, checked by a measurement
    "not measurable here": "#7f7f7f",
    "not evidence": "#dce4ee",  # every 'not evidence (<profile>)': pale, so it never reads as a result
    "pending": "#c7c7c7",
}
_LIGHT_VERDICTS = ("not evidence", "pending")  # dark text on these


def _verdict_key(verdict: str) -> str:
    return "not evidence" if verdict.startswith("not evidence (") else verdict


def verdict_color(verdict: str) -> str:
    """The fill colour of a verdict, ``'not evidence (<profile>)'`` included; an unknown verdict raises."""
    key = _verdict_key(verdict)
    if key not in VERDICT_COLORS:
        raise ValueError(f"no colour for verdict {verdict!r}; known: {sorted(VERDICT_COLORS)}")
    return VERDICT_COLORS[key]


def verdict_text_color(verdict: str) -> str:
    """Black on the pale no-evidence and pending cells, white on the others."""
    return "black" if _verdict_key(verdict) in _LIGHT_VERDICTS else "white"


# tab20 without the fixed methods' colours, so a variant label (e.g. "group-multicast, 256 entries")
# never takes the colour of another method in the same figure
_FALLBACK_PALETTE = [c for c in sns.color_palette("tab20", 20).as_hex() if c not in METHOD_COLORS.values()]


def method_color(method: str) -> str:
    """The colour of ``method`` in every figure (stable across runs and notebooks)."""
    key = method.lower()
    if key in METHOD_COLORS:
        return METHOD_COLORS[key]
    index = int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(_FALLBACK_PALETTE)
    return _FALLBACK_PALETTE[index]


TICK_FONT_SIZE = 11
LABEL_FONT_SIZE = 12
TITLE_FONT_SIZE = 13
EMPTY_NOTE_COLOR = "#555555"


def apply() -> None:
    """Apply the shared theme (idempotent): readable fonts, legible ticks, light grid."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "figure.figsize": (7.0, 4.2),
            "font.size": LABEL_FONT_SIZE,
            "axes.titlesize": TITLE_FONT_SIZE,
            "axes.titleweight": "bold",
            "axes.labelsize": LABEL_FONT_SIZE,
            "xtick.labelsize": TICK_FONT_SIZE,
            "ytick.labelsize": TICK_FONT_SIZE,
            "legend.fontsize": TICK_FONT_SIZE,
            "legend.title_fontsize": TICK_FONT_SIZE,
            "figure.titlesize": TITLE_FONT_SIZE,
            "legend.frameon": False,
            "pdf.fonttype": 42,
            "svg.hashsalt": "companion",
            "path.simplify": True,
        }
    )


def empty_panel_note(ax: plt.Axes, text: str) -> None:
    """Say on a panel why it shows no data (e.g. "smoke profile: untrained model, no detection").

    The note sits in the middle of the axes, in a box, so an empty panel is never mistaken for a
    plotting error; ticks are removed because there is nothing to read off them.
    """
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        wrap=True,
        fontsize=LABEL_FONT_SIZE,
        color=EMPTY_NOTE_COLOR,
        bbox={"boxstyle": "round,pad=0.6", "facecolor": "#f4f4f4", "edgecolor": "#bbbbbb"},
    )
    ax.set_xticks([])
    ax.set_yticks([])


def figure_title(fig: plt.Figure) -> str:
    """The figure's suptitle, else its first axes title: the default caption of a saved figure."""
    if fig.get_suptitle():
        return fig.get_suptitle()
    return next((ax.get_title() for ax in fig.axes if ax.get_title()), "")


_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}


def save_figure(fig: plt.Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically with fixed metadata; return both paths."""
    written = []
    for suffix, metadata in ((".png", _PNG_METADATA), (".pdf", _PDF_METADATA)):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata)
        written.append(path)
    return written
