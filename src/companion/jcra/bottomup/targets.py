"""Training targets of the associative-embedding model, built from the dataset's keypoints.

Coordinates are continuous pixels (pixel i spans [i, i + 1), the data package's convention).
A heatmap of stride ``r`` has cell u covering pixels [u r, (u + 1) r), centre (u + 0.5) r, so a
joint at pixel x sits at cell coordinate ``x / r - 0.5``; post-processing maps back with
``x = (cell + 0.5) r``. Targets follow HigherHRNet's generators: an unnormalised Gaussian of
``sigma`` cells per labelled joint (v > 0), truncated at ``3 sigma + 1`` cells, maximum over
persons; for the tag loss, the cell each labelled joint falls in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BottomUpTargets:
    """Targets of one batch.

    Attributes:
        heatmaps: float32[B, K, h, w] Gaussian joint heatmaps at the output stride.
        mask: float32[B, h, w] 1 where the loss counts (0 on padding).
        joint_cells: int64[B, P, K] flat cell index ``row * w + col`` of each joint.
        joint_valid: bool[B, P, K] True for labelled joints inside the canvas; P is the largest
            person count in the batch, absent persons are all False.
    """

    heatmaps: torch.Tensor
    mask: torch.Tensor
    joint_cells: torch.Tensor
    joint_valid: torch.Tensor


def output_size(canvas_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """Heatmap (h, w) of a canvas (H, W) at ``stride``: ceil division, like the backbone's maps."""
    return -(-canvas_size[0] // stride), -(-canvas_size[1] // stride)


def render_heatmaps(keypoints: torch.Tensor, size: tuple[int, int], stride: int, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps float32[K, h, w] of one image's keypoints float[N, K, 3] (pixels, v).

    Each labelled joint contributes ``exp(-d^2 / (2 sigma^2))`` (d in cells) within a square of
    radius ``3 sigma + 1`` cells around it; overlapping persons take the maximum.
    """
    if keypoints.dim() != 3 or keypoints.shape[2] != 3:
        raise ValueError(f"keypoints must have shape [N, K, 3], got {tuple(keypoints.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0 cells, got {sigma}")
    height, width = size
    num_joints = keypoints.shape[1]
    if keypoints.shape[0] == 0:
        return torch.zeros(num_joints, height, width)
    centre = keypoints[..., :2].float() / stride - 0.5  # [N, K, 2] in cells
    labelled = keypoints[..., 2] > 0
    cols = torch.arange(width, dtype=torch.float32)
    rows = torch.arange(height, dtype=torch.float32)
    dx = cols[None, None, :] - centre[..., 0:1]  # [N, K, w]
    dy = rows[None, None, :] - centre[..., 1:2]  # [N, K, h]
    radius = 3 * sigma + 1
    gx = torch.exp(-(dx**2) / (2 * sigma**2)) * (dx.abs() <= radius)
    gy = torch.exp(-(dy**2) / (2 * sigma**2)) * (dy.abs() <= radius)
    per_person = gy[..., :, None] * gx[..., None, :] * labelled[..., None, None]  # [N, K, h, w]
    return per_person.amax(dim=0)


def build_targets(targets: list[dict], pad_mask: torch.Tensor, stride: int, sigma: float) -> BottomUpTargets:
    """Targets for a collated batch: ``targets`` from ``data.collate``, ``pad_mask`` bool[B, H, W]."""
    if pad_mask.dim() != 3 or len(targets) != pad_mask.shape[0]:
        raise ValueError(
            f"pad_mask must be [B, H, W] with B = len(targets) = {len(targets)}, got {tuple(pad_mask.shape)}"
        )
    height, width = output_size(tuple(pad_mask.shape[1:]), stride)
    num_joints = targets[0]["keypoints"].shape[1]
    max_persons = max(1, max(t["keypoints"].shape[0] for t in targets))
    heatmaps = torch.zeros(len(targets), num_joints, height, width)
    joint_cells = torch.zeros(len(targets), max_persons, num_joints, dtype=torch.long)
    joint_valid = torch.zeros(len(targets), max_persons, num_joints, dtype=torch.bool)
    for b, target in enumerate(targets):
        keypoints = target["keypoints"].float()
        if keypoints.shape[0] == 0:
            continue
        heatmaps[b] = render_heatmaps(keypoints, (height, width), stride, sigma)
        col = torch.div(keypoints[..., 0], stride, rounding_mode="floor").long()
        row = torch.div(keypoints[..., 1], stride, rounding_mode="floor").long()
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        count = keypoints.shape[0]
        joint_valid[b, :count] = (keypoints[..., 2] > 0) & inside
        joint_cells[b, :count] = torch.where(joint_valid[b, :count], row * width + col, 0)
    # A cell counts when any of its pixels is real image (max-pooling the "not padding" map).
    valid = (~pad_mask).float()[:, None]
    mask = torch.nn.functional.max_pool2d(valid, kernel_size=stride, stride=stride, ceil_mode=True)[:, 0]
    return BottomUpTargets(
        heatmaps=heatmaps, mask=mask[:, :height, :width], joint_cells=joint_cells, joint_valid=joint_valid
    )
