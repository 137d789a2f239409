"""Flow-level model: the packet model's plans on the same fabrics, moved as fluid flows that share
every resource max-min fairly (the classic flow-level model, as in SimGrid's network model).

Why a second model: the packet model moves every chunk through every server, so its events grow
as N^2 x chunks; a 1024-rank AllGather is out of its reach. Here a write is one flow of its wire
bytes (headers included, as the packet model counts them), and time jumps from one start or end
to the next; at each, the rates of all active flows are recomputed by water-filling (:mod:`.maxmin`).

A flow uses, each with a weight (bytes it moves there per byte sent): its source's send engine,
every link of its route (unicast path, or multicast tree: one rate for the whole tree), a switch
replication engine where a tree branches and replication has a finite rate (weight = copies),
and every destination's receive engine. What is kept from the packet model:

- a rank posts its writes in program order, one issue overhead apart; a group-multicast write
  first waits for its group (one serial controller, finite tables, unicast fallback);
- writes of one rank on one route are served in order (the engine serves one queue per route,
  FIFO within it): a write starts when the previous one on its route has left;
- a write that forwards data its rank receives (ring, hierarchical) starts when that data starts
  to arrive (its supplier's start plus the supplier's path latency) and never runs ahead of it:
  while caught up, its rate is capped by the supplier's;
- a receiver has a write's bytes the path latency after the flow has sent its last byte.

Not modelled (the packet model has them): store-and-forward of chunks (pipeline fill; the main
difference at small messages), queues (``max_queue_bytes`` is 0), credit flow control (a finite
``buffer_bytes`` is rejected), different rates on the branches of one multicast tree.

Why max-min fluid flows rather than ASTRA-sim's congestion-aware analytical backend (whole chunks
through FIFO link queues): the packet model already is a FIFO chunk model, so the fluid model is
an independent abstraction to check it against, and its cost does not grow with the chunks of a
message. It agrees with the converged packet model within 2% on every case of ``07_validation``.

Events: starts and ends closer than ``resolution`` x a lower bound of the latency are handled as
one (see ``DEFAULT_RESOLUTION``); ``resolution=0`` handles each exactly.

Rate classes: where the plan and the routes repeat under a shift of every rank by S (S = 1 on a
star, S = ranks per node on a leaf/spine with ``path_selection="source"``), flows related by the
shift have equal rates at all times (max-min fairness is unique, so it respects the symmetry).
:func:`simulate` then follows one flow per class and a resource per class; the shift is checked
on the plan and the routes, and a failed check falls back to one class per flow.
"""

from __future__ import annotations

import heapq
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from companion.multiwrite import maxmin
from companion.multiwrite import topology as topology_module
from companion.multiwrite.collectives import plan_for
from companion.multiwrite.operation import DeliveryError, Plan, Write
from companion.multiwrite.result import RunResult
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.topology import Topology, rank_node

RELATIVE_TOLERANCE = 1e-9  # events closer than this (relative to the clock) are simultaneous
# Events within resolution x (a lower bound of the latency: the busiest resource's bytes / its
# bandwidth, or the last write's posting time) are handled together: starts wait for the window's
# end, ends keep their exact time but their bandwidth is handed on at the window's end. 0: exact.
# The error this adds is measured in the tests.
DEFAULT_RESOLUTION = 1e-3
PROGRESS_INTERVAL_S = 2.0  # wall seconds between progress lines
# A resource used below (1 - BINDING_MARGIN) of its capacity is left out of the next rate solve; one
# used above (1 + OVERLOAD_TOLERANCE) without it is put back (see Model._max_min). Speed only.
BINDING_MARGIN = 0.05
OVERLOAD_TOLERANCE = 1e-12
# Below this many entries a solve runs whole: cheaper than leaving resources out. Speed only (1024-rank
# dispatch runs take the same time at 20k and 200k; solving every time in full is 5% to 40% slower).
SMALL_SOLVE_ENTRIES = 20_000
PIECE_CHECK_LIMIT = 3_000_000  # above this many (piece, receiver) deliveries, check bytes and counts only


def _one_chunk_per_block(s: Scenario) -> Scenario:
    """The plan's grain for the flow model: the same writes, in the same order, to the same ranks.

    An AllGather block becomes one chunk (its packets and wire bytes do not change: chunks are whole
    MTU packets), so a 4096-rank plan lists N^2 pieces rather than N^2 x chunks. A dispatch keeps the
    scenario's grain, which decides how tokens are packed into packets."""
    if s.collective != "allgather":
        return s
    return s.with_(chunk_bytes=s.mtu_bytes, max_chunks_per_message=1)


# --- posting: when each write is posted (issue overhead, group setups) ---------------------------
@dataclass
class Posting:
    """Writes as posted: per rank, ``(post time, write)`` in program order, and group statistics."""

    programs: list[list[tuple[float, Write]]]
    group_setups: int = 0
    group_fallbacks: int = 0
    group_table_max_entries: int = 0


def post_writes(s: Scenario, plan: Plan, topo: Topology) -> Posting:
    """Each rank's issue loop, as the packet model's :class:`~companion.multiwrite.rank.Rank` runs it."""
    issue_s = s.issue_overhead_ns * 1e-9
    if s.algorithm != "group-multicast":
        return Posting([[((k + 1) * issue_s, w) for k, w in enumerate(ws)] for ws in plan.programs])
    # Group multicast: setups go through one controller, in the order ranks ask (ties: rank order).
    setup_s, capacity = s.group_setup_us * 1e-6, s.group_table_entries
    installed: dict[tuple, float] = {}
    entries: Counter[str] = Counter()
    controller_free, setups, fallbacks, seq = 0.0, 0, 0, 0
    programs: list[list[tuple[float, Write]]] = [[] for _ in plan.programs]
    cursor = [0] * len(plan.programs)
    ready = [(issue_s, r, r) for r, ws in enumerate(plan.programs) if ws]  # (time rank is free, seq, rank)
    seq = len(ready)
    heapq.heapify(ready)
    while ready:
        now, _, r = heapq.heappop(ready)
        write = plan.programs[r][cursor[r]]
        cursor[r] += 1
        key = (write.src, write.dests)
        done_at = now
        if key in installed:
            done_at = max(now, installed[key])
            programs[r].append((done_at, write))
        else:
            tree = topo.multicast_tree(write.src, write.dests)
            nodes = [n for n in tree if n in topo.switches] or [rank_node(write.src)]
            if any(entries[n] >= capacity for n in nodes):
                fallbacks += 1
                for position, dst in enumerate(write.dests):
                    done_at = now + position * issue_s
                    programs[r].append((done_at, Write(write.src, (dst,), write.chunks, "unicast")))
            else:
                for n in nodes:
                    entries[n] += 1
                controller_free = installed[key] = max(now, controller_free) + setup_s
                setups += 1
                done_at = controller_free
                programs[r].append((done_at, write))
        if cursor[r] < len(plan.programs[r]):
            seq += 1
            heapq.heappush(ready, (done_at + issue_s, seq, r))
    return Posting(programs, setups, fallbacks, max(entries.values(), default=0))


# --- resources ----------------------------------------------------------------------------------
class Resources:
    """Every capacity a flow can use: directed links, rank engines, switch replication engines."""

    def __init__(self, s: Scenario, topo: Topology):
        self.names: list[str] = []
        self.capacity: list[float] = []
        self.nodes: list[tuple[str, ...]] = []  # the nodes that identify a resource (for rate classes)
        self.link: dict[tuple[str, str], int] = {}
        for u, v, attrs in sorted(topo.graph.edges(data=True)):
            self.link[(u, v)] = self._add(f"{u}->{v}", attrs["bandwidth_Bps"], (u, v))
        self.send = [self._add(f"r{r}.send", s.engine_Bps, (rank_node(r), "send")) for r in range(s.ranks)]
        if s.engine == "shared":
            self.receive = self.send
            for r in range(s.ranks):
                self.names[self.send[r]] = f"r{r}.engine"
        else:
            self.receive = [self._add(f"r{r}.receive", s.engine_Bps, (rank_node(r), "receive")) for r in range(s.ranks)]
        self.replicating = math.isfinite(s.switch_replication_GBps) or s.replication_latency_ns > 0
        self.replicator = {
            sw: self._add(f"{sw}.replicate", s.switch_replication_GBps * 1e9, (sw, "replicate"))
            for sw in (topo.switches if self.replicating else [])
        }
        self.latency = {(u, v): attrs["latency_s"] for u, v, attrs in topo.graph.edges(data=True)}
        self.replication_latency_s = s.replication_latency_ns * 1e-9

    def _add(self, name: str, capacity: float, nodes: tuple[str, ...]) -> int:
        self.names.append(name)
        self.capacity.append(capacity)
        self.nodes.append(nodes)
        return len(self.names) - 1

    def of_write(self, topo: Topology, write: Write) -> tuple[dict[int, float], dict[int, float]]:
        """Resources of ``write`` (index -> weight) and its path latency to each destination."""
        used: dict[int, float] = defaultdict(float)
        used[self.send[write.src]] += 1.0
        if write.kind == "unicast":  # a path: no branches, latency adds up along it
            path = topo.unicast_path(write.src, write.dests[0])
            latency = 0.0
            for hop in zip(path, path[1:]):
                used[self.link[hop]] += 1.0
                latency += self.latency[hop]
            used[self.receive[write.dests[0]]] += 1.0
            return used, {write.dests[0]: latency}
        tree = topo.multicast_tree(write.src, write.dests)
        for node, children in tree.items():
            for child in children:
                used[self.link[(node, child)]] += 1.0
            if len(children) > 1 and node in self.replicator:
                used[self.replicator[node]] += float(len(children))
        latency = {rank_node(write.src): 0.0}
        stack = [rank_node(write.src)]
        while stack:
            node = stack.pop()
            children = tree.get(node, ())
            extra = self.replication_latency_s if len(children) > 1 and node in self.replicator else 0.0
            for child in children:
                latency[child] = latency[node] + extra + self.latency[(node, child)]
                stack.append(child)
        for d in write.dests:
            used[self.receive[d]] += 1.0
        return used, {d: latency[rank_node(d)] for d in write.dests}


# --- rate classes -------------------------------------------------------------------------------
class Shift:
    """Relabelling of every rank r as r - m*S (and of leaves accordingly): the rate-class symmetry."""

    def __init__(self, s: Scenario, step: int):
        self.ranks, self.step = s.ranks, step
        self.per_leaf = s.node_ranks if s.topology == "leafspine" else None
        self.copies = s.ranks // step

    def node(self, name: str, m: int) -> str:
        if name[0] == "r" and name[1:].isdigit():
            return f"r{(int(name[1:]) - m * self.step) % self.ranks}"
        if name.startswith("leaf"):
            leaves = self.ranks // self.per_leaf
            return f"leaf{(int(name[4:]) - m * self.step // self.per_leaf) % leaves}"
        return name

    def anchor(self, nodes: tuple[str, ...]) -> int:
        """The shift m that maps a resource to its class representative."""
        for name in nodes:
            if name[0] == "r" and name[1:].isdigit():
                return int(name[1:]) // self.step
        for name in nodes:
            if name.startswith("leaf"):
                return int(name[4:]) * self.per_leaf // self.step
        return 0

    def canonical(self, nodes: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
        m = self.anchor(nodes)
        return tuple(self.node(n, m) for n in nodes), m


def _candidate_steps(s: Scenario) -> list[int]:
    """Rank shifts that may leave the fabric's routing unchanged, smallest (most classes merged) first."""
    if s.topology in ("star", "fullmesh"):
        return [1, s.node_ranks]
    if s.path_selection == "source" and s.spine_count and s.node_ranks % s.spine_count == 0:
        return [s.node_ranks]
    return []


class Payloads:
    """Payload bytes and MTU packets of a write, computed once per chunk list (AllGather writes share
    their block's)."""

    def __init__(self, mtu_bytes: int):
        self.mtu_bytes = mtu_bytes
        self._known: dict[int, tuple[list, int, int]] = {}  # id -> (the list, kept alive; bytes; packets)

    def _of(self, w: Write) -> tuple[list, int, int]:
        known = self._known.get(id(w.chunks))
        if known is None:
            payloads = [sum(n for _, n in chunk) for chunk in w.chunks]
            packets = sum(-(-p // self.mtu_bytes) for p in payloads)
            known = self._known[id(w.chunks)] = (w.chunks, sum(payloads), packets)
        return known

    def __call__(self, w: Write) -> int:
        return self._of(w)[1]

    def wire(self, s: Scenario, w: Write) -> tuple[int, int]:
        """Wire bytes (payload and one header per packet) and packets of ``w``."""
        _, payload, packets = self._of(w)
        header = s.multicast_header_bytes if w.kind == "multiwrite" else s.header_bytes
        return payload + packets * header, packets


def _shape(posted: list[tuple[float, Write]], shift: int, n: int, payload: Payloads) -> list[tuple]:
    """A rank's posted program with destinations shifted by ``-shift``: what symmetry compares."""
    return [(t, w.kind, tuple(sorted((d - shift) % n for d in w.dests)), len(w.chunks), payload(w)) for t, w in posted]


# --- the flows ----------------------------------------------------------------------------------
@dataclass
class Flows:
    """One flow per class (or per write), as arrays; resources are per resource class."""

    size: np.ndarray  # wire bytes, shape (F,)
    post_s: np.ndarray  # when the write is posted, (F,)
    pred: np.ndarray  # previous flow on the same route of the same rank, -1 if none, (F,)
    supplier: np.ndarray  # flow whose data this one forwards, -1 if none, (F,)
    supplier_lag_s: np.ndarray  # the supplier's path latency to this flow's rank, (F,)
    ptr: np.ndarray  # CSR: resources of flow f are res[ptr[f]:ptr[f+1]], (F+1,)
    res: np.ndarray  # resource class indices, (nnz,)
    weight: np.ndarray  # bytes moved on the resource per byte sent (per resource of the class), (nnz,)
    capacity: np.ndarray  # bytes/s per resource class, (C,)


def _supplier_index(posting: Posting, needed: set[tuple[int, object]]) -> dict[tuple[int, object], tuple[int, int]]:
    """(receiving rank, first piece key) -> (rank, index) of the write delivering that data there."""
    found = {}
    for r, posted in enumerate(posting.programs):
        for k, (_, w) in enumerate(posted):
            first = w.chunks[0][0][0]
            for d in w.dests:
                if (d, first) in needed:
                    found[(d, first)] = (r, k)
    return found


class Model:
    """The flow-level model of one scenario: posting, rate classes, flows; :meth:`run` simulates."""

    def __init__(
        self, s: Scenario, progress: Callable[[str], None] | None = None, resolution: float = DEFAULT_RESOLUTION
    ):
        self.s = s
        self.progress = progress
        started = time.perf_counter()
        if progress is not None:
            progress(f"flow model: building the fabric, plan and flows of {s.ranks} ranks")
        self.topo = topology_module.build(s)
        self.plan = plan_for(_one_chunk_per_block(s))
        self.posting = post_writes(s, self.plan, self.topo)
        self.payload = Payloads(s.mtu_bytes)
        self.resources = Resources(s, self.topo)
        self.shift = self._find_shift()
        self._build_flows()
        if progress is not None:
            posted = sum(len(p) for p in self.posting.programs)
            progress(
                f"flow model: {s.ranks} ranks, {posted} writes as {len(self.writes)} flows "
                f"(rate classes: shift {self.shift.step}), built in {time.perf_counter() - started:.1f} s"
            )
        self.loads = _class_loads(self)
        self._drop_redundant_resources()
        busiest = float(np.max(self.loads[:, 0] / self.flows.capacity))
        last_post = float(self.flows.post_s.max(initial=0.0))
        self.window_s = resolution * max(busiest, last_post)  # both bound the latency from below
        self.binding = np.ones(len(self.flows.capacity), dtype=bool)  # resources the next solve keeps
        self._kept_cache: dict[int, tuple] = {}  # see _kept_entries
        self._find_twins()

    # -- symmetry ---------------------------------------------------------------------------------
    def _find_shift(self) -> Shift:
        s, n = self.s, self.s.ranks
        programs = self.posting.programs
        for step in _candidate_steps(s):
            if step >= n or n % step:
                continue
            shift = Shift(s, step)
            ok = all(
                _shape(programs[r], 0, n, self.payload)
                == _shape(programs[(r + m * step) % n], m * step, n, self.payload)
                for r in range(step)
                for m in sorted({1, shift.copies // 2, shift.copies - 1})
            )
            if ok and self._routes_repeat(shift):
                return shift
        return Shift(s, n)

    def _routes_repeat(self, shift: Shift) -> bool:
        """The routes of a sample of shifted ranks use the shifted resources, with the same weights."""
        res = self.resources
        for r in range(shift.step):
            for m in sorted({1, shift.copies - 1}):
                for (_, w), (_, w2) in zip(self.posting.programs[r], self.posting.programs[r + m * shift.step]):
                    moved = {
                        tuple(shift.node(name, -m) for name in res.nodes[i]): x
                        for i, x in res.of_write(self.topo, w)[0].items()
                    }
                    if moved != {res.nodes[i]: x for i, x in res.of_write(self.topo, w2)[0].items()}:
                        return False
        return True

    # -- flows --------------------------------------------------------------------------------------
    def _build_flows(self) -> None:
        s, res, shift = self.s, self.resources, self.shift
        reps = range(shift.step)
        class_of: dict[tuple[str, ...], int] = {}
        self.class_members: list[list[int]] = []  # actual resources of each class
        self.resource_class = np.empty(len(res.names), dtype=np.int64)
        self.resource_shift = np.empty(len(res.names), dtype=np.int64)
        for i, nodes in enumerate(res.nodes):
            canon, m = shift.canonical(nodes)
            c = class_of.setdefault(canon, len(class_of))
            if c == len(self.class_members):
                self.class_members.append([])
            self.class_members[c].append(i)
            self.resource_class[i], self.resource_shift[i] = c, m
        capacity = np.array([res.capacity[members[0]] for members in self.class_members])

        self.flow_of: dict[tuple[int, int], int] = {}
        self.writes: list[Write] = []
        self.flow_rank: list[int] = []
        self.flow_index: list[int] = []  # position in its rank's posted program
        self.dest_latency: list[dict[int, float]] = []
        # Actual resources of each flow (index -> weight), CSR: resources used[ptr[f]:ptr[f+1]].
        used_ptr, used_res, used_weight = [0], [], []
        for r in reps:
            for k, (_, w) in enumerate(self.posting.programs[r]):
                self.flow_of[(r, k)] = len(self.writes)
                self.writes.append(w)
                self.flow_rank.append(r)
                self.flow_index.append(k)
        needed = {(self.flow_rank[f], w.chunks[0][0][0]) for f, w in enumerate(self.writes)}
        needed = {(r, key) for r, key in needed if key[0] != r}
        suppliers = _supplier_index(self.posting, needed) if needed else {}

        count = len(self.writes)
        size, post = np.empty(count), np.empty(count)
        self.flow_payload, self.flow_packets = np.empty(count), np.empty(count)
        pred, supplier, lag = np.full(count, -1), np.full(count, -1), np.zeros(count)
        ptr, res_idx, weights = [0], [], []
        last_on_route: dict[tuple, int] = {}
        # Every resource its own class (no shift): a flow's classes are its resources.
        one_per_class = len(self.class_members) == len(res.names)
        class_of_resource = self.resource_class.tolist()
        for f, w in enumerate(self.writes):
            r = self.flow_rank[f]
            size[f], self.flow_packets[f] = self.payload.wire(s, w)
            self.flow_payload[f] = self.payload(w)
            used, latency = res.of_write(self.topo, w)
            used_res.extend(used)
            used_weight.extend(used.values())
            used_ptr.append(len(used_res))
            self.dest_latency.append(latency)
            if one_per_class:
                res_idx.extend(class_of_resource[i] for i in used)
                weights.extend(used.values())
            else:
                merged: dict[int, float] = defaultdict(float)
                for i, x in used.items():
                    merged[class_of_resource[i]] += x
                res_idx.extend(merged)
                weights.extend(merged.values())
            ptr.append(len(res_idx))
            route = (r, w.dests, w.kind != "unicast")
            pred[f] = last_on_route.get(route, -1)
            last_on_route[route] = f
            first = w.chunks[0][0][0]
            if first[0] != r:
                if (r, first) not in suppliers:
                    raise DeliveryError(f"flow model: r{r} forwards {first}, which no write delivers to it")
                src_rank, src_k = suppliers[(r, first)]
                m = src_rank // shift.step
                base = src_rank - m * shift.step
                supplier[f] = self.flow_of[(base, src_k)]
                lag[f] = self._latency_to(src_rank, src_k, r)
        for r in reps:
            for k, (t, _) in enumerate(self.posting.programs[r]):
                post[self.flow_of[(r, k)]] = t
        self.used_ptr = np.array(used_ptr, dtype=np.int64)
        self.used_res = np.array(used_res, dtype=np.int64)
        self.used_weight = np.array(used_weight, dtype=float)
        self.flows = Flows(
            size=size,
            post_s=post,
            pred=pred,
            supplier=supplier,
            supplier_lag_s=lag,
            ptr=np.array(ptr, dtype=np.int64),
            res=np.array(res_idx, dtype=np.int64),
            weight=np.array(weights, dtype=float),
            capacity=capacity,
        )

    def _drop_redundant_resources(self) -> None:
        """Leave out of the rate computation every resource class whose flows (and weights) are exactly
        another's, with no less capacity: its constraint is implied (a rank's send engine and its
        uplink carry the same flows at the same bandwidth). Traffic statistics keep every resource."""
        fl = self.flows
        order = np.argsort(fl.res, kind="stable")
        flow_of_entry = np.repeat(np.arange(len(fl.size)), np.diff(fl.ptr))[order]
        classes = fl.res[order]
        bounds = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1], True])
        kept: dict[tuple[bytes, bytes], int] = {}
        redundant = np.zeros(len(fl.capacity), dtype=bool)
        for a, b in zip(bounds[:-1], bounds[1:]):
            c = int(classes[a])
            signature = (flow_of_entry[a:b].tobytes(), fl.weight[order[a:b]].tobytes())
            twin = kept.setdefault(signature, c)
            if twin != c:
                tighter, looser = (c, twin) if fl.capacity[c] < fl.capacity[twin] else (twin, c)
                redundant[looser] = True
                kept[signature] = tighter
        keep = ~redundant[fl.res]
        per_flow = np.add.reduceat(keep.astype(np.int64), fl.ptr[:-1]) if len(keep) else np.zeros(0, np.int64)
        fl.ptr = np.r_[0, np.cumsum(per_flow)]
        fl.res, fl.weight = fl.res[keep], fl.weight[keep]

    def _latency_to(self, src_rank: int, k: int, dst: int) -> float:
        _, w = self.posting.programs[src_rank][k]
        return self.resources.of_write(self.topo, w)[1][dst]

    # -- simulation ---------------------------------------------------------------------------------
    def run(self) -> tuple[np.ndarray, int]:
        """Finish time of every flow (seconds) and the number of events (rate recomputations)."""
        fl = self.flows
        count = len(fl.size)
        remaining = fl.size.copy()
        finish = np.full(count, np.nan)
        started = np.full(count, np.nan)
        active = np.zeros(count, dtype=bool)
        successors: defaultdict[int, list[int]] = defaultdict(list)  # next flow on the route
        dependents: defaultdict[int, list[int]] = defaultdict(list)  # flows forwarding its data
        for f in np.flatnonzero(fl.pred >= 0).tolist():
            successors[int(fl.pred[f])].append(f)
        for f in np.flatnonzero(fl.supplier >= 0).tolist():
            dependents[int(fl.supplier[f])].append(f)

        def maybe_ready(f: int) -> None:
            p, q = fl.pred[f], fl.supplier[f]
            if (p >= 0 and np.isnan(finish[p])) or (q >= 0 and np.isnan(started[q])):
                return
            t = fl.post_s[f]
            if p >= 0:
                t = max(t, finish[p])
            if q >= 0:
                t = max(t, started[q] + fl.supplier_lag_s[f])
            heapq.heappush(heap, (t, f))

        free = np.flatnonzero((fl.pred < 0) & (fl.supplier < 0))
        heap = list(zip(fl.post_s[free].tolist(), free.tolist()))  # (ready time, flow)
        heapq.heapify(heap)
        now, events, done = 0.0, 0, 0
        ids = np.empty(0, dtype=np.int64)
        rate = np.empty(0)
        wall_start = last_report = time.perf_counter()
        while heap or len(ids):
            next_start = heap[0][0] if heap else math.inf
            step = next_start - now
            ttf = remaining[ids] / rate if len(ids) else np.empty(0)
            catch_up = self._catch_up(ids, rate, remaining) if len(ids) else math.inf
            if len(ids):
                step = min(step, float(np.min(ttf)), catch_up)
            step = max(step, 0.0)
            starting = []  # starts taken off the heap early; they start at this event
            if self.window_s > 0 and step < catch_up:
                # Coalesce: every start and end within the window joins this event (see ``resolution``).
                horizon = min(step + self.window_s, catch_up)
                while heap and heap[0][0] - now <= horizon:
                    starting.append(heapq.heappop(heap))
                step = max([step, *ttf[ttf <= horizon], *(t - now for t, _ in starting)])
            slack = RELATIVE_TOLERANCE * max(now + step, 1e-12)
            if len(ids):
                ended = ttf <= step + slack
                remaining[ids] -= rate * step
                ended_ids = ids[ended]
                remaining[ended_ids] = 0.0
                finish[ended_ids] = now + np.minimum(ttf[ended], step)
                active[ended_ids] = False
                done += len(ended_ids)
            now += step
            if len(ids):
                for f in ended_ids.tolist():
                    for g in successors.get(f, ()):
                        maybe_ready(g)
            while starting or (heap and heap[0][0] <= now + slack):
                _, f = starting.pop() if starting else heapq.heappop(heap)
                started[f] = now
                active[f] = True
                for g in dependents.get(f, ()):
                    maybe_ready(g)
            ids = np.flatnonzero(active)
            if len(ids):
                rate = self._rates(ids, remaining)
            events += 1
            if self.progress is not None and time.perf_counter() - last_report >= PROGRESS_INTERVAL_S:
                last_report = time.perf_counter()
                elapsed = last_report - wall_start
                self.progress(
                    f"flow model: {now * 1e6:.1f} us simulated, {done}/{count} flows done, {len(ids)} active, "
                    f"{events} events ({events / elapsed:.0f}/s)"
                )
        return finish, events

    def _caught_up(self, ids: np.ndarray, remaining: np.ndarray) -> tuple[np.ndarray, ...]:
        """Active dependents whose supplier is still sending: (dependents, suppliers, the fraction of
        its bytes each has sent, the same for its supplier)."""
        fl = self.flows
        sup = fl.supplier[ids]
        has = sup >= 0
        dep, sup = ids[has], sup[has]
        live = remaining[sup] > 0
        dep, sup = dep[live], sup[live]
        dep_done = 1 - remaining[dep] / fl.size[dep]
        sup_done = 1 - remaining[sup] / fl.size[sup]
        return dep, sup, dep_done, sup_done

    def _catch_up(self, ids: np.ndarray, rate: np.ndarray, remaining: np.ndarray) -> float:
        """Time until the next dependent catches up with its supplier (inf if none will)."""
        fl = self.flows
        dep, sup, dep_done, sup_done = self._caught_up(ids, remaining)
        if not len(dep):
            return math.inf
        position = np.searchsorted(ids, np.concatenate([dep, sup]))
        speed = rate[position] / fl.size[np.concatenate([dep, sup])]
        dep_speed, sup_speed = speed[: len(dep)], speed[len(dep) :]
        gap = sup_done - dep_done
        closing = (dep_speed > sup_speed * (1 + 1e-9)) & (gap > 1e-12)
        if not closing.any():
            return math.inf
        return float(np.min(gap[closing] / (dep_speed[closing] - sup_speed[closing])))

    def _rates(self, ids: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Max-min fair rates of the active flows ``ids``; a caught-up forwarder is capped by its supplier."""
        fl = self.flows
        caps = np.full(len(ids), np.inf)
        dep, sup, dep_done, sup_done = self._caught_up(ids, remaining)
        caught = dep_done >= sup_done - 1e-9
        dep, sup = dep[caught], sup[caught]
        entries = ActiveEntries(fl, ids)
        rate = self._max_min(ids, entries, caps)
        if not len(dep):
            return rate
        dep_pos, sup_pos = np.searchsorted(ids, dep), np.searchsorted(ids, sup)
        scale = fl.size[dep] / fl.size[sup]
        for _ in range(50):
            allowed = rate[sup_pos] * scale
            over = rate[dep_pos] > allowed * (1 + 1e-9)
            if not over.any():
                break
            caps[dep_pos[over]] = allowed[over]
            rate = self._max_min(ids, entries, caps)
        return rate

    def _max_min(self, ids: np.ndarray, entries: ActiveEntries, caps: np.ndarray) -> np.ndarray:
        """Max-min fair rates of the flows ``ids`` (their entries: ``entries.get()``), each at most ``caps``.

        Two reductions, each exact:
        - a resource far from saturation at the last solve is left out (its entries make every solve
          slower); the rates without it are the max-min fair rates with it
          too when it is not overloaded (every flow keeps a saturated bottleneck, and max-min
          fairness is unique), so an overloaded one is put back and the rates solved again;
        - twins (flows with the same resources apart from their receivers', see
          :meth:`_find_twins`) whose receivers' resources are all left out have the same resources
          in the solve, hence the same rate: they are solved as one flow of their summed weight (and
          fabric twins likewise, when every resource at a rank is left out).
        """
        capacity, binding = self.flows.capacity, self.binding
        if entries.count < SMALL_SOLVE_ENTRIES:
            return maxmin.water_filling(*entries.get(), capacity, caps)
        uncapped = np.isinf(caps)
        flow_of_entry = None
        while True:
            twins = self.twins
            if uncapped.all() and not binding[self.receiver_side].any():
                # Every flow is merged into its twins' group (the common case): no per-entry work. With
                # no resource at a rank kept either, into its fabric twins' group.
                merged = uncapped
                if not binding[self.rank_side].any():
                    twins = self.fabric_twins
                alone_res, alone_weight, alone_lengths = np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
            else:
                res, weight, lengths = entries.get()
                if flow_of_entry is None:
                    flow_of_entry = np.repeat(np.arange(len(ids)), lengths)
                kept = binding[res]
                loose = np.bincount(flow_of_entry, kept & self.receiver_side[res], minlength=len(ids)) > 0
                merged = ~loose & uncapped
                alone = kept & ~np.repeat(merged, lengths)
                alone_res, alone_weight = res[alone], weight[alone]
                alone_lengths = np.bincount(flow_of_entry[alone], minlength=len(ids))[~merged]
            count = np.bincount(twins.of[ids[merged]], minlength=twins.count)
            groups = np.flatnonzero(count)
            # Flows solved one by one, then one flow per group of merged twins.
            g_res, g_weight, g_lengths = self._kept_entries(twins, binding, groups)
            if count.max(initial=0) > 1:
                g_weight = g_weight * np.repeat(count[groups], g_lengths)
            rate_of = maxmin.water_filling(
                np.concatenate([alone_res, g_res]) if len(alone_res) else g_res,
                np.concatenate([alone_weight, g_weight]) if len(alone_res) else g_weight,
                np.concatenate([alone_lengths, g_lengths]),
                capacity,
                np.concatenate([caps[~merged], np.full(len(groups), np.inf)]),
            )
            rate = np.empty(len(ids))
            rate[~merged] = rate_of[: np.count_nonzero(~merged)]
            position = np.zeros(twins.count, dtype=np.int64)
            position[groups] = np.arange(len(groups))
            rate[merged] = rate_of[np.count_nonzero(~merged) + position[twins.of[ids[merged]]]]
            used = entries.load(rate, len(capacity))
            overloaded = ~binding & (used > capacity * (1 + OVERLOAD_TOLERANCE))
            if not overloaded.any():
                break
            binding = binding | overloaded
        self.binding = used >= capacity * (1 - BINDING_MARGIN)
        return rate

    def _kept_entries(self, twins: Twins, binding: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, ...]:
        """The entries of the twins' ``groups`` on the resources ``binding`` keeps (see :func:`_entries`).
        Where ``binding`` is the same as at the last solve (it often stays for many events), every group's
        kept entries are taken from a table made once for that ``binding``."""
        key = binding.tobytes()
        last_key, table = self._kept_cache.get(id(twins), (None, None))
        if key != last_key:
            self._kept_cache[id(twins)] = (key, None)
            g_res, g_weight, g_lengths = _entries(twins.ptr, twins.res, twins.weight, groups)
            kept = binding[g_res]
            per_group = np.bincount(np.repeat(np.arange(len(groups)), g_lengths)[kept], minlength=len(groups))
            return g_res[kept], g_weight[kept], per_group
        if table is None:
            keep = binding[twins.res]
            lengths = np.bincount(np.repeat(np.arange(twins.count), np.diff(twins.ptr))[keep], minlength=twins.count)
            table = (np.r_[0, np.cumsum(lengths)], twins.res[keep], twins.weight[keep])
            self._kept_cache[id(twins)] = (key, table)
        return _entries(*table, groups)

    def _find_twins(self) -> None:
        """Group flows whose (resource, weight) entries agree once their receivers' resources (links into
        a rank, receive engines) are left out: a unicast mesh's writes from one rank to one leaf. Then
        group those groups once every resource at a rank (its engines and links) is left out too: a
        unicast mesh's writes from the ranks of one leaf on one spine to one leaf (``fabric_twins``)."""
        fl, res = self.flows, self.resources
        is_rank = [[n[0] == "r" and n[1:].isdigit() for n in res.nodes[members[0]]] for members in self.class_members]
        receiver_nodes = [res.nodes[members[0]] for members in self.class_members]
        self.receiver_side = np.array(
            [nodes[-1] == "receive" or ranks[-1] for nodes, ranks in zip(receiver_nodes, is_rank)]
        )
        self.rank_side = np.array([any(ranks) for ranks in is_rank])
        self.twins = _group(fl.ptr, fl.res, fl.weight, ~self.receiver_side)
        fabric = _group(self.twins.ptr, self.twins.res, self.twins.weight, ~self.rank_side)
        self.fabric_twins = Twins(
            of=fabric.of[self.twins.of], count=fabric.count, ptr=fabric.ptr, res=fabric.res, weight=fabric.weight
        )


def _group(ptr: np.ndarray, res: np.ndarray, weight: np.ndarray, keep: np.ndarray) -> Twins:
    """Rows of a CSR table grouped by their entries on the resources ``keep`` (a mask per resource)."""
    lengths = np.diff(ptr)
    kept = keep[res]
    k_lengths = np.bincount(np.repeat(np.arange(len(lengths)), lengths)[kept], minlength=len(lengths))
    table_res, table_weight = maxmin.table(res[kept], weight[kept], k_lengths, -1)
    keys = np.vstack([table_res, table_weight.view(np.int64)]).T
    _, first, of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    g_res, g_weight, _ = _entries(np.r_[0, np.cumsum(k_lengths)], res[kept], weight[kept], first)
    return Twins(of=of.ravel(), count=len(first), ptr=np.r_[0, np.cumsum(k_lengths[first])], res=g_res, weight=g_weight)


class ActiveEntries:
    """The (resource, weight) entries of the active flows ``ids``, gathered only when needed."""

    def __init__(self, fl: Flows, ids: np.ndarray):
        self.fl, self.ids = fl, ids
        self.count = int((fl.ptr[ids + 1] - fl.ptr[ids]).sum())
        self._gathered: tuple[np.ndarray, ...] | None = None

    def get(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Resources, weights (flow after flow) and each flow's count: see :func:`_entries`."""
        if self._gathered is None:
            self._gathered = _entries(self.fl.ptr, self.fl.res, self.fl.weight, self.ids)
        return self._gathered

    def load(self, rate: np.ndarray, classes: int) -> np.ndarray:
        """Bytes/s on each resource class at ``rate`` (one per active flow), shape (classes,)."""
        return maxmin.loads(self.fl.ptr, self.fl.res, self.fl.weight, self.ids, rate, classes)


@dataclass
class Twins:
    """Groups of flows with the same resources apart from their receivers' (see Model._find_twins)."""

    of: np.ndarray  # group of each flow, (F,)
    count: int
    ptr: np.ndarray  # CSR: the group's shared entries are res[ptr[g]:ptr[g+1]], (count+1,)
    res: np.ndarray
    weight: np.ndarray


def _entries(
    ptr: np.ndarray, res: np.ndarray, weight: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (resource, weight) entries of the rows ``ids`` of a CSR table, row after row, and each row's count."""
    offsets, lengths = maxmin.row_offsets(ptr, ids)
    return res[offsets], weight[offsets], lengths


# --- results ------------------------------------------------------------------------------------
def simulate(
    scenario: Scenario,
    check: bool = True,
    progress: Callable[[str], None] | None = None,
    resolution: float = DEFAULT_RESOLUTION,
) -> RunResult:
    """The flow-level model of ``scenario``: a :class:`RunResult` of the same shape as the packet model's.

    ``progress``: called with a status line about every 2 s of wall time (e.g. ``print`` to stderr).
    ``resolution``: events closer than this fraction of the bandwidth bound are handled together (0: exact).
    Raises :class:`DeliveryError` (with ``check``) if any receiver would not get exactly its bytes.
    """
    started = time.perf_counter()
    model = Model(scenario, progress, resolution)
    finish, events = model.run()
    return summarize(model, finish, events, check, time.perf_counter() - started)


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _expand(model: Model, finish: np.ndarray):
    """Every posted write of every rank with its flow's finish time: yields (rank, write, finish, latency)."""
    shift, n = model.shift, model.s.ranks
    for r, posted in enumerate(model.posting.programs):
        m = r // shift.step
        base = r - m * shift.step
        for k, (_, w) in enumerate(posted):
            f = model.flow_of[(base, k)]
            latency = model.dest_latency[f]
            yield r, w, finish[f], latency if m == 0 else {(d + m * shift.step) % n: x for d, x in latency.items()}


def summarize(model: Model, finish: np.ndarray, events: int, check: bool, wall_s: float) -> RunResult:
    """The :class:`RunResult` of a :meth:`Model.run`: completion times, traffic, delivery check."""
    s, plan, res = model.s, model.plan, model.resources
    n = s.ranks
    all_done = not np.isnan(finish).any()
    completion = np.zeros(n)
    received_bytes = np.zeros(n)
    deliveries = sum(len(w.dests) * sum(len(c) for c in w.chunks) for posted in plan.programs for w in posted)
    by_pieces = deliveries <= PIECE_CHECK_LIMIT
    received: list[Counter] = [Counter() for _ in range(n)] if by_pieces else []
    received_count = np.zeros(n, dtype=np.int64)
    for _, w, end, latency in _expand(model, finish):
        payload = model.payload(w)
        keys = [key for chunk in w.chunks for key, _ in chunk] if by_pieces else None
        pieces = len(keys) if by_pieces else sum(len(c) for c in w.chunks)
        for d, x in latency.items():
            completion[d] = max(completion[d], end + x)
            received_bytes[d] += payload
            received_count[d] += pieces
            if by_pieces:
                received[d].update(keys)
    errors = []
    for r, expected in enumerate(plan.expected):
        if by_pieces and (set(received[r]) != set(expected) or any(c != 1 for c in received[r].values())):
            errors.append(f"r{r} would receive {len(received[r])} distinct pieces, expected {len(expected)}")
        elif received_bytes[r] != sum(expected.values()) or received_count[r] != len(expected):
            errors.append(f"r{r} would receive {int(received_bytes[r])} B, expected {sum(expected.values())}")
    delivered = all_done and not errors
    if check and not delivered:
        problems = errors if all_done else ["some flows never finished (a forwarding loop?)"]
        raise DeliveryError("flow model: delivery check failed: " + "; ".join(problems[:20]))
    first_issue = 0.0  # every rank is issued at time zero
    latency = float(completion.max()) - first_issue if delivered else math.nan
    links, duplication = _link_rows(model)
    engines = pd.DataFrame(
        [
            {"engine": res.names[i], "busy_s": row_busy, "max_queue_bytes": 0}
            for i, row_busy in _engine_busy(model).items()
        ]
    )
    algbw = plan.data_bytes / latency / 1e9 if latency > 0 else math.nan
    return RunResult(
        scenario=s.as_dict(),
        latency_s=latency,
        rank_completion_s=[float(t) for t in completion],
        links=links,
        engines=engines,
        max_link_duplication=duplication,
        algbw_GBps=algbw,
        busbw_GBps=algbw * (n - 1) / n,
        delivered_ok=delivered,
        events=events,
        wall_s=wall_s,
        writes_posted=sum(len(p) for p in model.posting.programs),
        group_setups=model.posting.group_setups,
        group_fallbacks=model.posting.group_fallbacks,
        group_table_max_entries=model.posting.group_table_max_entries,
        notes={
            **dict(plan.notes),
            "model": "flow",
            "flows": len(model.writes),
            "rate_class_shift": model.shift.step,
            "delivery_check": "pieces" if by_pieces else "bytes and piece counts",
            "event_window_us": model.window_s * 1e6,
        },
    )


def _class_loads(model: Model) -> np.ndarray:
    """Per resource class: [wire bytes, payload bytes, packets] on each of its resources, shape (C, 3)."""
    fl = model.flows
    lengths = np.diff(model.used_ptr)
    classes = model.resource_class[model.used_res]
    return np.stack(
        [
            np.bincount(classes, model.used_weight * np.repeat(per_flow, lengths), minlength=len(fl.capacity))
            for per_flow in (fl.size, model.flow_payload, model.flow_packets)
        ],
        axis=1,
    )


def _engine_busy(model: Model) -> dict[int, float]:
    loads, res = model.loads, model.resources
    ids = sorted({*res.send, *res.receive, *res.replicator.values()})
    return {i: loads[int(model.resource_class[i]), 0] / res.capacity[i] for i in ids}


def _link_rows(model: Model) -> tuple[pd.DataFrame, int]:
    res = model.resources
    loads = model.loads
    duplication = _duplication(model)
    rows = []
    for (u, v), i in res.link.items():
        c = int(model.resource_class[i])
        wire, payload, packets = loads[c]
        rows.append(
            {
                "link": f"{u}->{v}",
                "src": u,
                "dst": v,
                "bandwidth_GBps": res.capacity[i] / 1e9,
                "bytes": wire,
                "payload_bytes": payload,
                "packets": packets,
                "max_queue_bytes": 0,
                "max_duplication": duplication.get(c, 0),
                "busy_s": wire / res.capacity[i],
            }
        )
    return pd.DataFrame(rows), max(duplication.values(), default=0)


def _duplication(model: Model) -> dict[int, int]:
    """Per link class: the most copies of one payload piece on one of its links.

    Writes carrying the same chunk list (an AllGather block) are counted together; pieces that
    appear in several chunk lists (a dispatch token sent to several ranks) are counted one by one.
    """
    # Number every distinct chunk list and payload piece; each posted write by its list.
    list_of: dict[int, int] = {}
    piece_of: dict = {}
    list_pieces: list[int] = []  # the pieces of list j: list_pieces[list_ptr[j]:list_ptr[j+1]]
    list_ptr = [0]
    write_list = []
    for posted in model.posting.programs:
        for _, w in posted:
            j = list_of.get(id(w.chunks))
            if j is None:
                j = list_of[id(w.chunks)] = len(list_of)
                list_pieces.extend(piece_of.setdefault(key, len(piece_of)) for chunk in w.chunks for key, _ in chunk)
                list_ptr.append(len(list_pieces))
            write_list.append(j)
    write_list = np.array(write_list, dtype=np.int64)
    first_write = np.r_[0, np.cumsum([len(p) for p in model.posting.programs])]
    # Every (link class, chunk list) a flow's links carry: flows stand for their shifted copies.
    res = model.resources
    is_link = np.zeros(len(res.names), dtype=bool)
    is_link[list(res.link.values())] = True
    lengths = np.diff(model.used_ptr)
    flow = np.repeat(np.arange(len(lengths)), lengths)[is_link[model.used_res]]
    link = model.used_res[is_link[model.used_res]]
    shift, n = model.shift, model.s.ranks
    actual_rank = (np.asarray(model.flow_rank)[flow] - model.resource_shift[link] * shift.step) % n
    lists = write_list[first_write[actual_rank] + np.asarray(model.flow_index)[flow]]
    pairs, copies = np.unique(model.resource_class[link] * len(list_of) + lists, return_counts=True)
    pair_class, pair_list = np.divmod(pairs, len(list_of))
    best = np.zeros(len(model.flows.capacity), dtype=np.int64)
    np.maximum.at(best, pair_class, copies)
    # Pieces in several lists: their copies add up over the lists that carry them.
    list_ptr, list_pieces = np.array(list_ptr), np.array(list_pieces, dtype=np.int64)
    shared = np.bincount(list_pieces, minlength=len(piece_of)) > 1
    if shared.any():
        offsets, per_pair = maxmin.row_offsets(list_ptr, pair_list)
        piece, pair = list_pieces[offsets], np.repeat(np.arange(len(pairs)), per_pair)
        keep = shared[piece]
        keys, inverse = np.unique(pair_class[pair[keep]] * len(piece_of) + piece[keep], return_inverse=True)
        totals = np.bincount(inverse.ravel(), copies[pair[keep]])
        np.maximum.at(best, keys // len(piece_of), totals.astype(np.int64))
    return {int(c): int(best[c]) for c in np.unique(pair_class)}
