"""Training JCRA: the model, its loss and its config, handed to the shared :mod:`engine`.

python -m companion.jcra train --annotations A.json --images DIR --out RUN  # see __main__
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import engine
from .config import ModelConfig, get_config
from .criterion import SetCriterion
from .engine import TrainParams
from .model import JCRA


def _criterion(config: ModelConfig):
    """Hungarian-matched set loss; targets move to the outputs' device."""
    criterion = SetCriterion(config)

    def loss(outputs: dict, targets: list[dict], pad_mask: torch.Tensor) -> dict:
        device = outputs["logits"].device
        on_device = [{**t, "keypoints": t["keypoints"].to(device), "areas": t["areas"].to(device)} for t in targets]
        return criterion.to(device)(outputs, on_device)

    return loss


TASK = engine.Task(
    name="JCRA",
    checkpoint_format="companion.jcra/1",
    module=__name__,
    build=JCRA,
    criterion=_criterion,
    forward=lambda model, images, pad_mask: model(images, pad_mask),
    model_config=lambda config: config,
    config_from_dict=ModelConfig.from_dict,
    # without the encoder loss the proposal heads get no gradient
    find_unused_parameters=lambda config: not config.loss.encoder_loss,
)


def train(
    config: ModelConfig,
    annotation_file: Path | str,
    image_dir: Path | str,
    out_dir: Path | str,
    params: TrainParams = TrainParams(),
    resume: bool = True,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> JCRA:
    """Train ``config`` on a COCO keypoints file (``engine.train``); return the trained model."""
    return engine.train(TASK, config, annotation_file, image_dir, out_dir, params, resume, progress, device)


def save_checkpoint(
    path: Path, model: JCRA, optimizer: torch.optim.Optimizer | None, step: int, params: TrainParams | None
) -> Path:
    return engine.save_checkpoint(path, TASK, model, optimizer, step, params)


def read_checkpoint(path: Path | str, expected: ModelConfig | None = None) -> dict:
    """The payload of a JCRA checkpoint (``weights_only``), ``config`` as a ``ModelConfig``."""
    return engine.read_checkpoint(path, TASK, expected)


def load_model(path: Path | str, expected: ModelConfig | None = None, device: torch.device | str = "cpu") -> JCRA:
    """The JCRA model stored in a checkpoint, in eval mode on ``device``."""
    return engine.load_model(path, TASK, expected, device)


def trained_dir(config: ModelConfig, data_params: dict | None, params: TrainParams) -> Path:
    """``build/jcra/<config>-<hash>/`` of a cached trained model."""
    return engine.trained_dir(TASK, config, data_params, params)


def ensure_trained(
    config: str | ModelConfig,
    data_params: dict | None = None,
    train_params: TrainParams | dict | None = None,
    progress: bool = True,
) -> Path:
    """The checkpoint of ``config`` trained on the synthetic train split; trains it when missing."""
    config = get_config(config) if isinstance(config, str) else config
    params = train_params if isinstance(train_params, TrainParams) else TrainParams.from_dict(train_params)
    return engine.ensure_trained(TASK, config, data_params, params, progress)
