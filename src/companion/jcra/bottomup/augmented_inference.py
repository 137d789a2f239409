"""The baseline's published test protocols: flip test and multi-scale, as HigherHRNet aggregates them.

HigherHRNet (``lib/core/inference.py``: ``get_multi_stage_outputs``, ``aggregate_results``) and
DEKR report their state-of-the-art numbers with a flip test (the mirrored image through the
network too), and their best ones with multi-scale testing on top (scales 2, 1 and 0.5). Per scale:
the image is resized (sides rounded to a multiple of 32), run as is and mirrored; every map is
projected to that scale's input size (``predict.image_maps``); the mirrored pass's maps are
mirrored back with the left/right joint swap; heatmaps are averaged over the two passes and the
tags of both kept as two tag dimensions. Across scales the maps are resized to the base input
size, heatmaps averaged and tag dimensions concatenated. ``postprocess.parse`` then groups on
the multi-dimensional tags (distance in tag space), exactly as for one scale.

Timed as two parts: :func:`network_passes` (every forward pass of the protocol) and
:func:`aggregate_and_parse` (projection, aggregation, grouping, COCO results).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.skeleton import layout_for_num_keypoints
from . import postprocess
from .model import AssociativeEmbedding
from .predict import image_maps

SIZE_MULTIPLE = 32


@dataclass(frozen=True)
class InferenceProtocol:
    """``flip``: also run the mirrored image; ``scales``: input scales, the base (1.0) among them."""

    name: str
    flip: bool
    scales: tuple[float, ...]

    def __post_init__(self) -> None:
        if 1.0 not in self.scales or min(self.scales) <= 0:
            raise ValueError(f"inference protocol scales must be positive and include 1.0, got {self.scales}")


SINGLE_SCALE = InferenceProtocol("single scale, no flip", flip=False, scales=(1.0,))
FLIP = InferenceProtocol("flip test", flip=True, scales=(1.0,))
MULTI_SCALE = InferenceProtocol("multi-scale (2, 1, 0.5) with flip", flip=True, scales=(2.0, 1.0, 0.5))


@dataclass(frozen=True)
class NetworkPass:
    """One forward pass: its ``scale``, whether the image was ``mirrored``, the network ``outputs``
    and the ``input_size`` (h, w) it saw."""

    scale: float
    mirrored: bool
    outputs: dict[str, torch.Tensor]
    input_size: tuple[int, int]


def _scaled_side(side: int, scale: float) -> int:
    return side if scale == 1.0 else max(SIZE_MULTIPLE, int(round(side * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)


def network_passes(model: AssociativeEmbedding, image: torch.Tensor, protocol: InferenceProtocol) -> list[NetworkPass]:
    """Every forward pass ``protocol`` asks for, on ``image [1, 3, H, W]``."""
    height, width = image.shape[-2:]
    passes = []
    for scale in protocol.scales:
        size = (_scaled_side(height, scale), _scaled_side(width, scale))
        scaled = image if size == (height, width) else F.interpolate(image, size=size, mode="bilinear")
        passes.append(NetworkPass(scale, False, model(scaled), size))
        if protocol.flip:
            passes.append(NetworkPass(scale, True, model(scaled.flip(-1)), size))
    return passes


def aggregate(
    passes: list[NetworkPass], input_size: tuple[int, int], flip_index: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps float[K, H, W] (averaged) and tags float[K, H, W, D] (one dimension per pass) at the
    base ``input_size``."""
    by_scale: dict[float, list[NetworkPass]] = {}
    for network_pass in passes:
        by_scale.setdefault(network_pass.scale, []).append(network_pass)
    heatmap_sum, tags = None, []
    for scale_passes in by_scale.values():
        heatmaps_here, tags_here = [], []
        for network_pass in scale_passes:
            heatmaps, tag = image_maps(network_pass.outputs, 0, network_pass.input_size)
            if network_pass.mirrored:  # back to the image's own orientation and joint labels
                heatmaps, tag = heatmaps.flip(-1)[flip_index], tag.flip(-2)[flip_index]
            heatmaps_here.append(heatmaps)
            tags_here.append(tag)
        heatmaps = torch.stack(heatmaps_here).mean(0)
        tag = torch.cat(tags_here, -1)  # [K, h, w, passes]
        if tuple(heatmaps.shape[-2:]) != tuple(input_size):
            heatmaps = F.interpolate(heatmaps[None], size=input_size, mode="bilinear")[0]
            tag = F.interpolate(tag.permute(3, 0, 1, 2), size=input_size, mode="bilinear").permute(1, 2, 3, 0)
        heatmap_sum = heatmaps if heatmap_sum is None else heatmap_sum + heatmaps
        tags.append(tag)
    return heatmap_sum / len(by_scale), torch.cat(tags, -1).contiguous()


def aggregate_and_parse(
    passes: list[NetworkPass], meta: dict, config: postprocess.ParserConfig = postprocess.ParserConfig()
) -> list[dict]:
    """COCO results of one image from its passes; ``meta`` as for ``predict.postprocess_image``."""
    size_h, size_w = (int(v) for v in meta["size"])
    orig_h, orig_w = (int(v) for v in meta["orig_size"])
    num_keypoints = passes[0].outputs["heatmaps"].shape[1]
    heatmaps, tags = aggregate(passes, (size_h, size_w), layout_for_num_keypoints(num_keypoints).flip_index)
    parsed = postprocess.parse(heatmaps.float(), tags.float(), config)
    keypoints = parsed.keypoints.astype(np.float64)
    keypoints[..., 0] = (keypoints[..., 0] + 0.5) * (orig_w / size_w)  # cell centre -> pixel, as predict does
    keypoints[..., 1] = (keypoints[..., 1] + 0.5) * (orig_h / size_h)
    order = np.argsort(-parsed.scores, kind="stable")
    return postprocess.to_coco_results(keypoints[order], parsed.scores[order], int(meta["image_id"]))


def predict_dataset(
    model: AssociativeEmbedding,
    dataset: torch.utils.data.Dataset,
    protocol: InferenceProtocol,
    config: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> list[dict]:
    """COCO results of the baseline under ``protocol`` on every ``(image, target)`` item, one image
    at a time (each image's passes have their own sizes)."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    with torch.inference_mode():
        for index in range(len(dataset)):
            image, target = dataset[index]
            meta = {key: target[key] for key in ("image_id", "orig_size", "size")}
            passes = network_passes(model, image[None].to(device), protocol)
            results.extend(aggregate_and_parse(passes, meta, config))
    return results
