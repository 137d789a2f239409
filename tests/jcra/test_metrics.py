"""COCO / CrowdPose keypoint evaluation and the numpy OKS, checked against pycocotools."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from companion.jcra import metrics
from companion.jcra.data import COCO as COCO_LAYOUT
from companion.jcra.data import synthetic
from companion.jcra.data.real import pose_mini_paths, pose_mini_predictions, pose_mini_root


def need_pose_mini():
    if pose_mini_root() is None:
        pytest.skip("../shared/data/pose-mini is absent")
    return pose_mini_root()


@pytest.fixture(scope="module")
def synthetic_gt(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    return synthetic.generate(
        root, n_images=12, seed=7, image_size=96, persons_per_image=(1, 4), max_box_iou=1.0, max_cover=0.5, crowding=0.5
    )


def noisy(results: list[dict], sigma: float, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for item in results:
        kp = np.asarray(item["keypoints"], dtype=float).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, sigma, kp[:, :2].shape)
        out.append({**item, "keypoints": kp.ravel().tolist(), "score": float(rng.uniform(0.5, 1))})
    return out


def test_ground_truth_as_predictions_gives_ap_one_on_synthetic(synthetic_gt, capsys):
    results = metrics.ground_truth_as_results(synthetic_gt)
    stats = metrics.coco_keypoint_stats(synthetic_gt, results)
    for name in ("AP", "AP50", "AP75", "AR", "AR50", "AR75"):
        assert stats[name] == pytest.approx(1.0)
    assert set(metrics.COCO_STAT_NAMES) <= set(stats)
    assert "Average Precision" in stats["summary_text"]
    assert capsys.readouterr().out == "", "the evaluator's printing is captured"


def test_ap_falls_as_keypoint_noise_grows(synthetic_gt):
    results = metrics.ground_truth_as_results(synthetic_gt)
    aps = [metrics.coco_keypoint_stats(synthetic_gt, noisy(results, sigma))["AP"] for sigma in (0.5, 2, 6)]
    assert 1.0 > aps[0] > aps[1] > aps[2] >= 0.0


def test_crowdpose_mode_reports_easy_medium_hard(synthetic_gt):
    results = metrics.ground_truth_as_results(synthetic_gt)
    stats = metrics.coco_keypoint_stats(synthetic_gt, noisy(results, 1.0), mode="crowdpose")
    assert set(metrics.CROWDPOSE_STAT_NAMES) <= set(stats)
    for name in ("APE", "APM", "APH"):
        assert stats[name] == -1.0 or 0.0 <= stats[name] <= 1.0
    assert "type=  hard" in stats["summary_text"]
    perfect = metrics.coco_keypoint_stats(synthetic_gt, results, mode="crowdpose")
    assert perfect["AP"] == pytest.approx(1.0)


def test_crowdpose_mode_needs_crowd_index(synthetic_gt, tmp_path):
    document = json.loads(synthetic_gt.read_text())
    del document["images"][0]["crowdIndex"]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"images\[0\]\.crowdIndex"):
        metrics.coco_keypoint_stats(path, metrics.ground_truth_as_results(path), mode="crowdpose")


def test_bad_inputs_are_named(synthetic_gt, tmp_path):
    with pytest.raises(ValueError, match="mode"):
        metrics.coco_keypoint_stats(synthetic_gt, [], mode="mpii")
    with pytest.raises(ValueError, match=r"results\[0\]: missing field 'score'"):
        metrics.coco_keypoint_stats(synthetic_gt, [{"image_id": 1, "keypoints": [0] * 51}])
    with pytest.raises(ValueError, match=r"results\[0\]\.keypoints"):
        metrics.coco_keypoint_stats(synthetic_gt, [{"image_id": 1, "keypoints": [0] * 42, "score": 1}])
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        metrics.coco_keypoint_stats(tmp_path / "nothing.json", [])
    empty = metrics.coco_keypoint_stats(synthetic_gt, [])
    assert empty["AP"] == 0.0 and empty["n_results"] == 0


def _pycocotools_ious(gt_file, results):
    with open("/dev/null", "w") as sink:
        import contextlib

        with contextlib.redirect_stdout(sink):
            gt = COCO(str(gt_file))
            dt = gt.loadRes([dict(r) for r in results])
            evaluator = COCOeval(gt, dt, "keypoints")
            evaluator.evaluate()
    return gt, evaluator


def _check_oks_against_pycocotools(gt_file, results):
    gt, evaluator = _pycocotools_ious(gt_file, results)
    checked = 0
    for (image_id, category_id), ious in evaluator.ious.items():
        if len(ious) == 0:
            continue
        gts = evaluator._gts[image_id, category_id]
        dts = sorted(evaluator._dts[image_id, category_id], key=lambda d: -d["score"])[:20]
        ours = metrics.oks_matrix(
            np.array([d["keypoints"] for d in dts], dtype=float).reshape(len(dts), -1, 3),
            np.array([g["keypoints"] for g in gts], dtype=float).reshape(len(gts), -1, 3),
            np.array([g["area"] for g in gts]),
            COCO_LAYOUT.sigmas,
            np.array([g["bbox"] for g in gts], dtype=float),
        )
        assert np.allclose(ours, ious, atol=1e-12)
        checked += ious.size
    assert checked > 0


def test_oks_matrix_matches_pycocotools_on_synthetic(synthetic_gt):
    _check_oks_against_pycocotools(synthetic_gt, noisy(metrics.ground_truth_as_results(synthetic_gt), 3.0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_dt=st.integers(1, 4), n_gt=st.integers(1, 4))
def test_oks_matrix_properties(seed, n_dt, n_gt):
    rng = np.random.default_rng(seed)
    gt = np.concatenate([rng.uniform(0, 100, (n_gt, 17, 2)), rng.integers(0, 3, (n_gt, 17, 1))], axis=-1)
    gt[:, 0, 2] = 2
    areas = rng.uniform(100, 5000, n_gt)
    dt = rng.uniform(0, 100, (n_dt, 17, 2))
    matrix = metrics.oks_matrix(dt, gt, areas, COCO_LAYOUT.sigmas)
    assert matrix.shape == (n_dt, n_gt) and ((matrix >= 0) & (matrix <= 1)).all()
    assert np.allclose(metrics.oks_matrix(gt, gt, areas, COCO_LAYOUT.sigmas).diagonal(), 1.0)
    # The per-keypoint similarities average to the same OKS.
    per_kp = metrics.keypoint_similarities(dt[0], gt[0], areas[0], COCO_LAYOUT.sigmas)
    assert np.nanmean(per_kp) == pytest.approx(matrix[0, 0])


def test_pose_mini_ground_truth_as_predictions_gives_ap_one():
    need_pose_mini()
    gt_file, _ = pose_mini_paths("coco")
    stats = metrics.coco_keypoint_stats(gt_file, metrics.ground_truth_as_results(gt_file))
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)


def test_pose_mini_predictions_give_the_published_numbers():
    need_pose_mini()
    gt_file, _ = pose_mini_paths("coco")
    stats = metrics.coco_keypoint_stats(gt_file, pose_mini_predictions())
    # pose-mini README: AP 0.8609, AP50 0.9931, AP75 0.9109, APM 0.7756, APL 0.9373, AR 0.875.
    expected = {"AP": 0.8609, "AP50": 0.9931, "AP75": 0.9109, "APM": 0.7756, "APL": 0.9373, "AR": 0.875}
    for name, value in expected.items():
        assert stats[name] == pytest.approx(value, abs=5e-5), name


def test_oks_matrix_matches_pycocotools_on_real_predictions():
    need_pose_mini()
    gt_file, _ = pose_mini_paths("coco")
    results = json.loads(pose_mini_predictions().read_text())
    _check_oks_against_pycocotools(gt_file, results)


def test_crowdpose_mode_on_real_crowdpose_predictions():
    root = need_pose_mini()
    stats = metrics.coco_keypoint_stats(
        root / "predictions" / "crowdpose_val.json", root / "predictions" / "crowdpose_preds.json", mode="crowdpose"
    )
    assert 0.0 < stats["AP"] < 1.0
    assert stats["APE"] >= stats["APH"]  # the hard image is the hardest
    gt_file, _ = pose_mini_paths("crowdpose")
    perfect = metrics.coco_keypoint_stats(gt_file, metrics.ground_truth_as_results(gt_file), mode="crowdpose")
    assert perfect["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize("sigma", [1.0, 4.0])
def test_average_precision_from_image_evaluations_is_cocoeval_ap(synthetic_gt, sigma):
    results = noisy(metrics.ground_truth_as_results(synthetic_gt), sigma)
    for i, result in enumerate(results):
        result["score"] = 0.2 + 0.7 * ((i * 37) % 11) / 11  # distinct ranks, mixed order
    evaluations = metrics.image_evaluations(synthetic_gt, results)
    assert metrics.average_precision(evaluations) == pytest.approx(
        metrics.coco_keypoint_stats(synthetic_gt, results)["AP"]
    )
    doubled = np.repeat(np.arange(len(evaluations)), 2)  # every image twice: same precision and recall
    assert metrics.average_precision(evaluations, doubled) == pytest.approx(metrics.average_precision(evaluations))


def test_grouping_purity_names_queries_that_mix_persons(synthetic_gt):
    truth = metrics.ground_truth_as_results(synthetic_gt)
    purity = metrics.grouping_purity(synthetic_gt, truth, min_score=0.5)
    assert len(purity) == len(truth) and purity.pure.all()
    by_image = {}
    for result in truth:
        by_image.setdefault(result["image_id"], []).append(result)
    first, second = next(people for people in by_image.values() if len(people) >= 2)[:2]
    mixed = dict(
        first, keypoints=first["keypoints"][:24] + second["keypoints"][24:]
    )  # upper body of one, legs of the other
    purity = metrics.grouping_purity(synthetic_gt, [mixed], min_score=0.5)
    assert purity.persons.item() == 2 and not purity.pure.item()
    assert metrics.grouping_purity(synthetic_gt, [dict(mixed, score=0.1)], min_score=0.5).empty
