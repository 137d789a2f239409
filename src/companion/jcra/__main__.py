"""Command line of the pose wing (a stable contract).

    python -m companion.jcra train --config small --out runs/small [--annotations A.json --images DIR]
    python -m companion.jcra predict --checkpoint C --images DIR --out DT.json [--annotations GT.json]
    python -m companion.jcra eval --annotations GT.json --results DT.json [--json] [--mode crowdpose]
    python -m companion.jcra bench [--json] [--out REPORT.json] [--crowd-sizes 1 2 5 10 20] [--input-sizes 128 256]

``train`` without ``--annotations`` uses the synthetic train split; under torchrun it runs DDP.
``eval`` prints the ten COCO keypoint statistics (``--json``: AP, AP50, AP75, APM, APL, AR,
AR50, AR75, ARM, ARL as fractions; CrowdPose mode adds APE, APM, APH).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import CONFIGS, get_config


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model (DDP when launched by torchrun)")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small", help="model config (default: small)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt and metrics.csv")
    parser.add_argument("--annotations", type=Path, help="COCO keypoints file (default: synthetic train split)")
    parser.add_argument("--images", type=Path, help="image folder of --annotations")
    parser.add_argument("--steps", type=int, help="optimiser steps")
    parser.add_argument("--batch-size", type=int, help="images per step and rank")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="seed")
    parser.add_argument("--no-resume", action="store_true", help="start over even if --out has a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_train)


def _train(args: argparse.Namespace) -> int:
    import torch.distributed

    from .data.coco import load_annotations, synthetic_paths
    from .data.synthetic import ensure_split
    from .train import TrainParams, train

    if (args.annotations is None) != (args.images is None):
        raise SystemExit("train: give both --annotations and --images, or neither (synthetic data)")
    if args.annotations is None:
        config = get_config(args.config)
        annotations, images = synthetic_paths(ensure_split("train", {"image_size": config.input_size}))
    else:
        annotations, images = args.annotations, args.images
        # the head follows the data: 17 joints for COCO files, 14 for CrowdPose files
        config = get_config(args.config, num_keypoints=load_annotations(annotations).layout.num_keypoints)
    overrides = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    params = TrainParams(**{k: v for k, v in overrides.items() if v is not None})
    train(config, annotations, images, args.out, params, resume=not args.no_resume, progress=not args.no_progress)
    rank = 0
    if torch.distributed.is_initialized():  # under torchrun: leave the process group together
        rank = torch.distributed.get_rank()
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if rank == 0:
        print(f"checkpoint: {args.out / 'checkpoint.pt'}")
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="write COCO keypoint results for a folder of images")
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt from train")
    parser.add_argument("--images", type=Path, required=True, help="folder of .jpg/.png images")
    parser.add_argument("--out", type=Path, required=True, help="results JSON to write")
    parser.add_argument(
        "--annotations",
        type=Path,
        help="GT.json whose 'images' map file names to ids (default: the number in each file name)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-detections", type=int, default=100, help="persons kept per image, best first")
    parser.set_defaults(run=_predict)


def _predict(args: argparse.Namespace) -> int:
    from .predict import ImageFolder, predict_dataset, write_results
    from .train import load_model

    model = load_model(args.checkpoint)
    folder = ImageFolder(args.images, model.config.input_size, args.annotations)
    results = predict_dataset(model, folder, args.batch_size, args.max_detections)
    write_results(results, args.out)
    print(f"{len(results)} persons in {len(folder)} images -> {args.out}")
    return 0


def _add_eval(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="COCO keypoint AP/AR of a results file")
    parser.add_argument("--annotations", type=Path, required=True, help="ground truth GT.json")
    parser.add_argument("--results", type=Path, required=True, help="results DT.json")
    parser.add_argument(
        "--mode", choices=("coco", "crowdpose"), default="coco", help="crowdpose: xtcocotools' crowd mode (APE/APM/APH)"
    )
    parser.add_argument("--json", action="store_true", help="print the statistics as a JSON object of fractions")
    parser.set_defaults(run=_eval)


def _eval(args: argparse.Namespace) -> int:
    from .metrics import coco_keypoint_stats, format_stats

    stats = coco_keypoint_stats(args.annotations, args.results, mode=args.mode)
    numbers = {k: v for k, v in stats.items() if k not in ("summary_text", "n_results")}
    print(json.dumps(numbers, indent=2) if args.json else format_stats(numbers))
    return 0


def _add_bench(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="latency of JCRA vs the bottom-up baseline as the crowd grows")
    parser.add_argument(
        "--profile",
        choices=("smoke", "default", "full"),
        default="default",
        help="whose cached models to time (jcra.recipes; trained when missing)",
    )
    parser.add_argument("--jcra-checkpoint", type=Path, help="time this JCRA checkpoint instead")
    parser.add_argument("--bottomup-checkpoint", type=Path, help="time this baseline checkpoint instead")
    parser.add_argument("--crowd-sizes", type=int, nargs="+", default=[1, 2, 5, 10, 20], help="persons per image")
    parser.add_argument("--input-sizes", type=int, nargs="+", default=[128, 256], help="image sides in pixels")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per case (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per case")
    parser.add_argument("--images", type=int, default=3, help="synthetic images per case")
    parser.add_argument("--threads", type=int, default=1, help="torch threads during timing (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-fast", action="store_true", help="skip the traced JCRA")
    parser.add_argument(
        "--no-protocols", action="store_true", help="skip the baseline's flip, multi-scale and ideal-map protocols"
    )
    parser.add_argument("--paper-queries", type=int, default=300, help="queries of the jcra_300q runner (0: skip)")
    parser.add_argument("--no-accuracy", action="store_true", help="skip both models' AP on the profile's val split")
    parser.add_argument("--json", action="store_true", help="print the report (without per-run timings) as JSON")
    parser.add_argument("--out", type=Path, help="write the full report, every timed run included, as JSON")
    parser.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    from ..atomic import write_text
    from . import recipes
    from .bench import BenchSettings, accuracy, format_results, load_models, run_bench

    jcra, bottomup = load_models(args.profile, args.jcra_checkpoint, args.bottomup_checkpoint, progress=not args.json)
    measured_accuracy = None
    if not args.no_accuracy:
        measured_accuracy = accuracy(jcra, bottomup, *recipes.split_paths(args.profile, "val"))
        measured_accuracy["ap_difference"] = vars(measured_accuracy["ap_difference"])
        measured_accuracy["split"] = f"synthetic val ({args.profile} profile)"
    settings = BenchSettings(
        crowd_sizes=tuple(args.crowd_sizes),
        input_sizes=tuple(args.input_sizes),
        images=args.images,
        warmup=args.warmup,
        runs=args.runs,
        threads=args.threads,
        fast_jcra=not args.no_fast,
        paper_queries=args.paper_queries,
        protocols=not args.no_protocols,
    )
    report = run_bench(jcra, bottomup, settings, args.device, accuracy=measured_accuracy)
    if args.out is not None:
        write_text(args.out, json.dumps(report, indent=1) + "\n")
    summary = {k: v for k, v in report.items() if k != "timings"}
    print(json.dumps(summary, indent=2) if args.json else format_results(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m companion.jcra", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_train(subparsers)
    _add_predict(subparsers)
    _add_eval(subparsers)
    _add_bench(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
