"""The command line contract: train, predict, eval."""

import json
import subprocess
import sys

import pytest
from _model_helpers import pose_mini, synthetic_split
from PIL import Image

from companion.jcra.__main__ import main
from companion.jcra.config import get_config
from companion.jcra.metrics import ground_truth_as_results
from companion.jcra.model import JCRA
from companion.jcra.train import save_checkpoint

COCO_KEYS = ["AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL"]


def test_eval_prints_the_ten_stats_and_json_fractions(tmp_path):
    annotations, _ = synthetic_split(tmp_path / "data", n_images=3)
    results = tmp_path / "dt.json"
    results.write_text(json.dumps(ground_truth_as_results(annotations)))
    command = [
        sys.executable,
        "-m",
        "companion.jcra",
        "eval",
        "--annotations",
        str(annotations),
        "--results",
        str(results),
    ]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert [line.split()[0] for line in text.strip().splitlines()] == COCO_KEYS
    as_json = json.loads(subprocess.run(command + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert list(as_json) == COCO_KEYS
    assert as_json["AP"] == pytest.approx(1.0)


def test_eval_on_real_predictions_gives_the_documented_ap(tmp_path, capsys):
    root = pose_mini()
    if root is None:
        pytest.skip("../shared/data/pose-mini is absent")
    assert (
        main(
            [
                "eval",
                "--annotations",
                str(root / "coco" / "test_coco.json"),
                "--results",
                str(root / "predictions" / "coco_preds.json"),
                "--json",
            ]
        )
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats["AP"] == pytest.approx(0.8609, abs=1e-4) and stats["AR"] == pytest.approx(0.875, abs=1e-4)


def test_train_then_predict_on_a_folder(tmp_path, capsys):
    annotations, images = synthetic_split(tmp_path / "data", n_images=2)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                "tiny",
                "--annotations",
                str(annotations),
                "--images",
                str(images),
                "--out",
                str(run),
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (run / "checkpoint.pt").is_file() and (run / "metrics.csv").is_file()
    out = tmp_path / "dt.json"
    assert (
        main(["predict", "--checkpoint", str(run / "checkpoint.pt"), "--images", str(images), "--out", str(out)]) == 0
    )
    results = json.loads(out.read_text())
    queries = get_config("tiny").num_queries
    assert len(results) == 2 * queries
    assert {r["image_id"] for r in results} == {1, 2}  # ids from the file names 000001.png, 000002.png
    assert all(len(r["keypoints"]) == 3 * 17 and r["category_id"] == 1 for r in results)
    assert main(["eval", "--annotations", str(annotations), "--results", str(out)]) == 0
    assert "AP" in capsys.readouterr().out


def test_predict_without_ids_in_file_names_asks_for_annotations(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (64, 64)).save(folder / "holiday.png")
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, JCRA(get_config("tiny")), None, 0, None)
    code = main(
        ["predict", "--checkpoint", str(checkpoint), "--images", str(folder), "--out", str(tmp_path / "o.json")]
    )
    assert code == 2 and "--annotations" in capsys.readouterr().err


def test_train_needs_both_annotations_and_images(tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "--config", "tiny", "--annotations", str(tmp_path / "a.json"), "--out", str(tmp_path)])


def test_train_on_crowdpose_files_gives_a_14_keypoint_model(tmp_path):
    root = pose_mini()
    if root is None:
        pytest.skip("../shared/data/pose-mini is absent")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                "tiny",
                "--annotations",
                str(root / "crowdpose" / "test_crowdpose.json"),
                "--images",
                str(root / "crowdpose"),
                "--out",
                str(run),
                "--steps",
                "1",
                "--batch-size",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    out = tmp_path / "dt.json"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(run / "checkpoint.pt"),
                "--images",
                str(root / "crowdpose"),
                "--annotations",
                str(root / "crowdpose" / "test_crowdpose.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert all(len(r["keypoints"]) == 3 * 14 for r in json.loads(out.read_text()))
