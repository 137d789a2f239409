"""What one simulated collective returns, and its JSON form (the command line's ``--json``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class RunResult:
    """Operator latency, per-rank completion, per-link traffic and NCCL-tests bandwidths.

    ``links`` has one row per directed link: ``link`` ("src->dst"), ``bytes`` (on the wire,
    headers included), ``payload_bytes``, ``packets``, ``max_queue_bytes`` (largest backlog
    waiting behind the chunk in service) and ``max_duplication`` (most times one payload byte
    crossed this link). algbw = S / t with S the gathered (AllGather) or mean received
    (dispatch) bytes per rank; busbw = algbw (N-1)/N (NCCL-tests, doc/PERFORMANCE.md).
    """

    scenario: dict[str, Any]
    latency_s: float
    rank_completion_s: list[float]
    links: pd.DataFrame
    engines: pd.DataFrame
    max_link_duplication: int
    algbw_GBps: float
    busbw_GBps: float
    delivered_ok: bool
    events: int
    wall_s: float
    writes_posted: int
    group_setups: int = 0
    group_fallbacks: int = 0
    group_table_max_entries: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    grain: int | None = None  # chunks per (largest) message, set by convergence.simulate_converged
    grain_change: float | None = None  # relative latency change at the last grain doubling
    grain_stop: str = ""  # why refinement stopped: converged, packet grain, grain cap

    @property
    def latency_us(self) -> float:
        return self.latency_s * 1e6

    @property
    def total_link_bytes(self) -> int:
        return int(self.links["bytes"].sum())

    def to_json(self) -> dict[str, Any]:
        by_link = self.links.set_index("link")
        return {
            "latency_us": self.latency_us,
            "algbw_GBps": self.algbw_GBps,
            "busbw_GBps": self.busbw_GBps,
            "delivered_ok": self.delivered_ok,
            "max_link_duplication": self.max_link_duplication,
            "events": self.events,
            "wall_s": self.wall_s,
            "events_per_s": self.events / self.wall_s if self.wall_s > 0 else None,
            "writes_posted": self.writes_posted,
            "grain": self.grain,
            "grain_change": self.grain_change,
            "grain_stop": self.grain_stop,
            "group_setups": self.group_setups,
            "group_fallbacks": self.group_fallbacks,
            "group_table_max_entries": self.group_table_max_entries,
            "rank_completion_us": [t * 1e6 for t in self.rank_completion_s],
            "link_bytes": {k: int(v) for k, v in by_link["bytes"].items()},
            "link_payload_bytes": {k: int(v) for k, v in by_link["payload_bytes"].items()},
            "link_packets": {k: int(v) for k, v in by_link["packets"].items()},
            "link_max_queue_bytes": {k: int(v) for k, v in by_link["max_queue_bytes"].items()},
            "link_max_duplication": {k: int(v) for k, v in by_link["max_duplication"].items()},
            "scenario": {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in self.scenario.items()},
            "notes": self.notes,
        }


def summarize(sim, op, wall_s: float) -> RunResult:
    """Collect a finished :class:`~companion.multiwrite.simulation.Simulation`'s single operation."""
    s = sim.scenario
    links = pd.DataFrame(
        [
            {
                "link": link.name,
                "src": link.src,
                "dst": link.dst,
                "bandwidth_GBps": link.bandwidth_Bps / 1e9,
                "bytes": link.bytes,
                "payload_bytes": link.payload_bytes,
                "packets": link.packets,
                "max_queue_bytes": link.max_queue_bytes,
                "max_duplication": link.max_duplication,
                "busy_s": link.busy_s,
            }
            for link in sim.fabric.links.values()
        ]
    )
    engines = pd.DataFrame(
        [{"engine": e.name, "busy_s": e.busy_s, "max_queue_bytes": e.max_queue_bytes} for e in sim.fabric.engines()]
        + [
            {"engine": r.name, "busy_s": r.busy_s, "max_queue_bytes": r.max_queue_bytes}
            for r in sim.fabric.replicators.values()
        ]
    )
    latency = op.latency_s if op.delivered_ok else math.nan
    algbw = op.plan.data_bytes / latency / 1e9 if latency > 0 else math.nan
    return RunResult(
        scenario=s.as_dict(),
        latency_s=latency,
        rank_completion_s=[math.nan if t is None else t - op.first_issue_s for t in op.completion_s],
        links=links,
        engines=engines,
        max_link_duplication=int(links["max_duplication"].max()),
        algbw_GBps=algbw,
        busbw_GBps=algbw * (s.ranks - 1) / s.ranks,
        delivered_ok=op.delivered_ok,
        events=sim.events,
        wall_s=wall_s,
        writes_posted=sum(r.writes_posted for r in sim.ranks),
        group_setups=sim.groups.setups,
        group_fallbacks=sim.groups.fallbacks,
        group_table_max_entries=sim.groups.max_entries,
        notes=dict(op.plan.notes),
    )
