"""The COCO keypoints reader, the Dataset's targets, collate, and errors for malformed files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from companion.jcra import data
from companion.jcra.data import CocoPoseDataset, MalformedAnnotationError, collate, load_annotations
from companion.jcra.data.real import pose_mini_root
from companion.jcra.data.transforms import denormalize


def write_coco(tmp_path: Path, document: dict, name: str = "person_keypoints_val2017.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def person(image_id: int, ann_id: int, points: list[tuple[float, float, int]], **extra) -> dict:
    keypoints = [0.0] * 51
    for k, (x, y, v) in enumerate(points):
        keypoints[3 * k : 3 * k + 3] = [x, y, v]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "area": 900.0,
        "bbox": [0, 0, 30, 30],
        "num_keypoints": sum(v > 0 for _, _, v in points),
        "keypoints": keypoints,
        **extra,
    }


@pytest.fixture()
def tiny_coco(tmp_path):
    """COCO 2017 layout with one 40x30 image: a normal person, a crowd region, an unlabelled person."""
    (tmp_path / "annotations").mkdir()
    (tmp_path / "val2017").mkdir()
    Image.new("RGB", (40, 30), (120, 30, 200)).save(tmp_path / "val2017" / "000000000007.jpg")
    document = {
        "images": [{"id": 7, "file_name": "000000000007.jpg", "width": 40, "height": 30}],
        "annotations": [
            person(7, 1, [(10, 5, 2), (12, 6, 1)]),
            person(7, 2, [(20, 20, 2)], iscrowd=1),
            person(7, 3, []),
        ],
        "categories": [data.COCO.category()],
    }
    write_coco(tmp_path / "annotations", document)
    return tmp_path, document


def test_reads_coco_2017_layout_and_drops_crowd_and_unlabelled_persons(tiny_coco):
    root, _ = tiny_coco
    dataset = CocoPoseDataset(*data.coco_paths(root, "val2017"))
    assert len(dataset) == 1 and dataset.layout is data.COCO
    image, target = dataset[0]
    assert image.shape == (3, 30, 40) and image.dtype == torch.float32
    assert np.allclose(denormalize(image)[0, 0], (120, 30, 200), atol=1)
    assert target["keypoints"].shape == (1, 17, 3)
    assert target["keypoints"][0, :2].tolist() == [[10, 5, 2], [12, 6, 1]]
    assert target["areas"].tolist() == [900.0]
    assert target["image_id"] == 7
    assert target["orig_size"].tolist() == [30, 40] and target["size"].tolist() == [30, 40]


def test_resize_changes_size_keypoints_and_areas(tiny_coco):
    root, _ = tiny_coco
    dataset = CocoPoseDataset(*data.coco_paths(root, "val2017"), transforms=data.eval_transforms(80))
    image, target = dataset[0]
    assert image.shape == (3, 60, 80)
    assert target["size"].tolist() == [60, 80] and target["orig_size"].tolist() == [30, 40]
    assert target["keypoints"][0, 0].tolist() == [20, 10, 2]
    assert target["areas"].tolist() == [3600.0]


def test_image_without_persons_gives_empty_targets(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "images" / "a.png")
    document = {
        "images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 16}],
        "annotations": [],
        "categories": [data.CROWDPOSE.category()],
    }
    write_coco(tmp_path, document, "annotations.json")
    _, target = CocoPoseDataset(*data.synthetic_paths(tmp_path))[0]
    assert target["keypoints"].shape == (0, 14, 3) and target["areas"].shape == (0,)


def test_training_augmentation_keeps_targets_consistent(tmp_path):
    root = data.synthetic.ensure_split("train", {"n_images": 12, "image_size": 96}, cache_root=tmp_path)
    dataset = CocoPoseDataset(
        *data.synthetic_paths(root), transforms=data.train_transforms(data.COCO.flip_index, 96), seed=5
    )
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            image, target = dataset[i]
            h, w = target["size"].tolist()
            assert image.shape == (3, h, w) and max(h, w) == 96
            kp = target["keypoints"]
            labelled = kp[..., 2] > 0
            assert labelled.any(dim=1).all(), "persons without labelled joints are dropped"
            assert (kp[~labelled] == 0).all()
            xy = kp[labelled][:, :2]
            assert (xy[:, 0] >= 0).all() and (xy[:, 0] < w).all() and (xy[:, 1] >= 0).all() and (xy[:, 1] < h).all()
            assert (target["areas"] > 0).all()
    first = dataset[3]
    again = dataset[3]
    assert torch.equal(first[0], again[0]), "augmentation is reproducible for a given epoch"


def test_collate_pads_and_masks():
    a = (torch.ones(3, 4, 6), {"image_id": 1})
    b = (torch.ones(3, 5, 3), {"image_id": 2})
    images, pad_mask, targets = collate([a, b])
    assert images.shape == (2, 3, 5, 6) and pad_mask.shape == (2, 5, 6)
    assert not pad_mask[0, :4, :6].any() and pad_mask[0, 4:].all()
    assert not pad_mask[1, :5, :3].any() and pad_mask[1, :, 3:].all()
    assert (images[1, :, :, 3:] == 0).all() and (images[0, :, :4] == 1).all()
    assert [t["image_id"] for t in targets] == [1, 2]


def _break(document: dict, how: str) -> dict:
    broken = copy.deepcopy(document)
    if how == "images":
        del broken["images"]
    elif how == "keypoints":
        broken["annotations"][0]["keypoints"] = broken["annotations"][0]["keypoints"][:-1]
    elif how == "image_id":
        broken["annotations"][0]["image_id"] = 999
    elif how == "width":
        broken["images"][0]["width"] = "wide"
    elif how == "file_name":
        del broken["images"][0]["file_name"]
    elif how == "area":
        broken["annotations"][0]["area"] = -3
    elif how == "iscrowd":
        broken["annotations"][0]["iscrowd"] = 7
    elif how == "categories":
        broken["categories"] = [{"id": 1, "name": "person"}]
    elif how == "visibility":
        broken["annotations"][0]["keypoints"][2] = 5
    return broken


@pytest.mark.parametrize(
    "how, field",
    [
        ("images", "images"),
        ("keypoints", "keypoints"),
        ("image_id", "image_id"),
        ("width", "width"),
        ("file_name", "file_name"),
        ("area", "area"),
        ("iscrowd", "iscrowd"),
        ("categories", "keypoints"),
        ("visibility", "keypoints"),
    ],
)
def test_malformed_files_name_the_file_and_the_field(tiny_coco, tmp_path, how, field):
    _, document = tiny_coco
    path = write_coco(tmp_path, _break(document, how), "broken.json")
    with pytest.raises(MalformedAnnotationError) as error:
        load_annotations(path)
    assert str(path) in str(error.value) and f".{field}" in str(error.value)


def test_not_json_and_missing_file_are_clear(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(MalformedAnnotationError, match="bad.json: not valid JSON"):
        load_annotations(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_annotations(tmp_path / "missing.json")


def test_crowdpose_files_without_area_use_the_box(tmp_path):
    document = {
        "images": [{"id": 1, "file_name": "a.png", "width": 16, "height": 16, "crowdIndex": 0.1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [0, 0, 10, 20],
                "keypoints": [5, 5, 2] + [0, 0, 0] * 13,
            }
        ],
        "categories": [data.CROWDPOSE.category()],
    }
    loaded = load_annotations(write_coco(tmp_path, document, "cp.json"))
    assert loaded.layout is data.CROWDPOSE
    assert loaded.images[0].persons[0].area == pytest.approx(10 * 20 * 0.53)


def test_reads_the_real_pose_mini_files():
    root = pose_mini_root()
    if root is None:
        pytest.skip("../shared/data/pose-mini is absent")
    coco = CocoPoseDataset(root / "coco" / "test_coco.json", root / "coco", transforms=data.eval_transforms(320))
    assert len(coco) == 4 and coco.layout is data.COCO
    persons = sum(int(coco[i][1]["keypoints"].shape[0]) for i in range(len(coco)))
    assert persons == 12  # 14 annotated persons, 12 with keypoints (pose-mini README)
    crowd = CocoPoseDataset(root / "crowdpose" / "test_crowdpose.json", root / "crowdpose")
    assert crowd.layout is data.CROWDPOSE and len(crowd) == 2
    ochuman = load_annotations(root / "ochuman" / "test_ochuman.json")
    assert ochuman.layout is data.COCO and len(ochuman.images) == 3
