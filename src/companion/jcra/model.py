"""JCRA as reconstructed here: one network from pixels to every person's keypoints.

    images [B, 3, H, W]
      -> ResNet backbone: feature maps at strides 8, 16, 32 (+ extra stride-2 levels; and the
         stride-4 map for the keypoint refiners when ``fine_level``)
      -> 1x1 projection to d_model + GroupNorm, sine positional encoding + level embedding
      -> deformable encoder over all levels' tokens: memory [B, S, d]
      -> query selection: every token proposes a person score and a pose around its own cell;
         the Q best-scoring proposals become the pose queries' starting keypoints, the queries'
         content vectors are learned (DINO's "mixed" selection; PETR also selects from the encoder)
      -> pose decoder: each layer updates every query's whole pose, then each keypoint on its own
      -> per query: person score, K (x, y), K visibility scores.

Keypoints are normalised (x, y) fractions of the padded input canvas ``(W, H)``. There is no
heatmap, no NMS and no grouping step anywhere: each query is one person.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import ResNetBackbone
from .config import ModelConfig
from .position import cell_centres, feature_map_encoding
from .transformer import MLP, DeformableEncoder, PoseDecoder, inverse_sigmoid


def _token_padding(pad_mask: torch.Tensor | None, feature: torch.Tensor) -> torch.Tensor:
    """``[B, h * w]`` True where a cell of ``feature [B, C, h, w]`` lies on padding."""
    batch, _, h, w = feature.shape
    if pad_mask is None:
        return torch.zeros(batch, h * w, dtype=torch.bool, device=feature.device)
    return F.interpolate(pad_mask[:, None].float(), size=(h, w))[:, 0].bool().flatten(1)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, max(channels // 4, 1)), channels)


class JCRA(nn.Module):
    """``forward(images [B, 3, H, W], pad_mask [B, H, W] | None) -> dict``.

    Output dict:
        logits: ``[B, Q]`` person score logits of the last decoder layer.
        keypoints: ``[B, Q, K, 2]`` normalised (x, y) of the last layer.
        visibility_logits: ``[B, Q, K]``.
        aux: list of the same three entries for each earlier decoder layer.
        encoder: the token proposals, ``logits [B, S]``, ``keypoints [B, S, K, 2]``, ``valid [B, S]``.
        canvas_size: ``(H, W)`` of the padded input, to turn fractions into pixels.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        fine = (0,) if config.fine_level else ()
        self.backbone = ResNetBackbone(
            dataclasses.replace(config.backbone, return_stages=fine + config.backbone.return_stages)
        )
        channels = self.backbone.out_channels[len(fine) :]
        self.fine_projection = (
            nn.Sequential(nn.Conv2d(self.backbone.out_channels[0], d, 1), _group_norm(d)) if config.fine_level else None
        )
        projections = [nn.Sequential(nn.Conv2d(c, d, 1), _group_norm(d)) for c in channels]
        in_channels = channels[-1]
        for _ in range(config.extra_levels):
            projections.append(nn.Sequential(nn.Conv2d(in_channels, d, 3, stride=2, padding=1), _group_norm(d)))
            in_channels = d
        self.input_projections = nn.ModuleList(projections)
        self.level_embedding = nn.Parameter(torch.empty(config.n_levels, d).normal_())
        self.encoder = DeformableEncoder(
            config.encoder_layers, d, config.n_levels, config.n_heads, config.n_points, config.ffn_dim, config.dropout
        )
        self.proposal_projection = nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d))
        self.proposal_score = nn.Linear(d, 1)
        self.proposal_keypoints = MLP(d, d, 2 * config.num_keypoints, 3)
        nn.init.constant_(self.proposal_score.bias, -4.6)
        nn.init.zeros_(self.proposal_keypoints.layers[-1].weight)
        nn.init.zeros_(self.proposal_keypoints.layers[-1].bias)
        self.query_content = nn.Embedding(config.num_queries, d)
        self.decoder = PoseDecoder(
            config.decoder_layers,
            d,
            config.n_levels,
            config.n_heads,
            config.n_points,
            config.num_keypoints,
            config.ffn_dim,
            config.dropout,
            refiner_levels=config.n_levels + int(config.fine_level),
        )

    def multi_scale_features(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """``[B, 3, H, W] ->`` the ``n_levels`` maps ``[[B, d, h_l, w_l]]`` and the stride-4 map
        ``[B, d, H/4, W/4]`` when ``fine_level`` (else None)."""
        features = self.backbone(images)
        fine = self.fine_projection(features.pop(0)) if self.fine_projection is not None else None
        projected = [proj(f) for proj, f in zip(self.input_projections, features)]
        last = features[-1]
        for proj in self.input_projections[len(features) :]:
            last = proj(last)
            projected.append(last)
        return projected, fine

    def encode(self, images: torch.Tensor, pad_mask: torch.Tensor | None = None) -> dict:
        """Backbone and encoder.

        Returns ``memory [B, S, d]``, ``padding [B, S]`` (True on padding), ``centres [S, 2]``
        (each token's cell centre), ``spatial_shapes [(h_l, w_l)]``, and what the keypoint
        refiners sample: ``refine_memory [B, S', d]`` (the stride-4 tokens, when ``fine_level``,
        then the memory), ``refine_padding [B, S']``, ``refine_shapes``.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W], got {list(images.shape)}")
        levels, fine = self.multi_scale_features(images)
        tokens, positions, paddings, centres, shapes = [], [], [], [], []
        for level, feature in enumerate(levels):
            h, w = feature.shape[-2:]
            shapes.append((h, w))
            tokens.append(feature.flatten(2).transpose(1, 2))
            positions.append(
                feature_map_encoding(h, w, self.config.d_model, feature.device) + self.level_embedding[level]
            )
            centres.append(cell_centres(h, w, feature.device))
            paddings.append(_token_padding(pad_mask, feature))
        src, padding = torch.cat(tokens, 1), torch.cat(paddings, 1)
        centre = torch.cat(centres, 0)
        pos = torch.cat(positions, 0)[None].to(src.dtype)
        memory = self.encoder(src, pos, centre[None, :, None, :], shapes, padding)
        encoded = {
            "memory": memory,
            "padding": padding,
            "centres": centre,
            "spatial_shapes": shapes,
            "refine_memory": memory,
            "refine_padding": padding,
            "refine_shapes": shapes,
        }
        if fine is not None:
            encoded["refine_memory"] = torch.cat([fine.flatten(2).transpose(1, 2).to(memory.dtype), memory], 1)
            encoded["refine_padding"] = torch.cat([_token_padding(pad_mask, fine), padding], 1)
            encoded["refine_shapes"] = [tuple(fine.shape[-2:])] + shapes
        return encoded

    def propose(self, memory: torch.Tensor, padding: torch.Tensor, centres: torch.Tensor) -> dict:
        """Every token's person score ``logits [B, S]`` and pose ``keypoints [B, S, K, 2]`` around its cell."""
        batch, tokens, _ = memory.shape
        features = self.proposal_projection(memory.masked_fill(padding[..., None], 0.0))
        deltas = self.proposal_keypoints(features).view(batch, tokens, self.config.num_keypoints, 2)
        keypoints = torch.sigmoid(inverse_sigmoid(centres)[None, :, None, :] + deltas)
        return {"logits": self.proposal_score(features).squeeze(-1), "keypoints": keypoints, "valid": ~padding}

    def forward(self, images: torch.Tensor, pad_mask: torch.Tensor | None = None) -> dict:
        encoded = self.encode(images, pad_mask)
        memory, padding = encoded["memory"], encoded["padding"]
        proposals = self.propose(memory, padding, encoded["centres"])
        num_queries = self.config.num_queries
        if memory.shape[1] < num_queries:
            raise ValueError(
                f"image {list(images.shape[-2:])} gives {memory.shape[1]} tokens, fewer than the "
                f"{num_queries} queries; use larger images or fewer queries"
            )
        selection_scores = proposals["logits"].detach().masked_fill(padding, float("-inf"))
        chosen = selection_scores.topk(num_queries, dim=1).indices  # [B, Q]
        start = (
            proposals["keypoints"]
            .detach()
            .gather(1, chosen[:, :, None, None].expand(-1, -1, *proposals["keypoints"].shape[2:]))
        )
        content = self.query_content.weight[None].expand(images.shape[0], -1, -1)
        layers = self.decoder(
            content,
            start,
            memory,
            encoded["spatial_shapes"],
            padding,
            encoded["refine_memory"],
            encoded["refine_shapes"],
            encoded["refine_padding"],
        )
        return {**layers[-1], "aux": layers[:-1], "encoder": proposals, "canvas_size": tuple(images.shape[-2:])}
