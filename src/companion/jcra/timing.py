"""The timing harness: runners timed side by side, interleaved, at a fixed thread count.

A :class:`Runner` is a model as two timed callables, its network and its post-processing. The
runners of one measurement are interleaved inside one loop, their order alternating each run, so
that drift of a shared machine hits all of them alike; each measurement gets ``warmup`` untimed
and ``runs`` timed runs cycling over a few cases. Ratios are then taken within a run (paired).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .bench_images import Case


@dataclass(frozen=True)
class Runner:
    """A model as two timed callables: ``network(image, case) -> outputs`` (image on the device)
    and ``postprocess(outputs, meta) -> COCO results``; ``found(results)`` counts its persons."""

    name: str
    network: Callable[[torch.Tensor, Case], Any]
    postprocess: Callable[[Any, dict], list[dict]]
    found: Callable[[list[dict]], int]


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


def summarize_runners(timings: pd.DataFrame) -> dict[str, float]:
    """Median and quartiles per runner and part, from one measurement's rows of
    :func:`interleaved_timing`. Keys: ``<runner>_ms`` (end to end), ``<runner>_network_ms``,
    ``<runner>_postprocess_ms``, each with ``_q25`` / ``_q75``, and ``<runner>_found`` (mean)."""
    summary: dict[str, float] = {}
    for runner, rows in timings.groupby("runner", sort=False):
        for part, column in (("", "total_ms"), ("_network", "network_ms"), ("_postprocess", "postprocess_ms")):
            q25, median, q75 = np.percentile(rows[column], [25, 50, 75])
            summary[f"{runner}{part}_ms"] = float(median)
            summary[f"{runner}{part}_ms_q25"] = float(q25)
            summary[f"{runner}{part}_ms_q75"] = float(q75)
        summary[f"{runner}_found"] = float(rows["found"].mean())
    return summary


def paired_ratios(timings: pd.DataFrame, numerator: str, denominator: str) -> np.ndarray:
    """Per run, ``numerator``'s end-to-end time over ``denominator``'s (timed back to back)."""
    by_run = timings.pivot(index="run", columns="runner", values="total_ms")
    return (by_run[numerator] / by_run[denominator]).to_numpy()


@contextmanager
def threads(count: int) -> Iterator[None]:
    """``torch.set_num_threads(count)`` for the block, restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
