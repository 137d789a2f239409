"""Multi-scale deformable attention (Deformable DETR) in pure PyTorch, via ``grid_sample``.

Each query attends to a few sampled points per head and feature level instead of to every
token: a linear layer predicts the sampling offsets around the query's reference point(s) and
their softmaxed weights; the values there are read by bilinear interpolation (zero outside the
map, ``align_corners=False``) and summed. No compiled extension is needed.

Two ways of placing the samples:
- one reference per query (``reference_points [B, Lq, 1, 2]``, the encoder: a token's own cell
  centre), with every point offset from it;
- one reference per sampling point (``[B, Lq, n_points, 2]``, the pose decoder: point p of a
  query samples around that query's keypoint p).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SpatialShapes = list[tuple[int, int]]


def multi_scale_deformable_attention(
    value: torch.Tensor,
    spatial_shapes: SpatialShapes,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Weighted sum of bilinearly sampled values.

    Args:
        value: ``[B, S, H, Dh]``, the levels' tokens concatenated row-major, S = sum(h_l * w_l).
        spatial_shapes: ``[(h_l, w_l)]`` for the L levels.
        sampling_locations: ``[B, Lq, H, L, P, 2]`` normalised (x, y), [0, 1] spans the map.
        attention_weights: ``[B, Lq, H, L, P]``.

    Returns:
        ``[B, Lq, H * Dh]``.
    """
    batch, tokens, heads, head_dim = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    if tokens != sum(h * w for h, w in spatial_shapes) or levels != len(spatial_shapes):
        raise ValueError(
            f"value has {tokens} tokens and locations {levels} levels; spatial_shapes {spatial_shapes} disagree"
        )
    value_per_level = value.split([h * w for h, w in spatial_shapes], dim=1)
    # One contiguous copy [L, B*H, Lq, P, 2]: grid_sample takes a much slower path on strided grids.
    grids = (2 * sampling_locations - 1).permute(3, 0, 2, 1, 4, 5).reshape(levels, batch * heads, queries, points, 2)
    weights = attention_weights.permute(3, 0, 2, 1, 4).reshape(levels, batch * heads, 1, queries, points)
    output = None
    for level, (h, w) in enumerate(spatial_shapes):
        level_value = value_per_level[level].flatten(2).transpose(1, 2).reshape(batch * heads, head_dim, h, w)
        sampled = F.grid_sample(level_value, grids[level], mode="bilinear", padding_mode="zeros", align_corners=False)
        # [B*H, Dh, Lq, P], weighted and summed level by level: no [..., L*P] stack to allocate.
        level_output = (sampled * weights[level]).sum(-1)
        output = level_output if output is None else output + level_output
    return output.view(batch, heads * head_dim, queries).transpose(1, 2).contiguous()


class MultiScaleDeformableAttention(nn.Module):
    """``forward(query [B, Lq, d], reference_points [B, Lq, R, 2], value_input [B, S, d], ...) -> [B, Lq, d]``.

    ``R`` is 1 (shared reference) or ``n_points`` (one reference per point). Offsets are in
    feature cells of each level, as in Deformable DETR.
    """

    def __init__(self, *, d_model: int, n_levels: int, n_heads: int, n_points: int, per_point_reference: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.per_point_reference = per_point_reference
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        nn.init.zeros_(self.sampling_offsets.weight)
        if self.per_point_reference:
            # Every point starts on its own reference (the keypoint it belongs to).
            nn.init.zeros_(self.sampling_offsets.bias)
        else:
            # Heads look in evenly spread directions, points at growing distance (Deformable DETR).
            angles = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
            directions = torch.stack([angles.cos(), angles.sin()], -1)
            directions = directions / directions.abs().max(-1, keepdim=True)[0]
            grid = directions.view(self.n_heads, 1, 1, 2).repeat(1, self.n_levels, self.n_points, 1)
            grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
            with torch.no_grad():
                self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def sampling(
        self, query: torch.Tensor, reference_points: torch.Tensor, spatial_shapes: SpatialShapes
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where and how much each query looks.

        Returns:
            locations ``[B, Lq, H, L, P, 2]`` normalised (x, y) and weights ``[B, Lq, H, L, P]``.
        """
        batch, queries, _ = query.shape
        expected = self.n_points if self.per_point_reference else 1
        if reference_points.shape != (batch, queries, expected, 2):
            raise ValueError(
                f"reference_points must be [B, Lq, {expected}, 2] = {[batch, queries, expected, 2]}, "
                f"got {list(reference_points.shape)}"
            )
        offsets = self.sampling_offsets(query).view(batch, queries, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(batch, queries, self.n_heads, self.n_levels * self.n_points)
        weights = weights.softmax(-1).view(batch, queries, self.n_heads, self.n_levels, self.n_points)
        cells = torch.tensor([[w, h] for h, w in spatial_shapes], dtype=offsets.dtype, device=offsets.device)
        locations = reference_points[:, :, None, None, :, :] + offsets / cells[None, None, None, :, None, :]
        return locations, weights

    def forward(
        self,
        query: torch.Tensor,
        reference_points: torch.Tensor,
        value_input: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``padding_mask [B, S]`` is True on padding tokens, whose values are zeroed."""
        batch, tokens, _ = value_input.shape
        value = self.value_proj(value_input)
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(batch, tokens, self.n_heads, self.d_model // self.n_heads)
        locations, weights = self.sampling(query, reference_points, spatial_shapes)
        output = multi_scale_deformable_attention(
            value, spatial_shapes, locations.to(value.dtype), weights.to(value.dtype)
        )
        return self.output_proj(output)
