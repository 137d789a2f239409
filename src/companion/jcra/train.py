"""Training: AdamW with warm-up and cosine decay, gradient clipping, checkpoints with resume,
a progress bar, metrics to CSV, mixed precision on GPU, and DDP when launched by torchrun.

    python -m torch.distributed.run --nproc_per_node 2 -m companion.jcra train ...  # gloo on CPU, nccl on GPU

The batch order is a pure function of (seed, step): epoch e shuffles with seed + e and each
rank takes every world_size-th image, so a resumed run sees exactly the batches it would have
seen. The trained model of a notebook profile is a build artifact: :func:`ensure_trained`
keys it by config, data, training parameters and code hash, and trains only when it is missing.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm  # the text bar: notebooks here have no ipywidgets

from .. import paths
from ..atomic import atomic_path, write_text
from ..hashing import sha256_files, sha256_json
from .config import ModelConfig, get_config
from .criterion import SetCriterion
from .data.coco import CocoPoseDataset, collate, synthetic_paths
from .data.skeleton import layout_for_num_keypoints
from .data.synthetic import ensure_split
from .data.transforms import train_transforms
from .model import JCRA

CHECKPOINT_FORMAT = "companion.jcra/1"
METRIC_FIELDS = ("step", "epoch", "lr", "loss", "class", "l1", "oks", "visibility", "seconds", "images_per_s")


@dataclass(frozen=True)
class TrainParams:
    """How to train (not what: that is the ``ModelConfig``).

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


def learning_rate_factor(step: int, params: TrainParams) -> float:
    """Multiplier of ``params.lr`` at ``step``: linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < params.warmup_steps:
        return (step + 1) / params.warmup_steps
    progress = (step - params.warmup_steps) / max(params.steps - params.warmup_steps, 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
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


# ----------------------------------------------------------------------------- data order


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


def write_payload(path: Path, payload: dict) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (serialised first, then renamed into place)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def save_checkpoint(
    path: Path, model: JCRA, optimizer: torch.optim.Optimizer | None, step: int, params: TrainParams | None
) -> Path:
    """Write ``path`` atomically: config, weights, optimiser state, step, training parameters."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "train_params": json.dumps(params.to_dict(), sort_keys=True) if params is not None else None,
    }
    return write_payload(path, payload)


def read_payload(path: Path, checkpoint_format: str, what: str) -> dict:
    """``torch.load`` ``path`` with ``weights_only=True`` and check it is a ``checkpoint_format`` payload;
    a missing, unreadable or foreign file raises an error naming ``path`` and ``what`` was expected."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise ValueError(f"{path} is not a readable torch checkpoint: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != checkpoint_format:
        raise ValueError(f"{path} is not a {what} (expected format {checkpoint_format!r})")
    return payload


def read_checkpoint(path: Path | str, expected: ModelConfig | None = None) -> dict:
    """Load a checkpoint with ``weights_only=True`` and check it belongs to ``expected``.

    Returns the payload with ``config`` turned into a ``ModelConfig``.
    """
    path = Path(path)
    payload = read_payload(path, CHECKPOINT_FORMAT, "companion.jcra checkpoint")
    config = ModelConfig.from_dict(json.loads(payload["config"]))
    if expected is not None and config != expected:
        mine, theirs = config.to_dict(), expected.to_dict()
        differing = sorted(k for k in mine if mine[k] != theirs[k])
        details = ", ".join(f"{k}: checkpoint {mine[k]!r} vs requested {theirs[k]!r}" for k in differing)
        raise ValueError(
            f"checkpoint {path} was trained with config {config.name!r}, not the requested "
            f"{expected.name!r} ({details})"
        )
    payload["config"] = config
    return payload


def load_model(path: Path | str, expected: ModelConfig | None = None, device: torch.device | str = "cpu") -> JCRA:
    """The model stored in a checkpoint, in eval mode on ``device``."""
    payload = read_checkpoint(path, expected)
    model = JCRA(payload["config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


# ----------------------------------------------------------------------------- metrics


def read_metrics(path: Path, up_to_step: int) -> list[dict]:
    """The rows of ``metrics.csv`` up to ``up_to_step`` (what a resumed run keeps)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def write_metrics(path: Path, rows: list[dict], fields: tuple[str, ...] = METRIC_FIELDS) -> None:
    buffer = io.StringIO()
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


def resume_from(
    payload: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, params: TrainParams, checkpoint_path: Path
) -> int:
    """Load a checkpoint payload into ``model`` and ``optimizer``; return the step it reached."""
    if payload["train_params"] is not None and json.loads(payload["train_params"]) != params.to_dict():
        raise ValueError(
            f"{checkpoint_path} was written with other training parameters; use a new out_dir or resume=False"
        )
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    return payload["step"]


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


def _batch(dataset: CocoPoseDataset, indices: list[int], device: torch.device) -> tuple:
    """Collated ``(images, pad_mask, targets)`` of ``indices``, on ``device``."""
    images, pad_mask, targets = collate([dataset[i] for i in indices])
    targets = [{**t, "keypoints": t["keypoints"].to(device), "areas": t["areas"].to(device)} for t in targets]
    return images.to(device, non_blocking=True), pad_mask.to(device, non_blocking=True), targets


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
    """Train ``config`` on a COCO keypoints file; return the trained model (unwrapped from DDP).

    ``out_dir`` receives ``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end) and
    ``metrics.csv``. With ``resume``, an existing ``checkpoint.pt`` of the same config continues
    where it stopped; its training parameters must match ``params``.
    """
    device = torch.device(device) if device is not None else default_device()
    context = init_distributed(device)
    out_dir = Path(out_dir)
    checkpoint_path, metrics_path = out_dir / "checkpoint.pt", out_dir / "metrics.csv"
    torch.manual_seed(params.seed)

    dataset = training_dataset(annotation_file, image_dir, config, params, f"config {config.name!r}")
    model = JCRA(config).to(device)
    criterion = SetCriterion(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    start_step = (
        resume_from(read_checkpoint(checkpoint_path, config), model, optimizer, params, checkpoint_path)
        if resume and checkpoint_path.exists()
        else 0
    )
    rows = read_metrics(metrics_path, start_step) if start_step else []

    trained = model
    if context.world_size > 1:
        trained = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=not config.loss.encoder_loss,
        )
    use_amp, amp_dtype, scaler = mixed_precision(params, device)
    trained.train()

    bar = tqdm(
        total=params.steps,
        initial=start_step,
        desc=f"train {config.name}",
        unit="step",
        disable=not (progress and context.is_main),
        mininterval=1.0,
    )
    earlier_seconds = float(rows[-1]["seconds"]) if rows else 0.0  # training time before a resume
    started, window_images = time.perf_counter(), 0
    window_start = started
    for step, epoch, indices in batch_indices(len(dataset), params, context, start_step):
        dataset.set_epoch(epoch)
        images, pad_mask, targets = _batch(dataset, indices, device)
        for group in optimizer.param_groups:
            group["lr"] = params.lr * learning_rate_factor(step, params)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            outputs = trained(images, pad_mask)
        losses = criterion(outputs, targets)
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
                    **{k: f"{losses[k].item():.5f}" for k in ("loss", "class", "l1", "oks", "visibility")},
                    "seconds": f"{earlier_seconds + now - started:.2f}",
                    "images_per_s": f"{window_images / max(now - window_start, 1e-9):.2f}",
                }
            )
            window_images, window_start = 0, now
            bar.set_postfix(loss=f"{losses['loss'].item():.3f}", oks=f"{1 - losses['oks'].item():.3f}")
        bar.update(1)
        if context.is_main and (done % params.checkpoint_every == 0 or done == params.steps):
            save_checkpoint(checkpoint_path, model, optimizer, done, params)
            write_metrics(metrics_path, rows)
    bar.close()
    if context.world_size > 1:
        # DDP keeps parameters equal; BatchNorm statistics of each rank's last batch differ, so
        # every rank takes rank 0's (the ones in the checkpoint).
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)
        dist.barrier()
    return model


# ----------------------------------------------------------------------------- cached artifact

CODE_FILES = (
    "backbone.py",
    "position.py",
    "deformable_attention.py",
    "transformer.py",
    "model.py",
    "oks.py",
    "matcher.py",
    "criterion.py",
    "config.py",
    "train.py",
    "data/coco.py",
    "data/transforms.py",
    "data/skeleton.py",
)


def code_hash() -> str:
    """Hash of the source files that decide what training produces."""
    root = Path(__file__).resolve().parent
    return sha256_files([root / name for name in CODE_FILES], root)[:16]


def trained_dir(config: ModelConfig, data_params: dict | None, params: TrainParams) -> Path:
    """``build/jcra/<config>-<hash>/``, the hash over config, training data, parameters and code."""
    split = _train_split(config, data_params)
    key = sha256_json({"config": config.to_dict(), "data": split.name, "train": params.to_dict(), "code": code_hash()})
    return paths.BUILD_DIR / "jcra" / f"{config.name}-{key[:12]}"


def _data_params(config: ModelConfig, data_params: dict | None) -> dict:
    """Synthetic split parameters; the image size defaults to the model's input size."""
    return {"image_size": config.input_size, **(data_params or {})}


def _train_split(config: ModelConfig, data_params: dict | None) -> Path:
    return ensure_split("train", _data_params(config, data_params), cache_root=paths.BUILD_DIR / "jcra" / "data")


def ensure_trained(
    config_name: str | ModelConfig,
    data_params: dict | None = None,
    train_params: TrainParams | dict | None = None,
    progress: bool = True,
) -> Path:
    """The checkpoint of ``config`` trained on the synthetic train split; trains it when missing.

    Concurrent callers (notebooks run in parallel) wait on a file lock instead of training twice.
    ``data_params`` override the synthetic ``train`` split's settings (``synthetic.SPLITS``).
    """
    config = get_config(config_name) if isinstance(config_name, str) else config_name
    params = train_params if isinstance(train_params, TrainParams) else TrainParams.from_dict(train_params)
    directory = trained_dir(config, data_params, params)

    def run() -> None:
        annotation_file, image_dir = synthetic_paths(_train_split(config, data_params))
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


def train_once(directory: Path, run, meta: dict) -> Path:
    """``directory/checkpoint.pt``, calling ``run()`` to train it unless ``directory/meta.json`` says
    it is done. Concurrent callers wait on a file lock; an interrupted run resumes next time."""
    done_marker = directory / "meta.json"
    if not done_marker.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory.parent / f".{directory.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done_marker.exists():
                started = time.perf_counter()
                run()
                meta = {
                    **meta,
                    "train_seconds_last_session": round(time.perf_counter() - started, 1),
                    "torch_threads": torch.get_num_threads(),
                }
                write_text(done_marker, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory / "checkpoint.pt"
