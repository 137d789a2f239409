"""Keypoint layouts: names, OKS sigmas, left/right flip pairs and limbs for COCO-17 and CrowdPose-14.

Both layouts are views of one superset of 19 body joints (COCO's 17 plus CrowdPose's ``head``
top and ``neck``), so the synthetic generator builds one body and writes either layout.
Sigmas are the published per-keypoint labelling spreads (pycocotools / CrowdPose), as listed in
``../shared/papers/jcra.md``; OKS uses ``kappa_k = 2 * sigma_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUPERSET_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "head",
    "neck",
)
"""The 19 joints the synthetic body has; ``head`` is the top of the head (CrowdPose's name)."""

COCO_KEYPOINTS: tuple[str, ...] = SUPERSET_KEYPOINTS[:17]
CROWDPOSE_KEYPOINTS: tuple[str, ...] = (
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "head",
    "neck",
)

_COCO_SIGMAS = (0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89)
_CROWDPOSE_SIGMAS = (0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89, 0.79, 0.79)

# Limbs as pairs of joint names; the 1-based index lists in the JSON files are derived from them.
_COCO_LIMBS = (
    ("left_ankle", "left_knee"),
    ("left_knee", "left_hip"),
    ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"),
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
    ("left_ear", "left_shoulder"),
    ("right_ear", "right_shoulder"),
)
_CROWDPOSE_LIMBS = (
    ("head", "neck"),
    ("neck", "left_shoulder"),
    ("neck", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
)


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    return name


@dataclass(frozen=True)
class KeypointLayout:
    """One dataset's keypoint convention.

    Attributes:
        name: ``"coco"`` or ``"crowdpose"``.
        keypoints: K joint names in the dataset's order.
        sigmas: float64[K] per-keypoint OKS sigmas.
        flip_index: int[K]; after a horizontal flip, joint k takes the label of ``flip_index[k]``.
        limbs: pairs of 0-based joint indices, for drawing.
        superset_index: int[K]; position of each joint in ``SUPERSET_KEYPOINTS``.
    """

    name: str
    keypoints: tuple[str, ...]
    sigmas: np.ndarray
    flip_index: np.ndarray
    limbs: tuple[tuple[int, int], ...]
    superset_index: np.ndarray

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def coco_skeleton(self) -> list[list[int]]:
        """Limbs as COCO's 1-based ``skeleton`` list."""
        return [[a + 1, b + 1] for a, b in self.limbs]

    def category(self) -> dict:
        """The COCO ``categories`` entry for the person class in this layout."""
        return {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(self.keypoints),
            "skeleton": self.coco_skeleton(),
        }


def _build(
    name: str, keypoints: tuple[str, ...], sigmas: tuple[float, ...], limbs: tuple[tuple[str, str], ...]
) -> KeypointLayout:
    index = {joint: k for k, joint in enumerate(keypoints)}
    return KeypointLayout(
        name=name,
        keypoints=keypoints,
        sigmas=np.asarray(sigmas, dtype=np.float64) / 10.0,
        flip_index=np.array([index[_mirror_name(joint)] for joint in keypoints], dtype=np.int64),
        limbs=tuple((index[a], index[b]) for a, b in limbs),
        superset_index=np.array([SUPERSET_KEYPOINTS.index(j) for j in keypoints], dtype=np.int64),
    )


COCO = _build("coco", COCO_KEYPOINTS, _COCO_SIGMAS, _COCO_LIMBS)
CROWDPOSE = _build("crowdpose", CROWDPOSE_KEYPOINTS, _CROWDPOSE_SIGMAS, _CROWDPOSE_LIMBS)
LAYOUTS = {"coco": COCO, "crowdpose": CROWDPOSE}


def get_layout(name: str) -> KeypointLayout:
    """The layout called ``name`` (``"coco"`` or ``"crowdpose"``)."""
    if name not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {name!r}")
    return LAYOUTS[name]


def layout_for_keypoint_names(names: list[str] | tuple[str, ...]) -> KeypointLayout:
    """The layout whose joint names equal ``names`` (as read from a COCO ``categories`` entry)."""
    for layout in LAYOUTS.values():
        if tuple(names) == layout.keypoints:
            return layout
    raise ValueError(f"keypoint names match neither COCO-17 nor CrowdPose-14: {list(names)}")


def layout_for_num_keypoints(num_keypoints: int) -> KeypointLayout:
    """The layout with ``num_keypoints`` joints (17: COCO, 14: CrowdPose)."""
    for layout in LAYOUTS.values():
        if layout.num_keypoints == num_keypoints:
            return layout
    raise ValueError(f"num_keypoints must be 17 (COCO) or 14 (CrowdPose), got {num_keypoints}")
