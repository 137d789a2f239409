"""Speed of the MultiWrite simulator: simulated events per second, and the wall time of a 64-rank
leaf/spine AllGather of 1 MiB per rank (target: under 20 s on one core) for every algorithm.

    .venv/bin/python benchmarks/multiwrite_bench.py            # the target case
    .venv/bin/python benchmarks/multiwrite_bench.py --ranks 128 --chunk-bytes 16384 --json

One process, one core: the simulator is single-threaded (sweeps parallelise across scenarios).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from companion.hardware import describe
from companion.multiwrite.scenario import ALGORITHMS, Scenario
from companion.multiwrite.simulation import simulate


def bench(ranks: int, message_bytes: int, chunk_bytes: int, algorithms: list[str], topology: str) -> list[dict]:
    rows = []
    for algorithm in algorithms:
        scenario = Scenario(
            algorithm=algorithm, topology=topology, ranks=ranks, message_bytes=message_bytes, chunk_bytes=chunk_bytes
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        result = simulate(scenario)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rows.append(
            {
                "algorithm": algorithm,
                "ranks": ranks,
                "topology": topology,
                "message_bytes": message_bytes,
                "chunk_bytes": scenario.chunk_bytes_for(message_bytes),
                "events": result.events,
                "wall_s": wall,
                "cpu_s": cpu,
                "events_per_s": result.events / wall,
                "events_per_cpu_s": result.events / cpu,
                "simulated_latency_us": result.latency_us,
                "delivered_ok": result.delivered_ok,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=64)
    parser.add_argument("--message-bytes", type=int, default=1 << 20)
    parser.add_argument("--chunk-bytes", type=int, default=1 << 16)
    parser.add_argument("--topology", default="leafspine")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument("--target-s", type=float, default=20.0, help="wall-time target per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = bench(args.ranks, args.message_bytes, args.chunk_bytes, args.algorithms, args.topology)
    if args.json:
        print(json.dumps({"machine": describe(), "python": platform.python_version(), "runs": rows}, indent=2))
        return
    print(f"machine: {describe()}, Python {platform.python_version()}")
    print(
        f"{args.ranks}-rank {args.topology} AllGather, {args.message_bytes} B per rank, "
        f"chunk {rows[0]['chunk_bytes']} B (fixed grain)"
    )
    print("(cpu s is this process's CPU time: the single-core cost when other work shares the machine)")
    print(f"{'algorithm':<26}{'events':>10}{'wall s':>9}{'cpu s':>8}{'events/cpu s':>14}{'sim latency us':>16}  target")
    for row in rows:
        verdict = "ok" if row["wall_s"] < args.target_s else "MISSED"
        print(
            f"{row['algorithm']:<26}{row['events']:>10}{row['wall_s']:>9.2f}{row['cpu_s']:>8.2f}"
            f"{row['events_per_cpu_s']:>14.0f}{row['simulated_latency_us']:>16.1f}"
            f"  {verdict} (< {args.target_s:g} s wall)"
        )


if __name__ == "__main__":
    main()
