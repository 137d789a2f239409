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

Keypoints are normalised (x, y) fractions of the padded input canvas ``(W, H)``. The model pads
every input (and its pad mask) to a multiple of its largest stride, so that every feature level
covers exactly that canvas: a fraction names the same pixel at every level. There is no heatmap,
no NMS and no grouping step anywhere: each query is one person.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import ResNetBackbone
from .config import ModelConfig
from .position import multi_scale_encodings
from .transformer import MLP, DeformableEncoder, PoseDecoder, inverse_sigmoid


def _token_padding(pad_mask: torch.Tensor | None, feature: torch.Tensor) -> torch.Tensor:
    """``[B, h * w]`` True where a cell of ``feature [B, C, h, w]`` lies on padding."""
    batch, _, h, w = feature.shape
    if pad_mask is None:
        return torch.zeros(batch, h * w, dtype=torch.bool, device=feature.device)
    return F.interpolate(pad_mask[:, None].float(), size=(h, w))[:, 0].bool().flatten(1)


def pad_to_multiple(
    images: torch.Tensor, pad_mask: torch.Tensor | None, multiple: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``images [B, 3, H, W]`` zero-padded at the bottom and right to sides that are multiples of
    ``multiple``, and the pad mask ``[B, H', W']`` grown with True there (None when nothing is padded).

    A map at stride s then has exactly H' / s cells; with ceil(H / s) cells instead, each level
    would span a different pixel extent and a canvas fraction would name a different pixel per level.
    """
    height, width = images.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return images, pad_mask
    if pad_mask is None:
        pad_mask = torch.zeros(images.shape[0], height, width, dtype=torch.bool, device=images.device)
    return F.pad(images, (0, pad_w, 0, pad_h)), F.pad(pad_mask, (0, pad_w, 0, pad_h), value=True)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, max(channels // 4, 1)), channels)


class JCRA(nn.Module):
    """``forward(images [B, 3, H, W], pad_mask [B, H, W] | None) -> dict``.

    Output dict:
        logits: ``[B, Q]`` person score logits of the last decoder layer.
        keypoints: ``[B, Q, K, 2]`` normalised (x, y) of the last layer.
        visibility_logits: ``[B, Q, K]``.
        aux: list of the same three entries for each earlier decoder layer.
        encoder: the token proposals, ``logits [B, S]``, ``valid [B, S]``, ``chosen [B, Q]`` (the
            tokens that start the queries) and ``keypoints``: ``[B, S, K, 2]`` in training (the
            encoder loss matches them all), only the chosen tokens' ``[B, Q, K, 2]`` in eval mode.
        canvas_size: ``(H, W)`` of the input padded to a multiple of the largest stride, to turn
            fractions into pixels.

    ``forward(..., keep=n)`` (eval mode only) refines, in the last decoder layer, only the n
    best-scoring queries, the only ones a caller keeping n detections reads: the last layer's
    entries are then ``[B, n, ...]``, best first, with ``queries [B, n]`` their indices.
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
            num_layers=config.encoder_layers,
            d_model=d,
            n_levels=config.n_levels,
            n_heads=config.n_heads,
            n_points=config.n_points,
            ffn_dim=config.ffn_dim,
            dropout=config.dropout,
        )
        self.proposal_projection = nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d))
        self.proposal_score = nn.Linear(d, 1)
        self.proposal_keypoints = MLP(d, d, 2 * config.num_keypoints, 3)
        nn.init.constant_(self.proposal_score.bias, -4.6)
        nn.init.zeros_(self.proposal_keypoints.layers[-1].weight)
        nn.init.zeros_(self.proposal_keypoints.layers[-1].bias)
        self.query_content = nn.Embedding(config.num_queries, d)
        self.size_divisor = max(config.strides)
        self.decoder = PoseDecoder(
            num_layers=config.decoder_layers,
            d_model=d,
            n_levels=config.n_levels,
            n_heads=config.n_heads,
            n_points=config.n_points,
            num_keypoints=config.num_keypoints,
            ffn_dim=config.ffn_dim,
            dropout=config.dropout,
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
        images, pad_mask = pad_to_multiple(images, pad_mask, self.size_divisor)
        if pad_mask is not None and not pad_mask.any():
            pad_mask = None  # e.g. a batch of equal sides: skip masking what is never padding
        levels, fine = self.multi_scale_features(images)
        shapes = [tuple(feature.shape[-2:]) for feature in levels]
        encodings, centre, level_index = multi_scale_encodings(tuple(shapes), self.config.d_model, images.device)
        src = torch.cat([feature.flatten(2).transpose(1, 2) for feature in levels], 1)
        padding = torch.cat([_token_padding(pad_mask, feature) for feature in levels], 1)
        pos = (encodings + self.level_embedding[level_index])[None].to(src.dtype)
        # Without a pad mask no token is padding: the attention then skips masking its values.
        attention_padding = padding if pad_mask is not None else None
        memory = self.encoder(src, pos, centre[None, :, None, :], shapes, attention_padding)
        encoded = {
            "memory": memory,
            "padding": padding,
            "attention_padding": attention_padding,
            "centres": centre,
            "spatial_shapes": shapes,
            "canvas_size": tuple(images.shape[-2:]),
            "refine_memory": memory,
            "refine_padding": attention_padding,
            "refine_shapes": shapes,
        }
        if fine is not None:
            encoded["refine_memory"] = torch.cat([fine.flatten(2).transpose(1, 2).to(memory.dtype), memory], 1)
            if pad_mask is not None:
                encoded["refine_padding"] = torch.cat([_token_padding(pad_mask, fine), padding], 1)
            encoded["refine_shapes"] = [tuple(fine.shape[-2:])] + shapes
        return encoded

    def propose(self, memory: torch.Tensor, padding: torch.Tensor, pad_free: bool = False) -> dict:
        """Every token's person score: ``logits [B, S]``, ``features [B, S, d]`` (what the pose MLP
        reads, see :meth:`proposal_poses`) and ``valid [B, S]``. ``pad_free``: no token is padding."""
        features = self.proposal_projection(memory if pad_free else memory.masked_fill(padding[..., None], 0.0))
        return {"logits": self.proposal_score(features).squeeze(-1), "features": features, "valid": ~padding}

    def proposal_poses(self, features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Poses ``[B, N, K, 2]`` proposed by tokens with ``features [B, N, d]`` around their cell
        ``centres [B|1, N, 2]``."""
        batch, tokens, _ = features.shape
        deltas = self.proposal_keypoints(features).view(batch, tokens, self.config.num_keypoints, 2)
        return torch.sigmoid(inverse_sigmoid(centres)[:, :, None, :] + deltas)

    def forward(self, images: torch.Tensor, pad_mask: torch.Tensor | None = None, keep: int | None = None) -> dict:
        if keep is not None and self.training:
            raise ValueError("keep (refine only the best queries) is for inference; the model is in training mode")
        encoded = self.encode(images, pad_mask)
        memory, padding, centres = encoded["memory"], encoded["padding"], encoded["centres"]
        proposals = self.propose(memory, padding, pad_free=encoded["attention_padding"] is None)
        num_queries = self.config.num_queries
        if memory.shape[1] < num_queries:
            raise ValueError(
                f"image {list(images.shape[-2:])} gives {memory.shape[1]} tokens, fewer than the "
                f"{num_queries} queries; use larger images or fewer queries"
            )
        selection_scores = proposals["logits"].detach().masked_fill(padding, float("-inf"))
        chosen = selection_scores.topk(num_queries, dim=1).indices  # [B, Q]
        features = proposals.pop("features")
        if self.training:  # the encoder loss matches every token's pose
            proposals["keypoints"] = self.proposal_poses(features, centres[None])
            start = (
                proposals["keypoints"]
                .detach()
                .gather(1, chosen[:, :, None, None].expand(-1, -1, *proposals["keypoints"].shape[2:]))
            )
        else:  # only the chosen tokens' poses are read
            chosen_features = features.gather(1, chosen[..., None].expand(-1, -1, features.shape[-1]))
            proposals["keypoints"] = start = self.proposal_poses(chosen_features, centres[chosen])
        proposals["chosen"] = chosen
        content = self.query_content.weight[None].expand(images.shape[0], -1, -1)
        layers = self.decoder(
            content,
            start,
            memory,
            encoded["spatial_shapes"],
            encoded["attention_padding"],
            encoded["refine_memory"],
            encoded["refine_shapes"],
            encoded["refine_padding"],
            keep=keep,
        )
        return {**layers[-1], "aux": layers[:-1], "encoder": proposals, "canvas_size": encoded["canvas_size"]}
