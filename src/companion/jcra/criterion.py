"""The set loss: Hungarian matching, then focal, visibility-masked L1, OKS and visibility losses.

Every decoder layer and the encoder's token proposals are matched and supervised on their own
(auxiliary losses; the encoder has no visibility head). Unmatched queries learn "no person"
through the focal loss only, so an image without persons gives a pure background loss. Losses
are normalised by the number of persons in the batch (averaged over DDP ranks, as in DETR), at
least one.

Crowd regions: the dataset drops ``iscrowd`` annotations from the targets, so nothing is
matched to them; COCOeval later ignores detections that fall on them.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .matcher import HungarianMatcher
from .oks import keypoint_sigmas, oks


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Element-wise focal loss (RetinaNet), same shape as ``logits``."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * ce * (1 - p_t) ** gamma


def normalise_targets(targets: list[dict], canvas_size: tuple[int, int], device: torch.device) -> list[dict]:
    """Dataset targets (pixels, v flags) -> canvas fractions and boolean masks.

    Each returned dict: ``keypoints [N, K, 2]`` fractions, ``labelled [N, K]`` (v > 0),
    ``visible [N, K]`` (v = 2), ``areas [N]`` pixels^2.
    """
    height, width = canvas_size
    scale = torch.tensor([width, height], dtype=torch.float32, device=device)
    normalised = []
    for index, target in enumerate(targets):
        keypoints = torch.as_tensor(target["keypoints"], dtype=torch.float32, device=device)
        if keypoints.dim() != 3 or keypoints.shape[-1] != 3:
            raise ValueError(f"target {index}: keypoints must be [N, K, 3], got {list(keypoints.shape)}")
        areas = torch.as_tensor(target["areas"], dtype=torch.float32, device=device)
        if areas.shape != keypoints.shape[:1]:
            raise ValueError(f"target {index}: areas must be [N] = [{keypoints.shape[0]}], got {list(areas.shape)}")
        flags = keypoints[..., 2]
        normalised.append(
            {"keypoints": keypoints[..., :2] / scale, "labelled": flags > 0, "visible": flags == 2, "areas": areas}
        )
    return normalised


def _num_persons(targets: list[dict], device: torch.device) -> float:
    count = torch.tensor(float(sum(t["keypoints"].shape[0] for t in targets)), device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(count)
        count = count / dist.get_world_size()
    return max(count.item(), 1.0)


class SetCriterion(nn.Module):
    """``criterion(outputs, targets) -> {"loss": scalar, "class": ..., "l1": ..., "oks": ..., "visibility": ...}``.

    ``outputs`` is the model's dict; ``targets`` the dataset's (keypoints in input pixels). The
    logged components are the last decoder layer's unweighted losses; ``loss`` is the weighted
    sum over all layers and the encoder proposals.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.weights = config.loss
        self.register_buffer("sigmas", keypoint_sigmas(config.num_keypoints), persistent=False)
        self.matcher = HungarianMatcher(config.loss, self.sigmas)

    def layer_losses(
        self,
        logits: torch.Tensor,
        keypoints: torch.Tensor,
        visibility_logits: torch.Tensor | None,
        targets: list[dict],
        canvas_size: tuple[int, int],
        num_persons: float,
        valid: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Unweighted losses of one prediction set (``logits [B, Q]``, ``keypoints [B, Q, K, 2]``)."""
        loss = self.weights
        matches = self.matcher(logits, keypoints, targets, canvas_size, valid)
        batch_index = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(matches)]).to(logits.device)
        query_index = torch.cat([q for q, _ in matches]).to(logits.device)
        matched = [
            {key: t[key][p.to(t[key].device)] for key in ("keypoints", "labelled", "visible", "areas")}
            for t, (_, p) in zip(targets, matches)
        ]
        truth = {key: torch.cat([m[key] for m in matched]) for key in matched[0]}

        class_targets = torch.zeros_like(logits, dtype=torch.float32)
        class_targets[batch_index, query_index] = 1.0
        focal = sigmoid_focal_loss(logits.float(), class_targets, loss.focal_alpha, loss.focal_gamma)
        if valid is not None:
            focal = focal * valid
        losses = {"class": focal.sum() / num_persons}

        pred = keypoints[batch_index, query_index].float()  # [M, K, 2]
        labelled = truth["labelled"].float()
        per_person_l1 = ((pred - truth["keypoints"]).abs().sum(-1) * labelled).sum(-1) / (2 * labelled.sum(-1)).clamp(
            min=1.0
        )
        losses["l1"] = per_person_l1.sum() / num_persons
        canvas_wh = torch.tensor([canvas_size[1], canvas_size[0]], dtype=torch.float32, device=pred.device)
        similarity = oks(
            pred * canvas_wh, truth["keypoints"] * canvas_wh, truth["labelled"], truth["areas"], self.sigmas
        )
        losses["oks"] = (1 - similarity).sum() / num_persons
        if visibility_logits is not None:
            vis = F.binary_cross_entropy_with_logits(
                visibility_logits[batch_index, query_index].float(), truth["visible"].float(), reduction="none"
            )
            losses["visibility"] = vis.mean(-1).sum() / num_persons
        return losses

    def weighted(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.weights
        total = w.class_weight * losses["class"] + w.keypoint_l1_weight * losses["l1"] + w.oks_weight * losses["oks"]
        if "visibility" in losses:
            total = total + w.visibility_weight * losses["visibility"]
        return total

    def forward(self, outputs: dict, targets: list[dict]) -> dict[str, torch.Tensor]:
        canvas_size = outputs["canvas_size"]
        device = outputs["logits"].device
        normalised = normalise_targets(targets, canvas_size, device)
        num_persons = _num_persons(normalised, device)
        final = self.layer_losses(
            outputs["logits"], outputs["keypoints"], outputs["visibility_logits"], normalised, canvas_size, num_persons
        )
        total = self.weighted(final)
        for layer in outputs["aux"]:
            total = total + self.weighted(
                self.layer_losses(
                    layer["logits"],
                    layer["keypoints"],
                    layer["visibility_logits"],
                    normalised,
                    canvas_size,
                    num_persons,
                )
            )
        if self.weights.encoder_loss:
            proposals = outputs["encoder"]
            total = total + self.weighted(
                self.layer_losses(
                    proposals["logits"],
                    proposals["keypoints"],
                    None,
                    normalised,
                    canvas_size,
                    num_persons,
                    valid=proposals["valid"],
                )
            )
        return {"loss": total, **{name: value.detach() for name, value in final.items()}}
