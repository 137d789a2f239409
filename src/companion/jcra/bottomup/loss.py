"""The associative-embedding losses: heatmap regression and the pull/push tag loss.

Heatmap loss (HigherHRNet's ``HeatmapLoss``): squared error to the Gaussian targets, masked,
averaged over joints and cells, per image. Tag loss (Newell et al. 2017, "exp" form as in
HigherHRNet's ``AELoss``), per image with N persons, t_pk the tag at person p's joint k:

    pull = 1/N sum_p mean_k (t_pk - tbar_p)^2               (tags of one person agree)
    push = 1/(2 N (N-1)) sum_{p != q} exp(-(tbar_p - tbar_q)^2)  (persons' mean tags differ)

Both are 0 when there is no person (and push when there is one). Everything is vectorised over
the batch with the padded ``joint_valid`` mask, so the loss has no Python loop over persons.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .targets import BottomUpTargets


@dataclass(frozen=True)
class LossWeights:
    """Loss factors: heatmaps 1, push 0.01, pull 0.001.

    HigherHRNet (``w32_512``) uses push = pull = 0.001 for 300 COCO epochs. Within this
    companion's budget those weights let the tags collapse to one value per image (push stays at
    its maximum, pull near 0), so grouping merges persons. Measured on the synthetic data (small
    config, 1500 steps of the default recipe, val AP): push/pull 0.001/0.001 without the
    coordinate channels -> 0.09; with them, 0.01/0.001 -> 0.30, 0.1/0.01 -> 0.10, 1/0.1 -> 0.01
    (the tag loss crowds out the heatmaps).
    """

    heatmap: float = 1.0
    push: float = 0.01
    pull: float = 0.001


def heatmap_loss(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image masked squared error: predicted, target [B, K, h, w], mask [B, h, w] -> [B]."""
    if predicted.shape != target.shape:
        raise ValueError(f"predicted heatmaps {tuple(predicted.shape)} and targets {tuple(target.shape)} differ")
    return ((predicted - target) ** 2 * mask[:, None]).mean(dim=(1, 2, 3))


def tag_loss(
    tags: torch.Tensor, joint_cells: torch.Tensor, joint_valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Push and pull per image.

    Args:
        tags: [B, K, h, w] one tag value per joint type and cell.
        joint_cells: int64[B, P, K] flat cell index of each person's joint.
        joint_valid: bool[B, P, K] which of those joints exist.

    Returns:
        (push [B], pull [B]).
    """
    batch, num_joints = tags.shape[:2]
    flat = tags.reshape(batch, num_joints, -1)  # [B, K, h*w]
    picked = torch.gather(flat, 2, joint_cells.transpose(1, 2)).transpose(1, 2)  # [B, P, K]
    weight = joint_valid.to(tags.dtype)
    joints_per_person = weight.sum(dim=2)  # [B, P]
    present = joints_per_person > 0
    mean_tag = (picked * weight).sum(dim=2) / joints_per_person.clamp(min=1)  # [B, P]
    spread = ((picked - mean_tag[..., None]) ** 2 * weight).sum(dim=2) / joints_per_person.clamp(min=1)
    persons = present.sum(dim=1).to(tags.dtype)  # [B]
    pull = spread.sum(dim=1) / persons.clamp(min=1)
    pair = present[:, :, None] & present[:, None, :]
    pair = pair & ~torch.eye(pair.shape[1], dtype=torch.bool, device=tags.device)
    closeness = torch.exp(-((mean_tag[:, :, None] - mean_tag[:, None, :]) ** 2)) * pair
    push = closeness.sum(dim=(1, 2)) / (persons * (persons - 1)).clamp(min=1) * 0.5
    return push, pull


def associative_embedding_loss(
    outputs: dict,
    targets: BottomUpTargets,
    higher_targets: BottomUpTargets | None,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Batch-mean losses of the model's ``outputs`` (see ``model.AssociativeEmbedding``).

    The stride-4 heatmaps and tags are supervised by ``targets``; the higher-resolution heatmaps,
    when the model has them, by ``higher_targets`` (same persons at the finer stride).
    Returns ``heatmap``, ``push``, ``pull`` and their weighted sum ``total`` (scalars).
    """
    heatmap = heatmap_loss(outputs["heatmaps"], targets.heatmaps, targets.mask)
    if "heatmaps_higher" in outputs:
        if higher_targets is None:
            raise ValueError("the model outputs higher-resolution heatmaps: higher_targets is required")
        heatmap = heatmap + heatmap_loss(outputs["heatmaps_higher"], higher_targets.heatmaps, higher_targets.mask)
    push, pull = tag_loss(outputs["tags"], targets.joint_cells, targets.joint_valid)
    losses = {"heatmap": heatmap.mean(), "push": push.mean(), "pull": pull.mean()}
    losses["total"] = (
        weights.heatmap * losses["heatmap"] + weights.push * losses["push"] + weights.pull * losses["pull"]
    )
    return losses
