"""Run collectives on a simulated fabric: :func:`simulate` for one operation, :class:`Simulation`
for several on the same fabric (the stress test).

Time zero is the first issue. The run loop steps simpy one event at a time so that it can count
events (the benchmark's unit of simulator speed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from heapq import heappop

import simpy

from companion.multiwrite import topology as topology_module
from companion.multiwrite.collectives import plan_for
from companion.multiwrite.fabric import Fabric
from companion.multiwrite.groups import GroupTable
from companion.multiwrite.operation import Operation, Plan
from companion.multiwrite.rank import Rank
from companion.multiwrite.result import RunResult, summarize
from companion.multiwrite.scenario import Scenario

PROGRESS_EVERY_S = 2.0
REPORT_BATCH = 50_000  # events between looks at the wall clock


class Simulation:
    """A fabric, its ranks and its multicast group table, on one simpy clock."""

    def __init__(self, scenario: Scenario, track_duplication: bool = True):
        self.scenario = scenario
        self.env = simpy.Environment()
        self.topology = topology_module.build(scenario)
        self.ranks: list[Rank] = []
        self.fabric = Fabric(self.env, scenario, self.topology, self._receiver, track_duplication)
        self.groups = GroupTable(self.env, scenario, self.topology)
        self.ranks = [Rank(r, self.env, scenario, self.fabric, self.groups) for r in range(scenario.ranks)]
        self.events = 0

    def _receiver(self, rank: int):
        return self.ranks[rank].receive  # a receive engine hands on no buffer place: no hold to release

    def launch(self, plan: Plan, index: int = 0, delays_s: list[float] | None = None) -> Operation:
        """Start ``plan`` now; rank r begins after ``delays_s[r]`` (default: all at once)."""
        op = Operation(self.env, plan, index)
        for rank, writes in zip(self.ranks, plan.programs):
            delay = delays_s[rank.index] if delays_s else 0.0
            self.env.process(rank.run(op, writes, delay))
        return op

    def run(self, until: simpy.Event | None = None, progress: Callable[[str], None] | None = None) -> int:
        """Process events until ``until`` fires (default: until none are left); return their count.

        ``progress``: called with a status line (simulated time, events, events/s) about every
        ``PROGRESS_EVERY_S`` of wall time.
        """
        env, count = self.env, 0
        queue = env._queue
        started = time.perf_counter()
        report_at = REPORT_BATCH if progress is not None else math.inf
        last_report = started
        # simpy's Environment.step, inlined (same order, same failure check): the loop runs once per event.
        # A server's event is a plain tuple (function, a, b) (see companion.multiwrite.server).
        while until is None or until.callbacks is not None:
            try:
                env._now, _, _, event = heappop(queue)
            except IndexError:
                if until is not None:
                    raise RuntimeError(
                        "the simulation ran out of events before the operation completed (a deadlock)"
                    ) from None
                break
            count += 1
            if count >= report_at:
                report_at += REPORT_BATCH
                now = time.perf_counter()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    rate = count / (now - started)
                    progress(f"simulated {env.now * 1e6:.1f} us, {count} events, {rate:,.0f} events/s")
            if event.__class__ is tuple:
                function, a, b = event
                function(a, b)
                continue
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                error = type(event._value)(*event._value.args)
                error.__cause__ = event._value
                raise error
        self.events += count
        return count


def simulate(scenario: Scenario, check: bool = True, progress: Callable[[str], None] | None = None) -> RunResult:
    """Simulate one collective; raise DeliveryError if any receiver did not get exactly its bytes.

    ``progress``: called with a status line about every 2 s of wall time on long runs.
    """
    started = time.perf_counter()
    sim = Simulation(scenario)
    op = sim.launch(plan_for(scenario))
    sim.run(progress=progress)
    if check:
        op.check()
    return summarize(sim, op, wall_s=time.perf_counter() - started)
