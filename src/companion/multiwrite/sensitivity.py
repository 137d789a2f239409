"""Which assumptions produce MultiWrite's latency reduction, and where it loses (a tornado study).

Starting from a default scenario, each factor is set to a low and a high value, one at a time;
for each variant the reduction of MultiWrite against the best unicast algorithm (lowest latency
among ring, mesh, hierarchical) is measured at each message size. The factors are the
mechanisms ``shared/papers/multiwrite.md`` lists: per-write issue cost, an engine shared between
sending and receiving, duplicates over an oversubscribed shared link, replication cost in the
switch, header overhead (and the MTU that sets how often it is paid), and how equal-cost spines
are chosen (the same rule for unicast and multicast; per-flow hashing can collide large flows).
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from typing import Any

import pandas as pd

from companion.multiwrite.convergence import MAX_GRAIN
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.sweeps import UNICAST, reduction, sweep

# factor -> (low, high). Replication: a replication engine at one port's rate vs line rate.
FACTORS: dict[str, tuple[Any, Any]] = {
    "issue_overhead_ns": (0.0, 2000.0),
    "engine": ("duplex", "shared"),
    "oversubscription": (1.0, 4.0),
    "switch_replication_GBps": (56.0, math.inf),
    "header_bytes": (16, 256),
    "mtu_bytes": (1024, 8192),
    "path_selection": ("source", "ecmp-hash"),
}


def variants(base: Scenario, factors: dict[str, tuple[Any, Any]] = FACTORS) -> list[tuple[str, str, Any]]:
    """(factor, setting, value) for the default and each factor's low and high value."""
    found = [("default", "default", None)]
    for factor, (low, high) in factors.items():
        found += [(factor, "low", low), (factor, "high", high)]
    return found


def study(
    base: Scenario,
    message_sizes: list[int],
    factors: dict[str, tuple[Any, Any]] = FACTORS,
    candidate: str = "multiwrite",
    baselines: tuple[str, ...] = UNICAST,
    executor: Executor | None = None,
    max_workers: int = 2,
    max_grain: int = MAX_GRAIN,
) -> pd.DataFrame:
    """Reduction of ``candidate`` vs the best baseline for every variant and message size.

    Columns: factor, setting, value, message_bytes, latency_us, best_baseline,
    best_baseline_latency_us, reduction.
    """
    scenarios, labels = [], []
    for factor, setting, value in variants(base, factors):
        varied = base if factor == "default" else base.with_(**{factor: value})
        for size in message_sizes:
            for algorithm in (candidate, *baselines):
                scenarios.append(varied.with_(algorithm=algorithm, message_bytes=size))
                labels.append((factor, setting, "default" if value is None else str(value)))
    frame = sweep(scenarios, name="mw_sensitivity", executor=executor, max_workers=max_workers, max_grain=max_grain)
    frame[["factor", "setting", "value"]] = pd.DataFrame(labels, index=frame.index)
    return reduction(
        frame, by=["factor", "setting", "value", "message_bytes"], candidate=candidate, baselines=baselines
    )
