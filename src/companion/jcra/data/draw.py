"""Skeletons drawn on images with matplotlib, for the notebooks.

Limbs are coloured by side (the person's left, right, or centre), visible joints are filled
dots and occluded joints (v = 1) hollow ones, so a reader can check left/right labels and
visibility flags at a glance.
"""

from __future__ import annotations

import numpy as np

from .skeleton import KeypointLayout

SIDE_COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#2ca02c"}


def _side(layout: KeypointLayout, a: int, b: int) -> str:
    names = layout.keypoints[a] + layout.keypoints[b]
    if names.count("left_") == 2 or (names.count("left_") == 1 and "right_" not in names):
        return "left"
    if names.count("right_") == 2 or (names.count("right_") == 1 and "left_" not in names):
        return "right"
    return "centre"


def draw_poses(
    ax,
    image: np.ndarray | None,
    keypoints: np.ndarray,
    layout: KeypointLayout,
    colour: str | None = None,
    label: str | None = None,
    linewidth: float = 1.5,
    marker_size: float = 12.0,
) -> None:
    """Draw persons on a matplotlib axis.

    Args:
        ax: the axis.
        image: uint8[H, W, 3] to show underneath, or None to draw on what is there.
        keypoints: float[N, K, 3] (x, y, v) in image pixels (continuous coordinates); for
            predictions pass v = 2 for every joint.
        layout: the keypoint layout (limbs and names).
        colour: one colour for every limb (e.g. predictions) instead of the side colours.
        label: legend label for this set of persons.
    """
    if image is not None:
        height, width = image.shape[:2]
        # extent puts pixel (i, j) on [i, i + 1) x [j, j + 1), the keypoints' coordinates.
        ax.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, layout.num_keypoints, 3)
    for n, person in enumerate(keypoints):
        for a, b in layout.limbs:
            if person[a, 2] > 0 and person[b, 2] > 0:
                ax.plot(
                    person[[a, b], 0],
                    person[[a, b], 1],
                    lw=linewidth,
                    color=colour or SIDE_COLOURS[_side(layout, a, b)],
                    solid_capstyle="round",
                )
        visible = person[:, 2] == 2
        occluded = person[:, 2] == 1
        dot = colour or "white"
        ax.scatter(
            person[visible, 0],
            person[visible, 1],
            s=marker_size,
            c=dot,
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
            label=label if n == 0 else None,
        )
        ax.scatter(
            person[occluded, 0],
            person[occluded, 1],
            s=marker_size,
            facecolors="none",
            edgecolors=colour or "black",
            linewidths=1.0,
            zorder=3,
        )
    ax.set_xticks([])
    ax.set_yticks([])
