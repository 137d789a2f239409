"""Exercise jcra/03: where a deformable attention head samples, and what it reads there.

In multi-scale deformable attention (``companion.jcra.deformable_attention``) a query does not
look at every token: for each head h, level l and point p a linear layer predicts an offset, in
feature cells of level l, from the query's reference point (normalised (x, y) in [0, 1])::

    location[h, l, p] = reference + offset[h, l, p] / (width_l, height_l)

``grid_sample`` (``align_corners=False``, zero padding) then reads the level's map there by
bilinear interpolation: normalised x maps to column ``x * width_l - 0.5`` (pixel centres sit at
half-integers), and a neighbour outside the map contributes zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from companion import style
from companion.exercises.feedback import (
    Feedback,
    as_array,
    as_number,
    checker,
    correct,
    describe_indices,
    not_yet,
    wrong_entries,
)
from companion.jcra.deformable_attention import MultiScaleDeformableAttention


@dataclass(frozen=True)
class HeadExercise:
    """One query of a seeded deformable attention layer: 2 heads, 2 levels, 3 points.

    Attributes:
        spatial_shapes: [(height_l, width_l)] of the levels, finest first.
        reference: float64[2] the query's reference point, normalised (x, y).
        offsets: float64[H, L, P, 2] the predicted offsets, in cells of each level.
        weights: float64[H, L, P] the softmaxed attention weights (each head sums to 1).
        value_map: float64[height_0, width_0] one channel of level 0's value map, for the bilinear part.
        layer: the wing's ``MultiScaleDeformableAttention`` module the numbers come from.
        query: float32[1, 1, d_model] the query vector.
    """

    spatial_shapes: list[tuple[int, int]]
    reference: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    value_map: np.ndarray
    layer: MultiScaleDeformableAttention
    query: torch.Tensor

    def layer_sampling(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's own (locations float64[H, L, P, 2], weights float64[H, L, P]) for this query."""
        reference = torch.as_tensor(self.reference, dtype=torch.float32).view(1, 1, 1, 2)
        with torch.no_grad():
            locations, weights = self.layer.sampling(self.query, reference, self.spatial_shapes)
        return locations[0, 0].double().numpy(), weights[0, 0].double().numpy()


def make_head(seed: int = 0) -> HeadExercise:
    """A layer whose offsets depend on the query (random weights), and a smooth value map."""
    generator = torch.Generator().manual_seed(seed)
    layer = MultiScaleDeformableAttention(d_model=16, n_levels=2, n_heads=2, n_points=3)
    with torch.no_grad():  # the layer starts with zero offset weights; give it a query-dependent pattern
        layer.sampling_offsets.weight.copy_(torch.randn(layer.sampling_offsets.weight.shape, generator=generator) * 0.4)
        layer.attention_weights.weight.copy_(
            torch.randn(layer.attention_weights.weight.shape, generator=generator) * 0.5
        )
    query = torch.randn(1, 1, 16, generator=generator)
    spatial_shapes = [(8, 12), (4, 6)]
    with torch.no_grad():
        offsets = layer.sampling_offsets(query).view(2, 2, 3, 2).double().numpy()
        weights = layer.attention_weights(query).view(2, 6).softmax(-1).view(2, 2, 3).double().numpy()
    rows, cols = np.mgrid[0:8, 0:12]
    value_map = np.sin(cols / 2.0) + 0.5 * np.cos(rows / 1.5) + 0.1 * rows
    return HeadExercise(
        spatial_shapes=spatial_shapes,
        reference=np.array([0.3, 0.55]),
        offsets=offsets,
        weights=weights,
        value_map=value_map,
        layer=layer,
        query=query,
    )


def grid_sample_value(
    value_map: np.ndarray, location: np.ndarray, align_corners: bool = False, padding: str = "zeros"
) -> float:
    """What ``F.grid_sample`` (bilinear) reads from ``value_map [h, w]`` at normalised ``location (x, y)``.

    The layer uses the defaults; the other conventions let a checker recognise a slip.
    """
    grid = torch.as_tensor(2 * np.asarray(location) - 1, dtype=torch.float64).view(1, 1, 1, 2)
    image = torch.as_tensor(value_map, dtype=torch.float64)[None, None]
    return float(F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=align_corners).item())


@checker
def check_locations(locations, exercise: HeadExercise) -> Feedback:
    """``locations``: float[H, L, P, 2] normalised (x, y) sampling locations."""
    heads, levels, points, _ = exercise.offsets.shape
    answer = as_array(locations, "locations", (heads, levels, points, 2), "[heads, levels, points, (x, y)]")
    expected, _ = exercise.layer_sampling()
    if np.allclose(answer, expected, rtol=1e-4, atol=1e-6):
        return correct("every sampling location matches the layer's MultiScaleDeformableAttention.sampling.")
    cells_wh = np.array([[w, h] for h, w in exercise.spatial_shapes], dtype=np.float64)[None, :, None, :]
    slips = {
        "the offsets were divided by (height, width) instead of (width, height)": (
            exercise.reference + exercise.offsets / cells_wh[..., ::-1],
            "x is a column position: divide it by the width.",
        ),
        "the offsets were added without dividing by the level's size": (
            exercise.reference + exercise.offsets,
            "offsets are in feature cells; one cell of level l is 1 / width_l wide.",
        ),
        "the reference point is missing": (
            exercise.offsets / cells_wh,
            "each offset starts at the query's reference point.",
        ),
        "every level used level 0's size": (
            exercise.reference + exercise.offsets / cells_wh[:, :1],
            "a cell of the coarser level covers more of the image.",
        ),
    }
    for slip, (value, hint) in slips.items():
        if np.allclose(answer, value, rtol=1e-4, atol=1e-6):
            return not_yet(f"your locations match what you get when {slip}.", hint)
    wrong = wrong_entries(answer, expected, rtol=1e-4, atol=1e-6)
    return not_yet(
        f"some locations differ, e.g. at {describe_indices(wrong, ('head', 'level', 'point', 'coordinate'))}.",
        "location = reference + offset / (width_l, height_l), one level at a time.",
    )


@checker
def check_pixels(pixels, exercise: HeadExercise) -> Feedback:
    """``pixels``: float[P, 2], the (column, row) that grid_sample reads for head 0, level 0's points."""
    points = exercise.offsets.shape[2]
    answer = as_array(pixels, "pixels", (points, 2), "[points, (column, row)]")
    locations, _ = exercise.layer_sampling()
    height, width = exercise.spatial_shapes[0]
    size = np.array([width, height], dtype=np.float64)
    expected = locations[0, 0] * size - 0.5
    if np.allclose(answer, expected, rtol=1e-4, atol=1e-5):
        return correct("these are the pixel coordinates grid_sample interpolates at (align_corners=False).")
    if np.allclose(answer, locations[0, 0] * (size - 1), rtol=1e-4, atol=1e-5):
        return not_yet(
            "you used the align_corners=True convention (x * (width - 1)).",
            "the layer uses align_corners=False: the map's edges, not its corner pixels' centres, sit at 0 and 1.",
        )
    if np.allclose(answer, locations[0, 0] * size, rtol=1e-4, atol=1e-5):
        return not_yet(
            "your coordinates are half a pixel off.",
            "with align_corners=False pixel centres sit at normalised (i + 0.5) / width.",
        )
    if np.allclose(answer[:, ::-1], expected, rtol=1e-4, atol=1e-5):
        return not_yet("your columns and rows are swapped.", "give (column, row), i.e. (x, y).")
    return not_yet(
        "these are not the pixels of head 0, level 0.",
        "start from your locations[0, 0] and the level's width and height.",
    )


# The point of head 0, level 0 whose value the student interpolates: it lies half a cell above the
# map's top edge, so two of its four neighbours are padding.
BILINEAR_POINT = 1


@checker
def check_bilinear(value, exercise: HeadExercise) -> Feedback:
    """``value``: what bilinear sampling reads from ``exercise.value_map``
    at head 0, level 0, point ``BILINEAR_POINT``."""
    answer = as_number(value, "sampled_value")
    locations, _ = exercise.layer_sampling()
    location = locations[0, 0, BILINEAR_POINT]
    expected = grid_sample_value(exercise.value_map, location)
    if abs(answer - expected) <= 1e-5 * max(1.0, abs(expected)):
        return correct("your bilinear interpolation equals F.grid_sample's value, zero padding included.")
    if abs(answer - grid_sample_value(exercise.value_map, location, align_corners=True)) <= 1e-5:
        return not_yet("your value is what align_corners=True would read.", "map x to column x * width - 0.5 first.")
    if abs(answer - grid_sample_value(exercise.value_map, location, padding="border")) <= 1e-5:
        return not_yet(
            "your value repeats the edge pixels outside the map (border padding).",
            "the layer uses zero padding: a neighbour outside the map counts as 0.",
        )
    height, width = exercise.value_map.shape
    column, row = location * [width, height] - 0.5
    nearest = exercise.value_map[int(np.clip(round(row), 0, height - 1)), int(np.clip(round(column), 0, width - 1))]
    if abs(answer - nearest) <= 1e-5:
        return not_yet(
            "your value is the nearest pixel's.",
            "blend the four surrounding pixels, each weighted by (1 - horizontal distance) * (1 - vertical distance).",
        )
    return not_yet(
        "your value differs from F.grid_sample's.",
        "the four neighbours are floor/ceil of (column, row); a neighbour outside the map counts as 0.",
    )


def plot_sampling(exercise: HeadExercise, locations: np.ndarray | None) -> plt.Figure:
    """Each level's grid with the reference point and every head's samples at ``locations [H, L, P, 2]``
    (size ~ attention weight); only the reference point while ``locations`` is None."""
    style.apply()
    levels = len(exercise.spatial_shapes)
    fig, axes = plt.subplots(1, levels, figsize=(4.5 * levels, 3.6))
    for level, (ax, (height, width)) in enumerate(zip(np.atleast_1d(axes), exercise.spatial_shapes)):
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_xticks(range(width + 1))
        ax.set_yticks(range(height + 1))
        ax.tick_params(labelsize=7)
        ax.scatter(*(exercise.reference * [width, height]), marker="x", color="black", s=60, label="reference point")
        for head in range(0 if locations is None else exercise.offsets.shape[0]):
            xy = np.asarray(locations)[head, level] * [width, height]
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=600 * exercise.weights[head, level] + 10,
                alpha=0.7,
                color=style.method_color(f"head {head}"),
                label=f"head {head} (size: weight)",
            )
        ax.set_title(f"level {level}: {height} x {width} cells")
        ax.set_aspect("equal")
    np.atleast_1d(axes)[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(
        "Where one query samples: your locations"
        if locations is not None
        else "Fill in `locations` to see where the heads sample"
    )
    return fig
