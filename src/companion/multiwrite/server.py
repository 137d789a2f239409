"""FIFO servers: the one mechanism behind links, rank engines and switch replication engines.

A server takes chunks in arrival order and is busy ``wire_bytes / bandwidth_Bps`` with each
(ASTRA-sim's congestion-aware link model); a chunk reaches its next stop ``latency_s`` after its
last byte left. The simulator moves hundreds of thousands of chunks per run, so the work per
chunk and server is kept to one or two events: a link without flow control knows, when a chunk
arrives, exactly when it will leave (FIFO: after everything already queued), and schedules its
arrival downstream directly -- one event.

Events: a server's own events are plain tuples ``(function, a, b)`` in simpy's event queue,
run as ``function(a, b)`` by :meth:`companion.multiwrite.simulation.Simulation.run` (the only
loop that runs this queue). They take the place a ``simpy.Timeout`` would (time, NORMAL
priority, next event id), so the order of events is simpy's, without an event object each.

Lossless flow control (optional): a :class:`Link` with a finite ``buffer_bytes`` starts a chunk
only when the input buffer at its far end has room (credits). The chunk keeps its place in that
buffer (a :class:`Hold`) until every server it goes to next has sent it on; then the credits
return to the link. Credits return without delay (a simplification: their flight time is ignored).

``max_queue_bytes`` is the largest backlog a chunk found on arrival: bytes not yet sent, the
unsent part of the chunk in service included.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from heapq import heappush
from itertools import chain

from simpy.events import NORMAL


class Chunk:
    """A train of packets moved as one unit.

    ``pieces`` is a tuple of ``(key, nbytes)``: which payload bytes it carries, keyed by origin
    (``key[0]`` is the rank the data started at). ``op`` is the operation it belongs to, whose
    delivery check it reports to. ``route`` maps a node to the servers the chunk takes from there
    (see :class:`companion.multiwrite.fabric.Fabric`).
    """

    __slots__ = ("op", "route", "pieces", "payload_bytes", "wire_bytes", "packets")

    def __init__(self, op, route, pieces, payload_bytes: int, wire_bytes: int, packets: int):
        self.op = op
        self.route = route
        self.pieces = pieces
        self.payload_bytes = payload_bytes
        self.wire_bytes = wire_bytes
        self.packets = packets


Sink = Callable[[Chunk, "Hold | None"], None]


class Hold:
    """A chunk's place in the input buffer at the far end of ``link``, until all its copies left."""

    __slots__ = ("link", "wire_bytes", "remaining")

    def __init__(self, link: Link, wire_bytes: int):
        self.link = link
        self.wire_bytes = wire_bytes
        self.remaining = 1

    def release(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.link.return_credit(self.wire_bytes)


class Server:
    """A FIFO server of bandwidth ``bandwidth_Bps`` whose output reaches the next stop after ``latency_s``."""

    __slots__ = (
        "env",
        "name",
        "bandwidth_Bps",
        "latency_s",
        "queue",
        "busy",
        "current",
        "free_at",
        "queued_bytes",
        "max_queue_bytes",
        "busy_s",
        "_events",
        "_event_ids",
    )

    def __init__(self, env, name: str, bandwidth_Bps: float, latency_s: float = 0.0):
        self.env = env
        self.name = name
        self.bandwidth_Bps = bandwidth_Bps
        self.latency_s = latency_s
        self.queue: deque = deque()
        self.busy = False
        self.current = None  # (chunk, upstream hold, sink, downstream hold) of the chunk in service
        self.free_at = 0.0  # when the chunk in service (or the last one scheduled) finishes
        self.queued_bytes = 0
        self.max_queue_bytes = 0
        self.busy_s = 0.0
        self._events = env._queue  # simpy's event heap and id counter: both live as long as env
        self._event_ids = env._eid

    def _note_backlog(self) -> None:
        in_service = (self.free_at - self.env._now) * self.bandwidth_Bps if self.busy else 0.0
        backlog = self.queued_bytes + in_service
        if backlog > self.max_queue_bytes:
            self.max_queue_bytes = backlog

    def push(self, chunk: Chunk, hold: Hold | None, sink: Sink) -> None:
        """Queue ``chunk``; ``sink(chunk, hold)`` runs when it reaches the next stop."""
        self._note_backlog()
        self.queue.append((chunk, hold, sink))
        self.queued_bytes += chunk.wire_bytes
        if not self.busy:
            self._start()

    def _next(self) -> tuple | None:
        """The entry to serve next (removed from the queue), or None if it must wait."""
        return self.queue.popleft()

    def _start(self) -> None:
        entry = self._next()
        if entry is None:
            return
        chunk = entry[0]
        self.queued_bytes -= chunk.wire_bytes
        self.busy = True
        self.current = entry
        service_s = self._service_s(entry)
        self.busy_s += service_s
        now = self.env._now
        self.free_at = now + service_s
        event = (Server._finish, self, None)  # subclasses that finish differently start differently too
        heappush(self._events, (now + service_s, NORMAL, next(self._event_ids), event))

    def _service_s(self, entry: tuple) -> float:
        return entry[0].wire_bytes / self.bandwidth_Bps

    def _finish(self, _unused=None) -> None:
        entry = self.current
        chunk, hold, sink = entry[0], entry[1], entry[2]
        next_hold = entry[3] if len(entry) == 4 else None  # only a flow-controlled link takes a downstream place
        self.current = None
        self.busy = False
        self._sent(chunk)
        if self.queue:  # start the next chunk before handing this one on: the sink may push here again
            self._start()
        next_hold = self._pass_hold(hold, next_hold)
        if self.latency_s:
            event = (sink, chunk, next_hold)  # reaches the next stop: sink(chunk, next_hold)
            heappush(self._events, (self.env._now + self.latency_s, NORMAL, next(self._event_ids), event))
        else:
            sink(chunk, next_hold)

    def _sent(self, chunk: Chunk) -> None:
        """Bookkeeping once the last byte of ``chunk`` left."""

    def _pass_hold(self, hold: Hold | None, next_hold: Hold | None) -> Hold | None:
        """The chunk has left: free its place upstream; return the place it takes downstream."""
        if hold is not None:
            hold.release()
        return next_hold


class Engine(Server):
    """A rank's DMA/NIC engine: sends, receives, or both when shared.

    Outstanding writes share it round-robin, one chunk at a time, as a NIC serves its queue
    pairs: chunks are grouped into flows by route (one flow per destination set, and the
    incoming chunks of each sender form flows of their own). Within a flow, order is FIFO.
    An engine has no latency and no flow-control place of its own: :meth:`_start` and
    :meth:`_finish` are :class:`Server`'s, specialised to that.
    """

    __slots__ = ("flows",)

    def __init__(self, env, name: str, bandwidth_Bps: float):
        super().__init__(env, name, bandwidth_Bps, 0.0)
        self.flows: dict[int, deque] = {}  # flow -> its waiting chunks; ``queue`` holds the flows' turns

    def push(self, chunk: Chunk, hold: Hold | None, sink: Sink) -> None:
        if not self.busy:  # idle, so nothing waits (no backlog to note): serve it at once
            self._serve((chunk, hold, sink))
            return
        backlog = self.queued_bytes + (self.free_at - self.env._now) * self.bandwidth_Bps  # Server._note_backlog
        if backlog > self.max_queue_bytes:
            self.max_queue_bytes = backlog
        flow = id(chunk.route)
        waiting = self.flows.get(flow)
        if waiting is None:
            waiting = self.flows[flow] = deque()
            self.queue.append(flow)
        waiting.append((chunk, hold, sink))
        self.queued_bytes += chunk.wire_bytes

    def _start(self) -> None:
        flow = self.queue.popleft()
        waiting = self.flows[flow]
        entry = waiting.popleft()
        if waiting:
            self.queue.append(flow)
        else:
            del self.flows[flow]
        self.queued_bytes -= entry[0].wire_bytes
        self._serve(entry)

    def _serve(self, entry: tuple) -> None:
        self.busy = True
        self.current = entry
        service_s = entry[0].wire_bytes / self.bandwidth_Bps
        self.busy_s += service_s
        now = self.env._now
        self.free_at = now + service_s
        heappush(self._events, (now + service_s, NORMAL, next(self._event_ids), (Engine._finish, self, None)))

    def _finish(self, _unused=None) -> None:
        chunk, hold, sink = self.current
        self.current = None
        self.busy = False
        if self.queue:  # start the next chunk before handing this one on: the sink may push here again
            self._start()
        if hold is not None:
            hold.release()
        sink(chunk, None)


class FanOut:
    """Sends a chunk on to several servers (the branches of a multicast tree at one node)."""

    __slots__ = ("outs", "copies")

    def __init__(self, outs: tuple[tuple[Server, Sink], ...]):
        self.outs = outs
        self.copies = len(outs)

    def __call__(self, chunk: Chunk, hold: Hold | None) -> None:
        if hold is not None:
            hold.remaining = self.copies
        for server, sink in self.outs:
            server.push(chunk, hold, sink)


class Replicator(Server):
    """A switch's replication engine: a branching chunk keeps it busy copies x wire bytes / rate.

    Chunks arrive with a :class:`FanOut` as their sink. The chunk stays in the switch's input
    buffer while it is replicated, so its hold passes on to the copies.
    """

    __slots__ = ("copies",)

    def __init__(self, env, name: str, bandwidth_Bps: float, latency_s: float):
        super().__init__(env, name, bandwidth_Bps, latency_s)
        self.copies = 0

    def _service_s(self, entry: tuple) -> float:
        chunk, _, fan_out = entry
        self.copies += fan_out.copies
        return fan_out.copies * chunk.wire_bytes / self.bandwidth_Bps  # 0 at an infinite rate

    def _pass_hold(self, hold: Hold | None, next_hold: Hold | None) -> Hold | None:
        return hold


class Link(Server):
    """A directed link ``src -> dst`` with per-link traffic statistics and optional credits.

    ``max_duplication`` (most copies of one payload piece this link carried) is counted at the
    end of the run from the pieces it sent (``track_duplication``; 0 when not tracked).
    """

    __slots__ = (
        "src",
        "dst",
        "credit_bytes",
        "lossless",
        "bytes",
        "payload_bytes",
        "packets",
        "sent_pieces",
    )

    def __init__(
        self,
        env,
        src: str,
        dst: str,
        bandwidth_Bps: float,
        latency_s: float,
        buffer_bytes: float = math.inf,
        track_duplication: bool = True,
    ):
        super().__init__(env, f"{src}->{dst}", bandwidth_Bps, latency_s)
        self.src = src
        self.dst = dst
        self.credit_bytes = buffer_bytes
        self.lossless = buffer_bytes != math.inf
        self.bytes = 0
        self.payload_bytes = 0
        self.packets = 0
        self.sent_pieces: list | None = [] if track_duplication else None  # the pieces of every chunk sent

    def push(self, chunk: Chunk, hold: Hold | None, sink: Sink) -> None:
        if self.lossless:
            super().push(chunk, hold, sink)
            return
        # No flow control: FIFO means this chunk leaves once everything queued before it has left.
        now = self.env._now
        free_at = self.free_at
        if free_at > now:
            backlog = (free_at - now) * self.bandwidth_Bps
            if backlog > self.max_queue_bytes:
                self.max_queue_bytes = backlog
        else:
            free_at = now
        wire_bytes = chunk.wire_bytes
        service_s = wire_bytes / self.bandwidth_Bps
        self.free_at = free_at = free_at + service_s
        self.busy_s += service_s
        self.bytes += wire_bytes  # what _sent counts, inline: this is the simulator's busiest line
        self.payload_bytes += chunk.payload_bytes
        self.packets += chunk.packets
        if self.sent_pieces is not None:
            self.sent_pieces.append(chunk.pieces)
        arrival_s = now + (free_at - now + self.latency_s)
        heappush(self._events, (arrival_s, NORMAL, next(self._event_ids), (sink, chunk, None)))

    def _next(self) -> tuple | None:
        chunk, hold, sink = self.queue[0]
        if chunk.wire_bytes > self.credit_bytes:
            return None  # wait for credits
        self.queue.popleft()
        self.credit_bytes -= chunk.wire_bytes
        return chunk, hold, sink, Hold(self, chunk.wire_bytes)

    def return_credit(self, wire_bytes: int) -> None:
        self.credit_bytes += wire_bytes
        if not self.busy and self.queue:
            self._start()

    def _sent(self, chunk: Chunk) -> None:
        self.bytes += chunk.wire_bytes
        self.payload_bytes += chunk.payload_bytes
        self.packets += chunk.packets
        if self.sent_pieces is not None:
            self.sent_pieces.append(chunk.pieces)

    @property
    def max_duplication(self) -> int:
        """Most times one payload piece crossed this link (0 when duplication is not tracked)."""
        if not self.sent_pieces:
            return 0
        counts = Counter(key for key, _ in chain.from_iterable(self.sent_pieces))
        return max(counts.values(), default=0)
