"""Inference: the network's outputs, read off as COCO keypoint results. Nothing else.

Each pose query is one person: its score is the sigmoid of its logit, its keypoints are its
regressed (x, y) scaled from canvas fractions back to original-image pixels, and each
keypoint's third value is its visibility probability. The queries are only sorted by score
(COCOeval keeps the best 20 per image); there is no NMS, no grouping and no heatmap decoding.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..atomic import write_text
from .data.coco import CocoPoseDataset, collate, load_annotations
from .data.transforms import PoseSample, eval_transforms, to_tensor
from .model import JCRA

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def outputs_to_results(outputs: dict, metas: list[dict], max_detections: int | None = None) -> list[dict]:
    """COCO results from the model's output dict.

    Args:
        outputs: ``JCRA.forward``'s dict (``logits [B, Q]``, ``keypoints [B, Q, K, 2]``,
            ``visibility_logits [B, Q, K]``, ``canvas_size``).
        metas: per image ``image_id``, ``orig_size`` (h, w) and ``size`` (h, w) of the network input
            before padding; the eval transform is a pure resize, so pixels scale by orig / size.
        max_detections: keep the best this many per image (all ``Q`` when None).

    Returns:
        ``[{"image_id", "category_id": 1, "keypoints": [x, y, v] * K, "score"}]``, per image by
        descending score.
    """
    height, width = outputs["canvas_size"]
    scores = outputs["logits"].detach().float().sigmoid().cpu()
    keypoints = outputs["keypoints"].detach().float().cpu() * torch.tensor([width, height], dtype=torch.float32)
    visibility = outputs["visibility_logits"].detach().float().sigmoid().cpu()
    results = []
    for b, meta in enumerate(metas):
        orig_h, orig_w = (int(v) for v in meta["orig_size"])
        size_h, size_w = (int(v) for v in meta["size"])
        pixels = keypoints[b] * torch.tensor([orig_w / size_w, orig_h / size_h])
        order = scores[b].argsort(descending=True, stable=True)
        if max_detections is not None:
            order = order[:max_detections]
        for q in order.tolist():
            triples = torch.cat([pixels[q], visibility[b, q, :, None]], dim=-1)
            results.append(
                {
                    "image_id": int(meta["image_id"]),
                    "category_id": 1,
                    "keypoints": triples.flatten().tolist(),
                    "score": float(scores[b, q]),
                }
            )
    return results


@torch.inference_mode()
def predict_dataset(
    model: JCRA, dataset: torch.utils.data.Dataset, batch_size: int = 8, max_detections: int | None = None
) -> list[dict]:
    """Run ``model`` over every item of a dataset that yields ``(image, target)`` pairs."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    for start in range(0, len(dataset), batch_size):
        images, pad_mask, metas = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        outputs = model(images.to(device), pad_mask.to(device))
        results.extend(outputs_to_results(outputs, metas, max_detections))
    return results


class ImageFolder(torch.utils.data.Dataset):
    """The images of a folder, resized for inference; ids from an annotation file or from the names.

    Item: ``(image [3, H, W], meta)`` with ``image_id``, ``orig_size``, ``size``, ``file_name``.
    Without ``annotations``, a file's id is the number in its name (COCO's 000000000785.jpg -> 785).
    """

    def __init__(self, image_dir: Path | str, input_size: int, annotations: Path | str | None = None):
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"--images: folder not found: {self.image_dir}")
        self.files = sorted(p for p in self.image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"--images: no {'/'.join(IMAGE_SUFFIXES)} files in {self.image_dir}")
        self.ids = self._ids(annotations)
        self.transforms = eval_transforms(input_size)

    def _ids(self, annotations: Path | str | None) -> list[int]:
        if annotations is not None:
            by_name = {image.file_name: image.id for image in load_annotations(annotations).images}
            missing = [p.name for p in self.files if p.name not in by_name]
            if missing:
                raise ValueError(f"--annotations {annotations}: no image record for {missing[:5]}")
            return [int(by_name[p.name]) for p in self.files]
        ids = []
        for path in self.files:
            digits = re.findall(r"\d+", path.stem)
            if not digits:
                raise ValueError(
                    f"cannot take an image id from {path.name!r}; pass --annotations GT.json to map file names to ids"
                )
            ids.append(int(digits[-1]))
        return ids

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        with Image.open(self.files[index]) as handle:
            image = handle.convert("RGB")
        sample = self.transforms(PoseSample(image, np.zeros((0, 1, 3)), np.zeros(0)), None)
        width, height = sample.image.size
        return to_tensor(sample.image), {
            "image_id": self.ids[index],
            "file_name": self.files[index].name,
            "orig_size": (image.height, image.width),
            "size": (height, width),
        }


def evaluation_dataset(annotation_file: Path | str, image_dir: Path | str, input_size: int) -> CocoPoseDataset:
    """A dataset of annotated images, resized as at inference."""
    return CocoPoseDataset(annotation_file, image_dir, eval_transforms(input_size))


def write_results(results: list[dict], path: Path | str) -> Path:
    """COCO results JSON, coordinates rounded to 0.01 px and scores to 1e-5."""
    rounded = [
        {
            **r,
            "keypoints": [round(v, 4) if i % 3 == 2 else round(v, 2) for i, v in enumerate(r["keypoints"])],
            "score": round(r["score"], 5),
        }
        for r in results
    ]
    return write_text(path, json.dumps(rounded))


def results_by_image(results: list[dict], min_score: float = 0.0) -> dict[int, list[np.ndarray]]:
    """COCO results grouped per image as float[K, 3] poses, those with ``score >= min_score``."""
    grouped: dict[int, list[np.ndarray]] = {}
    for result in results:
        if result["score"] >= min_score:
            grouped.setdefault(int(result["image_id"]), []).append(np.asarray(result["keypoints"]).reshape(-1, 3))
    return grouped
