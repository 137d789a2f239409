"""COCO keypoint annotations: a validating reader, the training/evaluation Dataset and its collate.

Layouts on disk:
- COCO 2017: ``root/annotations/person_keypoints_{split}.json`` and ``root/{split}/`` (images),
  split e.g. ``val2017`` (``coco_paths``).
- CrowdPose (14 joints): ``root/json/crowdpose_{split}.json`` and ``root/images/``, split one of
  train, val, test, trainval (``crowdpose_paths``), as the CrowdPose release ships them.
- The synthetic splits: ``root/annotations.json`` and ``root/images/`` (``synthetic_paths``).

The reader checks every field the companion uses and raises ``MalformedAnnotationError`` naming
the file, the record and the field. Persons marked ``iscrowd`` and persons with no labelled
joint are left out of the training targets (the evaluation keeps the file as it is).
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .skeleton import KeypointLayout, layout_for_keypoint_names, layout_for_num_keypoints
from .transforms import Compose, PoseSample, to_tensor


class MalformedAnnotationError(ValueError):
    """An annotation file that does not have the COCO keypoints structure the reader needs."""


@dataclass(frozen=True)
class PersonAnnotation:
    """One person: keypoints float64[K, 3], area (pixels^2), iscrowd."""

    keypoints: np.ndarray
    area: float
    iscrowd: bool


@dataclass(frozen=True)
class ImageRecord:
    id: int
    file_name: str
    width: int
    height: int
    persons: tuple[PersonAnnotation, ...]


@dataclass(frozen=True)
class KeypointAnnotations:
    """A validated COCO keypoints file: its layout and its images in file order."""

    path: Path
    layout: KeypointLayout
    images: tuple[ImageRecord, ...]


def coco_paths(root: Path | str, split: str = "val2017") -> tuple[Path, Path]:
    """(annotation file, image folder) of a COCO 2017 keypoints split under ``root``."""
    root = Path(root)
    return root / "annotations" / f"person_keypoints_{split}.json", root / split


def crowdpose_paths(root: Path | str, split: str = "test") -> tuple[Path, Path]:
    """(annotation file, image folder) of a CrowdPose split under ``root``."""
    root = Path(root)
    return root / "json" / f"crowdpose_{split}.json", root / "images"


def synthetic_paths(root: Path | str) -> tuple[Path, Path]:
    """(annotation file, image folder) of a split written by ``synthetic.generate``."""
    root = Path(root)
    return root / "annotations.json", root / "images"


def _fail(path: Path, where: str, field: str, expected: str, got: object) -> MalformedAnnotationError:
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return MalformedAnnotationError(f"{path}: {where}.{field}: expected {expected}, got {shown}")


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def load_annotations(path: Path | str) -> KeypointAnnotations:
    """Read and validate a COCO keypoints annotation file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MalformedAnnotationError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(document, dict):
        raise _fail(path, "file", "top level", "a JSON object", type(document).__name__)
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise _fail(path, "file", key, "a list", document.get(key))

    person_category, layout = _person_category(path, document["categories"])
    images: dict[int, dict] = {}
    for i, image in enumerate(document["images"]):
        where = f"images[{i}]"
        if not isinstance(image, dict):
            raise _fail(path, where, "record", "an object", image)
        if not _is_int(image.get("id")):
            raise _fail(path, where, "id", "an integer", image.get("id"))
        if not isinstance(image.get("file_name"), str) or not image["file_name"]:
            raise _fail(path, where, "file_name", "a non-empty string", image.get("file_name"))
        for key in ("width", "height"):
            if not _is_int(image.get(key)) or image[key] <= 0:
                raise _fail(path, where, key, "a positive integer", image.get(key))
        if image["id"] in images:
            raise _fail(path, where, "id", "a unique image id", image["id"])
        images[image["id"]] = image

    persons: dict[int, list[PersonAnnotation]] = {image_id: [] for image_id in images}
    k = layout.num_keypoints
    for i, ann in enumerate(document["annotations"]):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            raise _fail(path, where, "record", "an object", ann)
        where = f"annotations[{i}] (id {ann.get('id')})"
        if ann.get("category_id", person_category) != person_category:
            continue
        if ann.get("image_id") not in images:
            raise _fail(path, where, "image_id", "the id of an image in 'images'", ann.get("image_id"))
        keypoints = ann.get("keypoints")
        if not isinstance(keypoints, list) or len(keypoints) != 3 * k or not all(_is_number(v) for v in keypoints):
            shape = f"list of {len(keypoints)}" if isinstance(keypoints, list) else keypoints
            raise _fail(path, where, "keypoints", f"a list of 3*{k}={3 * k} numbers", shape)
        kp = np.asarray(keypoints, dtype=np.float64).reshape(k, 3)
        if not np.isin(kp[:, 2], (0, 1, 2)).all():
            raise _fail(path, where, "keypoints", "visibility flags in {0, 1, 2}", kp[:, 2].tolist())
        iscrowd = ann.get("iscrowd", 0)
        if iscrowd not in (0, 1, True, False):
            raise _fail(path, where, "iscrowd", "0 or 1", iscrowd)
        area = _area(path, where, ann)
        kp[kp[:, 2] == 0] = 0.0
        persons[ann["image_id"]].append(PersonAnnotation(kp, area, bool(iscrowd)))

    records = tuple(
        ImageRecord(image_id, image["file_name"], int(image["width"]), int(image["height"]), tuple(persons[image_id]))
        for image_id, image in images.items()
    )
    return KeypointAnnotations(path, layout, records)


def _person_category(path: Path, categories: list) -> tuple[int, KeypointLayout]:
    """The id and layout of the category that carries keypoint names."""
    for i, category in enumerate(categories):
        if isinstance(category, dict) and "keypoints" in category:
            names = category["keypoints"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise _fail(path, f"categories[{i}]", "keypoints", "a list of joint names", names)
            if not _is_int(category.get("id")):
                raise _fail(path, f"categories[{i}]", "id", "an integer", category.get("id"))
            try:
                layout = layout_for_keypoint_names(names)
            except ValueError:
                try:
                    layout = layout_for_num_keypoints(len(names))
                except ValueError as error:
                    raise _fail(
                        path, f"categories[{i}]", "keypoints", "the 17 COCO or 14 CrowdPose joint names", names
                    ) from error
            return int(category["id"]), layout
    raise _fail(path, "categories", "keypoints", "one category with a 'keypoints' list", categories)


def _area(path: Path, where: str, ann: dict) -> float:
    """The person's area; CrowdPose files have none, so use 0.53 x box area as xtcocotools does."""
    if "area" in ann:
        if not _is_number(ann["area"]) or ann["area"] < 0:
            raise _fail(path, where, "area", "a number >= 0", ann["area"])
        return float(ann["area"])
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        raise _fail(path, where, "bbox", "[x, y, w, h] numbers (needed when 'area' is absent)", bbox)
    return float(bbox[2] * bbox[3] * 0.53)


class CocoPoseDataset(torch.utils.data.Dataset):
    """Images and multi-person keypoint targets from a COCO keypoints file.

    Item ``i`` is ``(image, target)``:
        image: FloatTensor[3, H, W], ImageNet-normalised, after ``transforms``.
        target: dict with
            keypoints FloatTensor[N, K, 3] (x, y in transformed pixels; v 0/1/2),
            areas FloatTensor[N] (pixels^2 of the transformed image),
            image_id int, orig_size LongTensor[2] (h, w), size LongTensor[2] (h, w).
    Augmentation randomness comes from ``default_rng([seed, epoch, i])``: reproducible, and
    different per epoch once the training loop calls ``set_epoch``.
    """

    def __init__(
        self, annotation_file: Path | str, image_dir: Path | str, transforms: Compose | None = None, seed: int = 0
    ) -> None:
        self.annotations = load_annotations(annotation_file)
        self.annotation_file = Path(annotation_file)
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.image_dir}")
        self.transforms = transforms
        self.seed = int(seed)
        self.epoch = 0

    @property
    def layout(self) -> KeypointLayout:
        return self.annotations.layout

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.annotations.images)

    def image_path(self, index: int) -> Path:
        return self.image_dir / self.annotations.images[index].file_name

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        record = self.annotations.images[index]
        path = self.image_path(index)
        if not path.is_file():
            raise FileNotFoundError(f"image {record.file_name} (id {record.id}) not found in {self.image_dir}")
        with Image.open(path) as handle:
            image = handle.convert("RGB")
        if image.size != (record.width, record.height):
            raise MalformedAnnotationError(
                f"{self.annotation_file}: image id {record.id}: width/height {record.width}x{record.height} "
                f"do not match {path.name} ({image.size[0]}x{image.size[1]})"
            )
        people = [p for p in record.persons if not p.iscrowd and (p.keypoints[:, 2] > 0).any()]
        k = self.layout.num_keypoints
        sample = PoseSample(
            image,
            np.stack([p.keypoints for p in people]) if people else np.zeros((0, k, 3)),
            np.array([p.area for p in people], dtype=np.float64),
        )
        if self.transforms is not None:
            sample = self.transforms(sample, np.random.default_rng([self.seed, self.epoch, index]))
        keep = (sample.keypoints[..., 2] > 0).any(axis=1)  # a crop or rotation may remove a person
        width, height = sample.image.size
        target = {
            "keypoints": torch.as_tensor(sample.keypoints[keep], dtype=torch.float32).reshape(-1, k, 3),
            "areas": torch.as_tensor(sample.areas[keep], dtype=torch.float32),
            "image_id": int(record.id),
            "orig_size": torch.tensor([record.height, record.width], dtype=torch.long),
            "size": torch.tensor([height, width], dtype=torch.long),
        }
        return to_tensor(sample.image), target


def collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Pad a list of dataset items to one batch.

    Returns:
        images: FloatTensor[B, 3, Hmax, Wmax], zero (the mean colour) on padding.
        pad_mask: BoolTensor[B, Hmax, Wmax], True on padding.
        targets: list of the B target dicts.
    """
    if not batch:
        raise ValueError("collate needs at least one item")
    h_max = max(image.shape[1] for image, _ in batch)
    w_max = max(image.shape[2] for image, _ in batch)
    images = torch.zeros(len(batch), 3, h_max, w_max)
    pad_mask = torch.ones(len(batch), h_max, w_max, dtype=torch.bool)
    for b, (image, _) in enumerate(batch):
        _, h, w = image.shape
        images[b, :, :h, :w] = image
        pad_mask[b, :h, :w] = False
    return images, pad_mask, [target for _, target in batch]
