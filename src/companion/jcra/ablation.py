"""The symmetric-structure ablation: split a fixed number of transformer layers between encoder
and decoder (1/3, 2/2, 3/1, ...), train each split with several seeds, measure AP and latency.

Every variant is the profile's recipe with only the split, the seed and the number of steps
changed, and every trained variant is a cached build artifact like the main model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .bench import Case, Runner, interleaved_timing
from .model import JCRA
from .predict import evaluate
from .recipes import get_recipe, profile_checkpoint, split_paths
from .train import load_model


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


def symmetric_ablation(
    profile: str, total_depth: int, seeds: list[int], train_steps: int, latency_repeats: int = 20, progress: bool = True
) -> pd.DataFrame:
    """One row per (split, seed): ``encoder_layers``, ``decoder_layers``, ``symmetric``, ``seed``,
    ``AP``, ``AP50``, ``AP75``, ``AR`` (fractions, synthetic val), ``latency_ms`` (per split: the
    seeds share the architecture), ``parameters``."""
    recipe = get_recipe(profile)
    annotations, images = split_paths(profile, "val")
    rows, timed = [], {}
    for encoder_layers, decoder_layers in depth_splits(total_depth):
        config = recipe.model_config(encoder_layers=encoder_layers, decoder_layers=decoder_layers)
        for seed in seeds:
            checkpoint = profile_checkpoint(profile, progress=progress, config=config, seed=seed, steps=train_steps)
            model = load_model(checkpoint)
            stats, _ = evaluate(model, annotations, images)
            timed.setdefault(f"{encoder_layers}/{decoder_layers}", model)
            rows.append(
                {
                    "encoder_layers": encoder_layers,
                    "decoder_layers": decoder_layers,
                    "symmetric": encoder_layers == decoder_layers,
                    "seed": seed,
                    **{name: stats[name] for name in ("AP", "AP50", "AP75", "AR")},
                    "parameters": sum(p.numel() for p in model.parameters()),
                }
            )
    latency = interleaved_latency_ms(timed, recipe.model_config().input_size, latency_repeats)
    for row in rows:
        row["latency_ms"] = latency[f"{row['encoder_layers']}/{row['decoder_layers']}"]
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """AP mean and standard deviation over seeds per split (std 0 with a single seed), latency."""
    grouped = results.groupby(["encoder_layers", "decoder_layers", "symmetric"], as_index=False)
    summary = grouped.agg(
        AP_mean=("AP", "mean"),
        AP_std=("AP", "std"),
        latency_ms=("latency_ms", "first"),
        seeds=("seed", "count"),
        parameters=("parameters", "first"),
    )
    return summary.fillna({"AP_std": 0.0})


def symmetric_verdict(summary: pd.DataFrame) -> tuple[str, str]:
    """(verdict, reason): does the symmetric split give the best AP, by more than the seed spread?"""
    symmetric = summary[summary.symmetric]
    if symmetric.empty:
        return "not measurable here", "no symmetric split at this total depth (use an even total depth)"
    best_other = summary[~summary.symmetric].sort_values("AP_mean").iloc[-1]
    sym = symmetric.iloc[0]
    gap = sym.AP_mean - best_other.AP_mean
    spread = max(sym.AP_std, best_other.AP_std)
    label = f"{int(sym.encoder_layers)}/{int(sym.decoder_layers)}"
    other = f"{int(best_other.encoder_layers)}/{int(best_other.decoder_layers)}"
    if gap > 0 and int(summary.seeds.min()) < 2:
        return "partly", (
            f"symmetric {label} has the best AP ({sym.AP_mean:.3f}, {gap:.3f} above {other}) "
            f"but with one seed per split there is no spread to compare the gap with"
        )
    if gap > spread and gap > 0:
        return "reproduced", (
            f"symmetric {label} has the best AP ({sym.AP_mean:.3f}), {gap:.3f} above the best "
            f"asymmetric split {other}, more than the seed spread ({spread:.3f})"
        )
    if gap > 0:
        return "partly", (
            f"symmetric {label} has the best mean AP ({sym.AP_mean:.3f}) but only {gap:.3f} above "
            f"{other}, within the seed spread ({spread:.3f})"
        )
    beyond = "more than" if -gap > spread else "within"
    return "not reproduced", (
        f"asymmetric {other} reaches AP {best_other.AP_mean:.3f}, not below the symmetric "
        f"{label} ({sym.AP_mean:.3f}), at equal total depth ({beyond} the seed spread "
        f"{spread:.3f})"
    )
