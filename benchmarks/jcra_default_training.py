"""The default profile's training target: train the profile's model from scratch and report the
wall time (target <= 20 min on 2 CPU cores) and the AP on the synthetic val split (>= 0.50).

    .venv/bin/python benchmarks/jcra_default_training.py            # trains into a temporary folder
    .venv/bin/python benchmarks/jcra_default_training.py --profile smoke --json

It trains the same recipe as ``recipes.profile_checkpoint`` but never reuses a cached model, so
the time is a real training time. Other processes on the machine slow it down: the report gives
the load average so that a reader can tell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from companion.hardware import describe
from companion.jcra.data.coco import synthetic_paths
from companion.jcra.data.synthetic import ensure_split
from companion.jcra.evaluate import evaluate
from companion.jcra.recipes import get_recipe, split_paths
from companion.jcra.train import train

TARGET_MINUTES, TARGET_AP = 20.0, 0.50


def run(profile: str, work: Path) -> dict:
    recipe = get_recipe(profile)
    config = recipe.model_config()
    annotations, images = synthetic_paths(ensure_split("train", {"image_size": config.input_size, **recipe.train_data}))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    model = train(config, annotations, images, work, recipe.train_params(), resume=False, progress=True)
    minutes = (time.perf_counter() - started) / 60
    load_during = os.getloadavg()[2]  # 15-minute average: covers most of the run
    val_annotations, val_images = split_paths(profile, "val")
    stats, _ = evaluate(model.eval(), val_annotations, val_images)
    return {
        "profile": profile,
        "config": config.name,
        "train_params": recipe.train_params().to_dict(),
        "train_minutes": round(minutes, 2),
        "AP": stats["AP"],
        "AP50": stats["AP50"],
        "AP75": stats["AP75"],
        "AR": stats["AR"],
        "target_minutes": TARGET_MINUTES,
        "target_AP": TARGET_AP,
        "load_average_1min_before": load_before,
        "load_average_15min_at_end": load_during,
        "torch_threads": torch.get_num_threads(),
        "hardware": describe(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", choices=("smoke", "default", "full"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = run(args.profile, Path(work))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.profile}: trained {report['config']} in {report['train_minutes']:.1f} min "
            f"(load average {report['load_average_15min_at_end']:.1f} on {describe()}); "
            f"synthetic val AP {report['AP']:.3f} (AP50 {report['AP50']:.3f}, AP75 {report['AP75']:.3f})"
        )
    reached = report["AP"] >= TARGET_AP and report["train_minutes"] <= TARGET_MINUTES
    return 0 if reached or args.profile == "smoke" else 1


if __name__ == "__main__":
    sys.exit(main())
