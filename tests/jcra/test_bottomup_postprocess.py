"""Associative-embedding post-processing on hand-made heatmaps and tag maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.jcra.bottomup import postprocess as pp
from companion.jcra.bottomup.targets import render_heatmaps


def _scene(persons_xy: np.ndarray, person_tags: np.ndarray, size: tuple[int, int], sigma: float = 1.5):
    """Heatmaps [K, h, w] (stride 1 cells) and tags [K, h, w, 1] for persons_xy float[P, K, 2] (cells).

    Tags: each cell of joint map k carries the tag of the person whose joint k is nearest.
    """
    num_persons, num_joints, _ = persons_xy.shape
    pixels = np.concatenate([persons_xy + 0.5, np.full((num_persons, num_joints, 1), 2.0)], axis=2)
    heatmaps = render_heatmaps(torch.tensor(pixels, dtype=torch.float32), size, stride=1, sigma=sigma)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    tags = np.zeros((num_joints, *size, 1), dtype=np.float32)
    for k in range(num_joints):
        distance = (cols[None] - persons_xy[:, k, 0, None, None]) ** 2 + (
            rows[None] - persons_xy[:, k, 1, None, None]
        ) ** 2
        tags[k, :, :, 0] = person_tags[distance.argmin(axis=0)]
    return heatmaps, torch.from_numpy(tags)


def _match_persons(decoded: np.ndarray, truth_xy: np.ndarray) -> list[int]:
    """For each true person, the index of the decoded person whose first joint is closest."""
    return [int(np.argmin(np.abs(decoded[:, 0, :2] - xy[0]).sum(axis=1))) for xy in truth_xy]


def test_non_maximum_suppression_keeps_local_maxima_only():
    heatmap = torch.zeros(1, 9, 9)
    heatmap[0, 2, 2], heatmap[0, 2, 3] = 0.9, 0.5  # neighbour of a stronger peak: suppressed
    heatmap[0, 7, 7] = 0.4  # far away: kept
    kept = pp.suppress_non_maxima(heatmap, kernel=3)
    assert torch.nonzero(kept[0]).tolist() == [[2, 2], [7, 7]]
    assert kept[0, 2, 2] == pytest.approx(0.9) and kept[0, 7, 7] == pytest.approx(0.4)


def test_non_maximum_suppression_window_is_the_kernel():
    heatmap = torch.zeros(1, 9, 9)
    heatmap[0, 4, 2], heatmap[0, 4, 4] = 0.9, 0.8  # two apart: one window of 5, not of 3
    assert torch.count_nonzero(pp.suppress_non_maxima(heatmap, kernel=3)) == 2
    assert torch.count_nonzero(pp.suppress_non_maxima(heatmap, kernel=5)) == 1


def test_top_k_returns_strongest_peaks_with_positions_and_tags():
    heatmaps = torch.zeros(2, 10, 12)
    tags = torch.zeros(2, 10, 12, 1)
    heatmaps[0, 1, 8], tags[0, 1, 8, 0] = 0.7, 3.0
    heatmaps[0, 6, 2], tags[0, 6, 2, 0] = 0.9, -1.0
    heatmaps[1, 9, 11], tags[1, 9, 11, 0] = 0.3, 5.0
    candidates = pp.top_k_candidates(heatmaps, tags, pp.ParserConfig(max_people=3, nms_kernel=3))
    assert candidates.scores.shape == (2, 3) and candidates.xy.shape == (2, 3, 2)
    assert candidates.xy[0, :2].tolist() == [[2, 6], [8, 1]]  # (column, row), strongest first
    assert candidates.tags[0, :2, 0].tolist() == [-1.0, 3.0]
    assert candidates.xy[1, 0].tolist() == [11, 9] and candidates.tags[1, 0, 0] == 5.0
    assert candidates.scores[1, 1] == 0.0  # nothing else on joint 1


def test_top_k_rejects_maps_smaller_than_max_people():
    with pytest.raises(ValueError, match="max_people"):
        pp.top_k_candidates(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, 1), pp.ParserConfig(max_people=5))


def _candidates(rows: list[list[tuple[float, float, float, float]]]) -> pp.Candidates:
    """Candidates from per-joint lists of (x, y, score, tag), padded with zero-score entries."""
    width = max(len(r) for r in rows)
    padded = [r + [(0, 0, 0.0, 0.0)] * (width - len(r)) for r in rows]
    array = np.array(padded, dtype=np.float64)
    return pp.Candidates(
        scores=array[..., 2].astype(np.float32),
        xy=array[..., :2].astype(np.int64),
        tags=array[..., 3:4].astype(np.float32),
    )


def test_grouping_follows_tags_not_positions():
    # Joint 1 of person A (tag 0) lies next to joint 0 of person B (tag 5): tags decide.
    candidates = _candidates(
        [
            [(10, 10, 0.9, 0.0), (30, 10, 0.8, 5.0)],
            [(29, 11, 0.7, 0.1), (11, 11, 0.6, 5.2)],
        ]
    )
    persons = pp.group_by_tag(candidates, (0, 1), pp.ParserConfig(max_people=2))
    assert persons.shape == (2, 2, 4)
    by_tag = {round(float(p[0, 3])): p for p in persons}
    assert by_tag[0][1, :2].tolist() == [29, 11]
    assert by_tag[5][1, :2].tolist() == [11, 11]


def test_grouping_starts_a_new_person_beyond_the_tag_threshold_and_drops_weak_peaks():
    candidates = _candidates(
        [
            [(5, 5, 0.9, 0.0)],
            [(6, 8, 0.8, 2.5), (7, 9, 0.05, 0.0)],  # far tag -> new person; weak peak -> dropped
        ]
    )
    persons = pp.group_by_tag(candidates, (0, 1), pp.ParserConfig(max_people=2))
    assert persons.shape[0] == 2
    assert persons[0, 1, 2] == 0.0 and persons[1, 0, 2] == 0.0
    assert persons[1, 1, :3].tolist() == pytest.approx([6, 8, 0.8])


def test_grouping_breaks_tag_ties_by_heatmap_score():
    # Both candidates are at rounded distance 0 from the single person: the stronger one joins.
    candidates = _candidates(
        [
            [(5, 5, 0.9, 1.0)],
            [(6, 6, 0.3, 1.1), (8, 8, 0.6, 0.8)],
        ]
    )
    persons = pp.group_by_tag(candidates, (0, 1), pp.ParserConfig(max_people=2))
    assert persons.shape[0] == 2
    assert persons[0, 1, :2].tolist() == [8, 8]
    without = pp.group_by_tag(candidates, (0, 1), pp.ParserConfig(max_people=2, use_detection_value=False))
    assert without[0, 1, :2].tolist() == [6, 6]  # pure tag distance prefers the closer tag


def test_grouping_uses_the_joint_order():
    candidates = _candidates([[(1, 1, 0.9, 0.0)], [(2, 2, 0.9, 0.0)]])
    persons = pp.group_by_tag(candidates, (1, 0), pp.ParserConfig(max_people=1))
    assert persons.shape == (1, 2, 4)
    with pytest.raises(ValueError, match="joint_order"):
        pp.group_by_tag(candidates, (0, 0), pp.ParserConfig(max_people=1))


def test_grouping_of_nothing_is_empty():
    candidates = _candidates([[(1, 1, 0.01, 0.0)], [(2, 2, 0.0, 0.0)]])
    assert pp.group_by_tag(candidates, (0, 1), pp.ParserConfig(max_people=1)).shape == (0, 2, 4)


def test_quarter_offset_moves_toward_the_higher_neighbour():
    heatmaps = np.zeros((1, 5, 5), dtype=np.float32)
    heatmaps[0, 2, 2], heatmaps[0, 2, 3], heatmaps[0, 1, 2] = 1.0, 0.5, 0.4
    persons = np.array([[[2, 2, 1.0, 0.0]]], dtype=np.float32)
    adjusted = pp.adjust_quarter_offset(persons, heatmaps)
    assert adjusted[0, 0, :2].tolist() == [2.25, 1.75]
    assert persons[0, 0, 0] == 2  # input untouched


def _fill_reference(person: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """HigherHRNet's refine written plainly: score EVERY joint, then copy the missing ones."""
    present = [k for k in range(len(person)) if person[k, 2] > 0]
    mean_tag = np.mean(
        [tags[k, int(np.floor(person[k, 1] + 0.5)), int(np.floor(person[k, 0] + 0.5))] for k in present], axis=0
    )
    out = person.copy()
    for k in range(len(person)):
        score = heatmaps[k] - np.round(np.sqrt(((tags[k] - mean_tag) ** 2).sum(axis=2)))
        y, x = np.unravel_index(np.argmax(score), score.shape)
        h, w = score.shape
        dx = 0.25 if heatmaps[k, y, min(x + 1, w - 1)] > heatmaps[k, y, max(x - 1, 0)] else -0.25
        dy = 0.25 if heatmaps[k, min(y + 1, h - 1), x] > heatmaps[k, max(y - 1, 0), x] else -0.25
        if heatmaps[k, y, x] > 0 and person[k, 2] == 0:
            out[k, :3] = (x + dx, y + dy, heatmaps[k, y, x])
    return out


def test_filling_picks_the_peak_with_the_persons_tag():
    heatmaps = np.zeros((2, 12, 12), dtype=np.float32)
    tags = np.zeros((2, 12, 12, 1), dtype=np.float32)
    heatmaps[1, 3, 3], tags[1, 3, 3, 0] = 0.9, 4.0  # strong peak of another person
    heatmaps[1, 8, 9], heatmaps[1, 8, 10], tags[1, 8, 9, 0] = 0.05, 0.02, 0.2  # weak peak, our tag
    tags[1][heatmaps[1] == 0] = 4.0  # the background belongs to the other person
    tags[0, 5, 5, 0] = 0.1
    person = np.array([[5.25, 4.75, 0.7, 0.1], [0, 0, 0, 0]], dtype=np.float32)
    filled = pp.fill_missing_joints(person, heatmaps, tags)
    assert filled[1, :3].tolist() == pytest.approx([9.25, 7.75, 0.05])
    assert filled[0].tolist() == person[0].tolist()
    np.testing.assert_allclose(filled, _fill_reference(person, heatmaps, tags))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), missing=st.integers(1, 4))
def test_filling_matches_scoring_every_joint(seed, missing):
    rng = np.random.default_rng(seed)
    heatmaps = rng.random((5, 9, 11)).astype(np.float32) ** 4
    tags = rng.normal(0, 1.5, (5, 9, 11, 1)).astype(np.float32)
    person = np.zeros((5, 4), dtype=np.float32)
    for k in range(5 - missing):
        y, x = rng.integers(0, 9), rng.integers(0, 11)
        person[k] = (x + rng.choice([-0.25, 0.25]), y + rng.choice([-0.25, 0.25]), 0.5, tags[k, y, x, 0])
    np.testing.assert_allclose(pp.fill_missing_joints(person, heatmaps, tags), _fill_reference(person, heatmaps, tags))


def test_parse_recovers_hand_made_persons():
    truth = np.array(
        [
            [[10, 8], [12, 14], [9, 20]],
            [[30, 9], [31, 15], [33, 21]],
            [[20, 30], [22, 35], [19, 40]],
        ],
        dtype=np.float64,
    )
    heatmaps, tags = _scene(truth, np.array([0.0, 3.0, -3.0]), (48, 48))
    parsed = pp.parse(heatmaps, tags, pp.ParserConfig(max_people=5), joint_order=(0, 1, 2))
    assert parsed.keypoints.shape == (3, 3, 3) and parsed.scores.shape == (3,)
    order = _match_persons(parsed.keypoints, truth)
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(parsed.keypoints[order, :, :2], truth, atol=0.25)
    assert (parsed.keypoints[..., 2] > 0.9).all() and (parsed.scores > 0.9).all()


def test_parse_fills_a_joint_that_grouping_left_out():
    truth = np.array([[[10, 8], [12, 14], [9, 20]], [[30, 9], [31, 15], [33, 21]]], dtype=np.float64)
    heatmaps, tags = _scene(truth, np.array([0.0, 3.0]), (32, 40))
    heatmaps[2] *= 0.08  # joint 2 now below the detection threshold: grouping drops it
    grouped_only = pp.parse(heatmaps, tags, pp.ParserConfig(max_people=4, refine=False), joint_order=(0, 1, 2))
    assert (grouped_only.keypoints[:, 2, 2] == 0).all()
    refined = pp.parse(heatmaps, tags, pp.ParserConfig(max_people=4), joint_order=(0, 1, 2))
    order = _match_persons(refined.keypoints, truth)
    np.testing.assert_allclose(refined.keypoints[order, 2, :2], truth[:, 2], atol=0.25)
    # The score is computed before filling, as in HigherHRNet.
    np.testing.assert_allclose(refined.scores, grouped_only.scores)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100_000), num_persons=st.integers(1, 6))
def test_parse_separates_persons_with_distinct_tags(seed, num_persons):
    rng = np.random.default_rng(seed)
    num_joints, size = 4, (40, 64)
    # Persons in separate 10-column bands, joints spread vertically, tags 2 apart.
    truth = np.stack(
        [
            np.stack(
                [
                    rng.integers(10 * p + 1, 10 * p + 9, num_joints),
                    3 + 9 * np.arange(num_joints) + rng.integers(0, 3, num_joints),
                ],
                axis=1,
            )
            for p in range(num_persons)
        ]
    ).astype(np.float64)
    person_tags = 2.0 * rng.permutation(num_persons)
    heatmaps, tags = _scene(truth, person_tags, size)
    parsed = pp.parse(heatmaps, tags, pp.ParserConfig(max_people=8), joint_order=tuple(range(num_joints)))
    assert parsed.keypoints.shape[0] == num_persons
    order = _match_persons(parsed.keypoints, truth)
    assert sorted(order) == list(range(num_persons))
    np.testing.assert_allclose(parsed.keypoints[order, :, :2], truth, atol=0.25)


def test_joint_orders_are_permutations():
    assert sorted(pp.joint_order_for(17)) == list(range(17))
    assert sorted(pp.joint_order_for(14)) == list(range(14))
    with pytest.raises(ValueError, match="num_keypoints"):
        pp.joint_order_for(5)


def test_bad_shapes_and_settings_are_named():
    with pytest.raises(ValueError, match="heatmaps"):
        pp.parse(torch.zeros(2, 4), torch.zeros(2, 4, 1))
    with pytest.raises(ValueError, match="tags"):
        pp.parse(torch.zeros(17, 8, 8), torch.zeros(17, 8, 8))
    with pytest.raises(ValueError, match="nms_kernel"):
        pp.ParserConfig(nms_kernel=4)
    with pytest.raises(ValueError, match="max_people"):
        pp.ParserConfig(max_people=0)


def test_coco_results_format():
    keypoints = np.array([[[1.0, 2.0, 0.5], [3.0, 4.0, 0.25]]])
    results = pp.to_coco_results(keypoints, np.array([0.375]), image_id=7)
    assert results == [{"image_id": 7, "category_id": 1, "keypoints": [1.0, 2.0, 0.5, 3.0, 4.0, 0.25], "score": 0.375}]
    assert pp.to_coco_results(np.zeros((0, 17, 3)), np.zeros(0), image_id=1) == []
    with pytest.raises(ValueError, match="scores"):
        pp.to_coco_results(keypoints, np.zeros(2), image_id=7)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kernel=st.sampled_from([1, 3, 5, 7]),
    height=st.integers(1, 12),
    width=st.integers(1, 12),
)
def test_non_maximum_suppression_equals_max_pool(seed, kernel, height, width):
    generator = torch.Generator().manual_seed(seed)
    # Coarse values make ties (plateaus) common.
    heatmaps = torch.randint(0, 4, (3, height, width), generator=generator).float() / 4
    pooled = torch.nn.functional.max_pool2d(heatmaps[None], kernel, stride=1, padding=kernel // 2)[0]
    assert torch.equal(pp.suppress_non_maxima(heatmaps, kernel), heatmaps * (pooled == heatmaps))
