"""Model-level evaluation: run a model (JCRA or the bottom-up baseline) over an annotated split
and score its results with :mod:`companion.jcra.metrics`. The one entry point for "AP of this
model on these images"; it sits above ``predict`` (which never imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..stats import RESAMPLES, Interval, bootstrap_indices
from . import engine, metrics
from . import train as jcra_train
from .bottomup import predict as bottomup_predict
from .bottomup import train as bottomup_train
from .bottomup.model import AssociativeEmbedding
from .data import crowd
from .data.coco import load_annotations, synthetic_paths
from .data.synthetic import ensure_split
from .predict import evaluation_dataset, predict_dataset, results_by_image


def load_trained(checkpoint: Path | str) -> torch.nn.Module:
    """The JCRA model or the baseline stored in ``checkpoint``, by the checkpoint's format tag."""
    tasks = {task.checkpoint_format: task for task in (jcra_train.TASK, bottomup_train.TASK)}
    found = torch.load(checkpoint, map_location="cpu", weights_only=True) if Path(checkpoint).is_file() else {}
    task = tasks.get(found.get("format") if isinstance(found, dict) else None, jcra_train.TASK)
    return engine.load_model(checkpoint, task)  # names the file when it is missing or foreign


def input_size(model: torch.nn.Module) -> int:
    """The square input size a JCRA model or a baseline was built for."""
    return model.config.model.input_size if isinstance(model, AssociativeEmbedding) else model.config.input_size


def predictions(
    model: torch.nn.Module, annotation_file: Path | str, image_dir: Path | str, batch_size: int = 8
) -> list[dict]:
    """COCO keypoint results of ``model`` on every image of ``annotation_file`` (original pixels)."""
    dataset = evaluation_dataset(annotation_file, image_dir, input_size(model))
    if isinstance(model, AssociativeEmbedding):
        return bottomup_predict.predict_dataset(model, dataset, batch_size)
    return predict_dataset(model, dataset, batch_size)


def evaluate(
    model: torch.nn.Module, annotation_file: Path | str, image_dir: Path | str, batch_size: int = 8, mode: str = "coco"
) -> tuple[dict, list[dict]]:
    """(keypoint stats as :func:`metrics.coco_keypoint_stats` gives them, the results) of ``model``."""
    results = predictions(model, annotation_file, image_dir, batch_size)
    return metrics.coco_keypoint_stats(Path(annotation_file), results, mode=mode), results


def split_files(split: str, image_size: int, data_params: dict | None = None) -> tuple[Path, Path]:
    """(annotations.json, images/) of a named synthetic split (``synthetic.SPLITS``) at ``image_size``."""
    return synthetic_paths(ensure_split(split, {"image_size": image_size, **(data_params or {})}))


def evaluate_on_split(
    model: torch.nn.Module | Path | str,
    split: str = "crowd",
    data_params: dict | None = None,
    mode: str = "crowdpose",
    batch_size: int = 8,
) -> tuple[dict, list[dict], Path]:
    """Evaluate a model (or a checkpoint of either kind) on a named synthetic split, generated at
    the model's input size unless ``data_params`` says otherwise. Returns (stats, results,
    annotation file)."""
    if not isinstance(model, torch.nn.Module):
        model = load_trained(model)
    annotation_file, image_dir = split_files(split, input_size(model), data_params)
    stats, results = evaluate(model, annotation_file, image_dir, batch_size, mode)
    return stats, results, annotation_file


@dataclass(frozen=True)
class Example:
    """One annotated image with the model's poses: ``picture`` uint8[H, W, 3], ``predicted`` and
    ``truth`` lists of float[K, 3] in its pixels (truth: persons that are not crowds)."""

    image_id: int
    picture: np.ndarray
    predicted: list[np.ndarray]
    truth: list[np.ndarray]


def examples(
    annotation_file: Path | str,
    image_dir: Path | str,
    results: list[dict],
    image_ids: list[int] | None = None,
    count: int = 4,
    min_score: float = 0.3,
) -> list[Example]:
    """The images ``image_ids`` (default: the first ``count`` of the file) with the results whose
    score is at least ``min_score``."""
    annotations = load_annotations(annotation_file)
    by_id = {image.id: image for image in annotations.images}
    chosen = [by_id[i] for i in image_ids] if image_ids is not None else list(annotations.images[:count])
    predicted = results_by_image(results, min_score)
    return [
        Example(
            image.id,
            np.asarray(Image.open(Path(image_dir) / image.file_name).convert("RGB")),
            predicted.get(image.id, []),
            [p.keypoints for p in image.persons if not p.iscrowd],
        )
        for image in chosen
    ]


def grouping(
    model: torch.nn.Module, annotation_file: Path | str, image_dir: Path | str, min_score: float = 0.3
) -> tuple[Interval | None, pd.DataFrame]:
    """How well a one-stage model groups with no post-processing: on images with 2 or more
    persons (one person cannot be mixed up), the share of its results with ``score >= min_score``
    whose joints all land on one ground-truth person (:func:`metrics.grouping_purity`), with a 95%
    bootstrap interval over images; None when no confident result landed on a person."""
    purity = metrics.grouping_purity(annotation_file, predictions(model, annotation_file, image_dir), min_score)
    purity = purity[purity.image_persons >= 2]
    if purity.empty:
        return None, purity
    per_image = [group.pure.to_numpy() for _, group in purity.groupby("image_index")]

    def share(images: np.ndarray) -> float:
        chosen = np.concatenate([per_image[i] for i in images])
        return float(chosen.mean())

    return bootstrap_indices(share, len(per_image)), purity


def crowd_level_intervals(
    annotation_file: Path | str,
    results: dict[str, list[dict]],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, dict[str, Interval]]:
    """AP (%) by crowd level of two models' ``results`` on one CrowdPose-style file, with intervals.

    ``results``: two entries, model name -> COCO results, e.g. ``{"jcra": ..., "bottomup": ...}``.
    Returns, for each crowd level that has images (``crowd.LEVELS`` order), each model's AP and
    ``"difference"`` (first model minus second), each with a 95% percentile bootstrap interval over
    the level's images, seeded and paired (both models are scored on the same resampled images).
    AP is xtcocotools' keypoints_crowd AP recomputed from its per-image matching, so the estimates
    are the APE / APM / APH of :func:`metrics.coco_keypoint_stats` (``mode="crowdpose"``).
    """
    if len(results) != 2:
        raise ValueError(f"results must name two models (model, baseline), got {sorted(results)}")
    positions = {image.id: i for i, image in enumerate(load_annotations(annotation_file).images)}
    evaluations = {
        name: metrics.image_evaluations(annotation_file, found, "crowdpose") for name, found in results.items()
    }
    first, second = evaluations

    def ap(name: str, images: np.ndarray, drawn: np.ndarray | None = None) -> float:
        return 100 * metrics.average_precision(evaluations[name], images if drawn is None else images[drawn])

    def difference(images: np.ndarray, drawn: np.ndarray) -> float:
        return ap(first, images, drawn) - ap(second, images, drawn)

    out = {}
    for level, image_ids in crowd.images_by_level(annotation_file).items():
        images = np.array([positions[i] for i in image_ids], dtype=int)
        if not len(images) or min(ap(name, images) for name in results) < 0:  # no ground truth at this level
            continue
        statistics = {name: partial(ap, name, images) for name in results} | {"difference": partial(difference, images)}
        out[level] = {
            name: bootstrap_indices(statistic, len(images), resamples=resamples, seed=seed)
            for name, statistic in statistics.items()
        }
    return out
