"""Figures of the pose wing: poses on images, deformable sampling points, the three pipeline
families side by side, training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

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
