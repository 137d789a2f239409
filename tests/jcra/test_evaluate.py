"""Model-level evaluation: one entry point for JCRA and the baseline, on files or named splits."""

import json

import numpy as np
import pytest

from companion.jcra import evaluate, metrics
from companion.jcra.data import crowd, synthetic


def test_evaluate_on_split_runs_a_trained_checkpoint(tmp_path, monkeypatch):
    from companion import paths
    from companion.jcra import train

    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(synthetic, "BUILD_DIR", tmp_path)
    checkpoint = train.ensure_trained(
        "tiny", data_params={"n_images": 4}, train_params={"steps": 2, "batch_size": 2}, progress=False
    )
    stats, results, gt_file = evaluate.evaluate_on_split(checkpoint, "crowd", {"n_images": 3})
    assert gt_file.is_relative_to(tmp_path)
    assert set(metrics.CROWDPOSE_STAT_NAMES) <= set(stats)
    assert all(stats[name] == -1.0 or 0.0 <= stats[name] <= 1.0 for name in metrics.CROWDPOSE_STAT_NAMES)
    document = json.loads(gt_file.read_text())
    assert {r["image_id"] for r in results} == {image["id"] for image in document["images"]}
    assert all(len(r["keypoints"]) == 51 for r in results)


def _jittered(results: list[dict], sigma: float, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for index, item in enumerate(results):
        keypoints = np.asarray(item["keypoints"], dtype=float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, sigma, keypoints[:, :2].shape)
        score = 0.2 + 0.7 * ((index * 37) % 11) / 11  # distinct ranks, mixed order
        out.append({**item, "keypoints": keypoints.ravel().tolist(), "score": score})
    return out


@pytest.fixture(scope="module")
def crowd_gt(tmp_path_factory):
    root = tmp_path_factory.mktemp("crowd")
    return synthetic.generate(
        root, n_images=30, seed=3, image_size=96, persons_per_image=(1, 5), max_box_iou=1.0, max_cover=0.5, crowding=0.8
    )


def test_crowd_level_intervals_bracket_the_crowdpose_aps_and_pair_the_models(crowd_gt):
    truth = metrics.ground_truth_as_results(crowd_gt)
    good, poor = _jittered(truth, 0.5, seed=1), _jittered(truth, 3.0, seed=2)[::2]  # poor: noisier, half the persons
    found = evaluate.crowd_level_intervals(crowd_gt, {"good": good, "poor": poor}, resamples=300)
    levels = {level: ids for level, ids in crowd.images_by_level(crowd_gt).items() if ids}
    assert list(found) == list(levels) and len(found) >= 2
    good_stats = metrics.coco_keypoint_stats(crowd_gt, good, mode="crowdpose")
    poor_stats = metrics.coco_keypoint_stats(crowd_gt, poor, mode="crowdpose")
    for level, intervals in found.items():
        column = {"easy": "APE", "medium": "APM", "hard": "APH"}[level]
        # the estimates are xtcocotools' own APE / APM / APH (which it rounds to 4 digits)
        assert intervals["good"].estimate == pytest.approx(100 * good_stats[column], abs=0.006)
        assert intervals["poor"].estimate == pytest.approx(100 * poor_stats[column], abs=0.006)
        assert intervals["difference"].estimate == pytest.approx(
            intervals["good"].estimate - intervals["poor"].estimate
        )
        for interval in intervals.values():
            assert interval.low <= interval.estimate <= interval.high
        assert intervals["difference"].above(0), f"{level}: the better model is not told apart"
        assert intervals["poor"].high > intervals["poor"].low  # the images differ: a real spread
    again = evaluate.crowd_level_intervals(crowd_gt, {"good": good, "poor": poor}, resamples=300)
    assert again == found  # seeded
    swapped = evaluate.crowd_level_intervals(crowd_gt, {"poor": poor, "good": good}, resamples=300)
    for level, intervals in swapped.items():  # paired: the same resampled images for both models
        mirrored = found[level]["difference"]
        assert intervals["difference"].estimate == pytest.approx(-mirrored.estimate)
        assert (intervals["difference"].low, intervals["difference"].high) == pytest.approx(
            (-mirrored.high, -mirrored.low)
        )
    with pytest.raises(ValueError, match="two models"):
        evaluate.crowd_level_intervals(crowd_gt, {"good": good})
