"""Accuracy tables and the symmetric-ablation verdict."""

import math

import pandas as pd
import pytest
import torch

from companion import style
from companion.jcra import ablation, report
from companion.jcra.config import get_config
from companion.jcra.model import JCRA


def test_table_labels_every_row_with_its_source_and_data():
    stats = {"AP": 0.5123, "AP50": 0.8, "AP75": 0.5, "APM": 0.49, "APL": -1.0, "AR": 0.6}
    table = report.coco_table([report.measured_row("ours", "tiny", "synthetic", "val", stats)])
    ours, paper = table.iloc[0], table.iloc[1]
    assert ours.source == style.MEASURED and ours.AP == 51.2 and math.isnan(ours.APL)  # -1: undefined
    assert paper.method == "JCRA" and paper.AP == 69.2 and paper.source == style.SOURCE_LABELS["paper"]
    published = table.iloc[2:]
    assert published.source.str.startswith("reported by ").all()
    assert set(published.split) <= {"val2017", "test-dev"} and (published.data == "COCO").all()
    petr = published[(published.method == "PETR") & (published.backbone == "R-50") & (published.split == "val2017")]
    assert petr.AP.item() == 68.8


def test_depth_splits():
    assert ablation.depth_splits(4) == [(1, 3), (2, 2), (3, 1)]
    with pytest.raises(ValueError, match="total_depth"):
        ablation.depth_splits(1)


def _summary(ap_means, ap_stds, seeds=2):
    rows = [
        {
            "encoder_layers": e,
            "decoder_layers": 4 - e,
            "symmetric": e == 2,
            "AP_mean": m,
            "AP_std": s,
            "latency_ms": 1.0,
            "seeds": seeds,
            "parameters": 1,
        }
        for e, m, s in zip((1, 2, 3), ap_means, ap_stds)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "means, stds, seeds, verdict",
    [
        ((0.40, 0.50, 0.42), (0.01, 0.01, 0.01), 2, "reproduced"),
        ((0.40, 0.50, 0.48), (0.01, 0.03, 0.01), 2, "partly"),
        ((0.40, 0.50, 0.42), (0.0, 0.0, 0.0), 1, "partly"),
        ((0.40, 0.45, 0.47), (0.01, 0.01, 0.01), 2, "not reproduced"),
    ],
)
def test_symmetric_verdict(means, stds, seeds, verdict):
    assert ablation.symmetric_verdict(_summary(means, stds, seeds))[0] == verdict


def test_summarise_means_over_seeds():
    runs = pd.DataFrame(
        [
            {
                "encoder_layers": 2,
                "decoder_layers": 2,
                "symmetric": True,
                "seed": s,
                "AP": ap,
                "latency_ms": 10.0,
                "parameters": 5,
            }
            for s, ap in ((0, 0.4), (1, 0.6))
        ]
    )
    summary = ablation.summarise(runs)
    assert summary.AP_mean.item() == pytest.approx(0.5) and summary.seeds.item() == 2
    assert summary.latency_ms.item() == 10.0
    assert summary.AP_std.item() == pytest.approx(0.1414, abs=1e-3)


def test_interleaved_latency_times_every_model():
    torch.manual_seed(0)
    models = {"1/1": JCRA(get_config("tiny")), "1/2": JCRA(get_config("tiny", decoder_layers=2))}
    latency = ablation.interleaved_latency_ms(models, input_size=64, repeats=3, warmup=1)
    assert set(latency) == {"1/1", "1/2"} and all(v > 0 for v in latency.values())
