"""Object keypoint similarity (OKS) in torch, differentiable, as pycocotools defines it.

    OKS = sum_k [v_k > 0] exp(-d_k^2 / (2 * s^2 * kappa_k^2)) / sum_k [v_k > 0],  kappa_k = 2 * sigma_k,

with d_k the pixel distance between predicted and true keypoint k and s^2 the person's area.
"""

from __future__ import annotations

import torch

from .data.skeleton import layout_for_num_keypoints


def keypoint_sigmas(num_keypoints: int) -> torch.Tensor:
    """``[K]`` OKS sigmas of the COCO-17 or CrowdPose-14 layout."""
    return torch.as_tensor(layout_for_num_keypoints(num_keypoints).sigmas, dtype=torch.float32)


def oks(
    pred: torch.Tensor, truth: torch.Tensor, labelled: torch.Tensor, areas: torch.Tensor, sigmas: torch.Tensor
) -> torch.Tensor:
    """OKS of matching rows.

    Args:
        pred, truth: ``[..., K, 2]`` keypoints in pixels (broadcastable against each other).
        labelled: ``[..., K]`` bool, keypoints with a label (v > 0) in ``truth``.
        areas: ``[...]`` person areas in pixels^2.
        sigmas: ``[K]``.

    Returns:
        ``[...]`` OKS in [0, 1]; 0 for a person without labelled keypoints.
    """
    squared = ((pred - truth) ** 2).sum(-1)  # [..., K]
    kappa2 = (2 * sigmas.to(squared)) ** 2
    similarity = torch.exp(-squared / (2 * areas.to(squared).clamp(min=1.0)[..., None] * kappa2))
    weights = labelled.to(squared)
    return (similarity * weights).sum(-1) / weights.sum(-1).clamp(min=1.0)
