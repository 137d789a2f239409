"""Synthetic multi-person keypoint data in COCO format, deterministic by seed.

Each image: a cluttered background (a two-colour gradient, pixel noise and random rectangles,
ellipses and sticks), then ``persons_per_image`` bodies from ``body.sample_body`` pasted one after
another. Later persons are drawn on top of earlier ones; a joint covered by a later person's
silhouette is labelled v = 1 (occluded), a far ear hidden by the head too; joints outside the
image are unlabelled (0, 0, 0), as in COCO. Coordinates are continuous pixel coordinates: pixel
(i, j) spans [i, i + 1) x [j, j + 1), so a horizontal flip maps x to ``width - x``. A person's
``area`` and ``bbox`` come from its VISIBLE rendered mask (COCO's segmentations cover visible
parts), ``segmentation`` is that mask as RLE, and every image carries its CrowdPose
``crowdIndex`` (``crowd.crowd_index`` on the 14 CrowdPose joints, whatever layout is written).

Placement: a new person is rejected (and re-drawn, up to 40 tries) when it would hide more than
``max_cover`` of an earlier person's silhouette or its box would overlap an earlier person's box
with IoU above ``max_box_iou``. ``crowding`` is the chance that a person is
placed beside an already placed one instead of anywhere in the image; with the defaults
(1-3 persons of 0.5-0.9 x the image height, max_cover 0.15, max_box_iou 0.3, crowding 0) persons
are large and mostly distinct, which keeps the task
learnable by a small model at 128 px; the separate "crowd" splits (1-5 persons of 0.4-0.75 x,
max_cover 0.5, no box limit, crowding 0.3) spread over easy, medium and hard in roughly equal parts.

Image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so images do not depend on
how many were generated before them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from ...atomic import write_text
from ...hashing import sha256_json
from ...paths import BUILD_DIR
from . import body as body_module
from . import crowd as crowd_module
from . import skeleton as skeleton_module
from .body import draw_body, sample_body
from .crowd import crowd_index
from .skeleton import CROWDPOSE, get_layout


@dataclass(frozen=True)
class SyntheticConfig:
    """What one synthetic split looks like.

    Attributes:
        n_images: number of images.
        seed: base seed; image i uses ``default_rng([seed, i])``.
        image_size: square image side in pixels.
        persons_per_image: (min, max) persons, inclusive.
        person_height: (min, max) stature as a fraction of ``image_size``.
        max_cover: the largest fraction of an earlier person's silhouette a later one may hide.
        max_box_iou: the largest IoU between a new person's drawn box and an earlier person's.
        crowding: probability of placing a person beside an already placed one.
        clutter: number of background shapes.
        edge_overflow: how far (fraction of the person's box) a person may extend past the border.
        layout: "coco" (17 joints) or "crowdpose" (14 joints).
    """

    n_images: int = 2000
    seed: int = 0
    image_size: int = 128
    persons_per_image: tuple[int, int] = (1, 3)
    person_height: tuple[float, float] = (0.5, 0.9)
    max_cover: float = 0.15
    max_box_iou: float = 0.3
    crowding: float = 0.0
    clutter: int = 8
    edge_overflow: float = 0.1
    layout: str = "coco"

    def __post_init__(self) -> None:
        def check(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

        object.__setattr__(self, "persons_per_image", tuple(int(v) for v in self.persons_per_image))
        object.__setattr__(self, "person_height", tuple(float(v) for v in self.person_height))
        lo, hi = self.persons_per_image
        check(int(self.n_images) >= 1, "n_images", "an integer >= 1")
        check(int(self.image_size) >= 32, "image_size", "an integer >= 32 (pixels)")
        check(
            len(self.persons_per_image) == 2 and 0 <= lo <= hi <= 30,
            "persons_per_image",
            "(min, max) with 0 <= min <= max <= 30",
        )
        hlo, hhi = self.person_height
        check(
            len(self.person_height) == 2 and 0.05 <= hlo <= hhi <= 1.5,
            "person_height",
            "(min, max) fractions of image_size with 0.05 <= min <= max <= 1.5",
        )
        check(0.0 <= self.max_cover <= 1.0, "max_cover", "a fraction in [0, 1]")
        check(0.0 <= self.max_box_iou <= 1.0, "max_box_iou", "a fraction in [0, 1]")
        check(0.0 <= self.crowding <= 1.0, "crowding", "a probability in [0, 1]")
        check(int(self.clutter) >= 0, "clutter", "an integer >= 0")
        check(0.0 <= self.edge_overflow <= 0.5, "edge_overflow", "a fraction in [0, 0.5]")
        get_layout(self.layout)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


# Named splits. "train" and "val" share the (learnable) easy settings with different seeds;
# "crowd" is the separate crowded split whose crowd index spans easy, medium and hard.
_CROWDED = {
    "persons_per_image": (1, 5),
    "person_height": (0.4, 0.75),
    "max_cover": 0.5,
    "max_box_iou": 1.0,
    "crowding": 0.3,
}
SPLITS: dict[str, dict] = {
    "train": {"seed": 0, "n_images": 2000},
    "val": {"seed": 1_000_003, "n_images": 200},
    # Roughly a third each of easy / medium / hard images by crowd index (measured: 29/33/38 %).
    "crowd": {"seed": 2_000_003, "n_images": 200, **_CROWDED},
    "crowd_train": {"seed": 3_000_017, "n_images": 2000, **_CROWDED},
    "crowd_crowdpose": {"seed": 2_000_003, "n_images": 200, **_CROWDED, "layout": "crowdpose"},
}


def _background(rng: np.random.Generator, size: int, clutter: int) -> np.ndarray:
    """uint8[size, size, 3]: gradient + noise + ``clutter`` random shapes."""
    c0, c1 = rng.uniform(30, 225, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = np.cos(angle) * xs + np.sin(angle) * ys
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    base = c0 + t[..., None] * (c1 - c0) + rng.normal(0.0, 6.0, size=(size, size, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(clutter):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = rng.uniform(-0.1, 1.0, size=2) * size
        w, h = rng.uniform(0.05, 0.4, size=2) * size
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        elif kind == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:  # sticks look a little like limbs: the network must not take every bar for an arm
            draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=int(rng.integers(1, max(2, size // 24))))
    return np.asarray(image).copy()


def _paste(canvas: np.ndarray, patch: np.ndarray, where: np.ndarray, top_left: tuple[int, int]) -> None:
    """Copy ``patch[where]`` into ``canvas`` at ``top_left`` (x, y), clipped to the canvas."""
    x, y = top_left
    h, w = where.shape
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    sub = where[y0 - y : y1 - y, x0 - x : x1 - x]
    canvas[y0:y1, x0:x1][sub] = patch[y0 - y : y1 - y, x0 - x : x1 - x][sub]


def _window(owner: np.ndarray, where: np.ndarray, top_left: tuple[int, int]) -> np.ndarray:
    """Values of ``owner`` under the True pixels of ``where`` placed at ``top_left`` (in image)."""
    x, y = top_left
    h, w = where.shape
    H, W = owner.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return owner[:0, :0].ravel()
    return owner[y0:y1, x0:x1][where[y0 - y : y1 - y, x0 - x : x1 - x]]


def _box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with each row of ``others`` float[N, 4]."""
    wh = np.clip(np.minimum(box[2:], others[:, 2:]) - np.maximum(box[:2], others[:, :2]), 0, None)
    inter = wh[:, 0] * wh[:, 1]
    box_area = (box[2] - box[0]) * (box[3] - box[1])
    other_areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / (box_area + other_areas - inter)


def render_scene(config: SyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Draw one image.

    Returns:
        image: uint8[S, S, 3].
        persons: per placed person, in drawing order: ``joints`` float64[19, 2] in image pixels,
            ``self_occluded`` bool[19], ``visible_mask`` bool[S, S] (after later persons).
    """
    size = config.image_size
    image = _background(rng, size, config.clutter)
    owner = np.zeros((size, size), dtype=np.int32)  # 0 background, i + 1 person i on top here
    full_area: list[int] = []
    placed: list[tuple[object, tuple[int, int], np.ndarray]] = []
    centres: list[np.ndarray] = []
    boxes: list[np.ndarray] = []  # (x0, y0, x1, y1) of each placed person's drawing
    n_persons = int(rng.integers(config.persons_per_image[0], config.persons_per_image[1] + 1))
    for _ in range(n_persons):
        stature = rng.uniform(*config.person_height) * size
        person = sample_body(rng, stature)
        lo, hi = person.extent()
        local = person.shifted(-np.floor(lo)).snapped()
        extent = np.ceil(hi - np.floor(lo)).astype(int) + 1
        rgb, mask = draw_body(local, (int(extent[0]), int(extent[1])))
        remaining = np.bincount(owner.ravel(), minlength=len(placed) + 1)[1:]
        for _attempt in range(40):
            slack = config.edge_overflow * extent
            if centres and rng.random() < config.crowding:
                anchor = centres[rng.integers(len(centres))]
                centre = anchor + rng.normal(0.0, 0.35, size=2) * extent
            else:
                centre = rng.uniform(extent / 2 - slack, size - extent / 2 + slack)
            top_left = tuple(int(v) for v in np.round(centre - extent / 2))
            if not (
                -slack[0] - 1 <= top_left[0] <= size - extent[0] + slack[0] + 1
                and -slack[1] - 1 <= top_left[1] <= size - extent[1] + slack[1] + 1
            ):
                continue
            box = np.array([*top_left, *(np.asarray(top_left) + extent)], dtype=float)
            if boxes and _box_iou(box, np.array(boxes)).max() > config.max_box_iou:
                continue
            covered = np.bincount(_window(owner, mask, top_left), minlength=len(placed) + 1)[1:]
            # Reject if any earlier person would keep less than (1 - max_cover) of its silhouette.
            if np.all(remaining - covered >= (1.0 - config.max_cover) * np.asarray(full_area, dtype=float)):
                break
        else:
            continue  # no acceptable spot: this person is left out
        _paste(image, rgb, mask, top_left)
        ids = np.zeros_like(mask, dtype=np.int32)
        ids[mask] = len(placed) + 1
        _paste(owner, ids, mask, top_left)
        full_area.append(int(mask.sum()))
        placed.append((local, top_left, mask))
        centres.append(np.asarray(top_left) + extent / 2)
        boxes.append(box)

    persons = []
    for i, (local, top_left, _mask) in enumerate(placed):
        # Joints sit on pixel indices (Body.snapped); the centre of pixel i is i + 0.5 in the
        # continuous coordinates annotations use (pixel i spans [i, i + 1)).
        persons.append(
            {
                "joints": local.joints + np.asarray(top_left, dtype=float) + 0.5,
                "self_occluded": local.self_occluded,
                "visible_mask": owner == i + 1,
                "owner_index": i + 1,
            }
        )
    for person in persons:
        person["visibility"] = _visibility(person, owner, size)
    return image, persons


def _visibility(person: dict, owner: np.ndarray, size: int) -> np.ndarray:
    """int[19]: 0 outside the image, 1 hidden by a later person or by the own head, else 2."""
    joints = person["joints"]
    inside = (joints[:, 0] >= 0) & (joints[:, 0] < size) & (joints[:, 1] >= 0) & (joints[:, 1] < size)
    px = np.clip(np.floor(joints[:, 0]).astype(int), 0, size - 1)
    py = np.clip(np.floor(joints[:, 1]).astype(int), 0, size - 1)
    covered_by_later = owner[py, px] > person["owner_index"]
    v = np.where(covered_by_later | person["self_occluded"], 1, 2)
    return np.where(inside, v, 0)


def _annotations(persons: list[dict], layout_name: str, image_id: int, first_ann_id: int) -> tuple[list[dict], float]:
    """COCO annotations for one image's persons and the image's crowd index."""
    layout = get_layout(layout_name)
    anns = []
    crowd_kpts, crowd_boxes = [], []
    for person in persons:
        mask = person["visible_mask"]
        area = int(mask.sum())
        if area == 0:
            continue
        ys, xs = np.nonzero(mask)
        bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
        full = np.concatenate([person["joints"], person["visibility"][:, None]], axis=1)
        full[full[:, 2] == 0] = 0.0
        kpts = full[layout.superset_index]
        if not (kpts[:, 2] > 0).any():
            continue
        # CrowdPose counts only visible (v = 2) joints in num_keypoints; COCO counts labelled ones.
        counted = kpts[:, 2] == 2 if layout.name == "crowdpose" else kpts[:, 2] > 0
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        anns.append(
            {
                "id": first_ann_id + len(anns),
                "image_id": image_id,
                "category_id": 1,
                "iscrowd": 0,
                "keypoints": [round(float(v), 2) for v in kpts.ravel()],
                "num_keypoints": int(counted.sum()),
                "area": float(area),
                "bbox": bbox,
                "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
            }
        )
        crowd_kpts.append(full[CROWDPOSE.superset_index])
        crowd_boxes.append(bbox)
    index = crowd_index(
        np.array(crowd_kpts).reshape(-1, CROWDPOSE.num_keypoints, 3), np.array(crowd_boxes).reshape(-1, 4)
    )
    return anns, round(index, 4)


def generate(root: Path | str, n_images: int, seed: int, image_size: int = 128, **options) -> Path:
    """Write ``root/images/*.png`` and ``root/annotations.json`` (COCO keypoints format).

    ``options`` are the other ``SyntheticConfig`` fields (persons_per_image, person_height,
    max_cover, crowding, clutter, edge_overflow, layout). Returns ``root/annotations.json``.
    """
    config = SyntheticConfig(n_images=n_images, seed=seed, image_size=image_size, **options)
    return write_split(Path(root), config)


def write_split(root: Path, config: SyntheticConfig) -> Path:
    """Generate the split described by ``config`` under ``root``; returns the annotation file."""
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    layout = get_layout(config.layout)
    images, annotations = [], []
    for index in range(config.n_images):
        rng = np.random.default_rng([config.seed, index])
        image, persons = render_scene(config, rng)
        image_id = index + 1
        file_name = f"{image_id:06d}.png"
        Image.fromarray(image).save(images_dir / file_name, compress_level=1)
        anns, index_value = _annotations(persons, config.layout, image_id, len(annotations) + 1)
        annotations.extend(anns)
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": config.image_size,
                "height": config.image_size,
                "crowdIndex": index_value,
            }
        )
    document = {
        "info": {
            "description": "companion.jcra synthetic multi-person keypoints",
            "generator_version": generator_hash(),
            "config": config.as_dict(),
        },
        "images": images,
        "annotations": annotations,
        "categories": [layout.category()],
    }
    return write_text(root / "annotations.json", json.dumps(document))


def generator_hash() -> str:
    """Hash of the generator's source: a cached split is rebuilt when the drawing code changes."""
    sources = [inspect.getsource(m) for m in (body_module, crowd_module, skeleton_module)]
    sources.append(Path(__file__).read_text(encoding="utf-8"))
    return sha256_json(sources)[:16]


def split_config(name: str, profile_params: dict | None = None) -> SyntheticConfig:
    """The ``SyntheticConfig`` of the named split (``SPLITS``) with ``profile_params`` overriding it."""
    if name not in SPLITS:
        raise ValueError(f"split name must be one of {sorted(SPLITS)}, got {name!r}")
    params = dict(SPLITS[name])
    overrides = dict(profile_params or {})
    known = {f.name for f in dataclasses.fields(SyntheticConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"profile_params has unknown keys {unknown}; expected some of {sorted(known)}")
    params.update(overrides)
    return SyntheticConfig(**params)


def ensure_split(name: str, profile_params: dict | None = None, cache_root: Path | None = None) -> Path:
    """Generate (once) and return the directory of a named split, cached by its parameters.

    The directory is ``build/jcra/data/<hash>/`` with ``images/`` and ``annotations.json``;
    ``<hash>`` covers the split's full config and ``generator_hash()``. A split is written to a
    temporary directory and renamed into place, so a half-written split is never reused.
    """
    config = split_config(name, profile_params)
    key = sha256_json({"config": config.as_dict(), "generator": generator_hash()})[:16]
    base = Path(cache_root) if cache_root is not None else BUILD_DIR / "jcra" / "data"
    target = base / key
    if (target / "annotations.json").is_file():
        return target
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=base))
    try:
        write_split(staging, config)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished the same split first
            if not (target / "annotations.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
