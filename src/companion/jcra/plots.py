"""Every figure of the pose wing: poses on images, deformable sampling points, the three pipeline
families side by side, training curves, accuracy tables as bars, the crowd-level and split
ablation charts, the OKS study and the speed comparison. Notebooks call these; a panel with
nothing to show carries a visible note (:func:`note_empty`)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .. import paths, style
from .data.skeleton import KeypointLayout

POSE_COLORS = plt.get_cmap("tab10").colors
SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#2ca02c"}


def draw_poses(
    ax: plt.Axes,
    image: np.ndarray | None,
    poses,
    layout: KeypointLayout,
    *,
    colour: str | None = None,
    side_colours: bool = False,
    labels: list[str] | None = None,
    min_visibility: float = 0.0,
    linewidth: float = 1.5,
    marker_size: float = 10.0,
) -> None:
    """Persons as skeletons on ``ax``, over ``image`` (uint8[H, W, 3]) or over what is drawn there.

    ``poses``: float[N, K, 3] or a list of float[K, 3] (x, y, v) in image pixels (continuous
    coordinates: pixel (i, j) covers [i, i + 1) x [j, j + 1)). A joint is drawn when v >
    ``min_visibility``; v = 1 (labelled, occluded) as a hollow dot. Limbs take one colour per
    person, or ``colour`` for all, or with ``side_colours`` left blue / right red / centre green.
    """
    if image is not None:
        height, width = image.shape[:2]
        ax.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, layout.num_keypoints, 3)
    for index, pose in enumerate(poses):
        person_colour = colour or POSE_COLORS[index % len(POSE_COLORS)]
        shown = pose[:, 2] > min_visibility
        for a, b in layout.limbs:
            if shown[a] and shown[b]:
                limb_colour = SIDE_COLOURS[_side(layout, a, b)] if side_colours and colour is None else person_colour
                ax.plot(pose[[a, b], 0], pose[[a, b], 1], color=limb_colour, lw=linewidth, solid_capstyle="round")
        hollow = shown & (pose[:, 2] == 1)
        solid = shown & ~hollow
        dot = "white" if side_colours and colour is None else person_colour
        ax.scatter(pose[solid, 0], pose[solid, 1], s=marker_size, c=[dot], edgecolors="black", linewidths=0.5, zorder=3)
        ax.scatter(pose[hollow, 0], pose[hollow, 1], s=marker_size, facecolors="none", edgecolors="black", zorder=3)
        if labels is not None and shown.any():
            x, y = pose[shown, 0].min(), pose[shown, 1].min()
            box = {"facecolor": person_colour, "alpha": 0.8, "pad": 1, "linewidth": 0}
            ax.text(x, y - 2, labels[index], color="white", fontsize=7, bbox=box)
    if image is not None:
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _side(layout: KeypointLayout, a: int, b: int) -> str:
    """The body side of limb (a, b): both joints, or one and a centre joint, named left_/right_."""
    names = layout.keypoints[a] + layout.keypoints[b]
    if names.count("left_") == 2 or (names.count("left_") == 1 and "right_" not in names):
        return "left"
    if names.count("right_") == 2 or (names.count("right_") == 1 and "left_" not in names):
        return "right"
    return "centre"


def note_empty(ax: plt.Axes, text: str, width: int = 30) -> None:
    """A visible note on a panel with nothing to show (e.g. "smoke profile: untrained model"),
    wrapped to ``width`` characters so that it stays inside a narrow panel."""
    box = {"facecolor": "white", "alpha": 0.85, "edgecolor": "#999999"}
    ax.text(
        0.5, 0.5, textwrap.fill(text, width), transform=ax.transAxes, ha="center", va="center", fontsize=7, bbox=box
    )


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
    if metrics["step"].max() < 100:
        for ax in (left, right):
            note_empty(ax, f"{int(metrics['step'].max())} steps only (smoke profile): the curve shows the loop runs")
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
    empty_note: str = "no person above the score threshold",
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
        if len(predicted) == 0:
            note_empty(axes[row, column], empty_note)
        draw_poses(axes[row + 1, column], image, truth, layout, side_colours=True, linewidth=1.0)
        axes[row + 1, column].set_title("ground truth", fontsize=8)
    fig.tight_layout()
    return fig


def sampling_figure(picture: np.ndarray, sampling: dict, query: int, layout: KeypointLayout | None):
    """Left: where query ``query``'s last decoder layer samples (dot size = attention weight) and
    its reference keypoints; right: its regressed pose. ``sampling`` is
    ``anatomy.decoder_sampling``'s result. Returns (figure, one row per sampling point)."""
    outputs = sampling["outputs"]
    canvas = np.array(outputs["canvas_size"][::-1], dtype=np.float64)  # (W, H)
    locations = sampling["locations"][0, query].numpy()  # [heads, levels, K, 2]
    weights = sampling["weights"][0, query].numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.5))
    draw_sampling(left, picture, locations, weights, sampling["reference"][0, query].numpy(), outputs["canvas_size"])
    left.set_title(f"query {query}: deformable samples (measured here)", fontsize=9)
    pose = np.concatenate(
        [
            outputs["keypoints"][0, query].numpy() * canvas,
            outputs["visibility_logits"][0, query, :, None].sigmoid().numpy(),
        ],
        axis=-1,
    )
    if layout is not None:
        draw_poses(right, picture, [pose], layout, labels=[f"query {query}"], min_visibility=-1.0)
    right.set_title("its regressed pose (measured here)", fontsize=9)
    for ax in (left, right):  # the whole padded canvas: an untrained query may sit in the padding
        ax.set_xlim(0, canvas[0])
        ax.set_ylim(canvas[1], 0)
    heads, levels, keypoints = locations.shape[:3]
    data = pd.DataFrame(
        {
            "head": np.repeat(np.arange(heads), levels * keypoints),
            "level": np.tile(np.repeat(np.arange(levels), keypoints), heads),
            "keypoint": np.tile(np.arange(keypoints), heads * levels),
            "x_px": (locations[..., 0] * canvas[0]).ravel(),
            "y_px": (locations[..., 1] * canvas[1]).ravel(),
            "weight": weights.ravel(),
        }
    )
    return fig, data


def ap_comparison(table: pd.DataFrame, measured_label: str, paper_label: str):
    """Horizontal bars of keypoint AP (%): rows measured here (blue), the paper's (black) and the
    published val2017 rows (grey). Returns (figure, the rows shown)."""
    from matplotlib.patches import Patch

    published = ~table.source.isin([measured_label, paper_label])
    shown = table[~published | (table.split == "val2017")].dropna(subset=["AP"]).reset_index(drop=True)
    colours = {measured_label: "#1f77b4", paper_label: "#000000"}
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(shown) + 1.2))
    ax.barh(range(len(shown)), shown.AP, color=[colours.get(s, "#bbbbbb") for s in shown.source])
    ax.set_yticks(range(len(shown)), [f"{r.method} {r.backbone} · {r.data} {r.split}" for r in shown.itertuples()])
    ax.tick_params(axis="y", labelsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("keypoint AP (%)")
    handles = [
        Patch(color="#1f77b4", label=f"{measured_label} (synthetic unless marked COCO)"),
        Patch(color="#000000", label=f"{paper_label} (COCO)"),
        Patch(color="#bbbbbb", label="reported by each method's repository (COCO val2017)"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    return fig, shown


def crowd_examples(
    images: list[np.ndarray], truths: list, predictions: list, titles: list[str], layout: KeypointLayout
):
    """One image per crowd level: ground truth (side-coloured limbs, hollow dots for occluded
    joints) and the model's persons (white)."""
    fig, axes = plt.subplots(1, len(images), figsize=(3.0 * len(images), 3.2), squeeze=False)
    for ax, image, truth, predicted, title in zip(axes[0], images, truths, predictions, titles):
        draw_poses(ax, image, truth, layout, side_colours=True)
        draw_poses(ax, None, predicted, layout, colour="white", linewidth=1.0, marker_size=6, min_visibility=-1.0)
        if len(predicted) == 0:
            note_empty(ax, "no person above the score threshold")
        ax.set_title(title, fontsize=8)
    fig.suptitle("synthetic crowd split: ground truth (coloured) and model output (white), measured here", fontsize=9)
    return fig


CROWD_LEVELS = {"APE": "easy", "APM": "medium", "APH": "hard"}


def ap_by_crowd_level(measured: pd.DataFrame, reported: pd.DataFrame):
    """AP (%) by crowd level: rows measured here (left; synthetic unless named) and the published
    CrowdPose test rows (right). Never in one chart: the data differ. A measured row with ``APE
    low`` / ``APE high`` (etc.) columns gets those interval bounds as error bars."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 3]})
    x = np.arange(len(CROWD_LEVELS))
    width = 0.8 / max(len(measured), 1)
    with_intervals = False
    for i, row in enumerate(measured.to_dict("records")):
        values = np.nan_to_num([row[name] for name in CROWD_LEVELS])
        low = np.array([row.get(f"{name} low", np.nan) for name in CROWD_LEVELS], dtype=float)
        high = np.array([row.get(f"{name} high", np.nan) for name in CROWD_LEVELS], dtype=float)
        errors = np.nan_to_num([values - low, high - values])  # no bar: no interval
        with_intervals = with_intervals or bool(np.isfinite(low).any())
        label = f"{row['method']} · {row['data']}"
        left.bar(x + i * width, values, width=width, yerr=errors, capsize=3, label=label, color=plt.cm.tab10(i))
    left.set(xticks=x + 0.4 - width / 2, xticklabels=list(CROWD_LEVELS.values()), ylabel="AP (%)", ylim=(0, 100))
    left.set_title("measured here (companion)", fontsize=9)
    note = "error bars: 95% CI over the level's images" if with_intervals else None
    left.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), title=note, title_fontsize=6)
    if not (measured[list(CROWD_LEVELS)].fillna(0).to_numpy() > 0).any():
        note_empty(left, "AP 0 at every level: the model found no person (untrained or smoke profile)")
    width = 0.8 / len(reported)
    for i, row in enumerate(reported.itertuples()):
        right.bar(
            x + i * width,
            [getattr(row, name) for name in CROWD_LEVELS],
            width=width,
            label=f"{row.method} {row.backbone}",
            color=plt.cm.tab20(i % 20),
        )
    right.set(xticks=x + 0.4 - width / 2, xticklabels=list(CROWD_LEVELS.values()), ylabel="AP (%)", ylim=(0, 100))
    right.set_title("reported by each method's repository (CrowdPose test)", fontsize=9)
    right.legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.suptitle("AP by crowd level: synthetic crowd split (left) vs published CrowdPose results (right)", fontsize=9)
    return fig


def split_ablation(summary: pd.DataFrame, runs: pd.DataFrame, jcra_colour: str, latency_repeats: int):
    """Left: AP per encoder/decoder split (mean and seed spread, every seed as a dot); right:
    forward latency per split. The symmetric split in ``jcra_colour``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    colours = [jcra_colour if s else "#bbbbbb" for s in summary.symmetric]
    seeds = int(summary.seeds.max())
    left.bar(
        summary.split,
        summary.AP_mean,
        yerr=summary.AP_std,
        color=colours,
        capsize=4,
        label=f"mean ± std over {seeds} seed(s), measured here",
    )
    for index, split in enumerate(summary.split):
        values = runs[runs.split == split].AP
        left.scatter([index] * len(values), values, color="black", s=10, zorder=3)
    if summary.AP_mean.max() <= 0:
        note_empty(left, "AP 0 for every split: too few training steps (smoke profile)")
    left.set_ylim(0, max(0.05, 1.15 * float((summary.AP_mean + summary.AP_std).max())))
    left.set_ylabel("keypoint AP (fraction, synthetic val)")
    right.bar(
        summary.split,
        summary.latency_ms,
        color=colours,
        label=f"median of {latency_repeats} interleaved passes, 1 image, measured here",
    )
    right.set_ylabel("forward latency (ms per image)")
    for ax in (left, right):
        ax.set_xlabel("encoder / decoder layers")
        ax.legend(fontsize=7)
    fig.suptitle("highlighted: the symmetric split", fontsize=10)
    fig.tight_layout()
    return fig


def ground_truth_gallery(items: list) -> plt.Figure:
    """pose-mini images with their annotated persons (``real.PoseMiniImage`` items)."""
    fig, axes = plt.subplots(1, len(items), figsize=(3.2 * len(items), 2.6), squeeze=False)
    for ax, item in zip(axes[0], items):
        draw_poses(ax, item.load(), item.keypoints, item.layout, side_colours=True)
        ax.set_title(f"COCO {item.image_id}: {len(item.keypoints)} person(s)", fontsize=9)
    fig.suptitle("pose-mini ground truth (COCO val2017 annotations)", fontsize=10)
    return fig


def keypoint_similarity_curves(layout: KeypointLayout, joints: dict[str, int]):
    """exp(-d^2 / (2 s^2 kappa^2)) against d / s for a few joints. Returns (figure, the curves)."""
    distance = np.linspace(0, 0.25, 101)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    curves = []
    for label, k in joints.items():
        similarity = np.exp(-(distance**2) / (2 * (2 * layout.sigmas[k]) ** 2))
        ax.plot(distance, similarity, label=label)
        curves.append(pd.DataFrame({"joint": label, "d_over_s": distance, "similarity": similarity}))
    ax.set(
        xlabel="distance / person scale s (fraction)",
        ylabel="keypoint similarity (0 to 1)",
        title="OKS per keypoint (formula with the COCO sigmas)",
    )
    ax.legend(fontsize=8, title="computed from the COCO sigmas", title_fontsize=8)
    return fig, pd.concat(curves)


def per_joint_similarity(per_joint: pd.DataFrame, colour: str) -> plt.Figure:
    """Mean similarity of each joint to its matched prediction (columns keypoint, mean)."""
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    ax.bar(per_joint["keypoint"], per_joint["mean"], color=colour)
    ax.set(ylabel="mean keypoint similarity\n(0 to 1)", ylim=(0, 1.05))
    ax.set_title("real predictions vs pose-mini ground truth (measured here)", fontsize=11)
    ax.tick_params(axis="x", rotation=70, labelsize=7)
    return fig


def ap_versus_noise(summary: pd.DataFrame, source: str) -> plt.Figure:
    """AP, AP50, AP75 and mean OKS of the noisy ground truth against the noise level, with the
    formula's expected OKS."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, marker in (("AP", "o"), ("AP50", "^"), ("AP75", "v")):
        ax.plot(summary["fraction"], summary[name], marker=marker, label=f"{name} (measured here)")
    spread = summary["AP_sd"].fillna(0)
    ax.fill_between(summary["fraction"], summary["AP"] - spread, summary["AP"] + spread, alpha=0.2)
    ax.plot(summary["fraction"], summary["mean_oks"], "k.", label="mean OKS (measured here)")
    ax.plot(summary["fraction"], summary["expected_oks"], "k--", lw=1, label="expected OKS (formula, all joints)")
    ax.set(
        xlabel="noise std / person scale s (fraction)",
        ylabel="AP or OKS (fraction)",
        ylim=(-0.02, 1.02),
        title=f"AP of the noisy ground truth ({source})",
    )
    ax.legend(fontsize=7)
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
