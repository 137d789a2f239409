"""Speed of the flow-level model at cluster scale: a 1024-rank leaf/spine (8 ranks per node,
oversubscription 4) AllGather of 1 MiB per rank for every algorithm, and a 1024-rank MoE dispatch
for every dispatch algorithm (target: each under 60 s on one core).

    .venv/bin/python benchmarks/multiwrite_flow_bench.py                       # the target cases
    .venv/bin/python benchmarks/multiwrite_flow_bench.py --ranks 4096 --limit-s 600
    .venv/bin/python benchmarks/multiwrite_flow_bench.py --path-selection ecmp-hash --ranks 256

Each case runs in its own process with a wall-clock limit; a case over the limit is reported as
such (``timed_out``), not dropped. Memory: the plans hold every write, so AllGather algorithms with
N-1 writes per rank (ring, mesh, hierarchical) need about N^2 write objects (16.8 million at 4096
ranks, more memory than a small machine has); MultiWrite's plans have N or N^2/8 writes. A dispatch
(the CLI's defaults: 128 tokens per rank, top 8 experts, 4 experts per rank) has about 0.63 N mesh writes per
rank at 1024 ranks (663k writes) and 0.22 N at 4096 (3.7M writes), and its expert choice draws
N x tokens x 4N random numbers, so a 4096-rank dispatch takes minutes. Each row gives the case's peak
resident memory (``peak_rss_GB``).
One process per case, pinned to one core (``--all-cores``: not pinned), cases one after another;
CPU seconds are split into building the model (plan, posting, routes, flows), running it, and
the results (traffic statistics and the delivery check).
``--path-selection source`` (the default here) keeps every rank's traffic pattern alike, so the
flow model follows one flow per rate class (see companion.multiwrite.flow); with ``ecmp-hash`` every
flow is its own class and the cost grows with the number of concurrent flows.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import time

from companion.hardware import describe
from companion.multiwrite import flow
from companion.multiwrite.scenario import ALGORITHMS_FOR, Scenario


def _case(scenario: Scenario, queue, one_core: bool) -> None:
    if one_core:  # the cost on one core, whatever else the machine runs
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    started, cpu_started = time.perf_counter(), time.process_time()
    model = flow.Model(scenario)  # plan, posting, routes, flows
    cpu_built = time.process_time()
    finish, events = model.run()
    cpu_ran = time.process_time()
    result = flow.summarize(model, finish, events, check=True, wall_s=time.perf_counter() - started)
    cpu_done = time.process_time()
    queue.put(
        {
            "latency_us": result.latency_us,
            "delivered_ok": result.delivered_ok,
            "flows": result.notes["flows"],
            "rate_class_shift": result.notes["rate_class_shift"],
            "events": result.events,
            "wall_s": time.perf_counter() - started,
            "cpu_s": cpu_done - cpu_started,
            "cpu_build_s": cpu_built - cpu_started,
            "cpu_run_s": cpu_ran - cpu_built,
            "cpu_check_s": cpu_done - cpu_ran,
            "peak_rss_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,  # Linux: kilobytes
        }
    )


def run_case(scenario: Scenario, limit_s: float, one_core: bool = True) -> dict:
    """One scenario in a child process; ``timed_out`` when it runs past ``limit_s``."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_case, args=(scenario, queue, one_core))
    started = time.perf_counter()
    child.start()
    child.join(limit_s)
    row = {
        "collective": scenario.collective,
        "algorithm": scenario.algorithm,
        "ranks": scenario.ranks,
        "path_selection": scenario.path_selection,
    }
    if child.is_alive():
        child.terminate()
        child.join()
        return {**row, "timed_out": True, "wall_s": time.perf_counter() - started}
    if child.exitcode != 0:  # e.g. out of memory: say so instead of waiting for a result
        wall_s = time.perf_counter() - started
        return {**row, "timed_out": False, "failed": f"exit code {child.exitcode}", "wall_s": wall_s}
    return {**row, "timed_out": False, **queue.get()}


def scenarios(ranks: int, path_selection: str, collectives: list[str], algorithms: list[str] | None) -> list[Scenario]:
    base = Scenario(
        topology="leafspine",
        ranks=ranks,
        ranks_per_node=8,
        oversubscription=4.0,
        message_bytes=1 << 20,
        path_selection=path_selection,
        model="flow",
    )
    return [
        base.with_(collective=collective, algorithm=algorithm)
        for collective in collectives
        for algorithm in ALGORITHMS_FOR[collective]
        if not algorithms or algorithm in algorithms
    ]


def _line(row: dict, limit_s: float) -> str:
    name = f"  {row['collective']:9s} {row['algorithm']:24s}"
    if row["timed_out"]:
        return f"{name} over the {limit_s:.0f} s limit"
    if "failed" in row:
        return f"{name} failed ({row['failed']}) after {row['wall_s']:.0f} s"
    return (
        f"{name} {row['wall_s']:7.1f} s wall {row['cpu_s']:7.1f} s cpu (build {row['cpu_build_s']:.1f}, "
        f"run {row['cpu_run_s']:.1f}, results {row['cpu_check_s']:.1f}) "
        f"latency {row['latency_us']:10.1f} us  {row['flows']:8d} flows (shift {row['rate_class_shift']}) "
        f"{row['events']:7d} events  delivery {'ok' if row['delivered_ok'] else 'FAILED'}  "
        f"peak {row['peak_rss_GB']:.1f} GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=1024)
    parser.add_argument("--path-selection", default="source", choices=["source", "ecmp-hash"])
    parser.add_argument("--collective", action="append", choices=sorted(ALGORITHMS_FOR), help="default: both")
    parser.add_argument("--algorithm", action="append", help="default: every algorithm of each collective")
    parser.add_argument("--limit-s", type=float, default=120.0, help="wall-clock limit per case")
    parser.add_argument("--all-cores", action="store_true", help="do not pin each case to one core")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    cases = scenarios(args.ranks, args.path_selection, args.collective or ["allgather", "dispatch"], args.algorithm)
    if not args.json:
        print(f"flow model, {args.ranks}-rank leaf/spine, path selection {args.path_selection} ({describe()})")
    rows = []
    for scenario in cases:
        rows.append(run_case(scenario, args.limit_s, one_core=not args.all_cores))
        if not args.json:
            print(_line(rows[-1], args.limit_s), flush=True)
    if args.json:
        print(json.dumps({"machine": describe(), "python": platform.python_version(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
