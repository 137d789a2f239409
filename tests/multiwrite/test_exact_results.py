"""The packet model's results, to the last bit: a speed-up must not move a single event.

``exact_results.json`` holds, for a few scenarios covering every server kind (links with and
without credits, engines duplex and shared, finite-rate replication, group tables that fill up),
the exact latency, per-rank completion times, event count and per-link/engine statistics, as
produced before the event-loop optimisations of issue 10 (item 5). Regenerate it only for a change
meant to alter results: ``python tests/multiwrite/test_exact_results.py``.
"""

import json
import sys
from pathlib import Path

import pytest

from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

GOLDEN = Path(__file__).with_name("exact_results.json")
BASE = dict(ranks=8, ranks_per_node=4, message_bytes=100_000, tokens_per_rank=8, chunk_bytes=8192)
CASES = {
    "ring star": Scenario(**BASE, algorithm="ring"),
    "mesh leafspine credits": Scenario(**BASE, algorithm="mesh", topology="leafspine", buffer_bytes=30_000),
    "hierarchical leafspine R=2": Scenario(
        **BASE, algorithm="hierarchical", topology="leafspine", oversubscription=2.0
    ),
    "multiwrite leafspine replication": Scenario(
        **BASE, algorithm="multiwrite", topology="leafspine", switch_replication_GBps=30.0, replication_latency_ns=50.0
    ),
    "multiwrite fullmesh shared engine": Scenario(**BASE, algorithm="multiwrite", topology="fullmesh", engine="shared"),
    "hierarchical-multiwrite leafspine credits": Scenario(
        **BASE, algorithm="hierarchical-multiwrite", topology="leafspine", buffer_bytes=30_000
    ),
    "group-multicast star small table": Scenario(**BASE, algorithm="group-multicast", group_table_entries=3),
    "dispatch multiwrite leafspine skewed ecmp": Scenario(
        **BASE,
        collective="dispatch",
        algorithm="multiwrite",
        topology="leafspine",
        routing="skewed",
        path_selection="ecmp-hash",
        top_k=4,
    ),
    "dispatch mesh star no issue cost": Scenario(
        **BASE, collective="dispatch", algorithm="mesh", issue_overhead_ns=0.0, top_k=4
    ),
}


def exact(scenario: Scenario) -> dict:
    result = simulate(scenario)
    return {
        "latency_s": result.latency_s,
        "rank_completion_s": result.rank_completion_s,
        "events": result.events,
        "writes_posted": result.writes_posted,
        "links": result.links[["bytes", "payload_bytes", "packets", "max_queue_bytes", "max_duplication", "busy_s"]]
        .astype(float)
        .to_dict("list"),
        "engines": result.engines[["busy_s", "max_queue_bytes"]].astype(float).to_dict("list"),
    }


@pytest.mark.parametrize("name", list(CASES))
def test_results_are_bit_for_bit_the_golden_ones(name):
    golden = json.loads(GOLDEN.read_text())[name]
    assert exact(CASES[name]) == golden  # JSON keeps every float exactly (shortest round-trip repr)


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({name: exact(s) for name, s in CASES.items()}, indent=1) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
