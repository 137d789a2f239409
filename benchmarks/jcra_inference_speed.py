"""JCRA before/after the inference speed-ups: latency at 128 and 256 px and training steps per second.

"Before" is the model code of a git commit (default 4bfcf5e, the last one before the speed-ups),
extracted to a temporary folder and imported as a second package; "after" is the working tree.
Both get the same weights (the small config, seeded and perturbed as in
``benchmarks/jcra_reference_outputs.py``) and run interleaved in one loop at 1 thread (ratios within
one run: the machine may be shared). Reported: median ms per image (batch 1, a 10-person crowd
image) of the old eager model, the new eager model and the new traced model (kept only when
bit-identical to the new eager one), with the median of per-run ratios; and training steps per
second (forward, loss, backward; batch 8 at 128 px) old against new, with the loss of both.

    .venv/bin/python benchmarks/jcra_inference_speed.py            # table
    .venv/bin/python benchmarks/jcra_inference_speed.py --json --runs 40
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from companion.jcra import bench
from companion.jcra.bench_images import crowd_cases
from companion.jcra.config import get_config
from companion.jcra.criterion import SetCriterion
from companion.jcra.model import JCRA
from companion.jcra.timing import Runner, interleaved_timing, threads

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from jcra_reference_outputs import perturbed_weights  # noqa: E402


def old_package(commit: str, folder: Path) -> str:
    """Extract ``src/companion`` of ``commit`` into ``folder`` as package ``companion_before``."""
    archive = folder / "old.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit, "src/companion"], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    (folder / "src" / "companion").rename(folder / "companion_before")
    sys.path.insert(0, str(folder))
    return "companion_before"


def latency(old: torch.nn.Module, new: JCRA, sizes: list[int], warmup: int, runs: int) -> list[dict]:
    rows = []
    for size in sizes:
        cases = crowd_cases(10, size, 3, seed=0)
        fast, report = bench.traced_jcra(new, cases, torch.device("cpu"))
        runners = [
            Runner("before", lambda image, case: old(image), lambda outputs, meta: [], len),
            Runner("after", lambda image, case: new(image), lambda outputs, meta: [], len),
        ]
        if fast is not None:
            runners.append(Runner("after_traced", fast.network, lambda outputs, meta: [], len))
        frame = interleaved_timing(runners, cases, warmup, runs)
        by_run = frame.pivot(index="run", columns="runner", values="network_ms")
        row = {"input_size": size, "trace": report["reason"]}
        for name in by_run:
            row[f"{name}_ms"] = float(by_run[name].median())
            if name != "before":
                row[f"speedup_{name}"] = float((by_run["before"] / by_run[name]).median())
        rows.append(row)
    return rows


def training(old: torch.nn.Module, new: JCRA, runs: int, batch: int = 8, size: int = 128) -> dict:
    config = new.config
    criterion = SetCriterion(config)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator)
    pad_mask = torch.zeros(batch, size, size, dtype=torch.bool)  # equal-size images, as the synthetic training split
    targets = []
    for image_id in range(batch):
        keypoints = torch.rand(3, config.num_keypoints, 3, generator=generator) * size
        keypoints[..., 2] = 2.0
        targets.append({"keypoints": keypoints, "areas": torch.full((3,), size * size / 8.0), "image_id": image_id})

    def step(model: torch.nn.Module) -> float:
        model.zero_grad()
        loss = criterion(model(images, pad_mask), targets)["loss"]
        loss.backward()
        return float(loss.detach())

    old.train(), new.train()
    losses = {"before": step(old), "after": step(new)}
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    for run in range(runs):
        for name, model in (("before", old), ("after", new)) if run % 2 else (("after", new), ("before", old)):
            start = time.perf_counter()
            step(model)
            seconds[name].append(time.perf_counter() - start)
    before, after = np.array(seconds["before"]), np.array(seconds["after"])
    return {
        "batch": batch,
        "input_size": size,
        "before_steps_per_s": float(1 / np.median(before)),
        "after_steps_per_s": float(1 / np.median(after)),
        "speedup": float(np.median(before / after)),
        "loss_before": losses["before"],
        "loss_after": losses["after"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="4bfcf5e", help="git commit of the 'before' model code")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--runs", type=int, default=30, help="timed inference runs per size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-runs", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, threads(1):
        package = old_package(args.before, Path(folder))
        old_model = importlib.import_module(f"{package}.jcra.model")
        torch.manual_seed(0)
        new = perturbed_weights(JCRA(get_config("small"))).eval()
        old = old_model.JCRA(new.config).eval()
        old.load_state_dict(new.state_dict())
        with torch.inference_mode():
            rows = latency(old, new, args.sizes, args.warmup, args.runs)
        train = training(old, new, args.train_runs)
    report = {"before": args.before, "threads": 1, "latency": rows, "training": train}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"JCRA small, 1 thread, batch 1, 10-person image; before = commit {args.before}")
    print(pd.DataFrame(rows).drop(columns="trace").to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(
        f"training (batch {train['batch']} at {train['input_size']} px): {train['before_steps_per_s']:.2f} -> "
        f"{train['after_steps_per_s']:.2f} steps/s (x{train['speedup']:.2f}); loss {train['loss_before']:.6f} "
        f"before, {train['loss_after']:.6f} after"
    )


if __name__ == "__main__":
    main()
