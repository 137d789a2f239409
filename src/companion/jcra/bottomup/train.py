"""Training of the baseline with JCRA's recipe: same data, augmentation, batch order, optimiser,
schedule and step budget (``jcra.train.TrainParams``), so the two models differ only in what
follows the backbone and in their losses.

The trained baseline is a build artifact like JCRA's: ``build/jcra/bottomup-<config>-<hash>/``
keyed by config, training data, parameters and code, trained only when missing. One process
(no DDP: the baseline is small and the comparison runs on one CPU).
"""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import io
import json
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ... import paths
from ...atomic import atomic_path, write_text
from ...hashing import sha256_files, sha256_json
from .. import recipes
from ..config import ModelConfig, get_config
from ..data.coco import CocoPoseDataset, collate, synthetic_paths
from ..data.skeleton import layout_for_num_keypoints
from ..data.synthetic import ensure_split
from ..data.transforms import train_transforms
from ..train import DistributedContext, TrainParams, batch_indices, default_device, learning_rate_factor
from .loss import associative_embedding_loss
from .model import AssociativeEmbedding, BottomUpConfig
from .targets import BottomUpTargets, build_targets

CHECKPOINT_FORMAT = "companion.jcra.bottomup/1"
METRIC_FIELDS = ("step", "epoch", "lr", "loss", "heatmap", "push", "pull", "seconds", "images_per_s")


def save_checkpoint(path: Path, model: AssociativeEmbedding, optimizer: torch.optim.Optimizer | None,
                    step: int, params: TrainParams | None) -> Path:
    """Write ``path`` atomically: config, weights, optimiser state, step, training parameters."""
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config.key(), "model": model.state_dict(),
               "optimizer": optimizer.state_dict() if optimizer is not None else None, "step": int(step),
               "train_params": json.dumps(params.to_dict(), sort_keys=True) if params is not None else None}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def read_checkpoint(path: Path | str, expected: BottomUpConfig | None = None) -> dict:
    """Load a baseline checkpoint (``weights_only``); ``config`` becomes a ``BottomUpConfig``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bottom-up checkpoint not found: {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a bottom-up baseline checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    config = BottomUpConfig.from_dict(json.loads(payload["config"]))
    if expected is not None and config != expected:
        raise ValueError(f"checkpoint {path} holds config {config.key()}, not the requested {expected.key()}")
    payload["config"] = config
    return payload


def load_model(path: Path | str, expected: BottomUpConfig | None = None,
               device: torch.device | str = "cpu") -> AssociativeEmbedding:
    """The baseline stored in a checkpoint, in eval mode on ``device``."""
    payload = read_checkpoint(path, expected)
    model = AssociativeEmbedding(payload["config"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


def _write_metrics(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def _read_metrics(path: Path, up_to_step: int) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def train(config: BottomUpConfig, annotation_file: Path | str, image_dir: Path | str, out_dir: Path | str,
          params: TrainParams = TrainParams(), resume: bool = True, progress: bool = True,
          device: torch.device | str | None = None) -> Path:
    """Train the baseline on a COCO keypoints file; return ``out_dir/checkpoint.pt``.

    Mirrors ``jcra.train.train``: the same dataset and augmentation, batches from
    ``batch_indices``, AdamW with warm-up and cosine decay, gradient clipping, mixed precision on
    CUDA, checkpoints every ``checkpoint_every`` steps with resume, ``metrics.csv``.
    """
    device = torch.device(device) if device is not None else default_device()
    out_dir = Path(out_dir)
    checkpoint_path, metrics_path = out_dir / "checkpoint.pt", out_dir / "metrics.csv"
    torch.manual_seed(params.seed)
    num_keypoints, input_size = config.model.num_keypoints, config.model.input_size
    dataset = CocoPoseDataset(annotation_file, image_dir,
                              train_transforms(layout_for_num_keypoints(num_keypoints).flip_index, input_size,
                                               params.rotation, params.scale, params.crop_min_fraction),
                              seed=params.seed)
    if dataset.layout.num_keypoints != num_keypoints:
        raise ValueError(f"{annotation_file} has {dataset.layout.num_keypoints} keypoints per person but the "
                         f"baseline predicts {num_keypoints}")
    model = AssociativeEmbedding(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    start_step = 0
    if resume and checkpoint_path.exists():
        payload = read_checkpoint(checkpoint_path, config)
        if payload["train_params"] is not None and json.loads(payload["train_params"]) != params.to_dict():
            raise ValueError(f"{checkpoint_path} was written with other training parameters; "
                             f"use a new out_dir or resume=False")
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        start_step = payload["step"]
    rows = _read_metrics(metrics_path, start_step) if start_step else []
    use_amp = params.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    model.train()

    bar = tqdm(total=params.steps, initial=start_step, desc=f"train {config.name}", unit="step",
               disable=not progress, mininterval=1.0)
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
        losses = associative_embedding_loss(outputs, stride_targets[0],
                                            stride_targets[1] if len(stride_targets) > 1 else None, config.loss)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(losses["total"]).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.clip_norm)
        scaler.step(optimizer)
        scaler.update()
        window_images += len(indices)
        done = step + 1
        if done % params.log_every == 0 or done == params.steps:
            now = time.perf_counter()
            rows.append({"step": done, "epoch": epoch, "lr": f"{optimizer.param_groups[0]['lr']:.6g}",
                         "loss": f"{losses['total'].item():.6f}",
                         **{k: f"{losses[k].item():.6f}" for k in ("heatmap", "push", "pull")},
                         "seconds": f"{now - started:.2f}",
                         "images_per_s": f"{window_images / max(now - window_start, 1e-9):.2f}"})
            window_images, window_start = 0, now
            bar.set_postfix(loss=f"{losses['total'].item():.5f}")
        bar.update(1)
        if done % params.checkpoint_every == 0 or done == params.steps:
            save_checkpoint(checkpoint_path, model, optimizer, done, params)
            _write_metrics(metrics_path, rows)
    bar.close()
    if start_step >= params.steps and not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, model, optimizer, start_step, params)
    return checkpoint_path


def _to_device(targets: BottomUpTargets, device: torch.device) -> BottomUpTargets:
    return BottomUpTargets(**{f.name: getattr(targets, f.name).to(device) for f in dataclasses.fields(targets)})


CODE_FILES = ("bottomup/model.py", "bottomup/loss.py", "bottomup/targets.py", "bottomup/train.py", "backbone.py",
              "config.py", "train.py", "data/coco.py", "data/transforms.py", "data/skeleton.py")


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
    key = sha256_json({"config": config.to_dict(), "data": split.name, "train": params.to_dict(),
                       "code": code_hash()})
    return paths.BUILD_DIR / "jcra" / f"{config.name}-{key[:12]}"


def ensure_trained(config: str | BottomUpConfig = "small", data_params: dict | None = None,
                   train_params: TrainParams | dict | None = None, progress: bool = True) -> Path:
    """The baseline's checkpoint trained on the synthetic train split; trains it when missing.

    ``config`` is a ``BottomUpConfig`` or the name of the JCRA config it shares its backbone with.
    Pass the same ``data_params`` and ``train_params`` as ``jcra.train.ensure_trained`` for a
    like-for-like comparison. Concurrent callers wait on a file lock.
    """
    config = make_config(config) if isinstance(config, str) else config
    params = train_params if isinstance(train_params, TrainParams) else TrainParams.from_dict(train_params)
    directory = trained_dir(config, data_params, params)
    done_marker = directory / "meta.json"
    if done_marker.exists():
        return directory / "checkpoint.pt"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done_marker.exists():
            annotation_file, image_dir = synthetic_paths(ensure_split("train", _data_params(config, data_params)))
            started = time.perf_counter()
            train(config, annotation_file, image_dir, directory, params, resume=True, progress=progress)
            meta = {"config": config.to_dict(), "data_params": _data_params(config, data_params),
                    "train_params": params.to_dict(), "code_hash": code_hash(),
                    "train_seconds_last_session": round(time.perf_counter() - started, 1),
                    "torch_threads": torch.get_num_threads()}
            write_text(done_marker, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return directory / "checkpoint.pt"
