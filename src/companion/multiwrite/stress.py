"""A long stress run: thousands of back-to-back AllGathers on one fabric, with background traffic,
rank start jitter and mixed message sizes, and the delivery check on every operation.

The run is split into ``segments``: independent simulations (own fabric, own seed) that can run
in parallel; the operations of one segment run back to back. Within a segment the sizes, the
jitter and the background traffic come from seeded generators that do not depend on the
algorithm, so every algorithm faces the same sequence of sizes and the same offered background
load. Group-table multicast keeps its groups from one operation to the next.

Background traffic: unicast writes of ``background_bytes`` between random rank pairs, arriving
as a Poisson process whose mean offered load is ``background_load`` of every rank link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from companion import stats
from companion.cache import cache_path, cached_frame
from companion.multiwrite import allgather
from companion.multiwrite.convergence import MAX_GRAIN, Grain, simulate_converged
from companion.multiwrite.operation import Operation, Plan, Write
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import Simulation
from companion.multiwrite.sweeps import UNICAST, code_version, run_all, simulate_once

# Where the workload's defaults come from. None is from the MultiWrite paper, which gives no workload.
ASSUMPTIONS = {
    "sizes_bytes": "4 KiB, 64 KiB, 1 MiB per rank: latency- to bandwidth-bound AllGathers (mw.latency_33's grid)",
    "start_jitter_us": "2 us uniform start skew per rank and operation: an assumption (ranks leave compute unevenly)",
    "gap_us": "1 us between operations of one segment: an assumption (back-to-back operators)",
    "background_load": "0.2 of every rank link's bandwidth as Poisson unicast writes: an assumption (other jobs)",
    "background_bytes": "the largest message size: background writes as large as the operators' own",
}


@dataclass(frozen=True)
class StressConfig:
    """The workload of a stress run (the fabric and algorithm come from a Scenario)."""

    operations: int = 200
    segments: int = 2
    sizes_bytes: tuple[int, ...] = (4096, 65536, 1 << 20)
    start_jitter_us: float = 2.0
    gap_us: float = 1.0
    background_load: float = 0.2
    background_bytes: int = 65536
    seed: int = 0

    def __post_init__(self) -> None:
        if self.operations < 1 or self.segments < 1 or self.operations < self.segments:
            raise ValueError(
                f"operations ({self.operations}) and segments ({self.segments}) must be >= 1, segments <= operations"
            )
        if not self.sizes_bytes or min(self.sizes_bytes) < 1:
            raise ValueError(f"sizes_bytes must be positive byte counts, got {self.sizes_bytes}")
        if self.start_jitter_us < 0 or self.gap_us < 0:
            raise ValueError("start_jitter_us and gap_us must be >= 0")
        if not 0 <= self.background_load < 1:
            raise ValueError(f"background_load must be in [0, 1), got {self.background_load}")
        if self.background_bytes < 1:
            raise ValueError(f"background_bytes must be >= 1, got {self.background_bytes}")


def _background(sim: Simulation, config: StressConfig, rng: np.random.Generator, op: Operation):
    """Simpy process: Poisson unicast writes between random pairs, delivered and checked by ``op``."""
    s = sim.scenario
    rate_per_s = config.background_load * s.link_Bps * s.ranks / config.background_bytes
    chunk = s.chunk_bytes_for(config.background_bytes)
    sequence = 0
    while True:
        yield sim.env.timeout(rng.exponential(1.0 / rate_per_s))
        src, dst = (int(x) for x in rng.choice(s.ranks, size=2, replace=False))
        starts = range(0, config.background_bytes, chunk)
        chunks = [(((src, "bg", sequence, i), min(chunk, config.background_bytes - b)),) for i, b in enumerate(starts)]
        for ((key, nbytes),) in chunks:
            op.plan.expected[dst][key] = nbytes
            op.missing[dst] += 1
        sim.ranks[src].post(op, Write(src, (dst,), chunks))
        sequence += 1


def _operations(sim: Simulation, config: StressConfig, count: int, rng: np.random.Generator, records: list):
    """Simpy process: ``count`` AllGathers back to back, each checked when it completes."""
    s = sim.scenario
    for index in range(count):
        size = int(rng.choice(config.sizes_bytes))
        delays = rng.uniform(0.0, config.start_jitter_us * 1e-6, size=s.ranks).tolist()
        started = sim.env.now
        op = sim.launch(allgather.plan(s.with_(message_bytes=size)), index=index, delays_s=delays)
        yield op.done
        op.check()
        records.append(
            {
                "operation": index,
                "message_bytes": size,
                "start_us": started * 1e6,
                "latency_us": op.latency_s * 1e6,
                "delivered_ok": op.delivered_ok,
            }
        )
        if config.gap_us:
            yield sim.env.timeout(config.gap_us * 1e-6)


def run_segment(job: tuple[Scenario, StressConfig, int]) -> pd.DataFrame:
    """One independent segment of the stress run: its operations, one row each."""
    scenario, config, segment = job
    count = config.operations // config.segments + (1 if segment < config.operations % config.segments else 0)
    sim = Simulation(scenario, track_duplication=False)
    records: list[dict] = []
    ops_rng = np.random.default_rng([config.seed, segment, 1])
    if config.background_load > 0:
        empty = Plan(
            programs=[[] for _ in range(scenario.ranks)], expected=[{} for _ in range(scenario.ranks)], data_bytes=0.0
        )
        background_op = Operation(sim.env, empty, index=-1)
        sim.env.process(_background(sim, config, np.random.default_rng([config.seed, segment, 2]), background_op))
    driver = sim.env.process(_operations(sim, config, count, ops_rng, records))
    sim.run(until=driver)
    if config.background_load > 0 and background_op.error_count:
        background_op.check()
    frame = pd.DataFrame(records)
    frame.insert(0, "segment", segment)
    frame["algorithm"] = scenario.algorithm
    frame["events"] = sim.events
    return frame


def stress(scenario: Scenario, config: StressConfig, executor=None, max_workers: int = 2) -> pd.DataFrame:
    """Every operation of the stress run for ``scenario.algorithm`` (cached)."""
    return stress_together([scenario], config, executor, max_workers)


def stress_together(
    scenarios: list[Scenario], config: StressConfig, executor=None, max_workers: int = 2
) -> pd.DataFrame:
    """The stress runs of several scenarios (one per algorithm), concatenated in order: the segments
    of those not cached yet share one queue, and each scenario's run is cached on its own."""
    for scenario in scenarios:
        if scenario.collective != "allgather":
            raise ValueError("the stress run drives AllGather operations; set collective='allgather'")
    keys = [{"code": code_version(), "scenario": asdict(s), "config": asdict(config)} for s in scenarios]
    missing = list(dict.fromkeys(s for s, key in zip(scenarios, keys) if not cache_path("mw_stress", key).exists()))
    jobs = [(s, config, segment) for s in missing for segment in range(config.segments)]
    what = "stress run, " + ", ".join(s.algorithm for s in missing)
    segments = run_all(run_segment, jobs, executor, max_workers, what=what) if jobs else []
    runs = {s: segments[i * config.segments : (i + 1) * config.segments] for i, s in enumerate(missing)}
    frames = [
        cached_frame("mw_stress", key, lambda s=s: pd.concat(runs[s], ignore_index=True))
        for s, key in zip(scenarios, keys)
    ]
    return pd.concat(frames, ignore_index=True)


def percentiles(frame: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """p50 and p99 latency (us) per algorithm (and any further grouping)."""
    keys = ["algorithm", *(by or [])]
    summary = frame.groupby(keys)["latency_us"].quantile([0.5, 0.99]).unstack()
    summary.columns = ["p50_us", "p99_us"]
    summary["operations"] = frame.groupby(keys).size()
    summary["all_delivered"] = frame.groupby(keys)["delivered_ok"].all()
    return summary.reset_index()


def reductions(
    frame: pd.DataFrame, candidate: str = "multiwrite", quantiles: tuple[float, ...] = (0.5, 0.99)
) -> pd.DataFrame:
    """Reduction of ``candidate`` at each latency quantile vs the best other algorithm, per size and overall.

    The best baseline is chosen separately for each size and quantile (the lowest latency there).
    """
    rows = []
    groups = [("all", frame), *((int(size), part) for size, part in frame.groupby("message_bytes"))]
    for size, part in groups:
        for q in quantiles:
            by_algorithm = part.groupby("algorithm")["latency_us"].quantile(q)
            baselines = by_algorithm.drop(candidate)
            best = baselines.idxmin()
            rows.append(
                {
                    "message_bytes": size,
                    "quantile": f"p{100 * q:g}",
                    "candidate_us": by_algorithm[candidate],
                    "best_baseline": best,
                    "best_baseline_us": baselines[best],
                    "reduction": 1.0 - by_algorithm[candidate] / baselines[best],
                }
            )
    return pd.DataFrame(rows)


def _quantile_reduction(q: float, candidate: np.ndarray, *baselines: np.ndarray) -> float:
    """1 - quantile(candidate) / the lowest quantile among the baselines."""
    return 1.0 - np.quantile(candidate, q) / min(np.quantile(b, q) for b in baselines)


def reduction_intervals(
    frame: pd.DataFrame,
    percentiles: list[float],
    baselines: tuple[str, ...],
    candidate: str = "multiwrite",
    seed: int = 0,
) -> pd.DataFrame:
    """Per message size and percentile: ``candidate``'s reduction against the best baseline there,
    with a 95% bootstrap interval over operations (each algorithm's operations resampled; the best
    baseline is chosen again in every resample), and the reduction against mesh beside it.
    """
    rows = []
    for size, part in frame.groupby("message_bytes"):
        samples = {a: part.loc[part["algorithm"] == a, "latency_us"].to_numpy() for a in (candidate, *baselines)}
        for percentile in percentiles:
            q = percentile / 100
            at_q = {a: float(np.quantile(samples[a], q)) for a in baselines}
            best = min(at_q, key=at_q.get)
            interval = stats.bootstrap_interval(
                lambda c, *b, q=q: _quantile_reduction(q, c, *b),
                samples[candidate],
                *(samples[a] for a in baselines),
                seed=seed,
            )
            candidate_us = float(np.quantile(samples[candidate], q))
            rows.append(
                {
                    "message_bytes": int(size),
                    "percentile": percentile,
                    "operations": len(samples[candidate]),
                    "candidate_us": candidate_us,
                    "best_baseline": best,
                    "best_baseline_us": at_q[best],
                    "reduction": interval.estimate,
                    "reduction_ci_low": interval.low,
                    "reduction_ci_high": interval.high,
                    "mesh_us": at_q.get("mesh", np.nan),
                    "reduction_vs_mesh": 1.0 - candidate_us / at_q["mesh"] if "mesh" in at_q else np.nan,
                }
            )
    return pd.DataFrame(rows)


def cell_label(size: int, percentile: float) -> str:
    """A grid cell's name in verdict reasons, e.g. ``p99 at 64 KiB``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"p{percentile:g} at {size / scale:g} {unit}"
    return f"p{percentile:g} at {size} B"


def _converge(job: tuple[Scenario, int]) -> Grain:
    scenario, max_grain = job
    return simulate_converged(scenario, max_grain=max_grain, runner=simulate_once)[1]


def converged_grain(
    base: Scenario,
    algorithms: list[str],
    sizes: list[int],
    max_grain: int = MAX_GRAIN,
    executor=None,
    max_workers: int = 1,
) -> Grain:
    """One grain for the whole stress run: the finest converged grain (chunks per message) over
    single AllGathers of every algorithm and size on ``base``'s fabric (no background), with the
    largest last-doubling change among them; ``stop`` is ``grain cap`` if any run hit ``max_grain``
    before converging (a departure to name), else ``packet grain`` if any run reached one MTU packet
    per chunk before converging (nothing finer exists; its change is in ``change``), else
    ``converged``. The runs go through ``executor`` or a pool of ``max_workers`` (see
    :func:`companion.multiwrite.sweeps.run_all`)."""
    jobs = [(base.with_(algorithm=a, message_bytes=m), max_grain) for a in algorithms for m in sizes]
    grains = run_all(_converge, jobs, executor, max_workers, what="converging the stress grain")
    changes = [g.change for g in grains if g.change is not None]
    stops = {g.stop for g in grains}
    stop = next(s for s in ("grain cap", "packet grain", "converged") if s in stops)
    return Grain(max(g.chunks_per_message for g in grains), max(changes, default=0.0), stop)


# Scenario fields a stress run sets on purpose (the fabric it runs on and the grain it converged to).
_RUN_FIELDS = {"algorithm", "topology", "ranks", "message_bytes", "chunk_bytes", "max_chunks_per_message", "seed"}


def deviations(base: Scenario, sizes: list[int], algorithms: list[str]) -> list[str]:
    """How a stress run departs from the ASSUMPTIONS scenario (8 ranks per node, sizes up to 1 MiB,
    every unicast baseline, default parameters), one phrase each; empty when it does not."""
    found = []
    if base.node_ranks != 8:
        found.append(f"{base.node_ranks} ranks per node (ASSUMPTIONS: 8 NPUs per server)")
    if max(sizes) < 1 << 20:
        found.append(f"largest size {max(sizes)} B (the grid goes to 1 MiB)")
    missing = [a for a in UNICAST if a not in algorithms]
    if missing:
        found.append(f"baselines without {', '.join(missing)}")
    defaults = Scenario()
    for name, value in asdict(base).items():
        if name not in _RUN_FIELDS and value != getattr(defaults, name) and name != "ranks_per_node":
            found.append(f"{name} = {value} (default {getattr(defaults, name)})")
    return found
