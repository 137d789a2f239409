"""One collective operation: the writes each rank posts, and the check of what each rank received.

A :class:`Plan` is what a collective algorithm produces before anything runs: for every rank,
the writes it posts in program order and the payload pieces it must end up with. An
:class:`Operation` is a plan being executed: it records every delivery and fails the run if a
receiver misses a piece, gets one it should not, or gets one twice.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import simpy

Piece = tuple[Hashable, int]  # (key, nbytes); key[0] is the origin rank of the data
KINDS = ("unicast", "multiwrite", "group")


class DeliveryError(RuntimeError):
    """A simulated operation delivered the wrong bytes."""


@dataclass(eq=False)
class Write:
    """One write posted by ``src``: ``chunks`` (tuples of pieces) to every rank in ``dests``.

    ``kind``: ``unicast`` (one destination), ``multiwrite`` (the network replicates it, the
    header carries a destination bitmap) or ``group`` (group-table multicast).
    """

    src: int
    dests: tuple[int, ...]
    chunks: list[tuple[Piece, ...]]
    kind: str = "unicast"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"write kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "unicast" and len(self.dests) != 1:
            raise ValueError(f"a unicast write has one destination, got {self.dests}")
        if self.src in self.dests or not self.dests:
            raise ValueError(f"write from r{self.src}: destinations {self.dests} must be other ranks")

    @property
    def payload_bytes(self) -> int:
        return sum(n for chunk in self.chunks for _, n in chunk)


@dataclass
class Plan:
    """Writes per rank (program order) and, per rank, the pieces it must receive: key -> bytes."""

    programs: list[list[Write]]
    expected: list[dict[Hashable, int]]
    data_bytes: float  # S of NCCL-tests' algbw = S / t
    notes: dict = field(default_factory=dict)


class Operation:
    """Delivery bookkeeping of one executing plan; ``done`` fires when every rank has all its bytes."""

    def __init__(self, env: simpy.Environment, plan: Plan, index: int = 0, max_errors: int = 20):
        self.env = env
        self.plan = plan
        self.index = index
        ranks = len(plan.programs)
        self.received: list[set] = [set() for _ in range(ranks)]
        self.missing = [len(e) for e in plan.expected]
        self.received_bytes = [0] * ranks
        self.completion_s: list[float | None] = [None] * ranks
        self.waiting: list[dict] = [{} for _ in range(ranks)]  # rank -> key -> chunks waiting for it
        self.errors: list[str] = []
        self.error_count = 0
        self._max_errors = max_errors
        self.first_issue_s: float | None = None
        self.done = env.event()
        self._pending = ranks

    def issued(self, rank: int) -> None:
        """Rank ``rank`` starts the operation now; a rank with nothing to receive is done at once."""
        now = self.env.now
        if self.first_issue_s is None or now < self.first_issue_s:
            self.first_issue_s = now
        if self.missing[rank] == 0 and self.completion_s[rank] is None:
            self._complete(rank)

    def deliver(self, rank: int, pieces) -> None:
        """Record the pieces of a chunk that reached ``rank``'s memory."""
        received, expected = self.received[rank], self.plan.expected[rank]
        for key, nbytes in pieces:
            if key in received:
                self._error(f"r{rank} received {key} twice")
                continue
            received.add(key)
            if expected.get(key) != nbytes:
                self._error(f"r{rank} received {key} ({nbytes} B) that it should not")
                continue
            self.missing[rank] -= 1
            self.received_bytes[rank] += nbytes
        if self.missing[rank] == 0 and self.completion_s[rank] is None:
            self._complete(rank)

    def _complete(self, rank: int) -> None:
        self.completion_s[rank] = self.env.now
        self._pending -= 1
        if self._pending == 0:
            self.done.succeed(self)

    def _error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self._max_errors:
            self.errors.append(message)

    # --- results --------------------------------------------------------------------------------
    @property
    def delivered_ok(self) -> bool:
        """Every receiver got exactly its bytes, each piece once."""
        return (
            self.error_count == 0
            and all(m == 0 for m in self.missing)
            and all(got == sum(e.values()) for got, e in zip(self.received_bytes, self.plan.expected))
        )

    def check(self) -> None:
        """Raise DeliveryError unless the delivery is exact."""
        if self.delivered_ok:
            return
        problems = list(self.errors)
        problems += [f"r{r} is missing {m} pieces" for r, m in enumerate(self.missing) if m]
        raise DeliveryError(
            f"operation {self.index}: delivery check failed: " + "; ".join(problems[: self._max_errors])
        )

    @property
    def latency_s(self) -> float:
        """First issue to the last byte at the last receiver."""
        if self._pending:
            raise DeliveryError(f"operation {self.index} has not completed")
        return max(self.completion_s) - self.first_issue_s
