"""The set loss: OKS against pycocotools' formula, empty images, a perfect prediction."""

import numpy as np
import torch
from _model_helpers import random_targets

from companion.jcra.config import get_config
from companion.jcra.criterion import SetCriterion, sigmoid_focal_loss
from companion.jcra.metrics import oks_matrix
from companion.jcra.model import JCRA
from companion.jcra.oks import keypoint_sigmas, oks

SIZE = 64


def test_torch_oks_equals_the_evaluation_oks():
    targets = random_targets([3], 17, SIZE, seed=4)[0]
    predictions = targets["keypoints"][:, :, :2] + 3 * torch.randn(3, 17, 2)
    sigmas = keypoint_sigmas(17)
    ours = oks(
        predictions[:, None],
        targets["keypoints"][None, :, :, :2],
        targets["keypoints"][None, :, :, 2] > 0,
        targets["areas"][None],
        sigmas,
    )
    reference = oks_matrix(predictions.numpy(), targets["keypoints"].numpy(), targets["areas"].numpy(), sigmas.numpy())
    np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-5, atol=1e-6)


def test_focal_loss_is_small_for_confident_right_answers():
    logits = torch.tensor([6.0, -6.0, -6.0, 6.0])
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss = sigmoid_focal_loss(logits, targets, 0.25, 2.0)
    assert loss[:2].max() < 1e-3 < loss[2:].min()


def _outputs(model, batch):
    torch.manual_seed(0)
    return model(torch.randn(batch, 3, SIZE, SIZE))


def test_images_without_persons_give_a_finite_background_loss():
    config = get_config("tiny")
    model = JCRA(config)
    outputs = _outputs(model, 2)
    losses = SetCriterion(config)(outputs, random_targets([0, 0], 17, SIZE))
    assert torch.isfinite(losses["loss"]) and losses["class"] > 0
    assert losses["l1"] == 0 and losses["oks"] == 0 and losses["visibility"] == 0
    losses["loss"].backward()
    assert model.decoder.heads[-1].score.weight.grad.abs().sum() > 0
    assert (
        model.decoder.heads[-1].keypoints.layers[0].weight.grad is None
        or model.decoder.heads[-1].keypoints.layers[0].weight.grad.abs().sum() == 0
    )


def test_a_perfect_pose_has_no_keypoint_loss():
    config = get_config("tiny")
    model = JCRA(config)
    outputs = _outputs(model, 1)
    targets = random_targets([2], 17, SIZE, seed=2)
    truth = targets[0]["keypoints"][..., :2] / SIZE
    for layer in (outputs, *outputs["aux"]):
        layer["keypoints"] = torch.rand_like(layer["keypoints"])
        layer["keypoints"][0, 3:5] = truth
    losses = SetCriterion(config.replace(loss={"encoder_loss": False}))(outputs, targets)
    assert losses["l1"] < 1e-6 and losses["oks"] < 1e-6


def test_mixed_batch_normalises_by_the_number_of_persons():
    config = get_config("tiny", loss={"encoder_loss": False})
    outputs = _outputs(JCRA(config), 2)
    criterion = SetCriterion(config)
    one = criterion(outputs, random_targets([0, 1], 17, SIZE, seed=5))
    assert 0 < one["oks"] <= 1 and 0 < one["l1"] < 1
