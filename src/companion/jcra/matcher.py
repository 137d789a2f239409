"""Hungarian matching of predicted poses to true persons (one image at a time).

Cost of giving query q to person n (DETR / PETR style; weights in ``LossConfig``):
    match_class * focal_cost(score_q) + match_l1 * mean |keypoints_q - keypoints_n|
    + match_oks * (1 - OKS(q, n)),
L1 and OKS over the person's labelled keypoints only. The cost is built under ``no_grad``;
``scipy.optimize.linear_sum_assignment`` solves it.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from .config import LossConfig
from .oks import oks

UNMATCHABLE = 1e6  # cost for padding tokens, so no person is assigned to one


class HungarianMatcher:
    """``matcher(logits [B, Q], keypoints [B, Q, K, 2], targets, canvas_size, valid [B, Q] | None)``.

    ``targets`` are the criterion's normalised targets: per image ``keypoints [N, K, 2]`` (canvas
    fractions), ``labelled [N, K]`` bool and ``areas [N]`` (pixels^2). Returns per image a pair
    ``(query_index [M], person_index [M])`` of int64 tensors, M = min(Q, N).
    """

    def __init__(self, loss: LossConfig, sigmas: torch.Tensor):
        self.loss = loss
        self.sigmas = sigmas

    def cost_matrix(
        self, logits: torch.Tensor, keypoints: torch.Tensor, target: dict, canvas_wh: torch.Tensor
    ) -> torch.Tensor:
        """``[Q, N]`` cost for one image (``logits [Q]``, ``keypoints [Q, K, 2]``)."""
        loss = self.loss
        prob = logits.float().sigmoid()
        positive = loss.focal_alpha * (1 - prob) ** loss.focal_gamma * -(prob + 1e-8).log()
        negative = (1 - loss.focal_alpha) * prob**loss.focal_gamma * -(1 - prob + 1e-8).log()
        class_cost = (positive - negative)[:, None]  # [Q, 1]
        pred, truth = keypoints.float()[:, None], target["keypoints"][None]  # [Q, 1, K, 2], [1, N, K, 2]
        labelled = target["labelled"][None].float()  # [1, N, K]
        l1 = ((pred - truth).abs().sum(-1) * labelled).sum(-1) / (2 * labelled.sum(-1)).clamp(min=1.0)
        similarity = oks(
            pred * canvas_wh, truth * canvas_wh, target["labelled"][None], target["areas"][None], self.sigmas
        )
        return loss.match_class * class_cost + loss.match_l1 * l1 + loss.match_oks * (1 - similarity)

    @torch.no_grad()
    def __call__(
        self,
        logits: torch.Tensor,
        keypoints: torch.Tensor,
        targets: list[dict],
        canvas_size: tuple[int, int],
        valid: torch.Tensor | None = None,
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if len(targets) != logits.shape[0]:
            raise ValueError(f"got {len(targets)} targets for a batch of {logits.shape[0]} images")
        canvas_wh = torch.tensor([canvas_size[1], canvas_size[0]], dtype=torch.float32, device=logits.device)
        matches = []
        for b, target in enumerate(targets):
            if target["keypoints"].shape[0] == 0:
                empty = torch.zeros(0, dtype=torch.int64)
                matches.append((empty, empty))
                continue
            cost = self.cost_matrix(logits[b], keypoints[b], target, canvas_wh)
            if valid is not None:
                cost = cost.masked_fill(~valid[b][:, None], UNMATCHABLE)
            rows, cols = linear_sum_assignment(cost.cpu().numpy())
            matches.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return matches
