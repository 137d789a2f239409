"""Figures of the speed notebook (``jcra/06_speed``), each returned with the data it shows.

Every value drawn is either measured by ``bench`` here or read from ``data/baselines_coco.csv``
(labelled "reported by <source>").
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import paths, style
from .bench import THROUGHPUT_READING, TIME_READING

_PARTS = (("jcra", "JCRA"), ("bottomup", "bottom-up"))


def latency_figure(results: list[dict], hardware: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Per input size, stacked bars of network and post-processing time for both models, per crowd
    size, with the interquartile range of the end-to-end time; the bottom-up post-processing on
    ideal (ground-truth) maps as a dashed line when measured."""
    frame = pd.DataFrame(results)
    sizes = sorted(frame["input_size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 3.8), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        rows = frame[frame["input_size"] == size].sort_values("persons")
        positions = np.arange(len(rows))
        for offset, (key, label) in zip((-0.2, 0.2), _PARTS):
            colour = style.method_color(key)
            network, post = rows[f"{key}_network_ms"], rows[f"{key}_postprocess_ms"]
            ax.bar(positions + offset, network, 0.38, color=colour, label=f"{label} network")
            ax.bar(
                positions + offset,
                post,
                0.38,
                bottom=network,
                color=colour,
                alpha=0.45,
                hatch="//",
                label=f"{label} post-processing",
            )
            total = rows[f"{key}_ms"]
            ax.errorbar(
                positions + offset,
                total,
                yerr=[total - rows[f"{key}_ms_q25"], rows[f"{key}_ms_q75"] - total],
                fmt="none",
                ecolor="black",
                capsize=2,
                lw=0.8,
            )
        if "ideal_postprocess_ms" in rows:
            ax.plot(
                positions + 0.2,
                rows["ideal_postprocess_ms"],
                "k--",
                marker=".",
                lw=1,
                label="bottom-up post-processing on ideal maps",
            )
        ax.set_xticks(positions, [str(p) for p in rows["persons"]])
        ax.set(xlabel="persons in the image", ylabel="ms per image (median; bar: IQR)", title=f"{size} x {size} input")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        fontsize=7,
        title="all measured here",
        title_fontsize=7,
    )
    fig.suptitle(f"Latency at batch 1 ({hardware})", fontsize=9)
    columns = ["input_size", "persons", "persons_drawn"] + [
        f"{key}{part}"
        for key, _ in _PARTS
        for part in ("_ms", "_ms_q25", "_ms_q75", "_network_ms", "_postprocess_ms", "_found")
    ]
    columns += [c for c in ("ideal_postprocess_ms",) if c in frame]
    return fig, frame[columns]


def speedup_figure(results: list[dict]) -> tuple[plt.Figure, pd.DataFrame]:
    """Bottom-up time over JCRA time per crowd size and input size (median of paired ratios with
    quartiles; ratio of medians as markers), against the two readings of "78% faster"."""
    frame = pd.DataFrame(results).sort_values(["input_size", "persons"])
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for marker, (size, rows) in zip("os^v", frame.groupby("input_size")):
        line = ax.errorbar(
            rows["persons"],
            rows["speedup_paired"],
            yerr=[
                rows["speedup_paired"] - rows["speedup_paired_q25"],
                rows["speedup_paired_q75"] - rows["speedup_paired"],
            ],
            marker=marker,
            capsize=3,
            label=f"JCRA, {size} px (measured here)",
        )
        if "speedup_fast" in rows:
            ax.plot(
                rows["persons"],
                rows["speedup_fast"],
                marker=marker,
                ls=":",
                mfc="none",
                color=line[0].get_color(),
                label=f"traced JCRA, {size} px (measured here)",
            )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(
        THROUGHPUT_READING,
        color="black",
        ls="--",
        lw=1,
        label=f"claim read as x{THROUGHPUT_READING} throughput (reported by the paper)",
    )
    ax.axhline(
        TIME_READING,
        color="black",
        ls="-.",
        lw=1,
        label=f"claim read as 78% less time, x{TIME_READING:.2f} (reported by the paper)",
    )
    ax.set_xscale("log")
    ax.set_xticks(sorted(frame["persons"].unique()), [str(p) for p in sorted(frame["persons"].unique())])
    ax.minorticks_off()
    ax.set(
        xlabel="persons in the image",
        ylabel="bottom-up time / JCRA time",
        title="Speed-up of JCRA over the bottom-up baseline",
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    columns = ["input_size", "persons", "speedup", "speedup_paired", "speedup_paired_q25", "speedup_paired_q75"]
    columns += [c for c in ("speedup_fast", "speedup_fast_paired") if c in frame]
    return fig, frame[columns]


def published_speed_points() -> pd.DataFrame:
    """Rows of ``data/baselines_coco.csv`` that give a time per image (method, backbone, AP, ms)."""
    table = pd.read_csv(paths.DATA_DIR / "baselines_coco.csv")
    timed = table[table["ms_per_image"].notna()]
    return timed[["method", "backbone", "input", "split", "AP", "ms_per_image", "source"]].reset_index(drop=True)


def accuracy_latency_figure(
    measured: pd.DataFrame, published: pd.DataFrame, data_label: str, hardware: str
) -> tuple[plt.Figure, pd.DataFrame]:
    """AP against end-to-end latency: left, both models measured here on the same data; right,
    published (AP, ms) points, which come from other hardware and data and are not comparable.

    ``measured`` has columns method, AP (fraction), ms, ms_q25, ms_q75.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 3.8))
    for row in measured.itertuples():
        base = row.method.split(" ")[0]  # "jcra traced" keeps JCRA's colour, hollow
        left.errorbar(
            row.ms,
            100 * row.AP,
            xerr=[[row.ms - row.ms_q25], [row.ms_q75 - row.ms]],
            marker="o",
            mfc="white" if base != row.method else None,
            capsize=3,
            color=style.method_color(base),
            label=f"{row.method} (measured here)",
        )
    left.set(xlabel="ms per image (median; bar: IQR)", ylabel="AP (%)")
    left.set_title(f"{data_label}\n{hardware}", fontsize=9)
    left.legend(fontsize=7)
    for row in published.itertuples():
        right.scatter(row.ms_per_image, row.AP, color=style.method_color(row.method), marker="s")
        right.annotate(
            f"{row.method} {row.backbone}",
            (row.ms_per_image, row.AP),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    sources, splits, inputs = (
        ", ".join(sorted(published[c].astype(str).unique())) for c in ("source", "split", "input")
    )
    right.set(xlabel="ms per image (GPU unnamed)", ylabel="COCO AP (%)")
    right.set_title(f"{style.reported_by(sources)}\n(COCO {splits}, {inputs}; other hardware and data)", fontsize=9)
    right.margins(0.3)
    data = pd.concat(
        [
            measured.assign(source="measured here"),
            published.rename(columns={"ms_per_image": "ms"}).assign(
                AP=published["AP"] / 100, source=published["source"].map(style.reported_by)
            ),
        ],
        ignore_index=True,
    )
    return fig, data
