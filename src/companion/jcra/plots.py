"""Figures of the pose wing: poses on images, deformable sampling points, the three pipeline
families side by side, training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .. import paths, style
from .data.skeleton import KeypointLayout

POSE_COLORS = plt.get_cmap("tab10").colors


def draw_poses(
    ax: plt.Axes,
    image: np.ndarray,
    poses: list[np.ndarray],
    layout: KeypointLayout,
    labels: list[str] | None = None,
    min_visibility: float = 0.0,
    linewidth: float = 1.5,
) -> None:
    """Show ``image`` (uint8[H, W, 3]) with each pose (float[K, 3]: x, y, v) as a coloured skeleton.

    A joint is drawn when its v is above ``min_visibility`` (v = 0 is unlabelled).
    """
    ax.imshow(image)
    for index, pose in enumerate(poses):
        color = POSE_COLORS[index % len(POSE_COLORS)]
        shown = pose[:, 2] > min_visibility
        for a, b in layout.limbs:
            if shown[a] and shown[b]:
                ax.plot(pose[[a, b], 0], pose[[a, b], 1], color=color, linewidth=linewidth)
        ax.scatter(pose[shown, 0], pose[shown, 1], s=8, color=color, edgecolors="white", linewidths=0.4, zorder=3)
        if labels is not None and shown.any():
            x, y = pose[shown, 0].min(), pose[shown, 1].min()
            ax.text(
                x,
                y - 2,
                labels[index],
                color="white",
                fontsize=7,
                bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "linewidth": 0},
            )
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.axis("off")


def draw_sampling(
    ax: plt.Axes,
    image: np.ndarray,
    locations: np.ndarray,
    weights: np.ndarray,
    reference: np.ndarray,
    canvas_size: tuple[int, int],
) -> None:
    """One query's deformable sampling points over ``image``.

    Args:
        locations: float[H, L, K, 2] canvas fractions; weights: float[H, L, K] attention weights.
        reference: float[K, 2] canvas fractions, the keypoints the points are anchored to.
        canvas_size: (H, W) of the padded network input, in the pixels of ``image``.
    """
    height, width = canvas_size
    scale = np.array([width, height])
    ax.imshow(image)
    levels = locations.shape[1]
    cmap = plt.get_cmap("viridis")
    for level in range(levels):
        points = locations[:, level].reshape(-1, 2) * scale
        sizes = 400 * weights[:, level].reshape(-1) / max(weights.max(), 1e-9)
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=sizes,
            color=cmap(level / max(levels - 1, 1)),
            alpha=0.6,
            edgecolors="none",
            label=f"level {level} samples",
        )
    anchors = reference * scale
    ax.scatter(anchors[:, 0], anchors[:, 1], marker="x", s=25, color="red", label="reference keypoints")
    legend = ax.legend(fontsize=7, loc="lower left", framealpha=0.7)
    for handle in legend.legend_handles:
        handle.set_sizes([20])
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.axis("off")


_PIPELINES = {
    "top-down": [
        "image",
        "person detector",
        "box NMS",
        "crop + resize\neach person",
        "single-person\nheatmaps",
        "heatmap decoding\n(argmax)",
        "persons",
    ],
    "bottom-up": [
        "image",
        "keypoint heatmaps\n+ embeddings",
        "peak NMS",
        "heatmap decoding",
        "grouping\n(tag matching)",
        "persons",
    ],
    "one-stage (JCRA)": [
        "image",
        "backbone +\ndeformable encoder",
        "pose queries\n(symmetric decoder)",
        "persons\n(keypoints regressed)",
    ],
}
_POST_PROCESSING = {
    "box NMS",
    "peak NMS",
    "heatmap decoding",
    "heatmap decoding\n(argmax)",
    "grouping\n(tag matching)",
    "crop + resize\neach person",
}


def pipeline_diagram() -> tuple[plt.Figure, pd.DataFrame]:
    """Top-down, bottom-up and one-stage pipelines side by side; hand-written steps highlighted.

    Returns the figure and its data (pipeline, step, is_post_processing).
    """
    fig, axes = plt.subplots(1, 3, figsize=(10, 5.2))
    rows = []
    for ax, (name, steps) in zip(axes, _PIPELINES.items()):
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.2, len(_PIPELINES["top-down"]))
        ax.axis("off")
        ax.set_title(name)
        for index, step in enumerate(steps):
            post = step in _POST_PROCESSING
            rows.append({"pipeline": name, "step": step.replace("\n", " "), "is_post_processing": post})
            y = len(_PIPELINES["top-down"]) - 0.8 - index
            ax.add_patch(
                FancyBboxPatch(
                    (0.1, y - 0.3),
                    0.8,
                    0.6,
                    boxstyle="round,pad=0.02",
                    facecolor="#f4b6b6" if post else "#cfe3f3",
                    edgecolor="#d62728" if post else "#1f77b4",
                )
            )
            ax.text(0.5, y, step, ha="center", va="center", fontsize=8)
            if index:
                ax.add_patch(
                    FancyArrowPatch(
                        (0.5, y + 0.7),
                        (0.5, y + 0.3),
                        arrowstyle="-|>",
                        mutation_scale=14,
                        color="#444444",
                        linewidth=1.5,
                    )
                )
    fig.text(
        0.5,
        0.01,
        "red: hand-written post-processing outside the network;  blue: learned network stages",
        ha="center",
        fontsize=9,
    )
    return fig, pd.DataFrame(rows)


def training_curves(metrics: pd.DataFrame, label: str) -> plt.Figure:
    """Loss and mean matched OKS (1 - OKS loss) against step, from a ``metrics.csv`` frame."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(metrics["step"], metrics["loss"], label=label)
    left.set_ylim(bottom=0)
    left.set_xlabel("step")
    left.set_ylabel("total loss (all layers)")
    right.plot(metrics["step"], 1 - metrics["oks"], label=label)
    right.set_xlabel("step")
    right.set_ylabel("OKS of matched queries (last layer)")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.legend()
    fig.tight_layout()
    return fig


def prediction_grid(
    images: list[np.ndarray],
    predictions: list[list[np.ndarray]],
    truths: list[list[np.ndarray]],
    layout: KeypointLayout,
    titles: list[str],
    columns: int = 4,
) -> plt.Figure:
    """Predicted poses (top row of each pair) and ground truth (below) for several images.

    ``predictions[i]`` and ``truths[i]`` are lists of float[K, 3] poses in the pixels of ``images[i]``.
    """
    columns = min(columns, len(images))
    pairs = -(-len(images) // columns)
    fig, axes = plt.subplots(2 * pairs, columns, figsize=(2.6 * columns, 2.6 * 2 * pairs), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, (image, predicted, truth, title) in enumerate(zip(images, predictions, truths, titles)):
        row, column = 2 * (index // columns), index % columns
        draw_poses(axes[row, column], image, predicted, layout, min_visibility=-1.0, linewidth=1.0)
        axes[row, column].set_title(f"{title}\npredicted (measured here)", fontsize=8)
        draw_poses(axes[row + 1, column], image, truth, layout, linewidth=1.0)
        axes[row + 1, column].set_title("ground truth", fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- speed (jcra/06_speed)

SPEED_RUNNERS = {
    "jcra": ("JCRA, configured queries", "#1f77b4", "-"),
    "jcra_fast": ("JCRA traced (same outputs)", "#1f77b4", ":"),
    "jcra_300q": ("JCRA, 300 queries (timing only)", "#17becf", "--"),
    "bottomup": ("bottom-up, single scale", "#ff7f0e", "-"),
    "bottomup_flip": ("bottom-up, flip test", "#d62728", "-"),
    "bottomup_multiscale": ("bottom-up, multi-scale + flip", "#8c564b", "-"),
    "bottomup_ideal": ("bottom-up network + post-processing on ideal maps", "black", "--"),
}


def latency_by_crowd(results: list[dict], hardware: str) -> tuple[plt.Figure, pd.DataFrame]:
    """Per input size, the median end-to-end ms per image of every runner against the crowd size,
    with the interquartile range shaded (all measured here)."""
    frame = pd.DataFrame(results).sort_values(["input_size", "persons"])
    sizes = sorted(frame["input_size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.4 * len(sizes), 4.0), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        rows = frame[frame["input_size"] == size]
        for runner, (label, colour, line) in SPEED_RUNNERS.items():
            if f"{runner}_ms" not in rows or rows[f"{runner}_ms"].isna().all():
                continue
            ax.plot(rows["persons"], rows[f"{runner}_ms"], ls=line, marker="o", ms=3, color=colour, label=label)
            ax.fill_between(
                rows["persons"], rows[f"{runner}_ms_q25"], rows[f"{runner}_ms_q75"], color=colour, alpha=0.15
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(rows["persons"].unique()), [str(p) for p in sorted(rows["persons"].unique())])
        ax.minorticks_off()
        ax.set_xlabel("persons in the image")
        ax.set_title(f"{size} x {size} input", fontsize=10)
    axes[0][0].set_ylabel("ms per image, end to end\n(median; band: IQR)")
    legend = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    handles, labels = list(legend.values()), list(legend)
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        fontsize=8,
        title="all measured here",
        title_fontsize=8,
    )
    fig.suptitle(f"Latency at batch 1 ({hardware})", fontsize=10)
    columns = ["input_size", "persons", "persons_drawn"] + [
        f"{runner}{part}"
        for runner in SPEED_RUNNERS
        for part in ("_ms", "_ms_q25", "_ms_q75", "_network_ms", "_postprocess_ms", "_found")
        if f"{runner}{part}" in frame
    ]
    return fig, frame[columns]


def speedup_intervals(
    speedups: dict[str, dict[tuple[int, int], object]], readings: dict[str, float]
) -> tuple[plt.Figure, pd.DataFrame]:
    """Per input size, baseline time / JCRA time with its 95% interval against the crowd size, one
    series per baseline protocol, beside the two readings of "78% faster" (reported by the paper).

    ``speedups[baseline][(input_size, persons)]`` is a ``stats.Interval`` (``bench.speedups``)."""
    rows = [
        {
            "baseline": baseline,
            "input_size": size,
            "persons": persons,
            "speedup": iv.estimate,
            "ci_low": iv.low,
            "ci_high": iv.high,
        }
        for baseline, cases in speedups.items()
        for (size, persons), iv in sorted(cases.items())
    ]
    frame = pd.DataFrame(rows)
    sizes = sorted(frame["input_size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.4 * len(sizes), 4.0), squeeze=False, sharey=True)
    for ax, size in zip(axes[0], sizes):
        here = frame[frame["input_size"] == size]
        for shift, (baseline, series) in zip(np.linspace(-0.06, 0.06, 4), here.groupby("baseline", sort=False)):
            label, colour, line = SPEED_RUNNERS[baseline]
            x = series["persons"] * (1 + shift)
            ax.errorbar(
                x,
                series["speedup"],
                yerr=[series["speedup"] - series["ci_low"], series["ci_high"] - series["speedup"]],
                marker="o",
                ms=4,
                capsize=3,
                ls=line,
                color=colour,
                label=f"over {label}",
            )
        ax.axhline(1.0, color="grey", lw=0.8)
        for name, style_ in (("throughput_reading", "--"), ("time_reading", "-.")):
            ax.axhline(
                readings[name],
                color="black",
                ls=style_,
                lw=1,
                label=f"x{readings[name]:g}: '78% faster' read as "
                + ("1.78x throughput" if name == "throughput_reading" else "78% less time")
                + " (reported by the paper)",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        persons = sorted(here["persons"].unique())
        ax.set_xticks(persons, [str(p) for p in persons])
        ax.minorticks_off()
        ax.set_xlabel("persons in the image")
        ax.set_title(f"{size} x {size} input (measured here)", fontsize=10)
    axes[0][0].set_ylabel("baseline time / JCRA time\n(95% CI)")
    legend = {label: handle for ax in axes[0] for handle, label in zip(*ax.get_legend_handles_labels())}
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8)
    fig.suptitle("Speed-up of JCRA over each bottom-up protocol", fontsize=10)
    return fig, frame


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
