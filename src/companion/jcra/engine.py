"""The one training engine of the pose wing: JCRA and the bottom-up baseline each supply a
:class:`Task` (a model, a loss and how to store their config); the engine does the rest.

AdamW with warm-up and cosine decay, gradient clipping, mixed precision on GPU, checkpoints
(atomic, with a format tag, loaded ``weights_only``) and exact resume, metrics to CSV, progress
through :func:`companion.progress.track`, and DDP when launched by torchrun:

    python -m torch.distributed.run --nproc_per_node 2 -m companion.jcra train ...  # gloo on CPU, nccl on GPU

The batch order is a pure function of (seed, step): epoch e shuffles with seed + e and each rank
takes every world_size-th image, so a resumed run sees exactly the batches it would have seen.
A trained model is a build artifact: :func:`ensure_trained` keys it by config, data, training
parameters and the hash of every library file the task's module imports, and trains only when
it is missing.
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import io
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .. import paths, progress
from ..atomic import atomic_path, write_text
from ..deps import module_files
from ..hashing import sha256_files, sha256_json
from .config import ModelConfig
from .data.coco import CocoPoseDataset, collate, synthetic_paths
from .data.skeleton import layout_for_num_keypoints
from .data.synthetic import ensure_split
from .data.transforms import train_transforms

METRIC_FIELDS = ("step", "epoch", "lr", "seconds", "images_per_s")


@dataclass(frozen=True)
class TrainParams:
    """How to train (not what: that is the model's config).

    Attributes:
        steps: optimiser steps.
        batch_size: images per step on each rank.
        lr: peak learning rate; ``weight_decay`` AdamW's decay.
        warmup_steps: linear warm-up from 0; then cosine decay to ``min_lr_ratio * lr``.
        clip_norm: gradient clipping threshold (L2 norm of all gradients).
        seed: initialisation, batch order and augmentation seed.
        rotation, scale, crop_min_fraction: augmentation (max degrees, zoom range, crop side).
        checkpoint_every: steps between checkpoints (and metric-file rewrites).
        log_every: steps between metric rows.
        amp: mixed precision when training on CUDA (ignored on CPU).
    """

    steps: int = 2500
    batch_size: int = 8
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    clip_norm: float = 1.0
    seed: int = 0
    rotation: float = 15.0
    scale: tuple[float, float] = (0.8, 1.2)
    crop_min_fraction: float = 0.85
    checkpoint_every: int = 500
    log_every: int = 10
    amp: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", tuple(float(s) for s in self.scale))
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"train params {name} must be >= 1, got {getattr(self, name)!r}")
        if self.lr <= 0 or self.clip_norm <= 0 or self.warmup_steps < 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(
                f"train params need lr > 0, clip_norm > 0, warmup_steps >= 0, 0 <= min_lr_ratio <= 1; "
                f"got lr={self.lr}, clip_norm={self.clip_norm}, warmup_steps={self.warmup_steps}, "
                f"min_lr_ratio={self.min_lr_ratio}"
            )

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainParams:
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"train params have unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class Task:
    """What one model family supplies to the engine.

    Attributes:
        name: what the model is called in messages ("JCRA", "the bottom-up baseline").
        checkpoint_format: the tag written into and required from its checkpoints.
        module: the module that defines the task; the hash of the library files it imports
            (transitively) keys the cached trained models.
        build: config -> a fresh model (``torch.nn.Module`` with a ``config`` attribute).
        criterion: config -> ``loss(outputs, targets, pad_mask) -> dict``, with the total under
            ``"loss"`` and every other entry a logged component (targets and pad mask as
            ``collate`` gives them, on the CPU).
        forward: ``(model, images [B, 3, H, W], pad_mask [B, H, W]) -> outputs``.
        model_config: config -> the ``ModelConfig`` that fixes input size and keypoints.
        config_from_dict: the inverse of ``config.to_dict()``.
        find_unused_parameters: config -> whether DDP must look for parameters without gradient.
    """

    name: str
    checkpoint_format: str
    module: str
    build: Callable[[object], torch.nn.Module]
    criterion: Callable[[object], Callable[[dict, list[dict], torch.Tensor], dict]]
    forward: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], dict]
    model_config: Callable[[object], ModelConfig]
    config_from_dict: Callable[[dict], object]
    find_unused_parameters: Callable[[object], bool] = lambda config: False

    def code_hash(self) -> str:
        """Hash of the library files the task's module imports, followed transitively."""
        return sha256_files(module_files([self.module]), paths.LIBRARY_DIR)[:16]


def learning_rate_factor(step: int, params: TrainParams) -> float:
    """Multiplier of ``params.lr`` at ``step``: linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < params.warmup_steps:
        return (step + 1) / params.warmup_steps
    progress_share = (step - params.warmup_steps) / max(params.steps - params.warmup_steps, 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress_share, 1.0)))
    return params.min_lr_ratio + (1 - params.min_lr_ratio) * cosine


# ----------------------------------------------------------------------------- distributed


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1 (gloo on CPU, nccl on CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def batch_indices(
    num_images: int, params: TrainParams, context: DistributedContext, start_step: int
) -> Iterator[tuple[int, int, list[int]]]:
    """``(step, epoch, image indices)`` of this rank's batch for each step from ``start_step`` on."""
    per_rank = num_images // context.world_size
    steps_per_epoch = per_rank // params.batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"{num_images} training images are too few for batch_size {params.batch_size} "
            f"on {context.world_size} rank(s)"
        )
    for step in range(start_step, params.steps):
        epoch, position = divmod(step, steps_per_epoch)
        order = torch.randperm(num_images, generator=torch.Generator().manual_seed(params.seed + epoch))
        mine = order[: per_rank * context.world_size][context.rank :: context.world_size]
        yield step, epoch, mine[position * params.batch_size : (position + 1) * params.batch_size].tolist()


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: Path,
    task: Task,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    step: int,
    params: TrainParams | None,
) -> Path:
    """Write ``path`` atomically (serialised first, then renamed into place): format tag, config,
    weights, optimiser state, step, training parameters. Plain tensors and strings only."""
    payload = {
        "format": task.checkpoint_format,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "train_params": json.dumps(params.to_dict(), sort_keys=True) if params is not None else None,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


def read_checkpoint(path: Path | str, task: Task, expected=None) -> dict:
    """Load ``path`` with ``weights_only=True``, check its format tag and that its config is
    ``expected`` (when given). A missing, unreadable or foreign file raises an error naming it.
    Returns the payload with ``config`` turned into the task's config object."""
    path = Path(path)
    what = f"{task.name} checkpoint"
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a readable torch checkpoint: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != task.checkpoint_format:
        raise ValueError(f"{path} is not a {what} (expected format {task.checkpoint_format!r})")
    config = task.config_from_dict(json.loads(payload["config"]))
    if expected is not None and config != expected:
        mine, theirs = config.to_dict(), expected.to_dict()
        differing = sorted(k for k in mine if mine[k] != theirs.get(k))
        details = ", ".join(f"{k}: checkpoint {mine[k]!r} vs requested {theirs.get(k)!r}" for k in differing)
        raise ValueError(
            f"checkpoint {path} was trained with config {config.name!r}, not the requested "
            f"{expected.name!r} ({details})"
        )
    payload["config"] = config
    return payload


def load_model(path: Path | str, task: Task, expected=None, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model stored in a checkpoint, in eval mode on ``device``."""
    payload = read_checkpoint(path, task, expected)
    model = task.build(payload["config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


# ----------------------------------------------------------------------------- metrics


def read_metrics(path: Path, up_to_step: int) -> list[dict]:
    """The rows of ``metrics.csv`` up to ``up_to_step`` (what a resumed run keeps)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def write_metrics(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    fields = list(rows[0]) if rows else list(METRIC_FIELDS)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


# ----------------------------------------------------------------------------- the loop


def training_dataset(
    annotation_file: Path | str, image_dir: Path | str, config: ModelConfig, params: TrainParams, who: str
) -> CocoPoseDataset:
    """The augmented training set for a model of ``config``; ``who`` names the model in the error
    raised when the file's keypoint count is not the model's."""
    flip_index = layout_for_num_keypoints(config.num_keypoints).flip_index
    transforms = train_transforms(
        flip_index, config.input_size, params.rotation, params.scale, params.crop_min_fraction
    )
    dataset = CocoPoseDataset(annotation_file, image_dir, transforms, seed=params.seed)
    if dataset.layout.num_keypoints != config.num_keypoints:
        raise ValueError(
            f"{annotation_file} has {dataset.layout.num_keypoints} keypoints per person but {who} "
            f"predicts {config.num_keypoints}"
        )
    return dataset


def mixed_precision(params: TrainParams, device: torch.device) -> tuple[bool, torch.dtype, torch.amp.GradScaler]:
    """``(enabled, dtype, scaler)``: bfloat16 autocast where CUDA has it, float16 with loss scaling
    elsewhere on CUDA, nothing on the CPU."""
    use_amp = params.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    return use_amp, amp_dtype, torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)


def optimiser_step(
    loss: torch.Tensor,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    clip_norm: float,
) -> None:
    """Backward, unscale, clip all gradients to ``clip_norm`` and step."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    scaler.step(optimizer)
    scaler.update()


def train(
    task: Task,
    config,
    annotation_file: Path | str,
    image_dir: Path | str,
    out_dir: Path | str,
    params: TrainParams = TrainParams(),
    resume: bool = True,
    show_progress: bool = True,
    device: torch.device | str | None = None,
) -> torch.nn.Module:
    """Train ``task``'s model of ``config`` on a COCO keypoints file; return it (unwrapped from DDP).

    ``out_dir`` receives ``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end) and
    ``metrics.csv``. With ``resume``, an existing ``checkpoint.pt`` of the same config continues
    where it stopped; its training parameters must match ``params``.
    """
    device = torch.device(device) if device is not None else default_device()
    context = init_distributed(device)
    out_dir = Path(out_dir)
    checkpoint_path, metrics_path = out_dir / "checkpoint.pt", out_dir / "metrics.csv"
    torch.manual_seed(params.seed)

    dataset = training_dataset(annotation_file, image_dir, task.model_config(config), params, task.name)
    model = task.build(config).to(device)
    criterion = task.criterion(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    start_step = 0
    if resume and checkpoint_path.exists():
        payload = read_checkpoint(checkpoint_path, task, config)
        if payload["train_params"] is not None and json.loads(payload["train_params"]) != params.to_dict():
            raise ValueError(
                f"{checkpoint_path} was written with other training parameters; use a new out_dir or resume=False"
            )
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        start_step = payload["step"]
    rows = read_metrics(metrics_path, start_step) if start_step else []

    trained = model
    if context.world_size > 1:
        trained = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=task.find_unused_parameters(config),
        )
    use_amp, amp_dtype, scaler = mixed_precision(params, device)
    trained.train()

    bar = (
        progress.track(f"training {task.name} ({config.name})", params.steps)
        if show_progress and context.is_main
        else nullcontext()
    )
    earlier_seconds = float(rows[-1]["seconds"]) if rows else 0.0  # training time before a resume
    started, window_images = time.perf_counter(), 0
    window_start = started
    with bar as tracker:
        for step, epoch, indices in batch_indices(len(dataset), params, context, start_step):
            dataset.set_epoch(epoch)
            images, pad_mask, targets = collate([dataset[i] for i in indices])
            images, pad_mask = images.to(device, non_blocking=True), pad_mask.to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = params.lr * learning_rate_factor(step, params)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                outputs = task.forward(trained, images, pad_mask)
            losses = criterion(outputs, targets, pad_mask)
            optimiser_step(losses["loss"], model, optimizer, scaler, params.clip_norm)
            window_images += len(indices) * context.world_size
            done = step + 1
            if done % params.log_every == 0 or done == params.steps:
                now = time.perf_counter()
                rows.append(
                    {
                        "step": done,
                        "epoch": epoch,
                        "lr": f"{optimizer.param_groups[0]['lr']:.6g}",
                        **{name: f"{value.item():.6f}" for name, value in losses.items()},
                        "seconds": f"{earlier_seconds + now - started:.2f}",
                        "images_per_s": f"{window_images / max(now - window_start, 1e-9):.2f}",
                    }
                )
                window_images, window_start = 0, now
                if tracker is not None:
                    tracker.update(done, loss=losses["loss"].item())
            if context.is_main and (done % params.checkpoint_every == 0 or done == params.steps):
                save_checkpoint(checkpoint_path, task, model, optimizer, done, params)
                write_metrics(metrics_path, rows)
        if tracker is not None:
            tracker.update(params.steps)
    if context.world_size > 1:
        # DDP keeps parameters equal; BatchNorm statistics of each rank's last batch differ, so
        # every rank takes rank 0's (the ones in the checkpoint).
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
        dist.barrier()
    return model


# ----------------------------------------------------------------------------- cached artifact


def train_data_params(task: Task, config, data_params: dict | None) -> dict:
    """Synthetic train split parameters; the image size defaults to the model's input size."""
    return {"image_size": task.model_config(config).input_size, **(data_params or {})}


def train_split(task: Task, config, data_params: dict | None) -> Path:
    """The directory of the synthetic train split (generated once, cached under ``build/``)."""
    return ensure_split(
        "train", train_data_params(task, config, data_params), cache_root=paths.BUILD_DIR / "jcra" / "data"
    )


def trained_dir(task: Task, config, data_params: dict | None, params: TrainParams) -> Path:
    """``build/jcra/<config name>-<hash>/``, the hash over config, training data, parameters, code and
    torch's thread count: training is bit for bit repeatable at one thread count, but another count
    sums in another order and trains a different model (1 vs 2 threads: default AP 0.556 vs 0.552)."""
    split = train_split(task, config, data_params)
    key = sha256_json(
        {
            "config": config.to_dict(),
            "data": split.name,
            "train": params.to_dict(),
            "code": task.code_hash(),
            "threads": torch.get_num_threads(),
        }
    )
    return paths.BUILD_DIR / "jcra" / f"{config.name}-{key[:12]}"


def ensure_trained(
    task: Task, config, data_params: dict | None = None, params: TrainParams | None = None, show_progress: bool = True
) -> Path:
    """The checkpoint of ``config`` trained on the synthetic train split; trains it when missing.

    Concurrent callers (notebooks run in parallel) wait on a file lock instead of training twice;
    an interrupted run resumes next time. ``data_params`` override the synthetic ``train`` split's
    settings (``synthetic.SPLITS``).
    """
    params = params or TrainParams()
    directory = trained_dir(task, config, data_params, params)
    done_marker = directory / "meta.json"
    if not done_marker.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory.parent / f".{directory.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done_marker.exists():
                started = time.perf_counter()
                annotation_file, image_dir = synthetic_paths(train_split(task, config, data_params))
                train(task, config, annotation_file, image_dir, directory, params, True, show_progress)
                meta = {
                    "config": config.to_dict(),
                    "data_params": train_data_params(task, config, data_params),
                    "train_params": params.to_dict(),
                    "code_hash": task.code_hash(),
                    "train_seconds_last_session": round(time.perf_counter() - started, 1),
                    "torch_threads": torch.get_num_threads(),
                }
                write_text(done_marker, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory / "checkpoint.pt"
