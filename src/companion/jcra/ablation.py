"""The symmetric-structure ablation: split a fixed number of transformer layers between encoder
and decoder (1/3, 2/2, 3/1, ...), train each split with several seeds, measure AP and latency.

Every variant is the profile's recipe with only the split, the seed and the number of steps
changed, and every trained variant is a cached build artifact like the main model. AP
differences between splits come with bootstrap intervals over validation images and seeds
(pycocotools' per-image matching, re-accumulated on each resample), and the seed spread gives
the smallest difference the budget can detect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..stats import Interval, bootstrap_indices
from . import metrics
from .bench_images import Case
from .config import get_config
from .evaluate import predictions
from .model import JCRA
from .recipes import get_recipe, profile_checkpoint, split_paths
from .timing import Runner, interleaved_timing
from .train import load_model


@dataclass(frozen=True)
class AblationRun:
    """``runs``: one row per (split, seed) (see :func:`symmetric_ablation`); ``evaluations``:
    ``(split label, seed) -> per-image matching`` on the validation images, for the bootstrap."""

    runs: pd.DataFrame
    evaluations: dict[tuple[str, int], list[metrics.ImageEvaluation]]


def depth_splits(total_depth: int) -> list[tuple[int, int]]:
    """Every (encoder, decoder) split of ``total_depth`` layers with at least one layer per side."""
    if total_depth < 2:
        raise ValueError(f"total_depth must be >= 2 (one encoder and one decoder layer), got {total_depth}")
    return [(encoder, total_depth - encoder) for encoder in range(1, total_depth)]


def interleaved_latency_ms(
    models: dict[str, JCRA], input_size: int, repeats: int = 20, warmup: int = 3
) -> dict[str, float]:
    """Median milliseconds of one forward pass on one ``input_size`` square image, per model.

    The models take turns through :func:`bench.interleaved_timing` (one pass each per round), so a
    slow spell of the machine hits all of them alike instead of whichever happened to be timed then.
    """
    for model in models.values():
        model.eval()
    case = Case(torch.randn(1, 3, input_size, input_size), {}, np.zeros((0, 0, 3)))
    runners = [
        Runner(name, lambda image, _case, model=model: model(image), lambda outputs, meta: [], len)
        for name, model in models.items()
    ]
    timings = interleaved_timing(runners, [case], warmup, repeats)
    return timings.groupby("runner")["network_ms"].median().to_dict()


def split_label(encoder_layers: int, decoder_layers: int) -> str:
    return f"{encoder_layers}/{decoder_layers}"


def symmetric_ablation(
    profile: str,
    total_depth: int,
    seeds: list[int],
    train_steps: int,
    latency_repeats: int = 20,
    progress: bool = True,
    config: str | None = None,
) -> AblationRun:
    """Train and evaluate every split and seed. ``runs`` rows: ``encoder_layers``,
    ``decoder_layers``, ``split``, ``symmetric``, ``seed``, ``AP``, ``AP50``, ``AP75``, ``AR``
    (fractions, synthetic val), ``latency_ms`` (per split: the seeds share the architecture),
    ``parameters``. Every variant trains with the profile's recipe for ``train_steps`` steps, its
    warm-up capped at a tenth of them. ``config`` names another model config than the profile's for every split
    (e.g. ``tiny``, a smaller model at a smaller input size)."""
    recipe = get_recipe(profile)
    annotations, images = split_paths(profile, "val")
    rows, timed, evaluations = [], {}, {}
    # a short run would spend most of its steps warming up at the recipe's warm-up: cap it at a tenth
    warmup = min(recipe.train_params().warmup_steps, max(1, train_steps // 10))
    for encoder_layers, decoder_layers in depth_splits(total_depth):
        label = split_label(encoder_layers, decoder_layers)
        model_config = get_config(config or recipe.config, encoder_layers=encoder_layers, decoder_layers=decoder_layers)
        for seed in seeds:
            checkpoint = profile_checkpoint(
                profile, progress, model_config, seed=seed, steps=train_steps, warmup_steps=warmup
            )
            model = load_model(checkpoint)
            results = predictions(model, annotations, images)
            stats = metrics.coco_keypoint_stats(annotations, results)
            evaluations[label, seed] = metrics.image_evaluations(annotations, results)
            timed.setdefault(label, model)
            rows.append(
                {
                    "encoder_layers": encoder_layers,
                    "decoder_layers": decoder_layers,
                    "split": label,
                    "symmetric": encoder_layers == decoder_layers,
                    "seed": seed,
                    **{name: stats[name] for name in ("AP", "AP50", "AP75", "AR")},
                    "parameters": sum(p.numel() for p in model.parameters()),
                }
            )
    latency = interleaved_latency_ms(timed, model_config.input_size, latency_repeats)
    for row in rows:
        row["latency_ms"] = latency[row["split"]]
    return AblationRun(pd.DataFrame(rows), evaluations)


def seed_spread(runs: pd.DataFrame) -> float:
    """Pooled standard deviation of AP over seeds within each split (0 with one seed per split)."""
    groups = [group.AP.to_numpy() for _, group in runs.groupby("split") if len(group) > 1]
    if not groups:
        return 0.0
    squares = sum(((g - g.mean()) ** 2).sum() for g in groups)
    return float(np.sqrt(squares / sum(len(g) - 1 for g in groups)))


def differences_to_symmetric(run: AblationRun, resamples: int = 1000, seed: int = 0) -> dict[str, Interval]:
    """AP(symmetric split) - AP(each other split), mean over seeds, with a 95% bootstrap interval.

    The units resampled are (seed, validation image) pairs, shared by both splits (paired): a
    resample draws images and seeds together, and each split's AP is recomputed per seed from
    pycocotools' per-image matching of the drawn images, then averaged over the seeds drawn.
    """
    runs = run.runs
    symmetric = runs[runs.symmetric].split.unique()
    if len(symmetric) == 0:
        return {}
    seeds = sorted(runs.seed.unique())
    images = len(next(iter(run.evaluations.values())))

    def mean_ap(split: str, units: np.ndarray) -> float:
        per_seed = []
        for position, seed_value in enumerate(seeds):
            chosen = units[units // images == position] % images
            if len(chosen):
                per_seed.append(metrics.average_precision(run.evaluations[split, seed_value], chosen))
        return float(np.mean(per_seed))

    out = {}
    for other in [s for s in runs.split.unique() if s != symmetric[0]]:
        out[other] = bootstrap_indices(
            lambda units, other=other: mean_ap(symmetric[0], units) - mean_ap(other, units),
            len(seeds) * images,
            resamples=resamples,
            seed=seed,
        )
    return out


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """AP mean and standard deviation over seeds per split (std 0 with a single seed), latency."""
    grouped = results.groupby(["encoder_layers", "decoder_layers", "split", "symmetric"], as_index=False)
    summary = grouped.agg(
        AP_mean=("AP", "mean"),
        AP_std=("AP", "std"),
        latency_ms=("latency_ms", "first"),
        seeds=("seed", "count"),
        parameters=("parameters", "first"),
    )
    return summary.fillna({"AP_std": 0.0})
