"""Hungarian matching: cost shapes, optimal assignments, empty images, padding tokens."""

import numpy as np
import torch
from _model_helpers import random_targets

from companion.jcra.config import LossConfig
from companion.jcra.criterion import normalise_targets
from companion.jcra.matcher import HungarianMatcher
from companion.jcra.oks import keypoint_sigmas

SIZE, K = 64, 17


def _matcher() -> HungarianMatcher:
    return HungarianMatcher(LossConfig(), keypoint_sigmas(K))


def test_cost_matrix_is_queries_by_persons_and_lowest_on_the_true_pose():
    targets = normalise_targets(random_targets([3], K, SIZE), (SIZE, SIZE), torch.device("cpu"))
    truth = targets[0]["keypoints"]
    keypoints = torch.rand(5, K, 2)
    keypoints[4] = truth[1]  # query 4 predicts person 1 exactly
    cost = _matcher().cost_matrix(
        torch.zeros(5), keypoints, targets[0], torch.tensor([SIZE, SIZE], dtype=torch.float32)
    )
    assert cost.shape == (5, 3)
    assert cost[:, 1].argmin() == 4


def test_matching_recovers_a_permutation_of_the_truth():
    torch.manual_seed(0)
    targets = normalise_targets(random_targets([4, 2], K, SIZE, seed=3), (SIZE, SIZE), torch.device("cpu"))
    queries = 6
    keypoints = torch.rand(2, queries, K, 2)
    chosen = [torch.tensor([5, 0, 3, 1]), torch.tensor([2, 4])]
    for b, slots in enumerate(chosen):
        keypoints[b, slots] = targets[b]["keypoints"] + 0.002 * torch.randn(len(slots), K, 2)
    matches = _matcher()(torch.zeros(2, queries), keypoints, targets, (SIZE, SIZE))
    for b, (rows, cols) in enumerate(matches):
        assignment = dict(zip(cols.tolist(), rows.tolist()))
        assert [assignment[n] for n in range(len(chosen[b]))] == chosen[b].tolist()


def test_image_without_persons_gets_an_empty_match():
    targets = normalise_targets(random_targets([0, 2], K, SIZE), (SIZE, SIZE), torch.device("cpu"))
    matches = _matcher()(torch.zeros(2, 4), torch.rand(2, 4, K, 2), targets, (SIZE, SIZE))
    assert [len(rows) for rows, _ in matches] == [0, 2]


def test_padding_tokens_are_never_matched():
    targets = normalise_targets(random_targets([3], K, SIZE), (SIZE, SIZE), torch.device("cpu"))
    keypoints = torch.rand(1, 8, K, 2)
    keypoints[0, :3] = targets[0]["keypoints"]  # the best tokens for every person ...
    valid = torch.ones(1, 8, dtype=torch.bool)
    valid[0, :3] = False  # ... are padding
    ((rows, _),) = _matcher()(torch.zeros(1, 8), keypoints, targets, (SIZE, SIZE), valid)
    assert set(rows.tolist()).isdisjoint({0, 1, 2}) and len(rows) == 3


def test_matching_is_built_without_gradients():
    targets = normalise_targets(random_targets([2], K, SIZE), (SIZE, SIZE), torch.device("cpu"))
    keypoints = torch.rand(1, 4, K, 2, requires_grad=True)
    logits = torch.zeros(1, 4, requires_grad=True)
    ((rows, cols),) = _matcher()(logits, keypoints, targets, (SIZE, SIZE))
    assert rows.dtype == torch.int64 and not rows.requires_grad
    assert np.unique(rows.numpy()).size == 2
