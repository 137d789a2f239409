"""Side-by-side inference latency of JCRA and the bottom-up baseline, as the crowd grows.

What is timed, per image at batch 1 (``torch.inference_mode``, fixed thread count):
    JCRA       network: ``JCRA.forward``; post-processing: ``predict.outputs_to_results``
               (sigmoid, scale to pixels, sort: no NMS, no grouping).
    bottom-up  network: ``AssociativeEmbedding.forward``; post-processing:
               ``bottomup.predict.postprocess_image`` (projection to the input size, max-pool NMS,
               top-k, tag grouping with assignment, refinement, COCO results).
    ideal      the bottom-up post-processing alone on heatmaps and tags rendered from the ground
               truth (what a perfect bottom-up network would hand over), so its growth with the
               number of persons does not depend on how well the small baseline was trained.
    JCRA fast  (optional) JCRA traced with ``torch.jit.trace``, kept only when its outputs are
               bit-identical to the eager model's on every benchmark image.

The runners are interleaved inside one loop (their order alternating each run) so drift of a
shared machine hits all of them alike; each case gets ``warmup`` untimed and ``runs`` timed runs
cycling over a few synthetic images. Reported: median and quartiles per part, and the speed-up
(bottom-up end-to-end time over JCRA's) as a ratio of medians and as the median of per-run
ratios (the two models of one run are timed back to back).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .. import hardware
from . import recipes
from . import train as jcra_train
from .bottomup import postprocess
from .bottomup import train as bottomup_train
from .bottomup.model import AssociativeEmbedding
from .bottomup.predict import postprocess_image
from .bottomup.targets import render_heatmaps
from .data.skeleton import get_layout
from .data.synthetic import SyntheticConfig, render_scene
from .data.transforms import to_tensor
from .model import JCRA
from .predict import outputs_to_results

JCRA_SCORE_THRESHOLD = 0.5
"""A JCRA query counts as a found person above this score (for the sanity counts only)."""


@dataclass(frozen=True)
class BenchSettings:
    """What to measure.

    Attributes:
        crowd_sizes: persons drawn per synthetic image.
        input_sizes: square image sides in pixels (the network input, no resizing).
        images: distinct synthetic images per (size, crowd) case; runs cycle over them.
        warmup: untimed runs per case.
        runs: timed runs per case (>= 20 for the reported figures).
        threads: ``torch.set_num_threads`` during the measurement.
        seed: synthetic image seed.
        fast_jcra: also try the traced JCRA.
        ideal: also time the bottom-up post-processing on ground-truth maps.
    """

    crowd_sizes: tuple[int, ...] = (1, 2, 5, 10, 20)
    input_sizes: tuple[int, ...] = (128, 256)
    images: int = 3
    warmup: int = 3
    runs: int = 20
    threads: int = 2
    seed: int = 0
    fast_jcra: bool = True
    ideal: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "crowd_sizes", tuple(int(n) for n in self.crowd_sizes))
        object.__setattr__(self, "input_sizes", tuple(int(s) for s in self.input_sizes))
        if not self.crowd_sizes or min(self.crowd_sizes) < 1 or max(self.crowd_sizes) > 30:
            raise ValueError(f"crowd_sizes must be persons per image in 1..30, got {self.crowd_sizes}")
        if not self.input_sizes or min(self.input_sizes) < 32:
            raise ValueError(f"input_sizes must be image sides >= 32 pixels, got {self.input_sizes}")
        for name in ("images", "runs", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")


@dataclass(frozen=True)
class Case:
    """One benchmark image: ``image`` float[1, 3, S, S], ``meta`` (image_id, orig_size, size) and
    the drawn persons' ``keypoints`` float[N, K, 3] in pixels."""

    image: torch.Tensor
    meta: dict
    keypoints: np.ndarray


@dataclass(frozen=True)
class Runner:
    """A model as two timed callables: ``network(image, case) -> outputs`` (image on the device)
    and ``postprocess(outputs, meta) -> COCO results``; ``found(results)`` counts its persons."""

    name: str
    network: Callable[[torch.Tensor, Case], Any]
    postprocess: Callable[[Any, dict], list[dict]]
    found: Callable[[list[dict]], int]


def person_height(crowd_size: int) -> tuple[float, float]:
    """Stature range (fractions of the image side) for ``crowd_size`` persons: the training range
    (0.5-0.9) up to two persons, shrunk by sqrt(n / 2) beyond so that n persons fit."""
    shrink = max(1.0, math.sqrt(crowd_size / 2))
    return 0.5 / shrink, 0.9 / shrink


def crowd_cases(crowd_size: int, input_size: int, count: int, seed: int, layout: str = "coco") -> list[Case]:
    """``count`` synthetic images with ``crowd_size`` persons drawn (the generator may leave out a
    person it cannot place with at most half of another hidden)."""
    config = SyntheticConfig(
        n_images=count,
        seed=seed,
        image_size=input_size,
        persons_per_image=(crowd_size, crowd_size),
        person_height=person_height(crowd_size),
        max_cover=0.5,
    )
    joints = get_layout(layout).superset_index
    cases = []
    for index in range(count):
        pixels, persons = render_scene(config, np.random.default_rng([seed, crowd_size, input_size, index]))
        keypoints = np.zeros((len(persons), len(joints), 3))
        for p, person in enumerate(persons):
            keypoints[p, :, :2] = person["joints"][joints]
            keypoints[p, :, 2] = person["visibility"][joints]
        keypoints[keypoints[..., 2] == 0] = 0.0
        meta = {"image_id": index + 1, "orig_size": (input_size, input_size), "size": (input_size, input_size)}
        cases.append(Case(to_tensor(Image.fromarray(pixels))[None], meta, keypoints))
    return cases


def ideal_outputs(
    keypoints: np.ndarray, input_size: tuple[int, int], strides: tuple[int, ...], sigma: float
) -> dict[str, torch.Tensor]:
    """What a perfect bottom-up network would output for persons ``keypoints`` float[N, K, 3].

    Heatmaps are the training targets; the tag of every cell of joint map k is 2 x the index of
    the person whose joint k is nearest (tags two apart, twice the grouping threshold).
    """
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    num_joints = kp.shape[1]
    outputs = {}
    for stride, key in zip(strides, ("heatmaps", "heatmaps_higher")):
        size = (-(-input_size[0] // 4) * (4 // stride), -(-input_size[1] // 4) * (4 // stride))
        outputs[key] = render_heatmaps(kp, size, stride, sigma)[None]
    height, width = outputs["heatmaps"].shape[-2:]
    centres = (
        torch.stack(torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij"), -1).float().flip(-1) + 0.5
    ) * 4  # [h, w, 2] cell centres (x, y) in pixels
    distance = ((centres[None, None] - kp[:, :, None, None, :2]) ** 2).sum(-1)  # [N, K, h, w]
    distance = distance.masked_fill(~(kp[:, :, 2] > 0)[..., None, None], float("inf"))
    tags = (2.0 * distance.argmin(dim=0)).float() if len(kp) else torch.zeros(num_joints, height, width)
    outputs["tags"] = tags[None]
    return outputs


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def interleaved_timing(
    runners: list[Runner], cases: list[Case], warmup: int, runs: int, device: torch.device = torch.device("cpu")
) -> pd.DataFrame:
    """Time every runner on the cases, interleaved; one row per timed (run, runner).

    Columns: run, case, runner, network_ms, postprocess_ms, total_ms, found.
    """
    rows = []
    with torch.inference_mode():
        for run in range(warmup + runs):
            case = cases[run % len(cases)]
            image = case.image.to(device)
            for runner in runners if run % 2 == 0 else runners[::-1]:
                start = _clock(device)
                outputs = runner.network(image, case)
                middle = _clock(device)
                results = runner.postprocess(outputs, case.meta)
                end = time.perf_counter()
                if run >= warmup:
                    rows.append(
                        {
                            "run": run - warmup,
                            "case": run % len(cases),
                            "runner": runner.name,
                            "network_ms": 1e3 * (middle - start),
                            "postprocess_ms": 1e3 * (end - middle),
                            "total_ms": 1e3 * (end - start),
                            "found": runner.found(results),
                        }
                    )
    return pd.DataFrame(rows)


def jcra_runner(model: JCRA) -> Runner:
    """JCRA: the network, then reading its outputs as COCO results."""
    return Runner(
        "jcra",
        lambda image, case: model(image),
        lambda outputs, meta: outputs_to_results(outputs, [meta]),
        lambda results: sum(r["score"] > JCRA_SCORE_THRESHOLD for r in results),
    )


def bottomup_runner(
    model: AssociativeEmbedding, config: postprocess.ParserConfig = postprocess.ParserConfig()
) -> Runner:
    """The baseline: the network, then its whole post-processing."""
    return Runner(
        "bottomup",
        lambda image, case: model(image),
        lambda outputs, meta: postprocess_image(outputs, 0, meta, config),
        len,
    )


def ideal_runner(
    cases: list[Case],
    strides: tuple[int, ...],
    sigma: float,
    config: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> Runner:
    """Bottom-up post-processing on ground-truth maps; its 'network' only looks them up."""
    prepared = {id(case): ideal_outputs(case.keypoints, tuple(case.meta["size"]), strides, sigma) for case in cases}
    return Runner(
        "ideal",
        lambda image, case: prepared[id(case)],
        lambda outputs, meta: postprocess_image(outputs, 0, meta, config),
        len,
    )


class _TraceableJCRA(torch.nn.Module):
    """JCRA's forward reduced to the tensors inference reads, so ``torch.jit.trace`` can record it."""

    def __init__(self, model: JCRA):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(images)
        return out["logits"], out["keypoints"], out["visibility_logits"]


def traced_jcra(model: JCRA, cases: list[Case], device: torch.device) -> tuple[Runner | None, dict]:
    """A traced JCRA for one input size, and a report: kept only if bit-identical on all ``cases``."""
    images = [case.image.to(device) for case in cases]
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about every shape check it freezes; the outputs are compared below.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates jit.trace; it still works
        try:
            traced = torch.jit.trace(_TraceableJCRA(model).eval(), images[0], check_trace=False)
        except Exception as error:  # tracing may fail on a future model change: report, don't crash
            return None, {"method": "torch.jit.trace", "kept": False, "reason": f"trace failed: {error}"}
        max_diff, identical = 0.0, True
        for image in images:
            eager = model(image)
            fast = traced(image)
            for a, b in zip((eager["logits"], eager["keypoints"], eager["visibility_logits"]), fast):
                identical &= torch.equal(a, b)
                max_diff = max(max_diff, float((a - b).abs().max()))
    report = {
        "method": "torch.jit.trace",
        "kept": bool(identical),
        "max_abs_diff": max_diff,
        "reason": "bit-identical outputs on every benchmark image"
        if identical
        else f"outputs differ (max abs diff {max_diff:.3g}): discarded",
    }
    if not identical:
        return None, report

    def network(image: torch.Tensor, case: Case) -> dict:
        logits, keypoints, visibility = traced(image)
        return {
            "logits": logits,
            "keypoints": keypoints,
            "visibility_logits": visibility,
            "canvas_size": tuple(image.shape[-2:]),
        }

    return Runner(
        "jcra_fast",
        network,
        lambda outputs, meta: outputs_to_results(outputs, [meta]),
        lambda results: sum(r["score"] > JCRA_SCORE_THRESHOLD for r in results),
    ), report


def summarize(timings: pd.DataFrame) -> dict:
    """Median and quartiles per runner and part, found counts, and the speed-ups, from one case's
    timing rows. Keys: ``<runner>_ms`` (end to end), ``<runner>_network_ms``,
    ``<runner>_postprocess_ms``, each with ``_q25`` / ``_q75``; ``<runner>_found``; ``speedup``
    (bottom-up / JCRA, ratio of medians), ``speedup_paired`` with quartiles (median of per-run
    ratios), and the same against ``jcra_fast`` when present."""
    summary: dict[str, float] = {}
    for runner, rows in timings.groupby("runner", sort=False):
        for part, column in (("", "total_ms"), ("_network", "network_ms"), ("_postprocess", "postprocess_ms")):
            q25, median, q75 = np.percentile(rows[column], [25, 50, 75])
            summary[f"{runner}{part}_ms"] = float(median)
            summary[f"{runner}{part}_ms_q25"] = float(q25)
            summary[f"{runner}{part}_ms_q75"] = float(q75)
        summary[f"{runner}_found"] = float(rows["found"].mean())
    by_run = timings.pivot(index="run", columns="runner", values="total_ms")
    for reference, suffix in (("jcra", ""), ("jcra_fast", "_fast")):
        if reference in by_run and "bottomup" in by_run:
            summary[f"speedup{suffix}"] = summary["bottomup_ms"] / summary[f"{reference}_ms"]
            ratios = by_run["bottomup"] / by_run[reference]
            q25, median, q75 = np.percentile(ratios, [25, 50, 75])
            summary[f"speedup{suffix}_paired"] = float(median)
            summary[f"speedup{suffix}_paired_q25"] = float(q25)
            summary[f"speedup{suffix}_paired_q75"] = float(q75)
    return summary


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """``torch.set_num_threads(count)`` for the block, restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_pair(jcra: JCRA, bottomup: AssociativeEmbedding) -> None:
    if jcra.config.num_keypoints != bottomup.config.model.num_keypoints:
        raise ValueError(
            f"models predict different keypoint sets: JCRA {jcra.config.num_keypoints}, "
            f"bottom-up {bottomup.config.model.num_keypoints}"
        )


def run_bench(
    jcra: JCRA,
    bottomup: AssociativeEmbedding,
    settings: BenchSettings = BenchSettings(),
    device: torch.device | str = "cpu",
    parser: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> dict:
    """The whole benchmark; returns a JSON-ready dict.

    ``results``: one dict per (input_size, persons) with ``persons_drawn`` and the keys of
    :func:`summarize` (``jcra_ms``, ``bottomup_ms``, ``bottomup_postprocess_ms``, ``speedup``...).
    ``timings``: every timed run. ``fast_jcra``: the traced model's report per input size.
    """
    device = torch.device(device)
    _check_pair(jcra, bottomup)
    layout = "coco" if jcra.config.num_keypoints == 17 else "crowdpose"
    jcra, bottomup = jcra.to(device).eval(), bottomup.to(device).eval()
    results, timings, fast_reports = [], [], {}
    with _threads(settings.threads):
        for input_size in settings.input_sizes:
            all_cases = {
                n: crowd_cases(n, input_size, settings.images, settings.seed, layout) for n in settings.crowd_sizes
            }
            fast = None
            if settings.fast_jcra:
                fast, fast_reports[str(input_size)] = traced_jcra(
                    jcra, [c for cases in all_cases.values() for c in cases], device
                )
            for crowd_size, cases in all_cases.items():
                runners = [jcra_runner(jcra), bottomup_runner(bottomup, parser)]
                if fast is not None:
                    runners.append(fast)
                if settings.ideal:
                    runners.append(ideal_runner(cases, bottomup.config.strides, bottomup.config.sigma, parser))
                frame = interleaved_timing(runners, cases, settings.warmup, settings.runs, device)
                frame.insert(0, "persons", crowd_size)
                frame.insert(0, "input_size", input_size)
                timings.append(frame)
                results.append(
                    {
                        "input_size": input_size,
                        "persons": crowd_size,
                        "persons_drawn": float(np.mean([len(c.keypoints) for c in cases])),
                        **summarize(frame),
                    }
                )
    return {
        "hardware": {
            "cpu": hardware.cpu_model(),
            "description": hardware.describe(),
            "threads": settings.threads,
            "device": str(device),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(settings).items()},
        "parser": vars(parser),
        "models": {
            "jcra": {
                "config": jcra.config.name,
                "input_size_trained": jcra.config.input_size,
                "parameters": sum(p.numel() for p in jcra.parameters()),
            },
            "bottomup": {
                "config": bottomup.config.name,
                "head_width": bottomup.config.head_width,
                "higher_resolution": bottomup.config.higher_resolution,
                "parameters": sum(p.numel() for p in bottomup.parameters()),
            },
        },
        "fast_jcra": fast_reports,
        "results": results,
        "timings": pd.concat(timings, ignore_index=True).to_dict(orient="records"),
    }


def dataset_cases(dataset: torch.utils.data.Dataset, count: int | None = None) -> list[Case]:
    """Benchmark cases from the first ``count`` items of a pose dataset (``(image, target)`` items)."""
    cases = []
    for index in range(len(dataset) if count is None else min(count, len(dataset))):
        image, target = dataset[index]
        meta = {
            "image_id": target["image_id"],
            "orig_size": tuple(int(v) for v in target["orig_size"]),
            "size": tuple(int(v) for v in target["size"]),
        }
        cases.append(Case(image[None], meta, target["keypoints"].numpy().astype(np.float64)))
    return cases


def dataset_latency(
    jcra: JCRA,
    bottomup: AssociativeEmbedding,
    cases: list[Case],
    settings: BenchSettings,
    device: torch.device | str = "cpu",
    parser: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> dict:
    """Per-image latency of both models (and the traced JCRA when kept) on given cases, e.g.
    :func:`dataset_cases` of the split their accuracy is measured on; :func:`summarize`'s keys,
    plus ``fast_jcra`` (the trace report) when ``settings.fast_jcra``."""
    device = torch.device(device)
    _check_pair(jcra, bottomup)
    jcra, bottomup = jcra.to(device).eval(), bottomup.to(device).eval()
    with _threads(settings.threads):
        runners = [jcra_runner(jcra), bottomup_runner(bottomup, parser)]
        report = {}
        if settings.fast_jcra and len({tuple(c.image.shape) for c in cases}) == 1:
            fast, report["fast_jcra"] = traced_jcra(jcra, cases, device)
            runners += [fast] if fast is not None else []
        frame = interleaved_timing(runners, cases, settings.warmup, settings.runs, device)
    return {**summarize(frame), **report}


THROUGHPUT_READING = 1.78
"""'78% faster' read as 1.78x the throughput: bottom-up time / JCRA time >= 1.78."""
TIME_READING = 1 / (1 - 0.78)
"""'78% faster' read as 78% less time: JCRA time <= 0.22 x bottom-up time, a ratio >= 4.55."""


def speed_claim(results: list[dict], min_persons: int = 10, key: str = "speedup") -> dict:
    """The verdict on ``jcra.speed_78`` from :func:`run_bench` results.

    Judged on the cases with ``min_persons`` or more persons (every input size), against the
    throughput reading x1.78: reproduced when every such case reaches it; partly when some case
    reaches it, or when JCRA is faster in every case but by less; not reproduced otherwise.
    Returns ``verdict``, ``measured`` (name -> number) and a one-line ``reason``.
    """
    crowded = [r for r in results if r["persons"] >= min_persons]
    if not crowded:
        raise ValueError(
            f"results hold no crowd of {min_persons} or more persons; "
            f"measured crowds: {sorted({r['persons'] for r in results})}"
        )
    worst = min(crowded, key=lambda r: r[key])
    best = max(crowded, key=lambda r: r[key])
    if worst[key] >= THROUGHPUT_READING:
        verdict = "reproduced"
    elif best[key] >= THROUGHPUT_READING or worst[key] > 1.0:
        verdict = "partly"
    else:
        verdict = "not reproduced"

    def case(r: dict) -> str:
        return (
            f"{r['persons']} persons at {r['input_size']} px: x{r[key]:.2f} (bottom-up {r['bottomup_ms']:.1f} ms"
            f" = network {r['bottomup_network_ms']:.1f} + post-processing {r['bottomup_postprocess_ms']:.1f}; "
            f"JCRA {r['jcra_ms']:.1f} ms)"
        )

    ideal = (
        f"; on ground-truth maps the bottom-up post-processing of that last case takes "
        f"{best['ideal_postprocess_ms']:.1f} ms: its growth comes from the {best['bottomup_found']:.0f} "
        f"partial persons its grouping built for {best['persons_drawn']:.0f} drawn"
        if "ideal_postprocess_ms" in best
        else ""
    )
    reason = (
        f"with {min_persons}+ persons JCRA's speed-up ranges from {case(worst)} to {case(best)}; "
        f"the claim reads x{THROUGHPUT_READING} (or x{TIME_READING:.2f} for 78% less time){ideal}"
    )
    measured = {
        f"{key}_min_at_{min_persons}plus": worst[key],
        f"{key}_max_at_{min_persons}plus": best[key],
        f"{key}_median_at_{min_persons}plus": float(np.median([r[key] for r in crowded])),
        "throughput_reading": THROUGHPUT_READING,
        "time_reading": TIME_READING,
    }
    return {"verdict": verdict, "measured": measured, "reason": reason}


def load_models(
    profile: str = "default",
    jcra_checkpoint: Path | str | None = None,
    bottomup_checkpoint: Path | str | None = None,
    progress: bool = True,
) -> tuple[JCRA, AssociativeEmbedding]:
    """Both trained models: from the checkpoints given, else the notebook ``profile``'s cached ones
    (``jcra.recipes``: same config, data and training for both; trained when missing)."""
    if jcra_checkpoint is None:
        jcra_checkpoint = recipes.profile_checkpoint(profile, progress)
    if bottomup_checkpoint is None:
        bottomup_checkpoint = bottomup_train.profile_checkpoint(profile, progress)
    return jcra_train.load_model(jcra_checkpoint), bottomup_train.load_model(bottomup_checkpoint)


def format_results(report: dict) -> str:
    """A plain-text table of :func:`run_bench`'s results (medians in ms)."""
    columns = {
        "input_size": "size",
        "persons": "persons",
        "jcra_ms": "JCRA",
        "jcra_fast_ms": "JCRA traced",
        "bottomup_network_ms": "BU network",
        "bottomup_postprocess_ms": "BU post",
        "bottomup_ms": "BU total",
        "speedup": "speed-up",
        "speedup_paired": "paired",
    }
    frame = pd.DataFrame(report["results"])
    frame = frame[[c for c in columns if c in frame]].rename(columns=columns)
    hardware_line = (
        f"{report['hardware']['description']}; {report['hardware']['threads']} thread(s); "
        f"device {report['hardware']['device']}"
    )
    return hardware_line + "\n" + frame.to_string(index=False, float_format=lambda v: f"{v:.2f}")
