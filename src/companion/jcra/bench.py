"""Side-by-side inference latency of JCRA and the bottom-up baseline, under the baseline's
published test protocols, as the crowd grows.

What is timed per image at batch 1 (``torch.inference_mode``, a fixed thread count), every runner
of a case interleaved in one loop (:mod:`.timing`) on the benchmark images (:mod:`.bench_images`):

    jcra                 JCRA with its configured queries: the network, then
                         ``predict.outputs_to_results`` (sigmoid, scale to pixels, sort).
    jcra_fast            the same model ``torch.jit.trace``d, kept only when bit-identical to the
                         eager model on every benchmark image.
    jcra_300q            JCRA with the paper's 300 queries (the trained weights; the extra query
                         embeddings seeded), refining only the ``detections`` queries it outputs:
                         timing only, its answers are not evaluated.
    bottomup             the trained baseline, single scale, no flip: network, then
                         ``bottomup.predict.postprocess_image`` (projection, NMS, top-k, grouping,
                         refinement, COCO results).
    bottomup_flip        flip test (HigherHRNet's and DEKR's headline protocol): two passes.
    bottomup_multiscale  scales 2, 1 and 0.5, each with flip (their best numbers): six passes.
    bottomup_ideal       the baseline's network, then its post-processing on maps rendered from
                         the ground truth: what a perfect bottom-up network would cost.

Per case: median and quartiles of each part, persons found, and for every baseline the speed-up
(baseline time / JCRA time, ratio of medians) against ``jcra_fast`` when it was kept, else
``jcra``. The per-run times stay in ``timings`` for the paired bootstrap of :func:`speedups`.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import hardware, stats
from . import evaluate, metrics, recipes
from .bench_images import Case, crowd_cases, ideal_outputs
from .bottomup import augmented_inference as augmented
from .bottomup import postprocess
from .bottomup.model import AssociativeEmbedding
from .bottomup.predict import postprocess_image
from .model import JCRA
from .predict import evaluation_dataset, outputs_to_results
from .timing import Runner, interleaved_timing, summarize_runners, threads

JCRA_SCORE_THRESHOLD = 0.5
"""A JCRA query counts as a found person above this score (for the sanity counts only)."""
BASELINES = ("bottomup", "bottomup_flip", "bottomup_multiscale", "bottomup_ideal")
PROTOCOLS = {"bottomup_flip": augmented.FLIP, "bottomup_multiscale": augmented.MULTI_SCALE}


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
        paper_queries: queries of the ``jcra_300q`` runner (0: skip it).
        detections: results kept per image (COCOeval's 20): what ``jcra_300q`` refines.
        protocols: also time the flip, multi-scale and ideal-map baselines.
    """

    crowd_sizes: tuple[int, ...] = (1, 2, 5, 10, 20)
    input_sizes: tuple[int, ...] = (128, 256)
    images: int = 3
    warmup: int = 3
    runs: int = 20
    threads: int = 1
    seed: int = 0
    fast_jcra: bool = True
    paper_queries: int = 300
    detections: int = 20
    protocols: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "crowd_sizes", tuple(int(n) for n in self.crowd_sizes))
        object.__setattr__(self, "input_sizes", tuple(int(s) for s in self.input_sizes))
        if not self.crowd_sizes or min(self.crowd_sizes) < 1 or max(self.crowd_sizes) > 30:
            raise ValueError(f"crowd_sizes must be persons per image in 1..30, got {self.crowd_sizes}")
        if not self.input_sizes or min(self.input_sizes) < 32:
            raise ValueError(f"input_sizes must be image sides >= 32 pixels, got {self.input_sizes}")
        for name in ("images", "runs", "threads", "detections"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0 or self.paper_queries < 0:
            raise ValueError(f"warmup and paper_queries must be >= 0, got {self.warmup}, {self.paper_queries}")


def _jcra_found(results: list[dict]) -> int:
    return sum(r["score"] > JCRA_SCORE_THRESHOLD for r in results)


def jcra_runner(model: JCRA, name: str = "jcra", keep: int | None = None) -> Runner:
    """JCRA: the network (refining only ``keep`` queries when given), then reading its outputs."""
    return Runner(
        name,
        lambda image, case: model(image, keep=keep),
        lambda outputs, meta: outputs_to_results(outputs, [meta]),
        _jcra_found,
    )


def with_queries(model: JCRA, queries: int, seed: int = 0) -> JCRA:
    """``model`` rebuilt with ``queries`` pose queries: every trained weight kept, the query
    embeddings it lacks drawn like a fresh model's (seeded). For timing: its extra queries are untrained."""
    generator = torch.Generator().manual_seed(seed)
    bigger = JCRA(dataclasses.replace(model.config, num_queries=queries)).to(next(model.parameters()).device)
    state = model.state_dict()
    trained = state["query_content.weight"]
    extra = torch.randn(max(queries - len(trained), 0), trained.shape[1], generator=generator).to(trained)
    state["query_content.weight"] = torch.cat([trained, extra])[:queries]
    bigger.load_state_dict(state)
    return bigger.eval()


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
        size = model.size_divisor
        canvas = tuple(-(-side // size) * size for side in image.shape[-2:])
        return {"logits": logits, "keypoints": keypoints, "visibility_logits": visibility, "canvas_size": canvas}

    return Runner("jcra_fast", network, lambda outputs, meta: outputs_to_results(outputs, [meta]), _jcra_found), report


def bottomup_runner(
    model: AssociativeEmbedding,
    protocol: augmented.InferenceProtocol = augmented.SINGLE_SCALE,
    name: str = "bottomup",
    parser: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> Runner:
    """The baseline under a test protocol: its network passes, then its whole post-processing."""
    if protocol == augmented.SINGLE_SCALE:
        return Runner(
            name,
            lambda image, case: model(image),
            lambda outputs, meta: postprocess_image(outputs, 0, meta, parser),
            len,
        )
    return Runner(
        name,
        lambda image, case: augmented.network_passes(model, image, protocol),
        lambda passes, meta: augmented.aggregate_and_parse(passes, meta, parser),
        len,
    )


def ideal_runner(
    model: AssociativeEmbedding, cases: list[Case], parser: postprocess.ParserConfig = postprocess.ParserConfig()
) -> Runner:
    """The baseline's network (its output discarded), then its post-processing on ground-truth maps."""
    config = model.config
    prepared = {
        id(case): ideal_outputs(case.keypoints, tuple(case.meta["size"]), config.strides, config.sigma)
        for case in cases
    }

    def network(image: torch.Tensor, case: Case) -> dict:
        model(image)  # a perfect network costs what this one does
        return prepared[id(case)]

    return Runner("bottomup_ideal", network, lambda outputs, meta: postprocess_image(outputs, 0, meta, parser), len)


def _check_pair(jcra: JCRA, bottomup: AssociativeEmbedding) -> None:
    if jcra.config.num_keypoints != bottomup.config.model.num_keypoints:
        raise ValueError(
            f"models predict different keypoint sets: JCRA {jcra.config.num_keypoints}, "
            f"bottom-up {bottomup.config.model.num_keypoints}"
        )


def summarize(timings: pd.DataFrame, reference: str) -> dict[str, float]:
    """:func:`timing.summarize_runners` of one case, plus ``speedup_<baseline>`` (the baseline's median
    time over ``reference``'s, the JCRA runner the speed-ups are taken against) per baseline timed."""
    summary = summarize_runners(timings)
    for baseline in BASELINES:
        if f"{baseline}_ms" in summary:
            summary[f"speedup_{baseline}"] = summary[f"{baseline}_ms"] / summary[f"{reference}_ms"]
    return summary


def run_bench(
    jcra: JCRA,
    bottomup: AssociativeEmbedding,
    settings: BenchSettings = BenchSettings(),
    device: torch.device | str = "cpu",
    parser: postprocess.ParserConfig = postprocess.ParserConfig(),
    accuracy: dict | None = None,
) -> dict:
    """The whole benchmark; returns a JSON-ready dict.

    ``results``: one dict per (input_size, persons): ``persons_drawn``, :func:`summarize`'s keys
    (``jcra_ms``, ``jcra_300q_ms``, ``bottomup_ms``, ``bottomup_flip_ms``, ``bottomup_multiscale_ms``,
    ``bottomup_ideal_ms`` with parts and quartiles, ``speedup_bottomup_flip``...), ``reference`` (the
    JCRA runner of the speed-ups) and, when ``accuracy`` (from :func:`accuracy`) is given, both
    models' AP. ``timings``: every timed run. ``fast_jcra``: the trace report per input size;
    ``paper_queries``: why ``jcra_300q`` is missing where it is.
    """
    device = torch.device(device)
    _check_pair(jcra, bottomup)
    layout = "coco" if jcra.config.num_keypoints == 17 else "crowdpose"
    jcra, bottomup = jcra.to(device).eval(), bottomup.to(device).eval()
    paper = with_queries(jcra, settings.paper_queries, settings.seed) if settings.paper_queries else None
    results, timings, fast_reports, paper_reports = [], [], {}, {}
    ap = {key: value for key, value in (accuracy or {}).items() if key.endswith("_AP")}
    with threads(settings.threads):
        for input_size in settings.input_sizes:
            all_cases = {
                n: crowd_cases(n, input_size, settings.images, settings.seed, layout) for n in settings.crowd_sizes
            }
            fast = None
            if settings.fast_jcra:
                fast, fast_reports[str(input_size)] = traced_jcra(
                    jcra, [c for cases in all_cases.values() for c in cases], device
                )
            tokens = sum((input_size // s) ** 2 for s in jcra.config.strides)
            paper_here = paper is not None and tokens >= settings.paper_queries
            if paper is not None and not paper_here:
                paper_reports[str(input_size)] = (
                    f"{tokens} feature tokens at {input_size} px, fewer than {settings.paper_queries} queries"
                )
            for crowd_size, cases in all_cases.items():
                runners = [jcra_runner(jcra), bottomup_runner(bottomup, parser=parser)]
                runners += [fast] if fast is not None else []
                runners += [jcra_runner(paper, "jcra_300q", keep=settings.detections)] if paper_here else []
                if settings.protocols:
                    runners += [bottomup_runner(bottomup, PROTOCOLS[n], n, parser) for n in PROTOCOLS]
                    runners.append(ideal_runner(bottomup, cases, parser))
                frame = interleaved_timing(runners, cases, settings.warmup, settings.runs, device)
                frame.insert(0, "persons", crowd_size)
                frame.insert(0, "input_size", input_size)
                timings.append(frame)
                reference = "jcra_fast" if fast is not None else "jcra"
                results.append(
                    {
                        "input_size": input_size,
                        "persons": crowd_size,
                        "persons_drawn": float(np.mean([len(c.keypoints) for c in cases])),
                        "reference": reference,
                        **summarize(frame, reference),
                        **ap,
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
                "queries": jcra.config.num_queries,
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
        "accuracy": accuracy,
        "fast_jcra": fast_reports,
        "paper_queries": paper_reports,
        "results": results,
        "timings": pd.concat(timings, ignore_index=True).to_dict(orient="records"),
    }


def speedups(report: dict, baseline: str, seed: int = 0) -> dict[tuple[int, int], stats.Interval]:
    """Per case ``(input_size, persons)``: the speed-up over ``baseline`` (median baseline time /
    median JCRA time, JCRA being the case's ``reference`` runner) with its 95% interval, a paired
    bootstrap over the interleaved runs (the two times of one run are resampled together)."""
    timings = pd.DataFrame(report["timings"])
    intervals = {}
    for row in report["results"]:
        case = timings[(timings["input_size"] == row["input_size"]) & (timings["persons"] == row["persons"])]
        by_run = case.pivot(index="run", columns="runner", values="total_ms")
        if baseline not in by_run:
            continue
        intervals[(row["input_size"], row["persons"])] = stats.bootstrap_interval(
            lambda base, jcra: float(np.median(base) / np.median(jcra)),
            by_run[baseline].to_numpy(),
            by_run[row["reference"]].to_numpy(),
            paired=True,
            seed=seed,
        )
    return intervals


def accuracy(jcra: JCRA, bottomup: AssociativeEmbedding, annotation_file: Path | str, image_dir: Path | str) -> dict:
    """Both models' COCO AP on one annotated split: ``jcra_AP``, ``bottomup_AP`` (single scale) and
    ``bottomup_flip_AP`` (the flip test, the protocol the speed verdict decides on), and
    ``ap_difference``, JCRA minus the flip-test baseline with a 95% interval (a :class:`stats.Interval`;
    bootstrap over the split's images, paired: the same resampled images for both); ``images``."""
    dataset = evaluation_dataset(annotation_file, image_dir, bottomup.config.model.input_size)
    results = {
        "jcra": evaluate.predictions(jcra, annotation_file, image_dir),
        "bottomup": evaluate.predictions(bottomup, annotation_file, image_dir),
        "bottomup_flip": augmented.predict_dataset(bottomup, dataset, augmented.FLIP),
    }
    per_model = {name: metrics.image_evaluations(annotation_file, found) for name, found in results.items()}
    difference = stats.bootstrap_indices(
        lambda images: (
            metrics.average_precision(per_model["jcra"], images)
            - metrics.average_precision(per_model["bottomup_flip"], images)
        ),
        len(per_model["jcra"]),
    )
    return {
        **{f"{name}_AP": metrics.average_precision(evaluations) for name, evaluations in per_model.items()},
        "ap_difference": difference,
        "images": len(per_model["jcra"]),
    }


def dataset_latency(
    jcra: JCRA,
    bottomup: AssociativeEmbedding,
    cases: list[Case],
    settings: BenchSettings,
    device: torch.device | str = "cpu",
    parser: postprocess.ParserConfig = postprocess.ParserConfig(),
) -> dict:
    """Per-image latency of JCRA (and its trace when kept) and of the baseline under its protocols on
    given cases, e.g. ``bench_images.dataset_cases`` of the split their accuracy is measured on;
    :func:`timing.summarize_runners`' keys, plus ``fast_jcra`` (the trace report)."""
    device = torch.device(device)
    _check_pair(jcra, bottomup)
    jcra, bottomup = jcra.to(device).eval(), bottomup.to(device).eval()
    with threads(settings.threads):
        runners = [jcra_runner(jcra), bottomup_runner(bottomup, parser=parser)]
        runners += [bottomup_runner(bottomup, PROTOCOLS[n], n, parser) for n in PROTOCOLS] if settings.protocols else []
        report = {}
        if settings.fast_jcra and len({tuple(c.image.shape) for c in cases}) == 1:
            fast, report["fast_jcra"] = traced_jcra(jcra, cases, device)
            runners += [fast] if fast is not None else []
        frame = interleaved_timing(runners, cases, settings.warmup, settings.runs, device)
    return {**summarize_runners(frame), **report}


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
        bottomup_checkpoint = recipes.baseline_checkpoint(profile, progress)
    return evaluate.load_trained(jcra_checkpoint), evaluate.load_trained(bottomup_checkpoint)


def format_results(report: dict) -> str:
    """A plain-text table of :func:`run_bench`'s results (medians in ms, speed-ups over JCRA)."""
    columns = {
        "input_size": "size",
        "persons": "persons",
        "jcra_ms": "JCRA",
        "jcra_fast_ms": "JCRA traced",
        "jcra_300q_ms": "JCRA 300q",
        "bottomup_ms": "BU",
        "bottomup_flip_ms": "BU flip",
        "bottomup_multiscale_ms": "BU multi-scale",
        "bottomup_ideal_ms": "BU ideal maps",
        "speedup_bottomup_flip": "x flip",
        "speedup_bottomup_ideal": "x ideal",
    }
    frame = pd.DataFrame(report["results"])
    frame = frame[[c for c in columns if c in frame]].rename(columns=columns)
    hardware_line = (
        f"{report['hardware']['description']}; {report['hardware']['threads']} thread(s); "
        f"device {report['hardware']['device']}"
    )
    return hardware_line + "\n" + frame.to_string(index=False, float_format=lambda v: f"{v:.2f}")


def speed_measured(intervals: dict[str, dict[tuple[int, int], stats.Interval]], accuracy: dict) -> dict[str, float]:
    """The numbers a ``jcra.speed_78`` record stores: per baseline the smallest, median and largest
    speed-up over the cases, the smallest with its interval (``speedup_<baseline>_min``,
    ``..._min_ci_low``/``_ci_high``); both models' AP and their difference with its interval."""
    measured: dict[str, float] = {}
    for baseline, cases in intervals.items():
        if not cases:
            continue
        worst = min(cases.values(), key=lambda interval: interval.estimate)
        measured |= worst.measured(f"speedup_{baseline}_min")
        measured[f"speedup_{baseline}_median"] = float(np.median([iv.estimate for iv in cases.values()]))
        measured[f"speedup_{baseline}_max"] = max(iv.estimate for iv in cases.values())
    measured |= {key: accuracy[key] for key in ("jcra_AP", "bottomup_AP", "bottomup_flip_AP")}
    return measured | accuracy["ap_difference"].measured("ap_difference")


def accuracy_latency_table(latency: dict, accuracy: dict) -> pd.DataFrame:
    """One row per runner of :func:`dataset_latency` whose AP :func:`accuracy` measured (the traced
    JCRA has the eager one's outputs): method, AP, ms, ms_q25, ms_q75."""
    ap = {"jcra": accuracy["jcra_AP"], "jcra_fast": accuracy["jcra_AP"]}
    ap |= {"bottomup": accuracy["bottomup_AP"], "bottomup_flip": accuracy["bottomup_flip_AP"]}
    rows = []
    for runner in ap:
        if f"{runner}_ms" in latency:
            method = runner.replace("_fast", " traced").replace("bottomup_", "bottomup ")
            rows.append(
                {
                    "method": method,
                    "AP": ap[runner],
                    "ms": latency[f"{runner}_ms"],
                    "ms_q25": latency[f"{runner}_ms_q25"],
                    "ms_q75": latency[f"{runner}_ms_q75"],
                }
            )
    return pd.DataFrame(rows)
