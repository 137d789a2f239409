"""Converged simulation grain: every number a figure, table or verdict uses is refined until the
grain no longer moves it.

The simulator moves each write as chunks (whole MTU packets). Coarse chunks make pipelines fill
slowly and queues lumpy, so latency depends on the grain. :func:`simulate_converged` starts at
``START_GRAIN`` chunks per message and doubles it, down to one MTU packet per chunk, until the
latency changes by less than ``TOLERANCE`` between two doublings; it says why it stopped:

- ``converged``: the last doubling changed latency by less than the tolerance;
- ``packet grain``: chunks are single MTU packets, nothing finer exists;
- ``grain cap``: ``max_grain`` chunks per message reached (a cost limit; the change is reported).

``grain`` is the chunks per (largest) message used for the reported result, ``grain_change`` the
relative latency change at the last doubling (``None`` when only one grain was possible).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from companion.multiwrite.result import RunResult
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate
from companion.stats import Interval

TOLERANCE = 0.01  # issue 10: converged when one doubling moves latency by less than 1%
START_GRAIN = 4
MAX_GRAIN = 1024


@dataclass(frozen=True)
class Grain:
    """The grain a result was computed at, and how settled it is."""

    chunks_per_message: int
    change: float | None
    stop: str


def packets_per_message(scenario: Scenario) -> int:
    """MTU packets of the largest write: the finest grain the simulator has."""
    return max(1, math.ceil(scenario.largest_write_bytes / scenario.mtu_bytes))


def at_grain(scenario: Scenario, chunks_per_message: int) -> Scenario:
    """``scenario`` cut into ``chunks_per_message`` chunks per largest write (whole packets)."""
    return scenario.with_(chunk_bytes=scenario.mtu_bytes, max_chunks_per_message=chunks_per_message)


def grain_ladder(scenario: Scenario, start: int = START_GRAIN, max_grain: int = MAX_GRAIN) -> list[int]:
    """Chunks per message tried, coarse to fine: doubling from ``start`` up to the packet grain or the cap."""
    finest = min(packets_per_message(scenario), max_grain)
    ladder = [min(start, finest)]
    while ladder[-1] < finest:
        ladder.append(min(2 * ladder[-1], finest))
    return ladder


def simulate_converged(
    scenario: Scenario,
    tolerance: float = TOLERANCE,
    start: int = START_GRAIN,
    max_grain: int = MAX_GRAIN,
    progress: Callable[[str], None] | None = None,
    runner: Callable[[Scenario], RunResult] | None = None,
) -> tuple[RunResult, Grain]:
    """Simulate ``scenario`` at the coarsest grain whose last doubling moved latency by < ``tolerance``.

    ``progress``: called with status lines (grain, simulated time, events/s) on long runs.
    ``runner``: what simulates one grain (default :func:`simulate`; sweeps pass one that keeps
    each run on disk, :func:`companion.multiwrite.sweeps.simulate_once`).
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    ladder = grain_ladder(scenario, start, max_grain)

    def run(chunks: int) -> RunResult:
        if runner is not None:
            return runner(at_grain(scenario, chunks))
        report = None if progress is None else (lambda line: progress(f"grain {chunks}: {line}"))
        return simulate(at_grain(scenario, chunks), progress=report)

    previous = run(ladder[0])
    change, grain = None, Grain(ladder[0], None, "packet grain")
    for chunks in ladder[1:]:
        result = run(chunks)
        change = abs(result.latency_s / previous.latency_s - 1.0)
        previous = result
        if change < tolerance:
            grain = Grain(chunks, change, "converged")
            break
    else:
        finest = ladder[-1]
        stop = "packet grain" if finest == packets_per_message(scenario) else "grain cap"
        grain = Grain(finest, change, stop)
    # Report the scenario as asked (its own grain fields), with the grain actually used beside it.
    result = replace(
        previous,
        scenario=scenario.as_dict(),
        grain=grain.chunks_per_message,
        grain_change=grain.change,
        grain_stop=grain.stop,
    )
    return result, grain


def grain_band(reduction: float, *changes: float | None) -> Interval:
    """A reduction with the band its runs' residual grain error leaves (relative errors add)."""
    width = sum(c for c in changes if c is not None and math.isfinite(c))  # None/NaN: one grain, no change seen
    return Interval(reduction, reduction - width, reduction + width)
