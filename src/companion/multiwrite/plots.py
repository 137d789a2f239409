"""Figures of the MultiWrite notebooks. Every function returns a matplotlib Figure whose legend or
labels say where each value comes from ("measured here" = this simulator, "analytic model" =
:mod:`companion.multiwrite.analytic`, "reported by the paper" = the abstract's number)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import BoundaryNorm, ListedColormap

from companion import style

MEASURED = style.MEASURED
ANALYTIC = "analytic model"
PAPER = style.SOURCE_LABELS["paper"]


AXIS_LABELS = {
    "message_bytes": "message size per rank",
    "ranks": "ranks",
    "top_k": "experts per token (top-k)",
    "tokens_per_rank": "tokens per rank",
    "issue_overhead_ns": "cost of posting one write (ns)",
    "skew": "routing skew (Zipf exponent; 0 = uniform)",
    "percentile": "latency percentile",
    "grain": "chunks per message",
    "engine": "rank engine (duplex or shared)",
    "oversubscription": "leaf uplink oversubscription",
    "switch_replication_GBps": "switch replication rate (GB/s)",
    "header_bytes": "packet header (bytes)",
    "mtu_bytes": "packet MTU (bytes)",
    "path_selection": "spine choice (source or ECMP hash)",
}


def axis_label(column: str) -> str:
    """A readable axis label for a frame column (never the raw column name)."""
    return AXIS_LABELS.get(column, column.replace("_", " "))


def _size_label(nbytes: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes:g} B"


def _bytes_axis(ax, values) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(values))
    ax.set_xticks(ticks)
    ax.set_xticklabels([_size_label(t) for t in ticks], rotation=45, ha="right")


def link_heatmap(
    links: pd.DataFrame, value: str, unit_bytes: float, title: str, label: str, counts: bool = False
) -> plt.Figure:
    """Rows: algorithms; columns: directed links grouped by class; cells: ``value / unit_bytes``.

    ``counts=True`` draws integer counts with one colour per value and 0 in light grey, so that
    0 (unused), 1 (one copy) and 2+ (duplicates) are told apart at a glance.
    """
    order = links.sort_values(["link_class", "src", "dst"])["link"].drop_duplicates().tolist()
    table = links.pivot_table(index="algorithm", columns="link", values=value, aggfunc="sum")[order] / unit_bytes
    width = min(18.0, 3.0 + 0.18 * len(order))
    fig, ax = plt.subplots(figsize=(width, 1.6 + 0.45 * len(table)))
    options = {"cmap": "viridis", "cbar_kws": {"label": f"{label}, {MEASURED}"}}
    if counts:
        top = max(2, int(np.nanmax(table.to_numpy())))
        colours = ["#e6e6e6", *sns.color_palette("rocket_r", top)]
        options = {
            "cmap": ListedColormap(colours),
            "norm": BoundaryNorm(np.arange(-0.5, top + 1.5), len(colours)),
            "cbar_kws": {"label": f"{label}, {MEASURED}", "ticks": _count_ticks(top)},
        }
    sns.heatmap(table, ax=ax, linewidths=0.2, **options)
    ax.set_xlabel(f"directed link ({len(order)} links, grouped by class)")
    ax.set_ylabel("")
    ax.set_title(title)
    step = max(1, len(order) // 48)  # keep link labels legible: at most about 48 of them
    ax.set_xticks(np.arange(0, len(order), step) + 0.5)
    ax.set_xticklabels(order[::step], rotation=90, fontsize=8)
    ax.tick_params(axis="y", labelsize=9)
    return fig


def _count_ticks(top: int) -> list[int]:
    if top <= 10:
        return list(range(top + 1))
    return sorted({0, 1, 2, *np.linspace(0, top, 6).astype(int).tolist()})


def latency_lines(
    frame: pd.DataFrame,
    x: str,
    title: str,
    analytic: bool = True,
    log_bytes_x: bool = True,
    y: str = "latency_us",
    ylabel: str = "operator latency (us)",
) -> plt.Figure:
    """Latency vs ``x`` per algorithm: measured (solid, markers) and analytic (dashed)."""
    fig, ax = plt.subplots()
    for algorithm, group in frame.groupby("algorithm", sort=False):
        group = group.sort_values(x)
        color = style.method_color(algorithm)
        ax.plot(group[x], group[y], marker="o", color=color, label=f"{algorithm} ({MEASURED})")
        if analytic and y == "latency_us":
            ax.plot(
                group[x],
                group["analytic_latency_us"],
                linestyle="--",
                color=color,
                alpha=0.7,
                label=f"{algorithm} ({ANALYTIC})",
            )
    if log_bytes_x:
        _bytes_axis(ax, frame[x])
    ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def reduction_lines(
    frame: pd.DataFrame, x: str, hue: str, title: str, paper_percent: float | None = None, log_bytes_x: bool = True
) -> plt.Figure:
    """MultiWrite's latency reduction (%) vs ``x``, one line per ``hue``; the paper's number as a line."""
    fig, ax = plt.subplots()
    for key, group in frame.groupby(hue, sort=True):
        group = group.sort_values(x)
        ax.plot(group[x], 100 * group["reduction"], marker="o", label=f"{hue} = {key} ({MEASURED})")
    ax.axhline(0.0, color="black", linewidth=0.8)
    if paper_percent is not None:
        ax.axhline(
            paper_percent,
            color=style.method_color("paper"),
            linestyle=":",
            label=f"up to {paper_percent:g}% ({PAPER}, Ascend stress test)",
        )
    if log_bytes_x:
        _bytes_axis(ax, frame[x])
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel("latency reduction vs best unicast (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def grouped_bars(
    frame: pd.DataFrame, x: str, y: str, hue: str, title: str, ylabel: str, log: bool = False
) -> plt.Figure:
    """Bars of ``y`` per ``x``, one colour per ``hue`` (methods keep their colours)."""
    fig, ax = plt.subplots()
    categories = list(dict.fromkeys(frame[x]))
    hues = list(dict.fromkeys(frame[hue]))
    width = 0.8 / len(hues)
    for i, key in enumerate(hues):
        part = frame[frame[hue] == key].set_index(x).reindex(categories)
        ax.bar(
            np.arange(len(categories)) + (i - (len(hues) - 1) / 2) * width,
            part[y],
            width,
            color=style.method_color(str(key)),
            label=f"{key} ({MEASURED})",
        )
    ax.set_xticks(np.arange(len(categories)))
    ax.set_xticklabels([str(c) for c in categories])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def tornado(frame: pd.DataFrame, title: str, clip_percent: float = 100.0) -> plt.Figure:
    """Horizontal bars from each factor's low to high reduction, around the default's reduction.

    Bars beyond -``clip_percent`` (MultiWrite several times slower) are cut there and labelled with
    their value, so that the other factors stay readable.
    """
    default = float(frame.loc[frame["factor"] == "default", "reduction"].iloc[0]) * 100
    spans = []
    for factor, group in frame[frame["factor"] != "default"].groupby("factor", sort=False):
        by_setting = group.set_index("setting")
        spans.append(
            (
                factor,
                100 * by_setting.loc["low", "reduction"],
                100 * by_setting.loc["high", "reduction"],
                by_setting.loc["low", "value"],
                by_setting.loc["high", "value"],
            )
        )
    spans.sort(key=lambda s: abs(s[2] - s[1]))
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(spans) + 1.5))
    for row, (_factor, low, high, _, _) in enumerate(spans):
        for value, color, label in ((low, "#4c72b0", "low value"), (high, "#dd8452", "high value")):
            shown = max(value, -clip_percent)
            ax.barh(row, shown - default, left=default, color=color, label=label if row == 0 else None)
            if shown != value:
                ax.text(shown, row, f" {value:.0f}%", va="center", ha="left", fontsize=7, color="white")
    ax.axvline(default, color="black", linewidth=0.8, label=f"default scenario: {default:.1f}%")
    ax.axvline(0.0, color="grey", linewidth=0.6, linestyle=":")
    ax.set_yticks(range(len(spans)))
    ax.set_yticklabels(
        [f"{axis_label(factor)}\n(low {low}, high {high})" for factor, _, _, low, high in spans],
        fontsize=8,
    )
    ax.set_xlabel(f"MultiWrite latency reduction vs best unicast (%, {MEASURED})")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return fig


def stress_timeline(frame: pd.DataFrame, window: int, title: str) -> plt.Figure:
    """Rolling p50 and p99 latency over the operations of the stress run, per algorithm."""
    fig, ax = plt.subplots()
    for algorithm, group in frame.groupby("algorithm", sort=False):
        series = group.sort_values(["segment", "operation"])["latency_us"].reset_index(drop=True)
        rolling = series.rolling(window, min_periods=max(1, window // 2))
        color = style.method_color(algorithm)
        ax.plot(rolling.quantile(0.5), color=color, label=f"{algorithm} p50 ({MEASURED})")
        ax.plot(rolling.quantile(0.99), color=color, linestyle="--", label=f"{algorithm} p99 ({MEASURED})")
    ax.set_yscale("log")
    ax.set_xlabel(f"operation (segments back to back; rolling window of {window})")
    ax.set_ylabel("latency (us)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def validation_scatter(frame: pd.DataFrame, title: str, tolerance: float = 0.02) -> plt.Figure:
    """Simulated vs analytic latency, one point per scenario, with the +-tolerance band."""
    fig, ax = plt.subplots(figsize=(5.5, 5.0))
    for algorithm, group in frame.groupby("algorithm", sort=False):
        ax.scatter(
            group["analytic_latency_us"],
            group["latency_us"],
            s=18,
            color=style.method_color(algorithm),
            label=f"{algorithm} ({MEASURED})",
        )
    low = min(frame["analytic_latency_us"].min(), frame["latency_us"].min())
    high = max(frame["analytic_latency_us"].max(), frame["latency_us"].max())
    line = np.array([low, high])
    ax.plot(line, line, color="black", linewidth=0.8, label="simulator = analytic model")
    ax.fill_between(
        line, line * (1 - tolerance), line * (1 + tolerance), color="grey", alpha=0.25, label=f"+-{tolerance:.0%}"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{ANALYTIC} latency (us)")
    ax.set_ylabel("simulated latency (us)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def grain_convergence(frame: pd.DataFrame, converged: pd.DataFrame, title: str) -> plt.Figure:
    """Latency vs simulation grain (chunks per message) per algorithm, the converged grain marked.

    ``frame``: one row per algorithm and grain (``grain``, ``latency_us``); ``converged``: one row
    per algorithm with the grain :func:`companion.multiwrite.convergence.simulate_converged` chose.
    """
    fig, ax = plt.subplots()
    for algorithm, group in frame.groupby("algorithm", sort=False):
        group = group.sort_values("grain")
        color = style.method_color(algorithm)
        ax.plot(group["grain"], group["latency_us"], marker="o", color=color, label=f"{algorithm} ({MEASURED})")
        chosen = converged[converged["algorithm"] == algorithm]
        ax.scatter(chosen["grain"], chosen["latency_us"], s=160, facecolors="none", edgecolors=color, linewidths=2)
    ax.scatter([], [], s=160, facecolors="none", edgecolors="black", label="converged grain (< 1% change)")
    ax.set_xscale("log", base=2)
    ticks = sorted(set(frame["grain"]))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("chunks per message (simulation grain; finest = one MTU packet per chunk)")
    ax.set_ylabel("operator latency (us)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def setup_break_even(frame: pd.DataFrame, assumed_us: float, title: str) -> plt.Figure:
    """Group multicast's mean latency over MultiWrite's vs the per-group setup cost, one line per top-k.

    ``frame``: ``top_k``, ``group_setup_us``, ``latency_ratio``. Above 1 group multicast is slower.
    """
    fig, ax = plt.subplots()
    for top_k, group in frame.groupby("top_k"):
        group = group.sort_values("group_setup_us")
        ax.plot(group["group_setup_us"], group["latency_ratio"], marker="o", label=f"top-{top_k} ({MEASURED})")
    ax.axhline(1.0, color="black", linewidth=0.8, label="break-even (equal latency)")
    ax.axvline(assumed_us, color="grey", linestyle=":", label=f"companion's assumed {assumed_us:g} us (not measured)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("control-plane setup cost per new group (us, assumed)")
    ax.set_ylabel("group multicast latency / MultiWrite latency")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def reduction_cells(cells: pd.DataFrame, reading: float, title: str) -> plt.Figure:
    """MultiWrite's reduction per grid cell (size x percentile) with its 95% interval, against the
    best unicast algorithm there; the paper's "up to" reading as a dotted line.

    ``cells``: ``message_bytes``, ``percentile``, ``reduction``, ``reduction_ci_low``, ``reduction_ci_high``.
    """
    fig, ax = plt.subplots()
    sizes = sorted(cells["message_bytes"].unique())
    percentiles = sorted(cells["percentile"].unique())
    width = 0.8 / len(percentiles)
    for i, percentile in enumerate(percentiles):
        part = cells[cells["percentile"] == percentile].set_index("message_bytes").reindex(sizes)
        x = np.arange(len(sizes)) + (i - (len(percentiles) - 1) / 2) * width
        errors = [
            100 * (part["reduction"] - part["reduction_ci_low"]),
            100 * (part["reduction_ci_high"] - part["reduction"]),
        ]
        ax.bar(x, 100 * part["reduction"], width, yerr=errors, capsize=3, label=f"p{percentile:g} ({MEASURED}, 95% CI)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axhline(
        100 * reading, color=style.method_color("paper"), linestyle=":", label=f"up to {100 * reading:g}% ({PAPER})"
    )
    ax.set_xticks(np.arange(len(sizes)))
    ax.set_xticklabels([_size_label(m) for m in sizes])
    ax.set_xlabel(axis_label("message_bytes"))
    ax.set_ylabel("latency reduction vs best unicast (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def model_agreement(frame: pd.DataFrame, title: str, tolerance: float = 0.02) -> plt.Figure:
    """Flow model vs packet model: relative latency difference against the share of the packet
    latency that is pipeline fill, one point per case (circles AllGather, squares dispatch)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    markers = {"allgather": "o", "dispatch": "s"}
    for (algorithm, collective), group in frame.groupby(["algorithm", "collective"], sort=False):
        ax.scatter(
            100 * group["fill_share"],
            100 * group["difference"],
            s=28,
            marker=markers.get(collective, "^"),
            color=style.method_color(algorithm),
            label=f"{algorithm}, {collective} ({MEASURED})",
        )
    ax.axhspan(-100 * tolerance, 100 * tolerance, color="grey", alpha=0.2, label=f"+-{tolerance:.0%}")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("pipeline fill, % of the packet model's latency (analytic fill term)")
    ax.set_ylabel("flow model - packet model latency (%)")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    return fig


def latency_by_model(frame: pd.DataFrame, x: str, title: str) -> plt.Figure:
    """Latency vs ``x`` per algorithm: the packet model solid with filled markers, the flow model
    dotted with open markers (``model`` column)."""
    fig, ax = plt.subplots()
    for (algorithm, model), group in frame.groupby(["algorithm", "model"], sort=False):
        group = group.sort_values(x)
        color = style.method_color(algorithm)
        flow = model == "flow"
        ax.plot(
            group[x],
            group["latency_us"],
            marker="o",
            linestyle=":" if flow else "-",
            markerfacecolor="white" if flow else color,
            color=color,
            label=f"{algorithm} ({'flow model' if flow else 'packet model'}, {MEASURED})",
        )
    ax.set_xscale("log", base=2)
    ticks = sorted(set(frame[x]))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel("operator latency (us)")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    return fig
