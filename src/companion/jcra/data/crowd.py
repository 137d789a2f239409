"""CrowdPose's crowd index and its easy / medium / hard levels.

Crowd index of an image (Li et al., CrowdPose, CVPR 2019):
    CI = (1 / n) * sum_i  N_b(i) / N_a(i)
with n persons, N_a(i) the labelled joints of person i and N_b(i) the labelled joints of the
OTHER persons that fall inside person i's bounding box. The paper names easy / medium / hard
for CI in [0, 0.1], (0.1, 0.8], (0.8, 1]; the evaluation code the field uses (CrowdPose's
crowdposetools and xtcocotools' ``keypoints_crowd`` mode, ``get_type_result(first=0.2,
second=0.8)``) cuts at 0.2 and 0.8, and APE/APM/APH are computed that way. We use the
evaluation code's thresholds so a split and its APE/APM/APH agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EASY_BELOW = 0.2
HARD_FROM = 0.8
LEVELS = ("easy", "medium", "hard")


def crowd_index(keypoints: np.ndarray, bboxes: np.ndarray) -> float:
    """CrowdPose crowd index of one image.

    Args:
        keypoints: float[N, K, 3] (x, y, v) per person; joints with v > 0 are labelled.
        bboxes: float[N, 4] COCO boxes (x, y, w, h) per person.

    Returns:
        CI >= 0 (it can exceed 1 in very dense images); 0.0 for fewer than two persons.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    bboxes = np.asarray(bboxes, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must have shape [N, K, 3], got {keypoints.shape}")
    if bboxes.shape != (keypoints.shape[0], 4):
        raise ValueError(f"bboxes must have shape [{keypoints.shape[0]}, 4], got {bboxes.shape}")
    labelled = keypoints[..., 2] > 0
    ratios = []
    for i, (x, y, w, h) in enumerate(bboxes):
        own = labelled[i].sum()
        if own == 0:
            continue
        others = np.delete(np.arange(len(bboxes)), i)
        pts = keypoints[others][labelled[others]][:, :2]
        inside = (pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h)
        ratios.append(inside.sum() / own)
    return float(np.mean(ratios)) if ratios else 0.0


def crowd_level(index: float) -> str:
    """``"easy"`` (CI < 0.2), ``"medium"`` (0.2 <= CI < 0.8) or ``"hard"`` (CI >= 0.8)."""
    if index < EASY_BELOW:
        return "easy"
    if index < HARD_FROM:
        return "medium"
    return "hard"


def crowd_indices(annotation_file: Path | str) -> dict[int, float]:
    """Image id -> ``crowdIndex`` of a COCO file that has one per image (CrowdPose, the crowd split)."""
    document = json.loads(Path(annotation_file).read_text(encoding="utf-8"))
    indices = {}
    for i, image in enumerate(document["images"]):
        if "crowdIndex" not in image:
            raise ValueError(f"{annotation_file}: images[{i}].crowdIndex is missing")
        indices[int(image["id"])] = float(image["crowdIndex"])
    return indices


def images_by_level(annotation_file: Path | str) -> dict[str, list[int]]:
    """Image ids of a COCO file with ``crowdIndex`` per image, grouped into the three levels."""
    levels: dict[str, list[int]] = {level: [] for level in LEVELS}
    for image_id, index in crowd_indices(annotation_file).items():
        levels[crowd_level(index)].append(image_id)
    return levels
