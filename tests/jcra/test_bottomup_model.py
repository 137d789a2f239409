"""The associative-embedding network, its inference, training and cached checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _model_helpers import synthetic_split

from companion import paths
from companion.jcra.backbone import ResNetBackbone
from companion.jcra.bottomup import predict, train
from companion.jcra.bottomup.loss import LossWeights
from companion.jcra.bottomup.model import AssociativeEmbedding, BottomUpConfig
from companion.jcra.bottomup.targets import render_heatmaps
from companion.jcra.config import get_config
from companion.jcra.evaluate import evaluate
from companion.jcra.train import TrainParams

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_config() -> BottomUpConfig:
    return train.make_config("tiny", head_width=8)


def test_output_shapes_at_stride_4_and_2(tiny_config):
    model = AssociativeEmbedding(tiny_config).eval()
    with torch.no_grad():
        outputs = model(torch.zeros(2, 3, 64, 40))
    assert outputs["heatmaps"].shape == (2, 17, 16, 10)
    assert outputs["tags"].shape == (2, 17, 16, 10)
    assert outputs["heatmaps_higher"].shape == (2, 17, 32, 20)
    lower = AssociativeEmbedding(train.make_config("tiny", higher_resolution=False, coordinates=False)).eval()
    with torch.no_grad():
        assert set(lower(torch.zeros(1, 3, 64, 64))) == {"heatmaps", "tags"}
    with pytest.raises(ValueError, match="images"):
        model(torch.zeros(3, 64, 64))


def test_backbone_is_jcras(tiny_config):
    model = AssociativeEmbedding(tiny_config)
    assert isinstance(model.backbone, ResNetBackbone)
    jcra_backbone = ResNetBackbone(get_config("tiny").backbone)
    mine = {k: v.shape for k, v in model.backbone.state_dict().items()}
    theirs = {k: v.shape for k, v in jcra_backbone.state_dict().items()}
    assert mine == theirs


def test_config_round_trip_and_errors(tiny_config):
    assert BottomUpConfig.from_dict(json.loads(tiny_config.key())) == tiny_config
    assert tiny_config.name == "bottomup-tiny" and tiny_config.strides == (4, 2)
    with pytest.raises(ValueError, match="unknown keys"):
        BottomUpConfig.from_dict({**tiny_config.to_dict(), "depth": 3})
    with pytest.raises(ValueError, match="head_width"):
        train.make_config("tiny", head_width=0)


def test_image_maps_average_strides_and_crop_padding():
    outputs = {
        "heatmaps": torch.zeros(2, 1, 4, 5),
        "tags": torch.ones(2, 1, 4, 5),
        "heatmaps_higher": torch.ones(2, 1, 8, 10),
    }
    heatmaps, tags = predict.image_maps(outputs, 1, (14, 18))
    assert heatmaps.shape == (1, 14, 18) and tags.shape == (1, 14, 18, 1)
    assert torch.allclose(heatmaps, torch.full_like(heatmaps, 0.5)) and torch.allclose(tags, torch.ones_like(tags))


def test_postprocess_image_returns_persons_in_original_pixels():
    # Two persons of 17 joints at known pixels of a 64 x 64 input, from a 128 x 128 original.
    rng = np.random.default_rng(0)
    # Random, so that no Gaussian sits exactly between two cells (a tie would make two peaks).
    rows = np.linspace(4, 60, 17) + rng.uniform(-1, 1, 17)
    pixels = np.stack([np.stack([rng.uniform(6, 26, 17), rows], 1), np.stack([rng.uniform(38, 58, 17), rows], 1)])
    keypoints = torch.tensor(np.concatenate([pixels, np.full((2, 17, 1), 2.0)], 2), dtype=torch.float32)
    tags = torch.zeros(1, 17, 16, 16)
    tags[..., 8:] = 3.0  # right half belongs to person 1
    outputs = {
        "heatmaps": render_heatmaps(keypoints, (16, 16), 4, 1.0)[None],
        "tags": tags,
        "heatmaps_higher": render_heatmaps(keypoints, (32, 32), 2, 1.0)[None],
    }
    meta = {"image_id": 5, "orig_size": (128, 128), "size": (64, 64)}
    results = predict.postprocess_image(outputs, 0, meta)
    assert len(results) == 2 and all(r["image_id"] == 5 and r["category_id"] == 1 for r in results)
    assert results[0]["score"] >= results[1]["score"]
    found = np.array([r["keypoints"] for r in results]).reshape(2, 17, 3)
    order = np.argsort(found[:, 0, 0])
    # Gaussians peak between pixels: the decoded joint is within a pixel of the input position.
    np.testing.assert_allclose(found[order, :, :2], 2 * pixels, atol=2 * 1.5)


def test_training_reduces_the_loss_checkpoints_and_resumes(tmp_path):
    # Weak tag losses, so that 30 steps visibly fit the heatmaps.
    tiny_config = train.make_config("tiny", head_width=8, loss=LossWeights(push=1e-3, pull=1e-3))
    annotations, images = synthetic_split(tmp_path / "data", n_images=8)
    params = TrainParams(steps=30, batch_size=4, lr=2e-3, warmup_steps=1, log_every=1, checkpoint_every=20)
    checkpoint = train.train(tiny_config, annotations, images, tmp_path / "run", params, progress=False)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 30
    heatmap_loss = [float(r.split(",")[4]) for r in rows[1:]]
    assert np.mean(heatmap_loss[-5:]) < 0.75 * np.mean(heatmap_loss[:5])
    payload = train.read_checkpoint(checkpoint, tiny_config)
    assert payload["step"] == 30
    again = train.train(tiny_config, annotations, images, tmp_path / "run", params, progress=False)
    assert train.read_checkpoint(again)["step"] == 30  # resumed at the end: nothing more to do
    with pytest.raises(ValueError, match="other training parameters"):
        train.train(
            tiny_config, annotations, images, tmp_path / "run", TrainParams(steps=41, batch_size=4), progress=False
        )
    with pytest.raises(ValueError, match="requested"):
        train.read_checkpoint(checkpoint, train.make_config("tiny", head_width=8))
    model = train.load_model(checkpoint)
    stats, results = evaluate(model, annotations, images, batch_size=4)
    assert 0.0 <= stats["AP"] <= 1.0 and {r["image_id"] for r in results} <= set(range(1, 9))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        train.read_checkpoint(tmp_path / "missing.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt"):
        train.read_checkpoint(tmp_path / "other.pt")
    (tmp_path / "truncated.pt").write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="truncated.pt is not a readable torch checkpoint"):
        train.read_checkpoint(tmp_path / "truncated.pt")


def test_ensure_trained_caches_under_build(tmp_path, monkeypatch, tiny_config):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)
    data_params = {"n_images": 8, "image_size": 64}
    params = {"steps": 2, "batch_size": 4, "warmup_steps": 1}
    checkpoint = train.ensure_trained(tiny_config, data_params, params, progress=False)
    assert checkpoint.parent.parent == tmp_path / "jcra" and checkpoint.parent.name.startswith("bottomup-tiny-")
    meta = json.loads((checkpoint.parent / "meta.json").read_text())
    assert meta["train_params"]["steps"] == 2 and meta["data_params"] == data_params
    written = checkpoint.stat().st_mtime_ns
    assert train.ensure_trained(tiny_config, data_params, params, progress=False) == checkpoint
    assert checkpoint.stat().st_mtime_ns == written
    other = train.ensure_trained(tiny_config, data_params, {**params, "seed": 1}, progress=False)
    assert other != checkpoint


def test_heatmaps_start_empty_and_tags_start_spread(tiny_config):
    torch.manual_seed(0)
    model = AssociativeEmbedding(tiny_config).eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 64, 64))
    assert outputs["heatmaps"].abs().max() < 0.05 and outputs["heatmaps_higher"].abs().max() < 0.05
    assert outputs["tags"].std() > 0.05  # equal tags would be a stationary point of the push loss
