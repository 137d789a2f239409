"""Management-plane churn: many dispatch operations in a row, each with fresh routing, on one fabric.

Every operation routes its tokens anew (seed + operation index), so group-table multicast keeps
meeting destination sets it has no group for: it creates groups (serial control-plane round
trips), fills the switch tables, then falls back to unicast. MultiWrite runs the same operations
with no state at all. One row per operation.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from companion.cache import cached_frame
from companion.multiwrite import dispatch
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import Simulation
from companion.multiwrite.sweeps import code_version, run_all


def churn(scenario: Scenario, operations: int) -> pd.DataFrame:
    """Run ``operations`` dispatches back to back; per operation: latency and group-table state."""
    if scenario.collective != "dispatch":
        raise ValueError("churn runs MoE dispatch operations; set collective='dispatch'")
    if operations < 1:
        raise ValueError(f"operations must be >= 1, got {operations}")
    sim = Simulation(scenario, track_duplication=False)
    rows, seen_sets = [], set()
    for index in range(operations):
        step = scenario.with_(seed=scenario.seed + index)
        plan = dispatch.plan(step)
        seen_sets |= {(r, dests) for r, sets in enumerate(dispatch.destination_sets(step)) for dests in sets if dests}
        setups_before, fallbacks_before = sim.groups.setups, sim.groups.fallbacks
        op = sim.launch(plan, index=index)
        sim.run(until=op.done)
        op.check()
        rows.append(
            {
                "operation": index,
                "algorithm": scenario.algorithm,
                "top_k": scenario.top_k,
                "group_table_entries": scenario.group_table_entries,
                "group_setup_us": scenario.group_setup_us,
                "latency_us": op.latency_s * 1e6,
                "delivered_ok": op.delivered_ok,
                "distinct_sets_so_far": len(seen_sets),
                "new_groups": sim.groups.setups - setups_before,
                "fallbacks": sim.groups.fallbacks - fallbacks_before,
                "table_entries_used": sim.groups.max_entries,
                "writes_posted": sum(r.writes_posted for r in sim.ranks),
            }
        )
    return pd.DataFrame(rows)


def _churn_job(job: tuple[Scenario, int]) -> pd.DataFrame:
    return churn(*job)


def churn_sweep(scenarios: list[Scenario], operations: int, executor=None, max_workers: int = 2) -> pd.DataFrame:
    """:func:`churn` for each scenario, concatenated and cached."""
    key = {"code": code_version(), "operations": operations, "scenarios": [asdict(s) for s in scenarios]}
    jobs = [(s, operations) for s in scenarios]
    return cached_frame(
        "mw_churn",
        key,
        lambda: pd.concat(
            run_all(_churn_job, jobs, executor, max_workers, what="back-to-back dispatches"), ignore_index=True
        ),
    )


# What each scheme is, from its specification (not measured): the side-by-side of mw.compat. The
# "paper abstract" column holds only what the abstract says; how the companion models MultiWrite
# (e.g. a destination bitmap in the header) is an assumption and sits in the last column.
SEMANTICS = pd.DataFrame(
    [
        (
            "transport",
            "unreliable datagram (InfiniBand multicast exists only on UD; IP multicast over UDP)",
            "keeps the write semantic of existing collectives",
            "a reliable one-sided write, as the unicast writes it replaces; every run passes the exact-delivery check",
        ),
        (
            "operation",
            "send / receive of datagrams <= MTU; the receiver posts buffers",
            "a many-to-many write: each packet sent once, the network replicates it",
            "one write to a destination set, replicated at the branches of a tree",
        ),
        (
            "API",
            "separate: create/join a group (IB: SA MCMemberRecord; IP: IGMP join), attach QPs",
            "fits existing collectives (separate multicast APIs named as the problem)",
            "a drop-in algorithm choice: --algorithm multiwrite",
        ),
        (
            "switch state",
            "one table entry per group on every switch of its tree",
            "avoids multicast's management-plane overhead (the mechanism is not in the abstract)",
            "assumed: no switch state, the destination set travels in each packet header",
        ),
        (
            "setup",
            "control-plane round trip per new group",
            "avoids group creation/join (the mechanism is not in the abstract)",
            "none for MultiWrite; group multicast: a serial controller, group_setup_us per group (assumed)",
        ),
        (
            "header",
            "group address",
            "not stated in the abstract",
            "assumed: a destination bitmap of bitmap_bits_per_rank x N bits per packet",
        ),
    ],
    columns=[
        "property",
        "traditional multicast (specification)",
        "MultiWrite (paper abstract)",
        "how the simulator models it (assumptions)",
    ],
)
