"""Looking inside the network: parameters and FLOPs per part, shapes, sampling points, one-stage check."""

import pytest
import torch

from companion.jcra import anatomy
from companion.jcra.config import get_config
from companion.jcra.data.coco import collate
from companion.jcra.model import JCRA


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return JCRA(get_config("tiny")).eval()


def test_parts_add_up_to_the_whole(model):
    table = anatomy.parameters_and_flops(model, torch.randn(1, 3, 64, 64))
    parts, total = table[table.part != "total"], table[table.part == "total"].iloc[0]
    assert parts.parameters.sum() == total.parameters == sum(p.numel() for p in model.parameters())
    assert parts.gflops.sum() == pytest.approx(total.gflops)
    assert (parts.set_index("part").loc["backbone (ResNet)", "gflops"]) > 0
    assert model.training is False


def test_grid_sample_flops_are_counted(model):
    small = anatomy.parameters_and_flops(model, torch.randn(1, 3, 64, 64))
    refiners = small.set_index("part").loc["per-keypoint refiners (fine keypoints, visibility)", "gflops"]
    config = model.config
    samples = config.num_queries * config.num_keypoints * config.n_heads * config.n_levels * config.n_points
    head_dim = config.d_model // config.n_heads
    assert refiners * 1e9 >= 8 * samples * head_dim  # at least the bilinear samples of the refiner


def test_shapes_follow_the_data_flow(model):
    shapes = anatomy.shapes_through_network(model, torch.randn(1, 3, 64, 64))
    stages = list(shapes.stage)
    assert stages[0] == "backbone.stem" and stages[-1] == "output: visibility_logits"
    assert stages.index("query selection: token proposals (keypoints)") == stages.index("encoder.layers.0") + 1
    assert shapes.set_index("stage").loc["output: keypoints", "shape"] == "[1, 10, 17, 2]"


def test_decoder_sampling_is_anchored_on_the_keypoints(model):
    captured = anatomy.decoder_sampling(model, torch.randn(1, 3, 64, 64))
    config = model.config
    assert captured["locations"].shape == (
        1,
        config.num_queries,
        config.n_heads,
        config.n_levels,
        config.num_keypoints,
        2,
    )
    # Untrained: zero offsets, every sample sits on its keypoint.
    torch.testing.assert_close(
        captured["locations"], captured["reference"][:, :, None, None].expand_as(captured["locations"])
    )


def test_one_stage_check_finds_no_difference(model):
    items = [(torch.randn(3, 64, 48), {"image_id": 3, "orig_size": (128, 96), "size": (64, 48)})]
    images, pad_mask, metas = collate(items)
    check = anatomy.one_stage_check(model, images, pad_mask, metas)
    assert check["max_abs_difference_px"] < 1e-4 and check["max_abs_difference_score"] < 1e-6
    assert check["results_per_image"] == model.config.num_queries
