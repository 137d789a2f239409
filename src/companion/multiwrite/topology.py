"""Fabrics as networkx graphs, with shortest-path routing and deterministic ECMP.

Nodes are strings: ranks ``r0 .. r{N-1}``, switches ``sw`` (star), ``leaf{i}`` and ``spine{j}``
(leaf/spine). Every physical link is full duplex, so the graph holds both directed edges, each
with its own ``bandwidth_Bps`` and ``latency_s`` (latency includes the forwarding latency of the
switch the edge enters).

Routing is shortest path. Where several next hops tie (a leaf's uplinks to the spines), one
policy (``Scenario.path_selection``) picks for unicast and multicast alike, per flow: a flow is
a source and its destination set (one rank for a unicast write, the whole set for a MultiWrite
or a group), and all its packets take one path, so a multicast flow's branches share their first
hops and the union of its paths is a tree.

- ``source`` (default): candidate ``src mod k`` for every flow: a rank's traffic always crosses
  the same spine, which balances a leaf's uplinks when every rank sends alike and gives unicast
  and multicast the same paths (neither gains from spine choice).
- ``ecmp-hash``: candidate ``crc32(flow) mod k``, per-flow ECMP hashing as commodity switches do
  (hash-threshold ECMP, RFC 2992; multicast trees hashed on source and group, as ECMP multipath
  for multicast does). Hash collisions can put several large flows on one uplink.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import networkx as nx

from companion.multiwrite.scenario import PATH_SELECTIONS, Scenario


def rank_node(rank: int) -> str:
    return f"r{rank}"


class Topology:
    """A directed graph of ranks and switches plus the routing over it."""

    def __init__(self, graph: nx.DiGraph, ranks: int, path_selection: str = "source"):
        if path_selection not in PATH_SELECTIONS:
            raise ValueError(f"path_selection must be one of {PATH_SELECTIONS}, got {path_selection!r}")
        self.graph = graph
        self.ranks = ranks
        self.path_selection = path_selection
        self.rank_nodes = [rank_node(r) for r in range(ranks)]
        self.switches = sorted(n for n in graph.nodes if not graph.nodes[n].get("rank", False))
        # hops[dst][node]: shortest hop count from node to rank dst (links are symmetric).
        self._hops = [nx.single_source_shortest_path_length(graph, rank_node(d)) for d in range(ranks)]
        self.next_hops = lru_cache(maxsize=None)(self._next_hops)

    def _next_hops(self, node: str, dst: int) -> tuple[str, ...]:
        """Neighbours of ``node`` one hop closer to rank ``dst``, sorted by name."""
        hops = self._hops[dst]
        return tuple(sorted(v for v in self.graph.successors(node) if hops.get(v, -1) == hops[node] - 1))

    def path(self, src: int, dst: int, flow: int) -> list[str]:
        """Nodes from rank ``src`` to rank ``dst``; ``flow`` picks among equal-cost next hops."""
        node, target, nodes = rank_node(src), rank_node(dst), [rank_node(src)]
        while node != target:
            candidates = self.next_hops(node, dst)
            node = candidates[flow % len(candidates)]
            nodes.append(node)
        return nodes

    def flow(self, src: int, dests: tuple[int, ...]) -> int:
        """The equal-cost choice of the flow from ``src`` to ``dests`` (see the module docstring)."""
        if self.path_selection == "source":
            return src
        return zlib.crc32(f"{src}>{','.join(map(str, dests))}".encode())

    def unicast_path(self, src: int, dst: int) -> list[str]:
        return self.path(src, dst, flow=self.flow(src, (dst,)))

    def multicast_tree(self, src: int, dests: tuple[int, ...]) -> dict[str, tuple[str, ...]]:
        """Children of each node on the tree from ``src`` to every rank in ``dests``.

        Raises if two branches reach a node by different parents (the tree would not be one).
        """
        parent: dict[str, str] = {}
        children: dict[str, list[str]] = {}
        flow = self.flow(src, dests)
        for dst in dests:
            nodes = self.path(src, dst, flow=flow)
            for upstream, downstream in zip(nodes, nodes[1:]):
                known = parent.setdefault(downstream, upstream)
                if known != upstream:
                    raise RuntimeError(f"multicast routes from r{src} reach {downstream} from {known} and {upstream}")
                kids = children.setdefault(upstream, [])
                if downstream not in kids:
                    kids.append(downstream)
        return {node: tuple(kids) for node, kids in children.items()}


def _add_link(
    graph: nx.DiGraph, a: str, b: str, bandwidth_Bps: float, latency_a_to_b_s: float, latency_b_to_a_s: float
) -> None:
    graph.add_edge(a, b, bandwidth_Bps=bandwidth_Bps, latency_s=latency_a_to_b_s)
    graph.add_edge(b, a, bandwidth_Bps=bandwidth_Bps, latency_s=latency_b_to_a_s)


def build(scenario: Scenario) -> Topology:
    """The fabric a scenario names, with its bandwidths and latencies."""
    link_s = scenario.link_latency_ns * 1e-9
    into_switch_s = link_s + scenario.switch_latency_ns * 1e-9
    graph = nx.DiGraph()
    for r in range(scenario.ranks):
        graph.add_node(rank_node(r), rank=True)
    if scenario.topology == "star":
        graph.add_node("sw", rank=False)
        for r in range(scenario.ranks):
            _add_link(graph, rank_node(r), "sw", scenario.link_Bps, into_switch_s, link_s)
    elif scenario.topology == "fullmesh":
        for a in range(scenario.ranks):
            for b in range(a + 1, scenario.ranks):
                _add_link(graph, rank_node(a), rank_node(b), scenario.link_Bps, link_s, link_s)
    elif scenario.topology == "leafspine":
        group = scenario.node_ranks
        for leaf in range(scenario.nodes):
            graph.add_node(f"leaf{leaf}", rank=False)
            for r in range(leaf * group, (leaf + 1) * group):
                _add_link(graph, rank_node(r), f"leaf{leaf}", scenario.link_Bps, into_switch_s, link_s)
        if scenario.nodes > 1:
            for spine in range(scenario.spine_count):
                graph.add_node(f"spine{spine}", rank=False)
                for leaf in range(scenario.nodes):
                    _add_link(graph, f"leaf{leaf}", f"spine{spine}", scenario.uplink_Bps, into_switch_s, into_switch_s)
    else:  # Scenario validation makes this unreachable; kept as a guard for direct callers
        raise ValueError(f"topology: unknown {scenario.topology!r}")
    return Topology(graph, scenario.ranks, scenario.path_selection)
