"""Augmentations keep keypoints on the pixels they label, swap left/right on a flip, keep OKS."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from companion.jcra.data import COCO
from companion.jcra.data.transforms import (
    HorizontalFlip,
    PhotometricDistort,
    PoseSample,
    RandomCrop,
    ResizeLongestSide,
    _apply_affine,
    rotation_scale_matrix,
    warp,
)
from companion.jcra.metrics import oks_matrix

RNG = np.random.default_rng(0)


def blob_sample(points: np.ndarray, size: tuple[int, int] = (120, 90)) -> PoseSample:
    """A grey image with one Gaussian blob (sigma 1.5 px) centred on every keypoint (continuous coords)."""
    width, height = size
    xs = np.arange(width) + 0.5  # pixel centres
    ys = np.arange(height) + 0.5
    image = np.zeros((height, width))
    for x, y in points:
        image += np.exp(-((xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2) / (2 * 1.5**2))
    rgb = np.repeat((np.clip(image, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    keypoints = np.zeros((1, 17, 3))
    keypoints[0, : len(points), :2] = points
    keypoints[0, : len(points), 2] = 2
    return PoseSample(Image.fromarray(rgb), keypoints, np.array([500.0]))


def blob_centre(sample: PoseSample, near: np.ndarray, radius: int = 4) -> np.ndarray:
    """Intensity-weighted centre (continuous coords) of the image around ``near``."""
    image = np.asarray(sample.image)[..., 0].astype(float)
    cx, cy = int(near[0]), int(near[1])
    y0, y1 = max(cy - radius, 0), min(cy + radius + 1, image.shape[0])
    x0, x1 = max(cx - radius, 0), min(cx + radius + 1, image.shape[1])
    window = image[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return np.array([(window * (xs + 0.5)).sum(), (window * (ys + 0.5)).sum()]) / window.sum()


POINTS = np.array([[30.3, 25.7], [80.0, 40.5], [55.5, 70.2], [95.8, 20.1]])


def assert_keypoints_on_blobs(sample: PoseSample, n: int = len(POINTS)) -> None:
    for k in range(n):
        x, y, v = sample.keypoints[0, k]
        if v == 0:
            continue
        centre = blob_centre(sample, np.array([x, y]))
        assert np.allclose(centre, (x, y), atol=0.25), f"joint {k}: label {x:.2f},{y:.2f} blob {centre}"


def test_flip_moves_keypoints_with_the_pixels():
    flipped = HorizontalFlip(np.arange(17), p=1.0)(blob_sample(POINTS), RNG)  # identity labels
    assert_keypoints_on_blobs(flipped)


@pytest.mark.parametrize("angle, scale", [(0.0, 1.0), (30.0, 1.0), (-25.0, 1.3), (90.0, 0.8), (12.0, 0.7)])
def test_rotation_and_zoom_move_keypoints_with_the_pixels(angle, scale):
    sample = blob_sample(POINTS)
    matrix = rotation_scale_matrix(sample.image.size, angle, scale)
    out = warp(sample, matrix, sample.image.size)
    assert_keypoints_on_blobs(out)
    assert out.areas[0] == pytest.approx(500.0 * scale**2)


def test_crop_and_resize_move_keypoints_with_the_pixels():
    sample = blob_sample(POINTS)
    cropped = RandomCrop(min_fraction=0.6, p=1.0)(sample, np.random.default_rng(3))
    assert cropped.image.size != sample.image.size
    assert_keypoints_on_blobs(cropped)
    resized = ResizeLongestSide(77)(sample)
    assert max(resized.image.size) == 77
    assert_keypoints_on_blobs(resized)
    assert resized.areas[0] == pytest.approx(500.0 * (77 / 120) * (resized.image.size[1] / 90))


def test_flip_twice_is_the_identity():
    sample = blob_sample(POINTS)
    sample.keypoints[0, 5:9, :2] = [[40, 50], [60, 50], [35, 65], [66, 64]]
    sample.keypoints[0, 5:9, 2] = [2, 1, 2, 2]
    flip = HorizontalFlip(COCO.flip_index, p=1.0)
    twice = flip(flip(sample, RNG), RNG)
    assert np.array_equal(np.asarray(twice.image), np.asarray(sample.image))
    assert np.allclose(twice.keypoints, sample.keypoints)


def test_flip_swaps_left_and_right_names():
    name = {n: k for k, n in enumerate(COCO.keypoints)}
    sample = blob_sample(POINTS)
    sample.keypoints[0] = 0
    sample.keypoints[0, name["left_shoulder"]] = [70, 30, 2]
    sample.keypoints[0, name["right_shoulder"]] = [50, 31, 1]
    sample.keypoints[0, name["nose"]] = [60, 20, 2]
    out = HorizontalFlip(COCO.flip_index, p=1.0)(sample, RNG)
    width = sample.image.size[0]
    assert np.allclose(out.keypoints[0, name["left_shoulder"]], [width - 50, 31, 1])
    assert np.allclose(out.keypoints[0, name["right_shoulder"]], [width - 70, 30, 2])
    assert np.allclose(out.keypoints[0, name["nose"]], [width - 60, 20, 2])
    # The person's left shoulder is again on the image's right.
    assert out.keypoints[0, name["left_shoulder"], 0] > out.keypoints[0, name["right_shoulder"], 0]


def test_joints_leaving_the_image_become_unlabelled():
    sample = blob_sample(POINTS)
    shift = np.array([[1.0, 0.0, 50.0], [0.0, 1.0, 0.0]])
    out = warp(sample, shift, sample.image.size)
    assert out.keypoints[0, 1, 2] == 0 and np.all(out.keypoints[0, 1] == 0)  # x 80 -> 130 > 120
    assert out.keypoints[0, 0, 2] == 2 and out.keypoints[0, 0, 0] == pytest.approx(80.3)


def test_photometric_changes_colours_only():
    sample = blob_sample(POINTS)
    out = PhotometricDistort(p=1.0)(sample, np.random.default_rng(1))
    assert out.image.size == sample.image.size
    assert np.array_equal(out.keypoints, sample.keypoints)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), angle=st.floats(-180, 180), scale=st.floats(0.5, 2.0), area=st.floats(200, 5000))
def test_oks_is_unchanged_when_prediction_and_truth_get_the_same_rotation(seed, angle, scale, area):
    rng = np.random.default_rng(seed)
    truth = np.concatenate([rng.uniform(40, 80, (1, 17, 2)), rng.integers(0, 3, (1, 17, 1))], axis=-1)
    truth[0, 0, 2] = 2
    pred = truth.copy()
    pred[..., :2] += rng.normal(0, 4, pred[..., :2].shape)
    before = oks_matrix(pred, truth, np.array([area]), COCO.sigmas)
    matrix = rotation_scale_matrix((120, 120), angle, scale)
    after = oks_matrix(
        _apply_affine(pred, matrix), _apply_affine(truth, matrix), np.array([area * scale**2]), COCO.sigmas
    )
    assert after == pytest.approx(before, abs=1e-9)


def test_oks_survives_the_image_warp_too():
    sample = blob_sample(POINTS, size=(160, 160))
    sample.keypoints[0, :4, :2] = sample.keypoints[0, :4, :2] * 0.5 + 40  # keep inside after rotating
    prediction = PoseSample(sample.image, sample.keypoints.copy(), sample.areas)
    prediction.keypoints[0, :4, :2] += [[2, -1], [-3, 1], [1, 2], [0, -2]]
    matrix = rotation_scale_matrix(sample.image.size, 33.0, 1.2)
    warped_truth = warp(sample, matrix, sample.image.size)
    warped_pred = warp(prediction, matrix, sample.image.size)
    before = oks_matrix(prediction.keypoints, sample.keypoints, sample.areas, COCO.sigmas)
    after = oks_matrix(warped_pred.keypoints, warped_truth.keypoints, warped_truth.areas, COCO.sigmas)
    assert after == pytest.approx(before)
