"""Traditional (group-table) multicast: the management plane MultiWrite does without.

Before a rank can multicast to a destination set it needs a group: one per distinct
(source, destination set), as in source-specific multicast. Creating one is a control-plane
round trip of ``group_setup_us``; the controller handles one request at a time (as a subnet
manager does), so setups queue. Each group takes one entry in the multicast table of every
switch on its tree (on a full mesh, of the source's port); a table holds ``group_table_entries``.
When any table on the tree is full, the write falls back to unicast. Groups stay installed for
the rest of the run (no eviction), so a later operation reuses them.

MultiWrite needs none of this: its packets carry the destination bitmap.
"""

from __future__ import annotations

from collections import Counter

import simpy

from companion.multiwrite.operation import Write
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.topology import Topology, rank_node


class GroupTable:
    """Groups, per-switch table occupancy and the serial controller that installs them."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, topology: Topology):
        self.env = env
        self.topology = topology
        self.capacity = scenario.group_table_entries
        self.setup_s = scenario.group_setup_us * 1e-6
        self.controller = simpy.Resource(env, capacity=1)
        self.entries: Counter[str] = Counter()
        self.groups: dict[tuple, simpy.Event] = {}  # (src, dests) -> fires once installed
        self.setups = 0
        self.fallbacks = 0
        self.setup_wait_s = 0.0

    def _table_nodes(self, src: int, dests: tuple[int, ...]) -> list[str]:
        tree = self.topology.multicast_tree(src, dests)
        switches = [node for node in tree if node in self.topology.switches]
        return switches or [rank_node(src)]

    def ensure(self, write: Write):
        """Simpy sub-process: returns True once the group of ``write`` is installed, False to fall back."""
        key = (write.src, write.dests)
        installed = self.groups.get(key)
        if installed is not None:
            if not installed.triggered:
                yield installed
            return True
        nodes = self._table_nodes(write.src, write.dests)
        if any(self.entries[node] >= self.capacity for node in nodes):
            self.fallbacks += 1
            return False
        for node in nodes:  # reserve now so concurrent setups cannot overfill a table
            self.entries[node] += 1
        installed = self.groups[key] = self.env.event()
        asked_s = self.env.now
        with self.controller.request() as request:
            yield request
            yield self.env.timeout(self.setup_s)
        installed.succeed()
        self.setups += 1
        self.setup_wait_s += self.env.now - asked_s
        return True

    @property
    def max_entries(self) -> int:
        return max(self.entries.values(), default=0)
