"""Analytic alpha-beta model of every algorithm on every topology: no events, no queues.

The beta (bandwidth) term counts, from the algorithm's writes and the routes they take, the bytes
every resource must move -- each directed link, each rank engine (send, receive, or both when
shared), each switch's replication engine -- and takes the slowest, ``load / bandwidth``
(NCCL's ``bytes / bandwidth`` per algorithm; ASTRA-sim's analytical backend without its queues).
The alpha terms are closed forms:

- ``fill``: one chunk's store-and-forward through every stage of the longest path, plus every
  latency on it, minus the bottleneck's own time for that chunk (pipeline fill and drain);
- ``issue``: a rank posts its n writes ``issue_overhead`` apart, so the last one starts at n*o;
- ``chain``: algorithms that forward received data (ring, hierarchical) wait for it: N-2 ring hops
  of one chunk before the last block can flow (ring), or the inter-node hop (hierarchical);
- ``setup``: group-table multicast creates its groups one after another at the controller.

The latency is the largest of ``o + beta + fill``, ``issue``, ``chain`` and ``setup``. Where the
schedule is contention-free (direct AllGather or a ring on a star, MultiWrite on a star, all with
the default balanced ECMP) this is exact and the simulator agrees within 2% (tests); elsewhere it
is the bound the simulator's queueing can only exceed. :func:`closed_form_allgather_beta` gives
the beta term of AllGather in closed form, as an independent check of the counting.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from companion.multiwrite.collectives import plan_for
from companion.multiwrite.operation import Plan, Write
from companion.multiwrite.scenario import MULTICAST_ALGORITHMS, Scenario
from companion.multiwrite.topology import Topology, build, rank_node


@dataclass
class Prediction:
    """The analytic latency and its terms (seconds); ``bottleneck`` names the slowest resource."""

    latency_s: float
    beta_s: float
    fill_s: float
    issue_s: float
    chain_s: float
    setup_s: float
    bottleneck: str
    loads_bytes: dict[str, float] = field(default_factory=dict)

    @property
    def latency_us(self) -> float:
        return self.latency_s * 1e6


def _wire(s: Scenario, write: Write, kind: str) -> int:
    header = s.multicast_header_bytes if kind == "multiwrite" else s.header_bytes
    return sum(p + math.ceil(p / s.mtu_bytes) * header for p in (sum(n for _, n in c) for c in write.chunks))


def _tree(topology: Topology, write: Write, multicast: bool) -> dict[str, tuple[str, ...]]:
    if multicast:
        return topology.multicast_tree(write.src, write.dests)
    path = topology.unicast_path(write.src, write.dests[0])
    return {a: (b,) for a, b in zip(path, path[1:])}


class _Loads:
    """Bytes per resource and each resource's bandwidth."""

    def __init__(self, s: Scenario, topology: Topology):
        self.s = s
        self.topology = topology
        self.bytes: dict[str, float] = defaultdict(float)
        self.bandwidth: dict[str, float] = {}
        self.replicating = math.isfinite(s.switch_replication_GBps)

    def add(self, name: str, nbytes: float, bandwidth_Bps: float) -> None:
        self.bytes[name] += nbytes
        self.bandwidth[name] = bandwidth_Bps

    def engine(self, rank: int, direction: str) -> str:
        return f"r{rank}.engine" if self.s.engine == "shared" else f"r{rank}.{direction}"

    def add_write(self, write: Write, kind: str) -> None:
        s, graph = self.s, self.topology.graph
        wire = _wire(s, write, kind)
        multicast = kind != "unicast"
        self.add(self.engine(write.src, "send"), wire, s.engine_Bps)
        for dst in write.dests:
            self.add(self.engine(dst, "receive"), wire, s.engine_Bps)
        for node, children in _tree(self.topology, write, multicast).items():
            for child in children:
                self.add(f"{node}->{child}", wire, graph.edges[node, child]["bandwidth_Bps"])
            if self.replicating and len(children) > 1 and node in self.topology.switches:
                self.add(f"{node}.replicate", wire * len(children), s.switch_replication_GBps * 1e9)

    def slowest(self) -> tuple[str, float]:
        name = max(self.bytes, key=lambda n: (self.bytes[n] / self.bandwidth[n], n))
        return name, self.bytes[name] / self.bandwidth[name]


def _stages(s: Scenario, topology: Topology, src: int, dst: int, multicast: bool) -> list[tuple[float, float]]:
    """(bandwidth_Bps, latency_s) of each server from ``src``'s engine to ``dst``'s engine."""
    path = topology.unicast_path(src, dst)
    stages = [(s.engine_Bps, 0.0)]
    for a, b in zip(path, path[1:]):
        edge = topology.graph.edges[a, b]
        extra = s.replication_latency_ns * 1e-9 if multicast and a in topology.switches else 0.0
        stages.append((edge["bandwidth_Bps"], edge["latency_s"] + extra))
    stages.append((s.engine_Bps, 0.0))
    return stages


def _through(stages: list[tuple[float, float]], chunk_wire: float) -> float:
    """Time for one chunk to cross every stage, store-and-forward, latencies included."""
    return sum(chunk_wire / bw + lat for bw, lat in stages)


def _farthest_pair(s: Scenario) -> tuple[int, int]:
    """A source and destination with the longest path (another node when there is one)."""
    return (0, s.ranks - 1) if s.topology == "leafspine" else (0, 1)


def _group_installs(s: Scenario, topology: Topology, plan: Plan) -> tuple[int, set[tuple]]:
    """How many groups the run creates and which (src, dests) fall back (tables fill in program order)."""
    entries: dict[str, int] = defaultdict(int)
    installed, fallback = set(), set()
    for writes in plan.programs:
        for write in writes:
            key = (write.src, write.dests)
            if write.kind != "group" or key in installed or key in fallback:
                continue
            tree = topology.multicast_tree(write.src, write.dests)
            nodes = [n for n in tree if n in topology.switches] or [rank_node(write.src)]
            if any(entries[n] >= s.group_table_entries for n in nodes):
                fallback.add(key)
                continue
            for n in nodes:
                entries[n] += 1
            installed.add(key)
    return len(installed), fallback


def predict(s: Scenario, plan: Plan | None = None) -> Prediction:
    """Analytic latency of the scenario's collective (see the module docstring for the terms)."""
    plan = plan or plan_for(s)
    topology = build(s)
    o = s.issue_overhead_ns * 1e-9
    setups, fallback = _group_installs(s, topology, plan)
    loads = _Loads(s, topology)
    writes_per_rank, last_write_wire = [], 0.0
    for writes in plan.programs:
        count = 0
        for write in writes:
            if write.kind == "group" and (write.src, write.dests) in fallback:
                for dst in write.dests:
                    loads.add_write(Write(write.src, (dst,), write.chunks), "unicast")
                count += len(write.dests)
            else:
                loads.add_write(write, write.kind)
                count += 1
        writes_per_rank.append(count)
        if writes:
            last_write_wire = max(last_write_wire, _wire(s, writes[-1], writes[-1].kind))
    bottleneck, beta = loads.slowest()

    multicast = s.algorithm in MULTICAST_ALGORITHMS
    chunk_payload = min(s.chunk_bytes_for(s.largest_write_bytes), s.largest_write_bytes)
    chunk_wire = s.wire_bytes(chunk_payload, multicast=s.uses_bitmap)
    src, dst = _farthest_pair(s)
    stages = _stages(s, topology, src, dst, multicast)
    through = _through(stages, chunk_wire)
    fill = through - chunk_wire / loads.bandwidth[bottleneck]  # the bottleneck's own chunk is in beta
    slowest_stage = min(bw for bw, _ in stages)

    issue = max(writes_per_rank, default=0) * o + last_write_wire / slowest_stage + fill
    chain = 0.0
    if s.collective == "allgather" and s.algorithm == "ring":
        # The last block to arrive crosses N-1 consecutive ring hops, one chunk at a time, then streams.
        hops = [_through(_stages(s, topology, r, (r + 1) % s.ranks, False), chunk_wire) for r in range(s.ranks)]
        block_wire = s.wire_bytes(s.message_bytes)
        chain = o + sum(hops) - min(hops) + (block_wire - chunk_wire) / slowest_stage
    elif s.collective == "allgather" and s.algorithm.startswith("hierarchical") and s.nodes > 1 and s.node_ranks > 1:
        block_wire = s.wire_bytes(s.message_bytes, multicast=s.uses_bitmap)
        chain = o + through + block_wire / slowest_stage + fill
    setup = o + setups * s.group_setup_us * 1e-6 + (last_write_wire / slowest_stage + fill if setups else 0.0)
    bandwidth_bound = o + beta + fill
    latency = max(bandwidth_bound, issue, chain, setup)
    return Prediction(
        latency_s=latency,
        beta_s=beta,
        fill_s=fill,
        issue_s=issue,
        chain_s=chain,
        setup_s=setup,
        bottleneck=bottleneck,
        loads_bytes=dict(loads.bytes),
    )


def closed_form_allgather_beta(s: Scenario) -> float:
    """AllGather's bandwidth term in closed form (seconds), for the balanced default ECMP.

    With W the wire bytes of one block (unicast or MultiWrite header), B the rank link, E the
    engine, U = G B / R the leaf's uplink capacity over its S spine links, N ranks in M nodes of G,
    and no replication limit, the busiest resource moves:

    ============================  ================================  ===============================
    algorithm                     rank link and engine               leaf uplinks (leaf-spine)
    ============================  ================================  ===============================
    ring                          (N-1) W out, (N-1) W in            (N-1) W on one link of U / S
    mesh                          (N-1) W out, (N-1) W in            G (N-G) W over U
    multiwrite, group-multicast   W out, (N-1) W in                  G W up, (N-G) W down, over U
    hierarchical                  (M-1 + (G-1) M) W out, (N-1) W in  G (M-1) W over U
    ============================  ================================  ===============================

    A full mesh's links carry W (M W for hierarchical intra-node forwarding); its engines
    (N-1) W per direction, or W out for MultiWrite. A shared engine adds its two directions.
    """
    if (
        s.collective != "allgather"
        or s.algorithm == "hierarchical-multiwrite"
        or math.isfinite(s.switch_replication_GBps)
    ):
        raise ValueError(
            "closed_form_allgather_beta covers AllGather ring, mesh, multiwrite, group-multicast, "
            "hierarchical without a replication limit"
        )
    n, g, m = s.ranks, s.node_ranks, s.nodes
    multicast = s.algorithm in ("multiwrite", "group-multicast")
    w = s.wire_bytes(s.message_bytes, multicast=s.uses_bitmap)
    sent = {"ring": n - 1, "mesh": n - 1, "multiwrite": 1, "group-multicast": 1, "hierarchical": (m - 1) + (g - 1) * m}
    out_w, in_w = sent[s.algorithm] * w, (n - 1) * w
    engine = (out_w + in_w) if s.engine == "shared" else max(out_w, in_w)
    times = [engine / s.engine_Bps]
    if s.topology == "fullmesh":
        per_link = {"ring": n - 1, "hierarchical": m}.get(s.algorithm, 1) * w
        times.append(per_link / s.link_Bps)
    else:
        times.append(max(out_w if not multicast else w, in_w) / s.link_Bps)
        if s.topology == "leafspine" and m > 1:
            capacity = g * s.link_Bps / s.oversubscription
            if s.algorithm == "ring":
                times.append((n - 1) * w / s.uplink_Bps)
            elif s.algorithm == "mesh":
                times.append(g * (n - g) * w / capacity)
            elif multicast:
                times.append(max(g, n - g) * w / capacity)
            else:
                times.append(g * (m - 1) * w / capacity)
    return max(times)
