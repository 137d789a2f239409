"""Inference of the associative-embedding baseline: network, then its post-processing.

Test-time aggregation follows HigherHRNet (single scale, no flip, like JCRA here): each output
map is upsampled bilinearly by its stride to the network input size (``PROJECT2IMAGE``), the
stride-4 and stride-2 heatmaps are averaged, the stride-4 tags are kept; then
``postprocess.parse`` finds, groups and refines the joints. After projection a decoded position
p is the pixel whose centre is p + 0.5 in the data's continuous coordinates; the eval transform
is a pure resize, so original pixels are input pixels times orig / size (as for JCRA).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.coco import collate
from . import postprocess
from .model import AssociativeEmbedding


def image_maps(
    outputs: dict[str, torch.Tensor], index: int, input_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps float[K, H, W] and tags float[K, H, W, 1] of image ``index`` at its input size (H, W).

    The maps of a padded batch are cropped to the image's own (unpadded) input size.
    """
    height, width = input_size
    num_keypoints = outputs["heatmaps"].shape[1]
    stride4 = torch.cat((outputs["heatmaps"][index], outputs["tags"][index]), dim=0)[None]
    stride4 = F.interpolate(stride4, scale_factor=4, mode="bilinear", align_corners=False)[0, :, :height, :width]
    heatmaps, tags = stride4[:num_keypoints], stride4[num_keypoints:]
    if "heatmaps_higher" in outputs:
        higher = F.interpolate(
            outputs["heatmaps_higher"][index][None], scale_factor=2, mode="bilinear", align_corners=False
        )[0, :, :height, :width]
        heatmaps = (heatmaps + higher) / 2
    return heatmaps.contiguous(), tags[..., None].contiguous()


@torch.inference_mode()
def postprocess_image(
    outputs: dict[str, torch.Tensor],
    index: int,
    meta: dict,
    config: postprocess.ParserConfig = postprocess.ParserConfig(),
    max_detections: int | None = None,
) -> list[dict]:
    """COCO results of one image of a batch; ``meta`` has ``image_id``, ``orig_size``, ``size`` (h, w)."""
    size_h, size_w = (int(v) for v in meta["size"])
    orig_h, orig_w = (int(v) for v in meta["orig_size"])
    heatmaps, tags = image_maps(outputs, index, (size_h, size_w))
    parsed = postprocess.parse(heatmaps.float(), tags.float(), config)
    keypoints = parsed.keypoints.astype(np.float64)
    keypoints[..., 0] = (keypoints[..., 0] + 0.5) * (orig_w / size_w)
    keypoints[..., 1] = (keypoints[..., 1] + 0.5) * (orig_h / size_h)
    order = np.argsort(-parsed.scores, kind="stable")[:max_detections]
    return postprocess.to_coco_results(keypoints[order], parsed.scores[order], int(meta["image_id"]))


@torch.inference_mode()
def predict_dataset(
    model: AssociativeEmbedding,
    dataset: torch.utils.data.Dataset,
    batch_size: int = 8,
    config: postprocess.ParserConfig = postprocess.ParserConfig(),
    max_detections: int | None = None,
) -> list[dict]:
    """Run the model and its post-processing over a dataset of ``(image, target)`` items."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(dataset), batch_size):
        images, _, metas = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        outputs = {k: v.float().cpu() for k, v in model(images.to(device)).items()}
        for index, meta in enumerate(metas):
            results.extend(postprocess_image(outputs, index, meta, config, max_detections))
    return results
