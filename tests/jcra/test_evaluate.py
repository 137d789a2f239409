"""Model-level evaluation: one entry point for JCRA and the baseline, on files or named splits."""

import json

from companion.jcra import evaluate, metrics
from companion.jcra.data import synthetic


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
