"""A rank: posts its writes in program order, each after an issue overhead, and forwards data
it must first receive (ring and hierarchical algorithms) as soon as each piece has arrived."""

from __future__ import annotations

import math

import simpy

from companion.multiwrite.fabric import Fabric
from companion.multiwrite.groups import GroupTable
from companion.multiwrite.operation import Operation, Write
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.server import Chunk


class Rank:
    """Rank ``index``: its issue loop (a simpy process per operation) and its receive side."""

    def __init__(self, index: int, env: simpy.Environment, scenario: Scenario, fabric: Fabric, groups: GroupTable):
        self.index = index
        self.env = env
        self.fabric = fabric
        self.groups = groups
        self.issue_s = scenario.issue_overhead_ns * 1e-9
        self.mtu_bytes = scenario.mtu_bytes
        self.header_bytes = {
            "unicast": scenario.header_bytes,
            "group": scenario.header_bytes,
            "multiwrite": scenario.multicast_header_bytes,
        }
        self.writes_posted = 0

    def run(self, op: Operation, writes: list[Write], delay_s: float = 0.0):
        """Simpy process: start after ``delay_s``, then post ``writes`` one after another."""
        if delay_s:
            yield self.env.timeout(delay_s)
        op.issued(self.index)
        for write in writes:
            if self.issue_s:
                yield self.env.timeout(self.issue_s)
            if write.kind == "group":
                installed = yield from self.groups.ensure(write)
                if not installed:  # table full: one unicast write per destination
                    for position, dst in enumerate(write.dests):
                        if position and self.issue_s:
                            yield self.env.timeout(self.issue_s)
                        self.post(op, Write(write.src, (dst,), write.chunks, "unicast"))
                    continue
            self.post(op, write)

    def post(self, op: Operation, write: Write) -> None:
        """Cut ``write`` into chunks and send each once the rank holds its data."""
        self.writes_posted += 1
        route = self.fabric.route(write.src, write.dests, multicast=write.kind != "unicast")
        header = self.header_bytes[write.kind]
        for pieces in write.chunks:
            payload = pieces[0][1] if len(pieces) == 1 else sum(n for _, n in pieces)
            packets = math.ceil(payload / self.mtu_bytes)
            self.send_when_ready(Chunk(op, route, pieces, payload, payload + packets * header, packets))

    def send_when_ready(self, chunk: Chunk) -> None:
        op, index = chunk.op, self.index
        received = op.received[index]
        for key, _ in chunk.pieces:
            if key[0] != index and key not in received:  # neither its own data nor received yet
                op.waiting[index].setdefault(key, []).append(chunk)
                return
        self.fabric.inject(chunk, index)

    def receive(self, chunk: Chunk, _hold=None) -> None:
        """The receive engine wrote ``chunk`` to memory: record it, release writes waiting for it."""
        op = chunk.op
        op.deliver(self.index, chunk.pieces)
        waiting = op.waiting[self.index]
        if waiting:
            for key, _ in chunk.pieces:
                for blocked in waiting.pop(key, ()):
                    self.send_when_ready(blocked)
