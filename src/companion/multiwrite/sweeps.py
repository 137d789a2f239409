"""Sweeps of independent scenarios: run through any ``concurrent.futures.Executor``, cached as CSV.

    frame = sweep(grid(base, algorithm=["mesh", "multiwrite"], message_bytes=[1024, 1 << 20]))

Each scenario becomes one row (:func:`measure`): its parameters, the simulator's measurements
and the analytic prediction. The whole frame is cached by :func:`companion.cache.cached_frame`
under a key naming every scenario and a hash of this package's source, so a figure tweak never
re-simulates and a model change always does. By default the scenarios run in a local process
pool of ``max_workers``; pass any Executor to run them elsewhere, e.g. a Dask cluster's through
:func:`executor_for` (a notebook's ``scheduler`` parameter).

Below the sweeps, every packet-model run (one scenario at one grain) is kept on disk as well
(:func:`simulate_once`): notebooks share runs (a grain ladder's steps, the same default scenario
in two studies, a sensitivity variant equal to the default), and each is simulated once. A
scenario listed twice in one sweep is measured once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import pandas as pd

from companion import progress
from companion.cache import cache_path, cached_frame, cached_object
from companion.hashing import sha256_files
from companion.multiwrite import analytic, flow
from companion.multiwrite.convergence import MAX_GRAIN, at_grain, simulate_converged
from companion.multiwrite.result import RunResult
from companion.multiwrite.scenario import ALGORITHMS, ALGORITHMS_FOR, MULTICAST_ALGORITHMS, Scenario
from companion.multiwrite.simulation import simulate

UNICAST = ("ring", "mesh", "hierarchical")
PROGRESS_MIN_ITEMS = 4  # smaller batches finish before a progress line would say anything
MULTICAST = MULTICAST_ALGORITHMS


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the simulator's source files: part of every cache key."""
    package = Path(__file__).resolve().parent
    return sha256_files(package.glob("*.py"), package)[:16]


def simulate_once(scenario: Scenario) -> RunResult:
    """``simulate(scenario)``, computed once per scenario and code version and kept on disk
    (``build/cache/mw_runs/``, pickled: the result comes back bit for bit, its ``wall_s`` that of
    the run that computed it)."""
    return cached_object("mw_runs", {"code": code_version(), "scenario": asdict(scenario)}, partial(simulate, scenario))


def grid(base: Scenario, **axes: Iterable[Any]) -> list[Scenario]:
    """Every combination of the given field values applied to ``base`` (validated)."""
    names = list(axes)
    return [base.with_(**dict(zip(names, values))) for values in itertools.product(*(list(axes[n]) for n in names))]


def measure(scenario: Scenario, converge: bool = True, max_grain: int = MAX_GRAIN) -> dict[str, Any]:
    """One row: the scenario's fields, the simulator's results (at a converged grain, see
    :mod:`companion.multiwrite.convergence`; ``converge=False``: the scenario's own grain) and the
    analytic model's prediction at the grain used."""
    if scenario.model == "flow":  # fluid flows: no grain to converge; the analytic model is not run at scale
        result, used, converge = flow.simulate(scenario), scenario, False
    elif converge:
        result, grain = simulate_converged(scenario, max_grain=max_grain, runner=simulate_once)
        used = at_grain(scenario, grain.chunks_per_message)
    else:
        result, used = simulate_once(scenario), scenario
    prediction = analytic.predict(used) if scenario.model == "packet" else None
    links = result.links
    return {
        **asdict(scenario),
        "latency_us": result.latency_us,
        "analytic_latency_us": prediction.latency_us if prediction else math.nan,
        "analytic_bottleneck": prediction.bottleneck if prediction else "",
        "analytic_fill_us": prediction.fill_s * 1e6 if prediction else math.nan,
        "algbw_GBps": result.algbw_GBps,
        "busbw_GBps": result.busbw_GBps,
        "max_link_duplication": result.max_link_duplication,
        "total_link_bytes": int(links["bytes"].sum()),
        "total_link_payload_bytes": int(links["payload_bytes"].sum()),
        "max_link_bytes": int(links["bytes"].max()),
        "max_queue_bytes": int(links["max_queue_bytes"].max()),
        "p99_completion_us": float(pd.Series(result.rank_completion_s).quantile(0.99) * 1e6),
        "writes_posted": result.writes_posted,
        "grain": result.grain if converge else used.max_chunks_per_message,
        "grain_change": result.grain_change if converge and result.grain_change is not None else math.nan,
        "grain_stop": result.grain_stop if converge else ("flow model" if scenario.model == "flow" else "fixed"),
        "group_setups": result.group_setups,
        "group_fallbacks": result.group_fallbacks,
        "group_table_max_entries": result.group_table_max_entries,
        "delivered_ok": result.delivered_ok,
        "events": result.events,
        "wall_s": result.wall_s,
    }


def run_all(
    function: Callable, items: list, executor: Executor | None = None, max_workers: int = 2, what: str = ""
) -> list:
    """``[function(item) for item in items]``, through ``executor`` or a process pool (inline for 1 worker).

    ``what`` names the work for progress reports (:mod:`companion.progress`: a few lines in the
    notebook and the runner's heartbeat); empty: silent.
    """
    if executor is not None:
        return _collect(executor.map(function, items), len(items), what)
    if max_workers <= 1 or len(items) <= 1:
        return _collect(map(function, items), len(items), what)
    with ProcessPoolExecutor(max_workers=max_workers) as pool:
        return _collect(pool.map(function, items, chunksize=1), len(items), what)


def _collect(results: Iterable, total: int, what: str) -> list:
    if not what or total < PROGRESS_MIN_ITEMS:
        return list(results)
    done = []
    with progress.track(what, total=total, unit="run", lines=3) as bar:
        for result in results:
            done.append(result)
            bar.update(len(done))
    return done


@contextmanager
def executor_for(scheduler: str = "") -> Iterator[Executor | None]:
    """Where sweeps run: ``""`` -> None (a local process pool); else a Dask scheduler's address
    (e.g. ``tcp://host:8786``), whose workers run the scenarios (``pip install -e '.[dask]'``)."""
    if not scheduler:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as error:
        raise ImportError(f"scheduler={scheduler!r} needs dask.distributed: pip install -e '.[dask]'") from error
    with Client(scheduler) as client:
        yield client.get_executor(pure=False)


def sweep(
    scenarios: list[Scenario],
    name: str = "mw_sweep",
    executor: Executor | None = None,
    max_workers: int = 2,
    converge: bool = True,
    max_grain: int = MAX_GRAIN,
) -> pd.DataFrame:
    """One row per scenario (see :func:`measure`; ``converge=False`` keeps each scenario's own
    grain, for grain studies; ``max_grain`` caps the refinement, e.g. in the smoke profile), computed
    once and cached."""
    return sweep_together([(name, scenarios)], executor, max_workers, converge, max_grain)[0]


def sweep_together(
    studies: list[tuple[str, list[Scenario]]],
    executor: Executor | None = None,
    max_workers: int = 2,
    converge: bool = True,
    max_grain: int = MAX_GRAIN,
) -> list[pd.DataFrame]:
    """Several sweeps, ``(name, scenarios)`` each, as one: the scenarios of those not cached yet share
    one queue (each distinct scenario once, slow ones first, so that no worker idles while another
    finishes a study's tail), and each frame is cached and returned exactly as :func:`sweep` gives it."""
    for name, scenarios in studies:
        if not scenarios:
            raise ValueError(f"sweep {name!r}: no scenarios given")
    keys = [_sweep_key(scenarios, converge, max_grain) for _, scenarios in studies]
    missing = [(name, scenarios) for (name, scenarios), key in zip(studies, keys) if not cache_path(name, key).exists()]
    distinct = sorted(dict.fromkeys(s for _, scenarios in missing for s in scenarios), key=lambda s: -_cost(s))
    rows: dict[Scenario, dict] = {}
    if distinct:
        job = partial(measure, converge=converge, max_grain=max_grain)
        what = "simulating " + ", ".join(dict.fromkeys(name for name, _ in missing))
        rows = dict(zip(distinct, run_all(job, distinct, executor, max_workers, what=what)))
    return [
        cached_frame(name, key, lambda scenarios=scenarios: pd.DataFrame([rows[s] for s in scenarios]))
        for (name, scenarios), key in zip(studies, keys)
    ]


def _sweep_key(scenarios: list[Scenario], converge: bool, max_grain: int) -> dict[str, Any]:
    key = {"code": code_version(), "converge": converge, "scenarios": [asdict(s) for s in scenarios]}
    if max_grain != MAX_GRAIN:
        key["max_grain"] = max_grain
    return key


def _cost(s: Scenario) -> float:
    """Rough number of chunk moves, to schedule big scenarios first."""
    if s.collective == "dispatch":
        return s.ranks * s.tokens_per_rank * min(s.top_k, s.ranks)
    chunks = math.ceil(s.message_bytes / s.chunk_bytes_for(s.message_bytes))
    return s.ranks * (s.ranks - 1) * chunks


def reduction(
    frame: pd.DataFrame, by: list[str], candidate: str = "multiwrite", baselines: Iterable[str] = UNICAST
) -> pd.DataFrame:
    """Latency reduction of ``candidate`` against the best (lowest-latency) baseline, per group.

    Returns one row per group with ``best_baseline``, both latencies and
    ``reduction = 1 - candidate / best`` (negative: the candidate loses).
    """
    baselines = list(baselines)
    rows = []
    for keys, group in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        ours = group[group["algorithm"] == candidate]
        theirs = group[group["algorithm"].isin(baselines)]
        if ours.empty or theirs.empty:
            continue
        best = theirs.loc[theirs["latency_us"].idxmin()]
        mesh = theirs[theirs["algorithm"] == "mesh"]
        ours_us = float(ours["latency_us"].iloc[0])
        row = dict(zip(by, keys))
        row.update(
            candidate=candidate,
            latency_us=ours_us,
            best_baseline=best["algorithm"],
            best_baseline_latency_us=float(best["latency_us"]),
            reduction=1.0 - ours_us / float(best["latency_us"]),
            reduction_vs_mesh=(1.0 - ours_us / float(mesh["latency_us"].iloc[0])) if not mesh.empty else math.nan,
        )
        if "grain_change" in group:  # the residual grain error of both runs (see convergence.grain_band)
            row.update(grain_change=float(ours["grain_change"].iloc[0]), best_grain_change=float(best["grain_change"]))
        rows.append(row)
    return pd.DataFrame(rows)


def link_class(src: str, dst: str) -> str:
    """A link's role: rank uplink, rank downlink, leaf->spine, spine->leaf or rank->rank (full mesh)."""

    def role(node: str) -> str:
        return "rank" if node.startswith("r") else node.rstrip("0123456789")

    return f"{role(src)}->{role(dst)}"


def measure_links(scenario: Scenario) -> pd.DataFrame:
    """Per-link traffic of one run, with the scenario's algorithm and topology. Byte and copy
    counts do not depend on the simulation grain, so the scenario's own grain is used."""
    result = simulate(scenario)
    links = result.links.copy()
    links["delivered_ok"] = result.delivered_ok
    links.insert(0, "algorithm", scenario.algorithm)
    links.insert(1, "topology", scenario.topology)
    links.insert(2, "collective", scenario.collective)
    links["link_class"] = [link_class(a, b) for a, b in zip(links["src"], links["dst"])]
    return links


def link_sweep(
    scenarios: list[Scenario], name: str = "mw_links", executor: Executor | None = None, max_workers: int = 2
) -> pd.DataFrame:
    """Per-link rows of every scenario (see :func:`measure_links`), cached."""
    key = {"code": code_version(), "scenarios": [asdict(s) for s in scenarios]}
    return cached_frame(
        name,
        key,
        lambda: pd.concat(
            run_all(measure_links, scenarios, executor, max_workers, what=f"simulating {name}"), ignore_index=True
        ),
    )


def fabric_label(frame: pd.DataFrame) -> pd.Series:
    """``star``, ``fullmesh`` or ``leafspine R=<oversubscription>``, one per row."""
    return pd.Series(
        [f"{t} R={r:g}" if t == "leafspine" else t for t, r in zip(frame["topology"], frame["oversubscription"])],
        index=frame.index,
    )


def flow_validation_cases(max_ranks: int = 128) -> list[Scenario]:
    """Packet-vs-flow model cases: every algorithm, star and leaf/spine (R=2; source path selection and,
    for two, ECMP hashing), 8-128 ranks, 64 KiB-4 MiB per rank for AllGather and 32-token dispatches;
    cases above ``max_ranks`` ranks are left out."""
    leafspine = dict(topology="leafspine", oversubscription=2.0)
    star = dict(topology="star")
    cases = [Scenario(algorithm=a, ranks=16, message_bytes=1 << 20, **f) for f in (star, leafspine) for a in ALGORITHMS]
    cases += [
        Scenario(algorithm=a, ranks=32, message_bytes=m, **leafspine)
        for a in ("mesh", "multiwrite")
        for m in (1 << 16, 1 << 22)
    ]
    cases += [Scenario(algorithm=a, ranks=128, message_bytes=1 << 16, **leafspine) for a in ("ring", "multiwrite")]
    cases += [Scenario(algorithm="group-multicast", ranks=8, message_bytes=1 << 16, **star)]
    cases += [
        Scenario(algorithm=a, ranks=32, message_bytes=1 << 20, path_selection="ecmp-hash", **leafspine)
        for a in ("mesh", "multiwrite")
    ]
    cases += [
        Scenario(collective="dispatch", algorithm=a, ranks=32, tokens_per_rank=32, **f)
        for f in (star, leafspine)
        for a in ALGORITHMS_FOR["dispatch"]
    ]
    return [c for c in cases if c.ranks <= max_ranks]


def model_agreement(packet: pd.DataFrame, fluid: pd.DataFrame) -> pd.DataFrame:
    """Packet and flow model latencies side by side (rows in the same order), with the relative
    difference and the share of the packet latency that is pipeline fill (the analytic fill term)."""
    columns = ["collective", "algorithm", "topology", "ranks", "message_bytes", "tokens_per_rank"]
    frame = packet[columns].copy()
    frame["packet_latency_us"] = packet["latency_us"].to_numpy()
    frame["flow_latency_us"] = fluid["latency_us"].to_numpy()
    frame["difference"] = frame["flow_latency_us"] / frame["packet_latency_us"] - 1
    frame["fill_share"] = packet["analytic_fill_us"].to_numpy() / frame["packet_latency_us"]
    frame["packet_grain"] = packet["grain"].to_numpy()
    frame["packet_wall_s"] = packet["wall_s"].to_numpy()
    frame["flow_wall_s"] = fluid["wall_s"].to_numpy()
    return frame
