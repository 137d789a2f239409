"""Overfit 4 synthetic images with the small JCRA model: AP on those same images (target >= 0.90).

Proves the whole loop learns: data, matching, losses, refinement, inference, COCO evaluation.

    .venv/bin/python benchmarks/jcra_overfit.py                 # 400 steps, prints AP and wall time
    .venv/bin/python benchmarks/jcra_overfit.py --steps 600 --json
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
from companion.jcra.config import get_config
from companion.jcra.data.coco import synthetic_paths
from companion.jcra.data.synthetic import generate
from companion.jcra.evaluate import evaluate
from companion.jcra.train import TrainParams, train

TARGET_AP = 0.90


def overfit(steps: int, seed: int, image_size: int, work: Path) -> dict:
    annotations, images = synthetic_paths(generate(work / "data", n_images=4, seed=seed, image_size=image_size).parent)
    config = get_config("small", input_size=image_size)
    params = TrainParams(
        steps=steps,
        batch_size=4,
        warmup_steps=20,
        checkpoint_every=steps,
        rotation=0.0,
        scale=(1.0, 1.0),
        crop_min_fraction=1.0,
        seed=seed,
    )
    started = time.perf_counter()
    model = train(config, annotations, images, work / "run", params, progress=True)
    seconds = time.perf_counter() - started
    stats, _ = evaluate(model.eval(), annotations, images)
    return {
        "steps": steps,
        "images": 4,
        "image_size": image_size,
        "train_seconds": round(seconds, 1),
        "AP": stats["AP"],
        "AP50": stats["AP50"],
        "AP75": stats["AP75"],
        "AR": stats["AR"],
        "target_AP": TARGET_AP,
        "reached": stats["AP"] >= TARGET_AP,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "hardware": describe(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = overfit(args.steps, args.seed, args.image_size, Path(work))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"overfit 4 images, {report['steps']} steps in {report['train_seconds']:.0f} s: "
            f"AP {report['AP']:.3f} (AP50 {report['AP50']:.3f}, AP75 {report['AP75']:.3f}); "
            f"target {TARGET_AP}: {'reached' if report['reached'] else 'NOT reached'}"
        )
    return 0 if report["reached"] else 1


if __name__ == "__main__":
    sys.exit(main())
