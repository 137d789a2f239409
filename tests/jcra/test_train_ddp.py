"""Distributed data parallel through torchrun: two CPU processes (gloo) keep identical weights."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _model_helpers import synthetic_split


@pytest.mark.slow
def test_two_gloo_processes_keep_equal_weights(tmp_path):
    annotations, images = synthetic_split(tmp_path / "data", n_images=4)
    worker = Path(__file__).with_name("_ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(worker),
        str(annotations),
        str(images),
        str(tmp_path / "run"),
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "ddp_report.json").read_text())
    assert report["world_size"] == 2
    assert report["max_difference_between_ranks"] == 0.0
    assert report["moved"] > 0  # the weights did train: equal because synchronised, not because frozen
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
