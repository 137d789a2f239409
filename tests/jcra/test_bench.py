"""The latency benchmark: test images, interleaved timing, protocols, summaries, intervals, the traced JCRA."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch
from _model_helpers import synthetic_split

from companion.jcra import bench, bench_images, timing
from companion.jcra import train as jcra_train
from companion.jcra.__main__ import main
from companion.jcra.bottomup import train as bottomup_train
from companion.jcra.bottomup.model import AssociativeEmbedding
from companion.jcra.bottomup.predict import postprocess_image
from companion.jcra.bottomup.train import make_config
from companion.jcra.config import get_config
from companion.jcra.model import JCRA
from companion.jcra.predict import evaluation_dataset, outputs_to_results

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    return JCRA(get_config("tiny")).eval(), AssociativeEmbedding(make_config("tiny", head_width=8)).eval()


def test_settings_are_validated():
    with pytest.raises(ValueError, match="crowd_sizes"):
        bench.BenchSettings(crowd_sizes=(0,))
    with pytest.raises(ValueError, match="input_sizes"):
        bench.BenchSettings(input_sizes=(16,))
    with pytest.raises(ValueError, match="runs"):
        bench.BenchSettings(runs=0)


def test_person_height_shrinks_with_the_crowd():
    assert bench_images.person_height(1) == bench_images.person_height(2) == (0.5, 0.9)
    assert bench_images.person_height(20)[1] < bench_images.person_height(5)[1] < 0.9


def test_crowd_cases_draw_the_requested_persons():
    cases = bench_images.crowd_cases(5, 96, count=2, seed=1)
    assert len(cases) == 2
    for case in cases:
        assert case.image.shape == (1, 3, 96, 96)
        assert case.meta["size"] == (96, 96) and 1 <= len(case.keypoints) <= 5
        assert case.keypoints.shape[1:] == (17, 3) and (case.keypoints[..., 2] > 0).any(axis=1).all()
    again = bench_images.crowd_cases(5, 96, count=2, seed=1)
    assert torch.equal(cases[1].image, again[1].image)


def test_ideal_outputs_have_the_models_shapes_and_decode_to_the_persons(tiny_models):
    _, bottomup = tiny_models
    case = bench_images.crowd_cases(2, 128, count=1, seed=0)[0]
    ideal = bench_images.ideal_outputs(case.keypoints, (128, 128), (4, 2), sigma=2.0)
    with torch.no_grad():
        real = bottomup(case.image)
    assert {k: v.shape for k, v in ideal.items()} == {k: v.shape for k, v in real.items()}
    results = postprocess_image(ideal, 0, case.meta)
    assert len(results) == len(case.keypoints)
    found = np.array([r["keypoints"] for r in results]).reshape(len(results), 17, 3)
    for person in case.keypoints:
        labelled = person[:, 2] > 0
        error = np.abs(found[:, labelled, :2] - person[None, labelled, :2]).max(axis=(1, 2))
        assert error.min() < 3.0  # some decoded person has every labelled joint within 3 px


def _sleeper(name: str, network_s: float, post_s: float, found: int = 1) -> timing.Runner:
    def postprocess(outputs, meta):
        time.sleep(post_s)
        return [None] * found

    return timing.Runner(name, lambda image, case: time.sleep(network_s), postprocess, len)


def test_interleaved_timing_measures_each_part_and_alternates_order():
    case = bench_images.Case(torch.zeros(1, 3, 8, 8), {"image_id": 1}, np.zeros((0, 17, 3)))
    calls = []
    first = timing.Runner("a", lambda image, case: calls.append("a"), lambda outputs, meta: [], len)
    second = timing.Runner("b", lambda image, case: calls.append("b"), lambda outputs, meta: [], len)
    timing.interleaved_timing([first, second], [case], warmup=1, runs=2)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    timings = timing.interleaved_timing(
        [_sleeper("slow", 0.004, 0.006, 3), _sleeper("fast", 0.002, 0.0)], [case], warmup=0, runs=4
    )
    assert len(timings) == 8 and set(timings.columns) >= {"run", "runner", "network_ms", "postprocess_ms", "total_ms"}
    slow = timings[timings.runner == "slow"]
    assert (slow.network_ms >= 4).all() and (slow.postprocess_ms >= 6).all() and (slow.found == 3).all()
    np.testing.assert_allclose(slow.total_ms, slow.network_ms + slow.postprocess_ms, rtol=1e-6)


def _rows(pairs: list[tuple[float, float]], baseline: str = "bottomup_flip") -> pd.DataFrame:
    rows = []
    for run, (jcra, bottomup) in enumerate(pairs):
        rows.append(
            {"run": run, "runner": "jcra", "network_ms": jcra, "postprocess_ms": 0.0, "total_ms": jcra, "found": 2}
        )
        rows.append(
            {
                "run": run,
                "runner": baseline,
                "network_ms": bottomup / 2,
                "postprocess_ms": bottomup / 2,
                "total_ms": bottomup,
                "found": 4,
            }
        )
    return pd.DataFrame(rows)


def test_summarize_medians_quartiles_and_speedups():
    summary = bench.summarize(_rows([(10, 20), (20, 30), (30, 90)]), reference="jcra")
    assert summary["jcra_ms"] == 20 and summary["bottomup_flip_ms"] == 30
    assert summary["bottomup_flip_postprocess_ms"] == 15
    assert summary["jcra_ms_q25"] == 15 and summary["jcra_ms_q75"] == 25
    assert summary["speedup_bottomup_flip"] == pytest.approx(1.5)
    assert summary["bottomup_flip_found"] == 4 and "speedup_bottomup" not in summary


def test_speedups_are_paired_bootstrap_intervals_per_case():
    frame = _rows([(10.0 + i % 3, 30.0 + 2 * (i % 5)) for i in range(20)])
    frame.insert(0, "persons", 10)
    frame.insert(0, "input_size", 128)
    report = {
        "results": [{"input_size": 128, "persons": 10, "reference": "jcra"}],
        "timings": frame.to_dict(orient="records"),
    }
    intervals = bench.speedups(report, "bottomup_flip")
    interval = intervals[(128, 10)]
    assert interval.estimate == pytest.approx(np.median(frame.total_ms[1::2]) / np.median(frame.total_ms[::2]))
    assert interval.low <= interval.estimate <= interval.high and interval.high < 4
    assert bench.speedups(report, "bottomup_multiscale") == {}
    assert bench.speedups(report, "bottomup_flip") == intervals  # seeded: the same interval every time


def test_traced_jcra_is_kept_only_when_identical(tiny_models):
    jcra, _ = tiny_models
    cases = bench_images.crowd_cases(1, 64, count=2, seed=0)
    runner, report = bench.traced_jcra(jcra, cases, torch.device("cpu"))
    assert report["kept"] and report["max_abs_diff"] == 0.0 and runner is not None
    with torch.inference_mode():
        fast = runner.network(cases[1].image, cases[1])
        assert runner.postprocess(fast, cases[1].meta) == outputs_to_results(jcra(cases[1].image), [cases[1].meta])

    class Noisy(torch.nn.Module):  # a model whose every call differs cannot be reproduced by a trace
        def __init__(self):
            super().__init__()
            self.inner, self.config = jcra, jcra.config

        def forward(self, images):
            out = self.inner(images)
            return {**out, "logits": out["logits"] + torch.rand_like(out["logits"])}

    runner, report = bench.traced_jcra(Noisy().eval(), cases, torch.device("cpu"))
    assert runner is None and not report["kept"] and "differ" in report["reason"]


def test_run_bench_reports_every_protocol_per_case_and_restores_threads(tiny_models):
    jcra, bottomup = tiny_models
    torch.set_num_threads(1)
    settings = bench.BenchSettings(crowd_sizes=(1, 3), input_sizes=(96, 128), images=1, warmup=1, runs=2, threads=1)
    report = bench.run_bench(jcra, bottomup, settings, accuracy={"jcra_AP": 0.25, "bottomup_AP": 0.5})
    assert torch.get_num_threads() == 1
    cases = [(r["input_size"], r["persons"]) for r in report["results"]]
    assert cases == [(96, 1), (96, 3), (128, 1), (128, 3)]
    for row in report["results"]:
        for key in (
            "jcra_ms",
            "jcra_fast_ms",
            "bottomup_ms",
            "bottomup_flip_ms",
            "bottomup_multiscale_ms",
            "bottomup_ideal_ms",
            "bottomup_ideal_network_ms",
            "bottomup_postprocess_ms",
            "speedup_bottomup_flip",
            "speedup_bottomup_ideal",
        ):
            assert np.isfinite(row[key]) and row[key] > 0, key
        assert row["reference"] == "jcra_fast"
        assert row["speedup_bottomup_flip"] == pytest.approx(row["bottomup_flip_ms"] / row["jcra_fast_ms"])
        assert (row["jcra_AP"], row["bottomup_AP"]) == (0.25, 0.5)
    # 300 queries need 300 feature tokens: 96 px has 189 (tiny: strides 8, 16, 32), 128 px 336.
    assert "jcra_300q_ms" in report["results"][2] and "jcra_300q_ms" not in report["results"][0]
    assert "fewer than 300 queries" in report["paper_queries"]["96"]
    runners = {row["runner"] for row in report["timings"]}
    assert runners == {"jcra", "jcra_fast", "jcra_300q", *bench.BASELINES}
    assert report["hardware"]["threads"] == 1 and report["fast_jcra"]["128"]["kept"]


def test_more_queries_keep_every_trained_weight(tiny_models):
    jcra, _ = tiny_models
    bigger = bench.with_queries(jcra, 300)
    assert bigger.config.num_queries == 300 and bigger.query_content.weight.shape[0] == 300
    assert torch.equal(bigger.query_content.weight[: jcra.config.num_queries], jcra.query_content.weight)
    assert torch.equal(
        bigger.decoder.layers[0].cross_attention.value_proj.weight,
        jcra.decoder.layers[0].cross_attention.value_proj.weight,
    )


def test_run_bench_rejects_models_of_different_layouts(tiny_models):
    jcra, _ = tiny_models
    crowdpose = AssociativeEmbedding(make_config(get_config("tiny", num_keypoints=14), head_width=8))
    with pytest.raises(ValueError, match="keypoint"):
        bench.run_bench(jcra, crowdpose, bench.BenchSettings(runs=1))


def test_bench_command_prints_json_and_writes_the_full_report(tmp_path, tiny_models, capsys):
    jcra, bottomup = tiny_models
    jcra_train.save_checkpoint(tmp_path / "jcra.pt", jcra, None, 0, None)
    bottomup_train.save_checkpoint(tmp_path / "bottomup.pt", bottomup, None, 0, None)
    code = main(
        [
            "bench",
            "--jcra-checkpoint",
            str(tmp_path / "jcra.pt"),
            "--bottomup-checkpoint",
            str(tmp_path / "bottomup.pt"),
            "--crowd-sizes",
            "1",
            "2",
            "--input-sizes",
            "64",
            "--runs",
            "2",
            "--warmup",
            "0",
            "--images",
            "1",
            "--no-fast",
            "--no-protocols",
            "--no-accuracy",
            "--paper-queries",
            "0",
            "--json",
            "--out",
            str(tmp_path / "report.json"),
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["persons"] for r in printed["results"]] == [1, 2] and "timings" not in printed
    assert {"jcra_ms", "bottomup_ms", "bottomup_postprocess_ms"} <= set(printed["results"][0])
    written = json.loads((tmp_path / "report.json").read_text())
    assert len(written["timings"]) == 2 * 2 * 2  # cases x runs x runners (JCRA and the single-scale baseline)


def test_dataset_latency_times_both_models_on_dataset_images(tmp_path, tiny_models):
    jcra, bottomup = tiny_models
    annotations, images = synthetic_split(tmp_path / "data", n_images=3)
    cases = bench_images.dataset_cases(evaluation_dataset(annotations, images, 64), count=2)
    assert len(cases) == 2 and cases[0].image.shape == (1, 3, 64, 64)
    assert cases[0].meta["image_id"] == 1 and cases[0].keypoints.shape[1:] == (17, 3)
    latency = bench.dataset_latency(jcra, bottomup, cases, bench.BenchSettings(warmup=0, runs=2, threads=1))
    assert latency["jcra_ms"] > 0 and latency["bottomup_ms"] > 0 and latency["fast_jcra"]["kept"]
    assert latency["jcra_fast_ms"] > 0 and latency["bottomup_flip_ms"] > 0 and latency["bottomup_multiscale_ms"] > 0
