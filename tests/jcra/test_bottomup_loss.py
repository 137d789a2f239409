"""Targets and losses of the associative-embedding baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.jcra.bottomup.loss import LossWeights, associative_embedding_loss, heatmap_loss, tag_loss
from companion.jcra.bottomup.targets import build_targets, output_size, render_heatmaps


def _target(keypoints: list) -> dict:
    kp = torch.tensor(keypoints, dtype=torch.float32).reshape(len(keypoints), -1, 3)
    return {"keypoints": kp, "areas": torch.ones(len(keypoints)), "image_id": 1}


def test_heatmap_peaks_at_the_joint_cell_with_value_one():
    # Pixel 18 at stride 4: cell coordinate 18 / 4 - 0.5 = 4.0 exactly.
    heatmaps = render_heatmaps(torch.tensor([[[18.0, 10.0, 2.0], [0.0, 0.0, 0.0]]]), (8, 8), stride=4, sigma=1.0)
    assert heatmaps.shape == (2, 8, 8)
    assert heatmaps[0].max() == pytest.approx(1.0) and heatmaps[0, 2, 4] == pytest.approx(1.0)
    assert heatmaps[0, 2, 5] == pytest.approx(math.exp(-0.5))
    assert heatmaps[1].abs().sum() == 0  # unlabelled joint: no target


def test_heatmap_is_truncated_and_takes_the_maximum_over_persons():
    keypoints = torch.tensor([[[4.5, 4.5, 2.0]], [[6.5, 4.5, 1.0]]])  # cells 4 and 6 at stride 1
    heatmaps = render_heatmaps(keypoints, (9, 20), stride=1, sigma=1.0)
    assert heatmaps[0, 4, 5] == pytest.approx(math.exp(-0.5))  # max, not sum, of the two
    assert heatmaps[0, 4, 10] == pytest.approx(math.exp(-8))  # 4 cells away: inside 3 sigma + 1
    assert heatmaps[0, 4, 11] == 0  # 5 cells away: truncated


def test_build_targets_cells_validity_and_padding_mask():
    targets = [
        _target([[[5.0, 9.0, 2.0], [30.0, 2.0, 1.0]]]),
        _target([[[1.0, 1.0, 2.0], [0.0, 0.0, 0.0]], [[7.0, 7.0, 2.0], [9.0, 3.0, 2.0]]]),
    ]
    pad_mask = torch.zeros(2, 16, 32, dtype=torch.bool)
    pad_mask[1, :, 16:] = True
    built = build_targets(targets, pad_mask, stride=4, sigma=1.0)
    assert built.heatmaps.shape == (2, 2, 4, 8) and built.mask.shape == (2, 4, 8)
    assert built.joint_cells.shape == (2, 2, 2)
    assert built.joint_cells[0, 0].tolist() == [2 * 8 + 1, 0 * 8 + 7]
    assert built.joint_valid[0].tolist() == [[True, True], [False, False]]  # second row: absent person
    assert built.joint_valid[1].tolist() == [[True, False], [True, True]]
    assert built.mask[0].all() and built.mask[1, :, :4].all() and not built.mask[1, :, 4:].any()


def test_output_size_rounds_up():
    assert output_size((130, 128), 4) == (33, 32)


def test_heatmap_loss_is_masked_mean_squared_error():
    predicted = torch.zeros(1, 2, 2, 2)
    target = torch.ones(1, 2, 2, 2)
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert heatmap_loss(predicted, target, mask).tolist() == [pytest.approx(2 / 8)]
    with pytest.raises(ValueError, match="differ"):
        heatmap_loss(predicted, torch.zeros(1, 2, 3, 3), mask)


def _reference_tag_loss(tag_values: list[list[float]]) -> tuple[float, float]:
    """HigherHRNet's AELoss ('exp') for one image, from each person's joint tags."""
    persons = [np.array(v) for v in tag_values if len(v)]
    if not persons:
        return 0.0, 0.0
    means = np.array([p.mean() for p in persons])
    pull = sum(((p - p.mean()) ** 2).mean() for p in persons) / len(persons)
    if len(persons) < 2:
        return 0.0, pull
    push = (
        (np.exp(-((means[:, None] - means[None]) ** 2)).sum() - len(persons))
        / ((len(persons) - 1) * len(persons))
        * 0.5
    )
    return push, pull


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), persons=st.integers(0, 4))
def test_tag_loss_matches_the_per_person_formula(seed, persons):
    rng = np.random.default_rng(seed)
    num_joints, cells = 3, 12
    tags = torch.tensor(rng.normal(0, 1, (1, num_joints, 3, 4)), dtype=torch.float32)
    joint_cells = torch.tensor(rng.integers(0, cells, (1, max(persons, 1), num_joints)))
    joint_valid = torch.tensor(rng.random((1, max(persons, 1), num_joints)) < 0.7)
    if persons == 0:
        joint_valid[:] = False
    push, pull = tag_loss(tags, joint_cells, joint_valid)
    flat = tags.reshape(num_joints, -1).numpy()
    values = [
        [flat[k, joint_cells[0, p, k]] for k in range(num_joints) if joint_valid[0, p, k]]
        for p in range(joint_valid.shape[1])
    ]
    expected_push, expected_pull = _reference_tag_loss(values)
    assert push.item() == pytest.approx(expected_push, abs=1e-6)
    assert pull.item() == pytest.approx(expected_pull, abs=1e-6)


def test_tag_loss_rewards_separated_consistent_tags():
    joint_cells = torch.tensor([[[0, 1], [2, 3]]])
    valid = torch.ones(1, 2, 2, dtype=torch.bool)
    # Person 0's joints (cells 0 and 1) carry tag 0, person 1's (cells 2 and 3) tag 3.
    good = torch.zeros(1, 2, 1, 4)
    good[0, 0, 0, 2] = good[0, 1, 0, 3] = 3.0
    push, pull = tag_loss(good, joint_cells, valid)
    assert pull.item() == pytest.approx(0.0) and push.item() == pytest.approx(math.exp(-9) / 2)
    same = torch.zeros(1, 2, 1, 4)
    push_same, _ = tag_loss(same, joint_cells, valid)
    assert push_same.item() == pytest.approx(0.5)


def test_total_loss_weights_and_higher_resolution_requirement():
    targets = build_targets(
        [_target([[[5.0, 9.0, 2.0]], [[20.0, 9.0, 2.0]]])], torch.zeros(1, 16, 32, dtype=torch.bool), 4, 1.0
    )
    outputs = {"heatmaps": torch.zeros(1, 1, 4, 8, requires_grad=True), "tags": torch.zeros(1, 1, 4, 8)}
    losses = associative_embedding_loss(outputs, targets, None, LossWeights(heatmap=2.0, push=10.0, pull=1.0))
    assert losses["push"].item() == pytest.approx(0.5)
    assert losses["total"].item() == pytest.approx(2 * losses["heatmap"].item() + 10 * 0.5)
    losses["total"].backward()
    assert outputs["heatmaps"].grad.abs().sum() > 0
    with pytest.raises(ValueError, match="higher_targets"):
        associative_embedding_loss({**outputs, "heatmaps_higher": torch.zeros(1, 1, 8, 16)}, targets, None)
