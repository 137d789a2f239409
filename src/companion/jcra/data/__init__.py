"""Pose data: keypoint layouts, the synthetic generator, the COCO reader, transforms, collate.

from companion.jcra import data
root = data.synthetic.ensure_split("train", {"n_images": 64})
dataset = data.CocoPoseDataset(*data.synthetic_paths(root), transforms=data.eval_transforms(128))
images, pad_mask, targets = data.collate([dataset[0], dataset[1]])
"""

from . import crowd, real, skeleton, synthetic, transforms
from .coco import (
    CocoPoseDataset,
    MalformedAnnotationError,
    coco_paths,
    collate,
    crowdpose_paths,
    load_annotations,
    synthetic_paths,
)
from .skeleton import COCO, CROWDPOSE, KeypointLayout, get_layout
from .transforms import eval_transforms, train_transforms

__all__ = [
    "COCO",
    "CROWDPOSE",
    "CocoPoseDataset",
    "KeypointLayout",
    "MalformedAnnotationError",
    "coco_paths",
    "collate",
    "crowd",
    "crowdpose_paths",
    "eval_transforms",
    "get_layout",
    "load_annotations",
    "real",
    "skeleton",
    "synthetic",
    "synthetic_paths",
    "train_transforms",
    "transforms",
]
