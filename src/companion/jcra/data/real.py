"""The few real annotated images in ``../shared/data/pose-mini`` (when that folder exists).

pose-mini holds 4 COCO val2017 images (17 joints), 2 CrowdPose images (14 joints) and 3 OCHuman
images (17 joints, heavy occlusion) with their real annotations, plus real model predictions for
the COCO images (``predictions/coco_preds.json``). It is for tests and for showing real images
in the notebooks; it is not in the repository, so every function here returns None when it is
absent and callers skip cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ...paths import shared_data_dir
from .coco import load_annotations
from .skeleton import KeypointLayout

SUBSETS = {
    "coco": ("coco/test_coco.json", "coco"),
    "crowdpose": ("crowdpose/test_crowdpose.json", "crowdpose"),
    "ochuman": ("ochuman/test_ochuman.json", "ochuman"),
}


@dataclass(frozen=True)
class RealImage:
    """One pose-mini image and its persons.

    Attributes:
        subset: "coco", "crowdpose" or "ochuman".
        image_id: the annotation file's image id.
        path: the image file.
        width, height: pixels.
        keypoints: float64[N, K, 3] for persons with at least one labelled joint, not crowd regions.
        areas: float64[N] person areas (pixels^2).
        layout: the keypoint layout (COCO-17 or CrowdPose-14).
    """

    subset: str
    image_id: int
    path: Path
    width: int
    height: int
    keypoints: np.ndarray
    areas: np.ndarray
    layout: KeypointLayout

    def load(self) -> np.ndarray:
        """uint8[H, W, 3] RGB pixels."""
        with Image.open(self.path) as handle:
            return np.asarray(handle.convert("RGB"))


def pose_mini_root() -> Path | None:
    """``../shared/data/pose-mini`` or None when absent."""
    shared = shared_data_dir()
    if shared is None or not (shared / "pose-mini").is_dir():
        return None
    return shared / "pose-mini"


def pose_mini_paths(subset: str = "coco") -> tuple[Path, Path] | None:
    """(annotation file, image folder) of a pose-mini subset, or None when pose-mini is absent."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {sorted(SUBSETS)}, got {subset!r}")
    root = pose_mini_root()
    if root is None:
        return None
    annotations, images = SUBSETS[subset]
    return root / annotations, root / images


def pose_mini_predictions() -> Path | None:
    """``predictions/coco_preds.json`` (real predictions on the 4 COCO images), or None."""
    root = pose_mini_root()
    path = None if root is None else root / "predictions" / "coco_preds.json"
    return path if path is not None and path.is_file() else None


def load_pose_mini(subset: str = "coco") -> list[RealImage] | None:
    """Every image of a pose-mini subset with its annotations, or None when pose-mini is absent."""
    paths = pose_mini_paths(subset)
    if paths is None:
        return None
    annotation_file, image_dir = paths
    annotations = load_annotations(annotation_file)
    k = annotations.layout.num_keypoints
    images = []
    for record in annotations.images:
        people = [p for p in record.persons if not p.iscrowd and (p.keypoints[:, 2] > 0).any()]
        images.append(
            RealImage(
                subset=subset,
                image_id=record.id,
                path=image_dir / record.file_name,
                width=record.width,
                height=record.height,
                keypoints=np.stack([p.keypoints for p in people]) if people else np.zeros((0, k, 3)),
                areas=np.array([p.area for p in people], dtype=np.float64),
                layout=annotations.layout,
            )
        )
    return images
