"""Sine positional encodings (DETR's formulation) for feature maps and for keypoint coordinates.

Positions are fractions of the padded input canvas, the same normalisation the keypoints and
the deformable attention use, so a feature cell and a keypoint at the same pixel get the same
encoding at every level.
"""

from __future__ import annotations

import functools
import math

import torch


def sine_embedding(coords: torch.Tensor, num_feats: int, temperature: float = 10000.0) -> torch.Tensor:
    """Encode normalised (x, y) coordinates.

    Args:
        coords: ``[..., 2]`` (x, y) in [0, 1].
        num_feats: features per axis (even).

    Returns:
        ``[..., 2 * num_feats]``: sin/cos of y at geometric frequencies, then the same for x.
    """
    if num_feats % 2:
        raise ValueError(f"num_feats must be even, got {num_feats}")
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=coords.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    scaled = coords.float()[..., None] * (2 * math.pi) / dim_t  # [..., 2, num_feats]
    embedded = torch.stack((scaled[..., 0::2].sin(), scaled[..., 1::2].cos()), dim=-1).flatten(-2)
    return torch.cat((embedded[..., 1, :], embedded[..., 0, :]), dim=-1)


def feature_map_encoding(height: int, width: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """``[height * width, dim]`` encodings of the cell centres of a ``height x width`` map, row-major."""
    return sine_embedding(cell_centres(height, width, device), dim // 2)


def cell_centres(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """``[height * width, 2]`` normalised (x, y) centres of the cells of a map, row-major."""
    ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
    xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x.reshape(-1), grid_y.reshape(-1)), dim=-1)


@functools.lru_cache(maxsize=32)
def multi_scale_encodings(
    spatial_shapes: tuple[tuple[int, int], ...], dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The levels' encodings, cell centres and level indices, concatenated, computed once per shape.

    Returns ``encodings [S, dim]``, ``centres [S, 2]`` and ``levels [S]`` (long) for S = sum(h_l * w_l).
    Cached: every image of one size has the same ones; made outside inference mode and autograd so
    the cached tensors serve training and inference alike. Read-only: never modify them in place.
    """
    with torch.inference_mode(False), torch.no_grad():
        encodings = torch.cat([feature_map_encoding(h, w, dim, device) for h, w in spatial_shapes])
        centres = torch.cat([cell_centres(h, w, device) for h, w in spatial_shapes])
        sizes = [h * w for h, w in spatial_shapes]
        levels = torch.arange(len(sizes), device=device).repeat_interleave(torch.tensor(sizes, device=device))
    return encodings, centres, levels
