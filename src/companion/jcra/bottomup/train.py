"""Training of the baseline with JCRA's recipe: same data, augmentation, batch order, optimiser,
schedule and step budget (``jcra.train.TrainParams``), so the two models differ only in what
follows the backbone and in their losses.

The trained baseline is a build artifact like JCRA's: ``build/jcra/bottomup-<config>-<hash>/``
keyed by config, training data, parameters and code, trained only when missing. One process
(no DDP: the baseline is small and the comparison runs on one CPU).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm  # the text bar: notebooks here have no ipywidgets

from ... import paths
from ...hashing import sha256_files, sha256_json
from .. import recipes
from ..config import ModelConfig, get_config
from ..data.coco import collate, synthetic_paths
from ..data.synthetic import ensure_split
from ..train import (
    DistributedContext,
    TrainParams,
    batch_indices,
    default_device,
    learning_rate_factor,
    mixed_precision,
    optimiser_step,
    read_metrics,
    read_payload,
    resume_from,
    train_once,
    training_dataset,
    write_metrics,
    write_payload,
)
from .loss import associative_embedding_loss
from .model import AssociativeEmbedding, BottomUpConfig
from .targets import BottomUpTargets, build_targets

CHECKPOINT_FORMAT = "companion.jcra.bottomup/1"
METRIC_FIELDS = ("step", "epoch", "lr", "loss", "heatmap", "push", "pull", "seconds", "images_per_s")


def save_checkpoint(
    path: Path,
    model: AssociativeEmbedding,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    params: TrainParams | None,
) -> Path:
    """Write ``path`` atomically: config, weights, optimiser state, step, training parameters."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.key(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "train_params": json.dumps(params.to_dict(), sort_keys=True) if params is not None else None,
    }
    return write_payload(path, payload)


def read_checkpoint(path: Path | str, expected: BottomUpConfig | None = None) -> dict:
    """Load a baseline checkpoint (``weights_only``); ``config`` becomes a ``BottomUpConfig``."""
    payload = read_payload(Path(path), CHECKPOINT_FORMAT, "bottom-up baseline checkpoint")
    config = BottomUpConfig.from_dict(json.loads(payload["config"]))
    if expected is not None and config != expected:
        raise ValueError(f"checkpoint {path} holds config {config.key()}, not the requested {expected.key()}")
    payload["config"] = config
    return payload


def load_model(
    path: Path | str, expected: BottomUpConfig | None = None, device: torch.device | str = "cpu"
) -> AssociativeEmbedding:
    """The baseline stored in a checkpoint, in eval mode on ``device``."""
    payload = read_checkpoint(path, expected)
    model = AssociativeEmbedding(payload["config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


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
    """Train the baseline on a COCO keypoints file; return ``out_dir/checkpoint.pt``.

    Mirrors ``jcra.train.train``: the same dataset and augmentation, batches from
    ``batch_indices``, AdamW with warm-up and cosine decay, gradient clipping, mixed precision on
    CUDA, checkpoints every ``checkpoint_every`` steps with resume, ``metrics.csv``.
    """
    device = torch.device(device) if device is not None else default_device()
    out_dir = Path(out_dir)
    checkpoint_path, metrics_path = out_dir / "checkpoint.pt", out_dir / "metrics.csv"
    torch.manual_seed(params.seed)
    dataset = training_dataset(annotation_file, image_dir, config.model, params, "the baseline")
    model = AssociativeEmbedding(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    start_step = (
        resume_from(read_checkpoint(checkpoint_path, config), model, optimizer, params, checkpoint_path)
        if resume and checkpoint_path.exists()
        else 0
    )
    rows = read_metrics(metrics_path, start_step) if start_step else []
    use_amp, amp_dtype, scaler = mixed_precision(params, device)
    model.train()

    bar = tqdm(
        total=params.steps,
        initial=start_step,
        desc=f"train {config.name}",
        unit="step",
        disable=not progress,
        mininterval=1.0,
    )
    started = window_start = time.perf_counter()
    window_images = 0
    for step, epoch, indices in batch_indices(len(dataset), params, DistributedContext(), start_step):
        dataset.set_epoch(epoch)
        images, pad_mask, targets = collate([dataset[i] for i in indices])
        stride_targets = [build_targets(targets, pad_mask, stride, config.sigma) for stride in config.strides]
        stride_targets = [_to_device(t, device) for t in stride_targets]
        for group in optimizer.param_groups:
            group["lr"] = params.lr * learning_rate_factor(step, params)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            outputs = model(images.to(device))
        outputs = {k: v.float() for k, v in outputs.items()}
        losses = associative_embedding_loss(
            outputs, stride_targets[0], stride_targets[1] if len(stride_targets) > 1 else None, config.loss
        )
        optimiser_step(losses["total"], model, optimizer, scaler, params.clip_norm)
        window_images += len(indices)
        done = step + 1
        if done % params.log_every == 0 or done == params.steps:
            now = time.perf_counter()
            rows.append(
                {
                    "step": done,
                    "epoch": epoch,
                    "lr": f"{optimizer.param_groups[0]['lr']:.6g}",
                    "loss": f"{losses['total'].item():.6f}",
                    **{k: f"{losses[k].item():.6f}" for k in ("heatmap", "push", "pull")},
                    "seconds": f"{now - started:.2f}",
                    "images_per_s": f"{window_images / max(now - window_start, 1e-9):.2f}",
                }
            )
            window_images, window_start = 0, now
            bar.set_postfix(loss=f"{losses['total'].item():.5f}")
        bar.update(1)
        if done % params.checkpoint_every == 0 or done == params.steps:
            save_checkpoint(checkpoint_path, model, optimizer, done, params)
            write_metrics(metrics_path, rows, METRIC_FIELDS)
    bar.close()
    if start_step >= params.steps and not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, model, optimizer, start_step, params)
    return checkpoint_path


def _to_device(targets: BottomUpTargets, device: torch.device) -> BottomUpTargets:
    return BottomUpTargets(**{f.name: getattr(targets, f.name).to(device) for f in dataclasses.fields(targets)})


CODE_FILES = (
    "bottomup/model.py",
    "bottomup/loss.py",
    "bottomup/targets.py",
    "bottomup/train.py",
    "backbone.py",
    "config.py",
    "train.py",
    "data/coco.py",
    "data/transforms.py",
    "data/skeleton.py",
)


def code_hash() -> str:
    """Hash of the source files that decide what training the baseline produces."""
    root = Path(__file__).resolve().parents[1]
    return sha256_files([root / name for name in CODE_FILES], root)[:16]


def profile_checkpoint(profile: str, progress: bool = True) -> Path:
    """The baseline trained with notebook profile ``profile``'s recipe (``jcra.recipes``): JCRA's
    config, data and training parameters, so it sits beside ``recipes.profile_checkpoint``."""
    recipe = recipes.get_recipe(profile)
    return ensure_trained(make_config(recipe.model_config()), recipe.train_data, recipe.train_params(), progress)


def make_config(model: str | ModelConfig = "small", **overrides) -> BottomUpConfig:
    """The baseline for a JCRA config (by name or object), with optional field overrides."""
    model_config = get_config(model) if isinstance(model, str) else model
    return BottomUpConfig(model=model_config, **overrides)


def _data_params(config: BottomUpConfig, data_params: dict | None) -> dict:
    """Synthetic split parameters, as JCRA's: the image size defaults to the input size."""
    return {"image_size": config.model.input_size, **(data_params or {})}


def trained_dir(config: BottomUpConfig, data_params: dict | None, params: TrainParams) -> Path:
    """``build/jcra/bottomup-<config>-<hash>/``."""
    split = ensure_split("train", _data_params(config, data_params))
    key = sha256_json({"config": config.to_dict(), "data": split.name, "train": params.to_dict(), "code": code_hash()})
    return paths.BUILD_DIR / "jcra" / f"{config.name}-{key[:12]}"


def ensure_trained(
    config: str | BottomUpConfig = "small",
    data_params: dict | None = None,
    train_params: TrainParams | dict | None = None,
    progress: bool = True,
) -> Path:
    """The baseline's checkpoint trained on the synthetic train split; trains it when missing.

    ``config`` is a ``BottomUpConfig`` or the name of the JCRA config it shares its backbone with.
    Pass the same ``data_params`` and ``train_params`` as ``jcra.train.ensure_trained`` for a
    like-for-like comparison. Concurrent callers wait on a file lock.
    """
    config = make_config(config) if isinstance(config, str) else config
    params = train_params if isinstance(train_params, TrainParams) else TrainParams.from_dict(train_params)
    directory = trained_dir(config, data_params, params)

    def run() -> None:
        annotation_file, image_dir = synthetic_paths(ensure_split("train", _data_params(config, data_params)))
        train(config, annotation_file, image_dir, directory, params, resume=True, progress=progress)

    return train_once(
        directory,
        run,
        {
            "config": config.to_dict(),
            "data_params": _data_params(config, data_params),
            "train_params": params.to_dict(),
            "code_hash": code_hash(),
        },
    )
