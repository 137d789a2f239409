"""The servers of one fabric and the routes that chain them.

A chunk's journey: the source rank's send engine, then the links of its route; at a node where a
multicast tree branches, a switch's replication engine (when replication has a finite rate or a
latency) and then one copy per branch; at each destination rank, its receive engine. On a full
mesh a multicast tree branches at the source itself: its engine reads the data once and the port
replicates it onto the direct links.

A route is a dict ``node -> ((server, sink), ...)``: where a chunk standing at ``node`` goes next.
Routes are built once per (source, destinations, kind) and cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from companion.multiwrite.scenario import Scenario
from companion.multiwrite.server import Chunk, Engine, FanOut, Hold, Link, Replicator, Server, Sink
from companion.multiwrite.topology import Topology, rank_node

Route = dict[str, tuple]


def _arrival_at(node: str) -> Callable[[Chunk, Hold | None], None]:
    """What a chunk arriving at ``node`` does: go on along every branch its route takes from there.
    (A closure, not a bound method: it runs once per chunk and hop.)"""

    def arrive(chunk: Chunk, hold: Hold | None) -> None:
        outs = chunk.route[node]
        if hold is not None:
            hold.remaining = len(outs)
        for server, sink in outs:
            server.push(chunk, hold, sink)

    return arrive


class Fabric:
    """Links, rank engines and switch replicators of one topology, plus routing of chunks."""

    def __init__(
        self,
        env,
        scenario: Scenario,
        topology: Topology,
        receiver: Callable[[int], Sink],
        track_duplication: bool = True,
    ):
        """``receiver(rank)``: what rank ``rank`` does with a chunk its receive engine wrote to memory
        (asked when a route to it is first built, so ranks may be created after the fabric)."""
        self.env = env
        self.scenario = scenario
        self.topology = topology
        self.links: dict[tuple[str, str], Link] = {
            (u, v): Link(
                env, u, v, attrs["bandwidth_Bps"], attrs["latency_s"], scenario.buffer_bytes, track_duplication
            )
            for u, v, attrs in sorted(topology.graph.edges(data=True))
        }
        self.send_engines: list[Engine] = []
        self.receive_engines: list[Engine] = []
        for r in range(scenario.ranks):
            if scenario.engine == "shared":
                shared = Engine(env, f"r{r}.engine", scenario.engine_Bps)
                self.send_engines.append(shared)
                self.receive_engines.append(shared)
            else:
                self.send_engines.append(Engine(env, f"r{r}.send", scenario.engine_Bps))
                self.receive_engines.append(Engine(env, f"r{r}.receive", scenario.engine_Bps))
        replicating = math.isfinite(scenario.switch_replication_GBps) or scenario.replication_latency_ns > 0
        self.replicators: dict[str, Replicator] = (
            {
                switch: Replicator(
                    env,
                    f"{switch}.replicate",
                    scenario.switch_replication_GBps * 1e9,
                    scenario.replication_latency_ns * 1e-9,
                )
                for switch in topology.switches
            }
            if replicating
            else {}
        )
        self._into_node = {node: _arrival_at(node) for node in topology.graph.nodes}
        self._out_of_rank = [self._into_node[rank_node(r)] for r in range(scenario.ranks)]
        self._receiver = receiver
        self._routes: dict[tuple, Route] = {}

    # --- moving chunks --------------------------------------------------------------------------
    def inject(self, chunk: Chunk, src: int) -> None:
        """Hand a chunk of rank ``src`` to its send engine."""
        self.send_engines[src].push(chunk, None, self._out_of_rank[src])

    # --- routes ---------------------------------------------------------------------------------
    def route(self, src: int, dests: tuple[int, ...], multicast: bool) -> Route:
        """Where a chunk from ``src`` to ``dests`` goes at each node (unicast: one destination)."""
        key = (src, dests, multicast)
        cached = self._routes.get(key)
        if cached is not None:
            return cached
        if multicast:
            tree = self.topology.multicast_tree(src, dests)
        else:
            if len(dests) != 1:
                raise ValueError(f"a unicast route has one destination, got {dests}")
            path = self.topology.unicast_path(src, dests[0])
            tree = {a: (b,) for a, b in zip(path, path[1:])}
        route: Route = {}
        for node, children in tree.items():
            outs = tuple((self.links[(node, child)], self._into_node[child]) for child in children)
            if len(outs) > 1 and node in self.replicators:
                outs = ((self.replicators[node], FanOut(outs)),)
            route[node] = outs
        for dst in dests:
            route[rank_node(dst)] = ((self.receive_engines[dst], self._receiver(dst)),)
        self._routes[key] = route
        return route

    def links_of(self, route: Route) -> list[Link]:
        """The links a route uses (for tests and the analytic model's counts)."""
        found = []
        for outs in route.values():
            for server, sink in outs:
                targets = sink.outs if isinstance(sink, FanOut) else ((server, sink),)
                found.extend(s for s, _ in targets if isinstance(s, Link))
        return found

    # --- statistics -----------------------------------------------------------------------------
    def engines(self) -> list[Server]:
        unique = {id(e): e for e in [*self.send_engines, *self.receive_engines]}
        return list(unique.values())
