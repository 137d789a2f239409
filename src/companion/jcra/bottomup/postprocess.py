"""Associative-embedding post-processing: from heatmaps and tag maps to grouped persons.

This is the decoding a bottom-up model (Associative Embedding, HigherHRNet) needs after its
network and that JCRA claims to do without. It follows HigherHRNet's ``HeatmapParser``
(HRNet/HigherHRNet-Human-Pose-Estimation, ``lib/core/group.py``) step by step:

1. (in ``predict.image_maps``) heatmaps and tags are resized (bilinear) to the input size;
2. peak finding: max-pool non-maximum suppression keeps only local maxima;
3. top-k: the ``max_people`` strongest peaks per joint, with their tag values;
4. grouping: joint by joint in a fixed order (head first), candidate joints above the detection
   threshold are assigned to the persons built so far by an optimal assignment
   (``scipy.optimize.linear_sum_assignment``; HigherHRNet uses the slower pure-Python Munkres,
   same optimum) on the tag distance, rounded and tie-broken by the heatmap score; a candidate
   whose tag is farther than ``tag_threshold`` from every person's mean tag starts a new person;
5. refinement: a quarter-pixel shift of each joint toward its higher neighbour, and filling of
   the joints a person lacks with the best heatmap position whose tag is close to the person's.

Coordinates are in heatmap cells with cell centres at integer positions (HigherHRNet adds 0.5
for its pixel-corner convention; here the caller maps cells to image pixels). Person score is
the mean joint score after the quarter shift and before filling, as in HigherHRNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

# HigherHRNet's COCO grouping order: face, shoulders, hips, then the limbs outward.
COCO_JOINT_ORDER: tuple[int, ...] = tuple(i - 1 for i in (1, 2, 3, 4, 5, 6, 7, 12, 13, 8, 9, 10, 11, 14, 15, 16, 17))
# CrowdPose-14 (shoulders, elbows, wrists, hips, knees, ankles, head, neck): head and neck first,
# then the same trunk-outward order.
CROWDPOSE_JOINT_ORDER: tuple[int, ...] = (12, 13, 0, 1, 6, 7, 2, 3, 4, 5, 8, 9, 10, 11)


def joint_order_for(num_keypoints: int) -> tuple[int, ...]:
    """The grouping order for a 17-joint (COCO) or 14-joint (CrowdPose) layout."""
    if num_keypoints == 17:
        return COCO_JOINT_ORDER
    if num_keypoints == 14:
        return CROWDPOSE_JOINT_ORDER
    raise ValueError(f"num_keypoints must be 17 (COCO) or 14 (CrowdPose), got {num_keypoints}")


@dataclass(frozen=True)
class ParserConfig:
    """HigherHRNet's test settings (``w32_512`` config) unless stated.

    Attributes:
        max_people: peaks kept per joint, and the most persons a joint can be matched to.
        nms_kernel: side of the max-pool window for peak finding (odd).
        detection_threshold: a peak below this heatmap value is not a joint candidate.
        tag_threshold: largest tag distance at which a candidate joins an existing person.
        use_detection_value: break tag-distance ties (distance rounded) by heatmap score.
        adjust: quarter-cell shift of each grouped joint toward its higher neighbour.
        refine: fill each person's missing joints using the person's mean tag.
    """

    max_people: int = 30
    nms_kernel: int = 5
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    use_detection_value: bool = True
    adjust: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        if self.max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        if self.nms_kernel < 1 or self.nms_kernel % 2 == 0:
            raise ValueError(f"nms_kernel must be a positive odd integer, got {self.nms_kernel}")
        if self.tag_threshold <= 0:
            raise ValueError(f"tag_threshold must be > 0, got {self.tag_threshold}")


@dataclass(frozen=True)
class Candidates:
    """The top-k peaks of every joint.

    Attributes:
        scores: float32[K, M] heatmap value at each peak (0 where NMS suppressed everything).
        xy: int64[K, M, 2] peak position (column, row) in heatmap cells.
        tags: float32[K, M, L] tag vector at each peak.
    """

    scores: np.ndarray
    xy: np.ndarray
    tags: np.ndarray


@dataclass(frozen=True)
class ParsedPersons:
    """Decoded persons of one image.

    Attributes:
        keypoints: float32[P, K, 3] (x, y, score) per joint in heatmap cells; score 0 = missing.
        scores: float32[P] person score (mean joint score).
    """

    keypoints: np.ndarray
    scores: np.ndarray


def _check_maps(heatmaps: torch.Tensor, tags: torch.Tensor) -> None:
    if heatmaps.dim() != 3:
        raise ValueError(f"heatmaps must have shape [K, H, W], got {tuple(heatmaps.shape)}")
    if tags.dim() != 4 or tags.shape[:3] != heatmaps.shape:
        raise ValueError(
            f"tags must have shape [K, H, W, L] matching heatmaps {tuple(heatmaps.shape)}, got {tuple(tags.shape)}"
        )


def suppress_non_maxima(heatmaps: torch.Tensor, kernel: int) -> torch.Tensor:
    """Zero every value that is not the maximum of its ``kernel`` x ``kernel`` window.

    heatmaps: [K, H, W] -> [K, H, W]. Plateaus keep every tied maximum, as HigherHRNet does.
    The window maximum is HigherHRNet's ``MaxPool2d(kernel, 1, kernel // 2)`` computed as a row
    maximum then a column maximum (the same values exactly; several times faster than
    ``max_pool2d`` on a CPU).
    """
    half = kernel // 2
    padded = F.pad(heatmaps, (half, half, half, half), value=float("-inf"))
    pooled = padded.unfold(2, kernel, 1).amax(dim=-1).unfold(1, kernel, 1).amax(dim=-1)
    return heatmaps * (pooled == heatmaps)


def top_k_candidates(heatmaps: torch.Tensor, tags: torch.Tensor, config: ParserConfig) -> Candidates:
    """Peak-find heatmaps [K, H, W] and take the ``max_people`` best peaks per joint with their tags
    [K, H, W, L]."""
    _check_maps(heatmaps, tags)
    num_joints, height, width = heatmaps.shape
    if height * width < config.max_people:
        raise ValueError(f"heatmaps of {height}x{width} cells hold fewer than max_people={config.max_people}")
    peaks = suppress_non_maxima(heatmaps, config.nms_kernel).reshape(num_joints, -1)
    scores, flat_index = peaks.topk(config.max_people, dim=1)
    flat_tags = tags.reshape(num_joints, height * width, -1)
    peak_tags = torch.gather(flat_tags, 1, flat_index[:, :, None].expand(-1, -1, flat_tags.shape[2]))
    xy = torch.stack((flat_index % width, flat_index // width), dim=2)
    return Candidates(scores=scores.cpu().numpy(), xy=xy.cpu().numpy(), tags=peak_tags.cpu().numpy())


def group_by_tag(candidates: Candidates, joint_order: tuple[int, ...], config: ParserConfig) -> np.ndarray:
    """Group joint candidates into persons, joint by joint, by optimal tag assignment.

    Returns float32[P, K, 3 + L]: (x, y, score, tag...) per joint, zeros where a person has no
    such joint; persons in order of creation.
    """
    num_joints, _, tag_dim = candidates.tags.shape
    if sorted(joint_order) != list(range(num_joints)):
        raise ValueError(f"joint_order must be a permutation of 0..{num_joints - 1}, got {joint_order}")
    persons: list[np.ndarray] = []  # each float64[K, 3 + L]
    person_tags: list[list[np.ndarray]] = []  # tags of the joints each person holds
    for joint in joint_order:
        rows = np.concatenate(
            (
                candidates.xy[joint].astype(np.float64),
                candidates.scores[joint, :, None].astype(np.float64),
                candidates.tags[joint].astype(np.float64),
            ),
            axis=1,
        )
        rows = rows[rows[:, 2] > config.detection_threshold]
        if len(rows) == 0:
            continue
        matched: dict[int, int] = {}
        if persons:
            # Only the first max_people persons take part in matching (HigherHRNet's rule).
            eligible = min(len(persons), config.max_people)
            mean_tags = np.stack([np.mean(person_tags[p], axis=0) for p in range(eligible)])
            distance = np.linalg.norm(rows[:, None, 3:] - mean_tags[None], axis=2)
            cost = np.round(distance) * 100 - rows[:, 2:3] if config.use_detection_value else distance
            for row, person in zip(*linear_sum_assignment(cost)):
                if distance[row, person] < config.tag_threshold:
                    matched[row] = person
        for row, values in enumerate(rows):
            if row in matched:
                persons[matched[row]][joint] = values
                person_tags[matched[row]].append(values[3:])
            else:
                person = np.zeros((num_joints, 3 + tag_dim))
                person[joint] = values
                persons.append(person)
                person_tags.append([values[3:]])
    if not persons:
        return np.zeros((0, num_joints, 3 + tag_dim), dtype=np.float32)
    return np.stack(persons).astype(np.float32)


def _quarter_shift(heatmaps: np.ndarray, joint: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """+-0.25 cell toward the higher horizontal and vertical neighbour; float[N, 2] (dx, dy)."""
    _, height, width = heatmaps.shape
    right = heatmaps[joint, row, np.minimum(col + 1, width - 1)]
    left = heatmaps[joint, row, np.maximum(col - 1, 0)]
    below = heatmaps[joint, np.minimum(row + 1, height - 1), col]
    above = heatmaps[joint, np.maximum(row - 1, 0), col]
    return np.stack((np.where(right > left, 0.25, -0.25), np.where(below > above, 0.25, -0.25)), axis=1)


def adjust_quarter_offset(persons: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Shift every present joint of persons [P, K, 3+L] a quarter cell toward the higher neighbour
    in heatmaps float32[K, H, W]; returns a new array."""
    adjusted = persons.copy()
    person_index, joint_index = np.nonzero(persons[:, :, 2] > 0)
    col = persons[person_index, joint_index, 0].astype(np.int64)
    row = persons[person_index, joint_index, 1].astype(np.int64)
    adjusted[person_index, joint_index, 0:2] = np.stack((col, row), axis=1) + _quarter_shift(
        heatmaps, joint_index, col, row
    )
    return adjusted


def fill_missing_joints(person: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Give one person [K, 3+L] the joints it lacks, guided by its mean tag.

    For a missing joint k the position maximises ``heatmap_k - round(|tag_k - mean tag|)`` over
    the whole map (tags float32[K, H, W, L]), then takes the quarter shift; it is kept when its
    heatmap value is positive. Only missing joints are searched: HigherHRNet scores every joint
    and keeps the same ones, so the result is identical with less work.
    """
    present = person[:, 2] > 0
    missing = np.flatnonzero(~present)
    if len(missing) == 0 or not present.any():
        return person
    present_index = np.flatnonzero(present)
    # Joints may carry the quarter shift: round back to their cell.
    col = np.floor(person[present_index, 0] + 0.5).astype(np.int64)
    row = np.floor(person[present_index, 1] + 0.5).astype(np.int64)
    mean_tag = tags[present_index, row, col].mean(axis=0)
    # Summed one tag dimension at a time: the same additions as .sum(axis=3), without numpy's slow
    # reduction over a short last axis (flip and multi-scale tests give one dimension per pass).
    squared = (tags[missing, ..., 0] - mean_tag[0]) ** 2
    for dimension in range(1, tags.shape[3]):
        squared += (tags[missing, ..., dimension] - mean_tag[dimension]) ** 2
    tag_distance = np.sqrt(squared)
    objective = heatmaps[missing] - np.round(tag_distance)
    _, height, width = heatmaps.shape
    best = objective.reshape(len(missing), -1).argmax(axis=1)
    best_row, best_col = best // width, best % width
    value = heatmaps[missing, best_row, best_col]
    shift = _quarter_shift(heatmaps, missing, best_col, best_row)
    filled = person.copy()
    keep = value > 0
    filled[missing[keep], 0] = best_col[keep] + shift[keep, 0]
    filled[missing[keep], 1] = best_row[keep] + shift[keep, 1]
    filled[missing[keep], 2] = value[keep]
    return filled


def parse(
    heatmaps: torch.Tensor,
    tags: torch.Tensor,
    config: ParserConfig = ParserConfig(),
    joint_order: tuple[int, ...] | None = None,
) -> ParsedPersons:
    """Decode one image's heatmaps [K, H, W] and tags [K, H, W, L] into persons (cells)."""
    _check_maps(heatmaps, tags)
    order = joint_order if joint_order is not None else joint_order_for(heatmaps.shape[0])
    with torch.inference_mode():
        candidates = top_k_candidates(heatmaps, tags, config)
    persons = group_by_tag(candidates, order, config)
    heatmaps_np = heatmaps.detach().cpu().numpy()
    if config.adjust:
        persons = adjust_quarter_offset(persons, heatmaps_np)
    scores = persons[:, :, 2].mean(axis=1).astype(np.float32)
    if config.refine and len(persons):
        tags_np = tags.detach().cpu().numpy()
        persons = np.stack([fill_missing_joints(person, heatmaps_np, tags_np) for person in persons])
    return ParsedPersons(keypoints=np.ascontiguousarray(persons[:, :, :3], dtype=np.float32), scores=scores)


def to_coco_results(keypoints: np.ndarray, scores: np.ndarray, image_id: int) -> list[dict]:
    """COCO keypoint results from keypoints float[P, K, 3] (original-image pixels) and scores [P]."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[2] != 3:
        raise ValueError(f"keypoints must have shape [P, K, 3], got {keypoints.shape}")
    if scores.shape != (keypoints.shape[0],):
        raise ValueError(f"scores must have shape [{keypoints.shape[0]}], got {scores.shape}")
    return [
        {
            "image_id": int(image_id),
            "category_id": 1,
            "keypoints": [round(float(v), 3) for v in person.reshape(-1)],
            "score": float(score),
        }
        for person, score in zip(keypoints, scores)
    ]
