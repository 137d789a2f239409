"""The deformable encoder and the pose decoder that regresses and refines keypoints layer by layer.

Encoder layer: deformable self-attention over the multi-scale tokens (each token samples around
its own cell centre at every level), then a feed-forward block.

Decoder layer: self-attention among the pose queries (so two queries can agree on who takes
which person), deformable cross-attention that samples the image features around each of the
query's K current keypoints (point p of each head and level belongs to keypoint p), then a
feed-forward block. After every layer, per-layer heads predict a person score and a coarse
update of the whole pose; then a keypoint refiner, one token per (query, keypoint) sampling
around its own keypoint, adds a fine update per keypoint and predicts its visibility. Updates
are applied in inverse-sigmoid space, and the refined pose (detached, as in Deformable DETR's
iterative refinement) is the next layer's reference.
"""

from __future__ import annotations

import torch
from torch import nn

from .deformable_attention import MultiScaleDeformableAttention, SpatialShapes
from .position import sine_embedding


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """logit(x), clamped so that 0 and 1 stay finite."""
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


class MLP(nn.Module):
    """``[..., in_dim] -> [..., out_dim]`` through ``layers`` linear layers with ReLU between."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, layers: int):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class FeedForward(nn.Module):
    """Post-norm residual feed-forward block, ``[..., d] -> [..., d]``."""

    def __init__(self, *, d_model: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, ffn_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model),
            nn.Dropout(dropout),
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.net(x))


class EncoderLayer(nn.Module):
    """``forward(src [B, S, d], pos [B|1, S, d], reference [B|1, S, 1, 2], shapes, mask [B, S]) -> [B, S, d]``."""

    def __init__(self, *, d_model: int, n_levels: int, n_heads: int, n_points: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.attention = MultiScaleDeformableAttention(
            d_model=d_model, n_levels=n_levels, n_heads=n_heads, n_points=n_points
        )
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model=d_model, ffn_dim=ffn_dim, dropout=dropout)

    def forward(
        self,
        src: torch.Tensor,
        pos: torch.Tensor,
        reference: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        batch = src.shape[0]
        attended = self.attention(src + pos, reference.expand(batch, -1, -1, -1), src, spatial_shapes, padding_mask)
        return self.ffn(self.norm(src + self.dropout(attended)))


class DeformableEncoder(nn.Module):
    """A stack of :class:`EncoderLayer`; ``[B, S, d] -> [B, S, d]`` (the memory)."""

    def __init__(
        self, *, num_layers: int, d_model: int, n_levels: int, n_heads: int, n_points: int, ffn_dim: int, dropout: float
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model=d_model, n_levels=n_levels, n_heads=n_heads, n_points=n_points, ffn_dim=ffn_dim, dropout=dropout
            )
            for _ in range(num_layers)
        )

    def forward(
        self,
        src: torch.Tensor,
        pos: torch.Tensor,
        reference: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, pos, reference, spatial_shapes, padding_mask)
        return src


class DecoderLayer(nn.Module):
    """``forward(tgt [B, Q, d], query_pos [B, Q, d], keypoints [B, Q, K, 2], memory [B, S, d], ...) -> [B, Q, d]``."""

    def __init__(self, *, d_model: int, n_levels: int, n_heads: int, num_keypoints: int, ffn_dim: int, dropout: float):
        super().__init__()
        self.self_attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.cross_attention = MultiScaleDeformableAttention(
            d_model=d_model, n_levels=n_levels, n_heads=n_heads, n_points=num_keypoints, per_point_reference=True
        )
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.ffn = FeedForward(d_model=d_model, ffn_dim=ffn_dim, dropout=dropout)

    def forward(
        self,
        tgt: torch.Tensor,
        query_pos: torch.Tensor,
        keypoints: torch.Tensor,
        memory: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout(self.self_attention(q, q, tgt, need_weights=False)[0]))
        attended = self.cross_attention(tgt + query_pos, keypoints, memory, spatial_shapes, padding_mask)
        return self.ffn(self.norm2(tgt + self.dropout(attended)))


class PoseHeads(nn.Module):
    """One decoder layer's pose-level outputs from its query features ``[B, Q, d]``.

    Returns logits ``[B, Q]`` (person score) and a coarse update of the whole pose, deltas
    ``[B, Q, K, 2]`` in inverse-sigmoid space.
    """

    def __init__(self, *, d_model: int, num_keypoints: int):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.score = nn.Linear(d_model, 1)
        self.keypoints = MLP(d_model, d_model, 2 * num_keypoints, 3)
        nn.init.constant_(self.score.bias, -4.6)  # prior person probability ~0.01 (focal loss practice)
        nn.init.zeros_(self.keypoints.layers[-1].weight)  # start by trusting the reference pose
        nn.init.zeros_(self.keypoints.layers[-1].bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, queries, _ = features.shape
        deltas = self.keypoints(features).view(batch, queries, self.num_keypoints, 2)
        return self.score(features).squeeze(-1), deltas


class KeypointRefiner(nn.Module):
    """Fine, per-keypoint update (PETR's joint decoder, simplified).

    The pose query's feature alone mixes the samples of all K keypoints into one vector, too
    little to place each joint precisely. Here every (query, keypoint) pair becomes a token (the
    query feature plus a learned embedding of the keypoint type, positioned at the keypoint),
    samples the feature maps around its own keypoint with deformable attention, and predicts
    that keypoint's offset and visibility.

    ``forward(features [B, Q, d], keypoints [B, Q, K, 2], memory [B, S, d], shapes, mask)`` returns
    deltas ``[B, Q, K, 2]`` (inverse-sigmoid space) and visibility logits ``[B, Q, K]``.
    """

    def __init__(self, *, d_model: int, n_levels: int, n_heads: int, n_points: int, num_keypoints: int, dropout: float):
        super().__init__()
        self.keypoint_embedding = nn.Embedding(num_keypoints, d_model)
        self.attention = MultiScaleDeformableAttention(
            d_model=d_model, n_levels=n_levels, n_heads=n_heads, n_points=n_points
        )
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)
        self.offset = MLP(d_model, d_model, 2, 2)  # no feed-forward block: Q x K tokens make it costly
        self.visibility = nn.Linear(d_model, 1)
        nn.init.zeros_(self.offset.layers[-1].weight)
        nn.init.zeros_(self.offset.layers[-1].bias)

    def forward(
        self,
        features: torch.Tensor,
        keypoints: torch.Tensor,
        memory: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, queries, num_keypoints, _ = keypoints.shape
        d_model = features.shape[-1]
        tokens = (features[:, :, None, :] + self.keypoint_embedding.weight[None, None]).flatten(1, 2)  # [B, Q*K, d]
        points = keypoints.flatten(1, 2)
        position = sine_embedding(points, d_model // 2).to(tokens.dtype)
        attended = self.attention(tokens + position, points[:, :, None, :], memory, spatial_shapes, padding_mask)
        tokens = self.norm(tokens + self.dropout(attended))
        deltas = self.offset(tokens).view(batch, queries, num_keypoints, 2)
        return deltas, self.visibility(tokens).view(batch, queries, num_keypoints)


class PoseDecoder(nn.Module):
    """Refines the queries' poses layer by layer.

    Each layer: the pose-query layer, then a coarse update of the whole pose from the query
    feature, then the per-keypoint fine update sampled at the coarse keypoints.

    ``forward(content [B, Q, d], keypoints [B, Q, K, 2], memory [B, S, d], shapes, mask,
    refine_memory [B, S', d], refine_shapes, refine_mask)`` returns one dict per layer with
    ``logits [B, Q]``, ``keypoints [B, Q, K, 2]`` (normalised (x, y)) and ``visibility_logits
    [B, Q, K]``. The refiners sample ``refine_memory`` (the memory, plus a finer level if any).
    """

    def __init__(
        self,
        *,
        num_layers: int,
        d_model: int,
        n_levels: int,
        n_heads: int,
        n_points: int,
        num_keypoints: int,
        ffn_dim: int,
        dropout: float,
        refiner_levels: int,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(
                d_model=d_model,
                n_levels=n_levels,
                n_heads=n_heads,
                num_keypoints=num_keypoints,
                ffn_dim=ffn_dim,
                dropout=dropout,
            )
            for _ in range(num_layers)
        )
        self.heads = nn.ModuleList(PoseHeads(d_model=d_model, num_keypoints=num_keypoints) for _ in range(num_layers))
        self.refiners = nn.ModuleList(
            KeypointRefiner(
                d_model=d_model,
                n_levels=refiner_levels,
                n_heads=n_heads,
                n_points=n_points,
                num_keypoints=num_keypoints,
                dropout=dropout,
            )
            for _ in range(num_layers)
        )
        self.pose_embedding = MLP(2 * num_keypoints, d_model, d_model, 2)  # the pose is the query's position

    def forward(
        self,
        content: torch.Tensor,
        keypoints: torch.Tensor,
        memory: torch.Tensor,
        spatial_shapes: SpatialShapes,
        padding_mask: torch.Tensor | None,
        refine_memory: torch.Tensor,
        refine_shapes: SpatialShapes,
        refine_padding: torch.Tensor | None,
        keep: int | None = None,
    ) -> list[dict[str, torch.Tensor]]:
        outputs = []
        tgt, reference = content, keypoints
        last = len(self.layers) - 1
        for index, (layer, heads, refiner) in enumerate(zip(self.layers, self.heads, self.refiners)):
            query_pos = self.pose_embedding(reference.flatten(2))
            tgt = layer(tgt, query_pos, reference, memory, spatial_shapes, padding_mask)
            logits, coarse_deltas = heads(tgt)
            unsquashed = inverse_sigmoid(reference) + coarse_deltas
            kept = None
            if index == last and keep is not None and keep < logits.shape[1]:
                # Only the best `keep` queries are read: refine those alone (scores precede refinement).
                kept = logits.topk(keep, dim=1).indices  # [B, keep], best first
                logits, tgt = logits.gather(1, kept), tgt.gather(1, kept[..., None].expand(-1, -1, tgt.shape[-1]))
                unsquashed = unsquashed.gather(1, kept[..., None, None].expand(-1, -1, *unsquashed.shape[2:]))
            fine_deltas, visibility = refiner(
                tgt, torch.sigmoid(unsquashed).detach(), refine_memory, refine_shapes, refine_padding
            )
            refined = torch.sigmoid(unsquashed + fine_deltas)
            outputs.append({"logits": logits, "keypoints": refined, "visibility_logits": visibility})
            if kept is not None:
                outputs[-1]["queries"] = kept
            reference = refined.detach()
        return outputs
