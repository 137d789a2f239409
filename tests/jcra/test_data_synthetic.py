"""The synthetic generator: determinism, COCO validity, visibility flags, areas, crowd split."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO as PyCOCO

from companion.jcra.data import skeleton, synthetic
from companion.jcra.data.body import sample_body
from companion.jcra.data.crowd import crowd_index, crowd_level
from companion.jcra.data.synthetic import SyntheticConfig, render_scene

J = {name: k for k, name in enumerate(skeleton.SUPERSET_KEYPOINTS)}


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(root, n_images=24, seed=3, image_size=96, persons_per_image=(1, 4))
    return root


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path, small_split):
    synthetic.generate(tmp_path / "again", n_images=24, seed=3, image_size=96, persons_per_image=(1, 4))
    synthetic.generate(tmp_path / "other", n_images=24, seed=4, image_size=96, persons_per_image=(1, 4))
    first = (small_split / "annotations.json").read_bytes()
    assert (tmp_path / "again" / "annotations.json").read_bytes() == first
    assert (tmp_path / "other" / "annotations.json").read_bytes() != first
    for name in ("000001.png", "000024.png"):
        a = np.asarray(Image.open(small_split / "images" / name))
        b = np.asarray(Image.open(tmp_path / "again" / "images" / name))
        assert np.array_equal(a, b)


def test_images_do_not_depend_on_how_many_were_generated(tmp_path, small_split):
    synthetic.generate(tmp_path, n_images=5, seed=3, image_size=96, persons_per_image=(1, 4))
    a = np.asarray(Image.open(small_split / "images" / "000005.png"))
    b = np.asarray(Image.open(tmp_path / "images" / "000005.png"))
    assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools mask.decode under numpy 2
def test_split_is_valid_coco_keypoints(small_split):
    coco = PyCOCO(str(small_split / "annotations.json"))
    assert len(coco.getImgIds()) == 24
    category = coco.loadCats(1)[0]
    assert category["keypoints"] == list(skeleton.COCO_KEYPOINTS)
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 24
    for ann in anns:
        kp = np.asarray(ann["keypoints"]).reshape(17, 3)
        assert set(np.unique(kp[:, 2])) <= {0, 1, 2}
        assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum()) > 0
        assert np.all(kp[kp[:, 2] == 0] == 0)
        labelled = kp[kp[:, 2] > 0]
        assert np.all((labelled[:, :2] >= 0) & (labelled[:, :2] < 96))
        # The area is the visible rendered mask, which the RLE segmentation stores.
        mask = mask_utils.decode(ann["segmentation"])
        assert mask.sum() == ann["area"] > 0
        ys, xs = np.nonzero(mask)
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    for image in coco.loadImgs(coco.getImgIds()):
        assert Image.open(small_split / "images" / image["file_name"]).size == (96, 96)
        assert image["crowdIndex"] >= 0


def test_occluded_joints_are_under_a_later_person_and_visible_ones_are_not():
    config = SyntheticConfig(n_images=1, image_size=128, persons_per_image=(3, 5), max_cover=0.6, crowding=0.8)
    n_occluded = 0
    for index in range(30):
        _, persons = render_scene(config, np.random.default_rng([11, index]))
        for i, person in enumerate(persons):
            later = np.zeros((128, 128), dtype=bool)
            for other in persons[i + 1 :]:
                later |= other["visible_mask"]
            xy = np.floor(person["joints"]).astype(int)
            for k, (v, (x, y)) in enumerate(zip(person["visibility"], xy)):
                if v == 0:
                    assert not (0 <= x < 128 and 0 <= y < 128)
                    continue
                if person["self_occluded"][k]:
                    assert v == 1
                    continue
                assert later[y, x] == (v == 1)
                n_occluded += v == 1
    assert n_occluded > 10, "the crowded setting should occlude some joints"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), stature=st.floats(40, 400))
def test_bodies_have_plausible_proportions(seed, stature):
    body = sample_body(np.random.default_rng(seed), stature)
    j = body.joints

    def dist(a, b):
        return float(np.linalg.norm(j[J[a]] - j[J[b]]))

    for side in ("left", "right"):
        assert (
            0.186 * 0.92 * 0.8 * stature - 1e-6
            <= dist(f"{side}_shoulder", f"{side}_elbow")
            <= 0.186 * 1.08 * stature + 1e-6
        )
        assert (
            0.245 * 0.92 * 0.8 * stature - 1e-6 <= dist(f"{side}_hip", f"{side}_knee") <= 0.245 * 1.08 * stature + 1e-6
        )
    # Camera-facing: the person's left shoulder and hip are on the image's right.
    assert j[J["left_shoulder"], 0] > j[J["right_shoulder"], 0]
    assert j[J["left_hip"], 0] > j[J["right_hip"], 0]
    # Head above neck above hips (image y grows downwards); total height near the stature.
    assert j[J["head"], 1] < j[J["neck"], 1] < j[J["left_hip"], 1]
    height = j[:, 1].max() - j[J["head"], 1]
    assert 0.6 * stature < height < 1.15 * stature


def test_crowd_index_matches_the_crowdpose_definition():
    # Person 0's box holds 2 of person 1's 4 joints; person 1's box holds none of person 0's.
    kp = np.zeros((2, 4, 3))
    kp[0] = [[1, 1, 2], [9, 9, 2], [1, 9, 2], [9, 1, 1]]
    kp[1] = [[5, 5, 2], [6, 6, 2], [20, 20, 2], [21, 21, 2]]
    boxes = np.array([[0, 0, 10, 10], [15, 15, 10, 10]], dtype=float)
    assert crowd_index(kp, boxes) == pytest.approx((2 / 4 + 0 / 4) / 2)
    assert crowd_index(kp[:1], boxes[:1]) == 0.0
    assert [crowd_level(v) for v in (0.0, 0.19, 0.2, 0.79, 0.8, 1.3)] == [
        "easy",
        "easy",
        "medium",
        "medium",
        "hard",
        "hard",
    ]


def test_crowd_split_spans_easy_medium_and_hard(tmp_path):
    root = synthetic.ensure_split("crowd", {"n_images": 30}, cache_root=tmp_path)
    document = json.loads((root / "annotations.json").read_text())
    levels = {crowd_level(image["crowdIndex"]) for image in document["images"]}
    assert levels == {"easy", "medium", "hard"}


def test_crowdpose_variant_has_14_joints_with_head_and_neck(tmp_path):
    synthetic.generate(tmp_path, n_images=6, seed=0, image_size=96, layout="crowdpose")
    document = json.loads((tmp_path / "annotations.json").read_text())
    assert document["categories"][0]["keypoints"] == list(skeleton.CROWDPOSE_KEYPOINTS)
    for ann in document["annotations"]:
        kp = np.asarray(ann["keypoints"]).reshape(14, 3)
        assert ann["num_keypoints"] == int((kp[:, 2] == 2).sum())  # CrowdPose counts visible only
        head, neck = kp[12], kp[13]
        if head[2] > 0 and neck[2] > 0:
            assert head[1] < neck[1]


def test_ensure_split_caches_by_parameters(tmp_path):
    first = synthetic.ensure_split("val", {"n_images": 3, "image_size": 64}, cache_root=tmp_path)
    stamp = (first / "annotations.json").stat().st_mtime_ns
    assert synthetic.ensure_split("val", {"n_images": 3, "image_size": 64}, cache_root=tmp_path) == first
    assert (first / "annotations.json").stat().st_mtime_ns == stamp
    other = synthetic.ensure_split("val", {"n_images": 4, "image_size": 64}, cache_root=tmp_path)
    assert other != first and len(list((other / "images").iterdir())) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder left behind"


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"n_images": 0}, "n_images"),
        ({"image_size": 8}, "image_size"),
        ({"persons_per_image": (3, 1)}, "persons_per_image"),
        ({"max_cover": 1.5}, "max_cover"),
        ({"layout": "mpii"}, "layout"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_parameters_name_the_parameter(bad, field):
    with pytest.raises(ValueError, match=field):
        synthetic.split_config("train", bad)
    with pytest.raises(ValueError, match="split name"):
        synthetic.split_config("nope")


def test_generation_is_fast(tmp_path):
    start = time.perf_counter()
    synthetic.generate(tmp_path, n_images=200, seed=0, image_size=128)
    seconds = time.perf_counter() - start
    assert seconds < 6.0, f"200 images took {seconds:.1f} s; 2000 must stay well under a minute"


def test_face_keypoints_sit_at_the_centre_of_their_drawn_dots():
    config = SyntheticConfig(n_images=1, image_size=384, persons_per_image=(1, 1), clutter=0)
    for seed in range(4):
        image, persons = render_scene(config, np.random.default_rng(seed))
        x, y = persons[0]["joints"][J["nose"]]
        ys, xs = np.mgrid[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3]
        dark = (np.abs(image[ys, xs].astype(int) - [25, 20, 20]).sum(-1) < 5).astype(float)
        assert dark.sum() >= 5
        centre = np.array([(dark * (xs + 0.5)).sum(), (dark * (ys + 0.5)).sum()]) / dark.sum()
        assert np.allclose(centre, (x, y), atol=0.2), (centre, (x, y))


def test_images_by_level_groups_every_image(small_split):
    from companion.jcra.data.crowd import images_by_level

    levels = images_by_level(small_split / "annotations.json")
    document = json.loads((small_split / "annotations.json").read_text())
    assert sorted(sum(levels.values(), [])) == sorted(image["id"] for image in document["images"])
    for image in document["images"]:
        assert image["id"] in levels[crowd_level(image["crowdIndex"])]
