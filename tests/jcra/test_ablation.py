"""The symmetric ablation: splits, the seed spread, and AP differences bootstrapped over images and seeds."""

import numpy as np
import pandas as pd
import pytest
import torch

from companion.jcra import ablation, metrics
from companion.jcra.config import get_config
from companion.jcra.model import JCRA


def test_depth_splits():
    assert ablation.depth_splits(4) == [(1, 3), (2, 2), (3, 1)]
    with pytest.raises(ValueError, match="total_depth"):
        ablation.depth_splits(1)


def _runs(aps: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for split, values in aps.items():
        encoder, decoder = (int(x) for x in split.split("/"))
        for seed, ap in enumerate(values):
            rows.append(
                {
                    "encoder_layers": encoder,
                    "decoder_layers": decoder,
                    "split": split,
                    "symmetric": encoder == decoder,
                    "seed": seed,
                    "AP": ap,
                    "latency_ms": 10.0,
                    "parameters": 5,
                }
            )
    return pd.DataFrame(rows)


def test_summarise_means_over_seeds():
    summary = ablation.summarise(_runs({"2/2": [0.4, 0.6]}))
    assert summary.AP_mean.item() == pytest.approx(0.5) and summary.seeds.item() == 2
    assert summary.latency_ms.item() == 10.0
    assert summary.AP_std.item() == pytest.approx(0.1414, abs=1e-3)


def test_seed_spread_pools_the_within_split_variance():
    assert ablation.seed_spread(_runs({"1/3": [0.1, 0.3], "2/2": [0.5, 0.5]})) == pytest.approx(0.1)
    assert ablation.seed_spread(_runs({"1/3": [0.1], "2/2": [0.5]})) == 0.0


def _image(score_matched: list[tuple[float, bool]], ground_truth: int) -> metrics.ImageEvaluation:
    scores = np.array([s for s, _ in score_matched])
    matched = np.tile(np.array([m for _, m in score_matched], bool), (10, 1))
    return metrics.ImageEvaluation(scores, matched, np.zeros_like(matched), ground_truth)


def test_differences_are_bootstrapped_over_images_and_seeds():
    good = [_image([(0.9, True)], 1) for _ in range(20)]
    half = [_image([(0.9, i % 2 == 0)], 1) for i in range(20)]
    runs = _runs({"1/3": [0.5, 0.5], "2/2": [1.0, 1.0], "3/1": [1.0, 1.0]})
    evaluations = {("2/2", s): good for s in (0, 1)}
    evaluations |= {("1/3", s): half for s in (0, 1)} | {("3/1", s): good for s in (0, 1)}
    differences = ablation.differences_to_symmetric(ablation.AblationRun(runs, evaluations), resamples=200)
    assert set(differences) == {"1/3", "3/1"}
    expected = metrics.average_precision(good) - metrics.average_precision(half)
    assert differences["1/3"].estimate == pytest.approx(expected) and differences["1/3"].above(0)
    assert differences["1/3"].low < expected < differences["1/3"].high
    assert differences["3/1"].estimate == 0.0 and differences["3/1"].low == differences["3/1"].high == 0.0


def test_interleaved_latency_times_every_model():
    torch.manual_seed(0)
    models = {"1/1": JCRA(get_config("tiny")), "1/2": JCRA(get_config("tiny", decoder_layers=2))}
    latency = ablation.interleaved_latency_ms(models, input_size=64, repeats=3, warmup=1)
    assert set(latency) == {"1/1", "1/2"} and all(v > 0 for v in latency.values())
