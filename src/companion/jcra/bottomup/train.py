"""Training the bottom-up baseline with JCRA's recipe through the shared :mod:`..engine`: the
same data, augmentation, batch order, optimiser, schedule and step budget, so the two models
differ only in what follows the backbone and in their losses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .. import engine
from ..config import ModelConfig, get_config
from ..engine import TrainParams
from .loss import associative_embedding_loss
from .model import AssociativeEmbedding, BottomUpConfig
from .targets import BottomUpTargets, build_targets


def _criterion(config: BottomUpConfig):
    """Heatmap + associative-embedding loss against targets built per output stride."""

    def loss(outputs: dict, targets: list[dict], pad_mask: torch.Tensor) -> dict:
        device = outputs["heatmaps"].device
        stride_targets = [
            _to_device(build_targets(targets, pad_mask.cpu(), stride, config.sigma), device)
            for stride in config.strides
        ]
        outputs = {k: v.float() for k, v in outputs.items()}
        higher = stride_targets[1] if len(stride_targets) > 1 else None
        losses = associative_embedding_loss(outputs, stride_targets[0], higher, config.loss)
        return {"loss": losses["total"], **{k: losses[k] for k in ("heatmap", "push", "pull")}}

    return loss


def _to_device(targets: BottomUpTargets, device: torch.device) -> BottomUpTargets:
    return BottomUpTargets(**{f.name: getattr(targets, f.name).to(device) for f in dataclasses.fields(targets)})


TASK = engine.Task(
    name="the bottom-up baseline",
    checkpoint_format="companion.jcra.bottomup/1",
    module=__name__,
    build=AssociativeEmbedding,
    criterion=_criterion,
    forward=lambda model, images, pad_mask: model(images),
    model_config=lambda config: config.model,
    config_from_dict=BottomUpConfig.from_dict,
)


def make_config(model: str | ModelConfig = "small", **overrides) -> BottomUpConfig:
    """The baseline for a JCRA config (by name or object), with optional field overrides."""
    model_config = get_config(model) if isinstance(model, str) else model
    return BottomUpConfig(model=model_config, **overrides)


def train(
    config: BottomUpConfig,
    annotation_file: Path | str,
    image_dir: Path | str,
    out_dir: Path | str,
    params: TrainParams = TrainParams(),
    resume: bool = True,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> Path:
    """Train the baseline on a COCO keypoints file (``engine.train``); return ``out_dir/checkpoint.pt``."""
    engine.train(TASK, config, annotation_file, image_dir, out_dir, params, resume, progress, device)
    return Path(out_dir) / "checkpoint.pt"


def save_checkpoint(
    path: Path,
    model: AssociativeEmbedding,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    params: TrainParams | None,
) -> Path:
    return engine.save_checkpoint(path, TASK, model, optimizer, step, params)


def read_checkpoint(path: Path | str, expected: BottomUpConfig | None = None) -> dict:
    """The payload of a baseline checkpoint (``weights_only``), ``config`` as a ``BottomUpConfig``."""
    return engine.read_checkpoint(path, TASK, expected)


def load_model(
    path: Path | str, expected: BottomUpConfig | None = None, device: torch.device | str = "cpu"
) -> AssociativeEmbedding:
    """The baseline stored in a checkpoint, in eval mode on ``device``."""
    return engine.load_model(path, TASK, expected, device)


def trained_dir(config: BottomUpConfig, data_params: dict | None, params: TrainParams) -> Path:
    """``build/jcra/bottomup-<config>-<hash>/`` of a cached trained baseline."""
    return engine.trained_dir(TASK, config, data_params, params)


def ensure_trained(
    config: str | BottomUpConfig = "small",
    data_params: dict | None = None,
    train_params: TrainParams | dict | None = None,
    progress: bool = True,
) -> Path:
    """The baseline's checkpoint trained on the synthetic train split; trains it when missing.

    ``config`` is a ``BottomUpConfig`` or the name of the JCRA config it shares its backbone with.
    Pass the same ``data_params`` and ``train_params`` as ``jcra.train.ensure_trained`` for a
    like-for-like comparison.
    """
    config = make_config(config) if isinstance(config, str) else config
    params = train_params if isinstance(train_params, TrainParams) else TrainParams.from_dict(train_params)
    return engine.ensure_trained(TASK, config, data_params, params, progress)
