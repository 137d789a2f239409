"""The JCRA network: shapes, configs, one-stage inference (no post-processing), paper scale."""

import pytest
import torch
from _model_helpers import pose_mini

from companion.jcra.config import ModelConfig, get_config
from companion.jcra.criterion import SetCriterion
from companion.jcra.data.coco import collate
from companion.jcra.model import JCRA
from companion.jcra.predict import evaluation_dataset, outputs_to_results, predict_dataset


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return JCRA(get_config("tiny")).eval()


def test_output_shapes_through_the_network(tiny_model):
    config = tiny_model.config
    images = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        out = tiny_model(images)
    q, k = config.num_queries, config.num_keypoints
    assert out["logits"].shape == (2, q)
    assert out["keypoints"].shape == (2, q, k, 2)
    assert out["visibility_logits"].shape == (2, q, k)
    assert len(out["aux"]) == config.decoder_layers - 1
    tokens = sum((64 // s) * (96 // s) for s in config.strides)  # 80 px wide, padded to 96 (stride 32)
    assert out["encoder"]["logits"].shape == (2, tokens)
    assert out["encoder"]["keypoints"].shape == (2, q, k, 2)  # eval mode: only the chosen tokens' poses
    assert out["encoder"]["chosen"].shape == (2, q)
    assert out["canvas_size"] == (64, 96)
    assert ((out["keypoints"] >= 0) & (out["keypoints"] <= 1)).all()


def test_padding_tokens_are_never_proposals(tiny_model):
    images = torch.randn(1, 3, 64, 64)
    pad_mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    pad_mask[:, :, 32:] = True
    with torch.no_grad():
        out = tiny_model(images, pad_mask)
    valid = out["encoder"]["valid"][0]
    assert 0 < valid.sum() < valid.numel()
    # Each query starts from a proposal of a real token, whose cell lies in the left half.
    encoded = tiny_model.encode(images, pad_mask)
    assert (encoded["centres"][valid][:, 0] < 0.5).all()
    # The keypoint refiners see the stride-4 map first, with its own padding.
    (fine_h, fine_w), *rest = encoded["refine_shapes"]
    assert (fine_h, fine_w) == (16, 16) and rest == encoded["spatial_shapes"]
    assert encoded["refine_padding"][0, : fine_h * fine_w].view(fine_h, fine_w)[:, 8:].all()


def test_predict_is_the_network_output_sorted_by_score(tiny_model):
    """One stage: results are the queries themselves, best first; nothing is removed or merged."""
    torch.manual_seed(1)
    items = [
        (torch.randn(3, 64, 64), {"image_id": 7, "orig_size": (128, 256), "size": (64, 128)}),
        (torch.randn(3, 48, 64), {"image_id": 9, "orig_size": (48, 64), "size": (48, 64)}),
    ]
    images, pad_mask, metas = collate(items)
    with torch.no_grad():
        out = tiny_model(images, pad_mask)
    results = outputs_to_results(out, metas)
    q, k = tiny_model.config.num_queries, tiny_model.config.num_keypoints
    assert len(results) == 2 * q  # no NMS, no threshold: every query is a person hypothesis
    canvas = torch.tensor([out["canvas_size"][1], out["canvas_size"][0]], dtype=torch.float32)
    for b, meta in enumerate(metas):
        mine = [r for r in results if r["image_id"] == meta["image_id"]]
        scores = out["logits"][b].sigmoid()
        order = scores.argsort(descending=True)
        scale = torch.tensor([meta["orig_size"][1] / meta["size"][1], meta["orig_size"][0] / meta["size"][0]])
        expected_xy = out["keypoints"][b][order] * canvas * scale
        got = torch.tensor([r["keypoints"] for r in mine]).view(q, k, 3)
        torch.testing.assert_close(torch.tensor([r["score"] for r in mine]), scores[order])
        torch.testing.assert_close(got[..., :2], expected_xy)
        torch.testing.assert_close(got[..., 2], out["visibility_logits"][b][order].sigmoid())


def test_too_few_tokens_for_the_queries_is_a_clear_error():
    model = JCRA(get_config("tiny", num_queries=30)).eval()
    with pytest.raises(ValueError, match="fewer than the 30 queries"):  # 16 px padded to 32: 16 + 4 + 1 tokens
        model(torch.randn(1, 3, 16, 16))


def test_config_round_trip_and_errors():
    config = get_config("small", decoder_layers=3, backbone={"depths": (2, 2, 2, 2)})
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.backbone.depths == (2, 2, 2, 2) and config.decoder_layers == 3
    with pytest.raises(ValueError, match="unknown keys"):
        ModelConfig.from_dict({**config.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="config name"):
        get_config("huge")
    with pytest.raises(ValueError, match="n_heads"):
        get_config("tiny", n_heads=3)
    assert get_config("paper").strides == (8, 16, 32, 64) and get_config("paper").n_levels == 4
    with pytest.raises(ValueError, match="fine_level"):
        get_config("small", backbone={"return_stages": (0, 1, 2)})


def test_paper_config_forward_and_backward_on_a_real_image():
    root = pose_mini()
    if root is None:
        pytest.skip("../shared/data/pose-mini is absent")
    config = get_config("paper")
    assert (config.d_model, config.encoder_layers, config.decoder_layers, config.num_queries, config.n_levels) == (
        256,
        6,
        6,
        300,
        4,
    )
    torch.manual_seed(0)
    model = JCRA(config)
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    assert 23e6 < backbone_params < 24.5e6  # ResNet-50 without its classifier: 23.5 M
    # One real COCO image, resized small so the test stays fast; the network is the full paper one.
    dataset = evaluation_dataset(root / "coco" / "test_coco.json", root / "coco", input_size=192)
    index = next(i for i in range(len(dataset)) if len(dataset[i][1]["keypoints"]))
    images, pad_mask, targets = collate([dataset[index]])
    out = model(images, pad_mask)
    assert out["keypoints"].shape == (1, 300, 17, 2) and len(out["aux"]) == 5
    losses = SetCriterion(config)(out, targets)
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"])
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert model.backbone.stem[0][0].weight.grad.abs().sum() > 0


def test_predict_dataset_runs_on_real_images(tiny_model):
    root = pose_mini()
    if root is None:
        pytest.skip("../shared/data/pose-mini is absent")
    dataset = evaluation_dataset(root / "coco" / "test_coco.json", root / "coco", input_size=64)
    results = predict_dataset(tiny_model, dataset, batch_size=2, max_detections=5)
    assert len(results) == 5 * len(dataset)
    first = next(r for r in results if r["image_id"] == dataset[0][1]["image_id"])
    xs = first["keypoints"][0::3]
    assert max(xs) <= dataset[0][1]["orig_size"][1].item()  # scaled back to original pixels
