"""AllGather algorithms as programs of writes: every rank ends with every other rank's block.

Rank r's block is cut into chunks of ``scenario.chunk_bytes_for(message_bytes)``; chunk i of
origin o is the piece ``(o, i)``, the same key wherever it travels, so duplicates on a link and
the delivery check compare like with like. Destinations are visited in shifted order
(r+1, r+2, ...) so that at any moment each receiver is fed by one sender, as NCCL and HCCL do.

- ``ring``: N-1 writes to the next rank, each forwarding the block received one step earlier,
  chunk by chunk as it arrives.
- ``mesh`` (direct): N-1 writes of the own block, one per peer.
- ``multiwrite``: one write of the own block to all peers; the network replicates it.
- ``group-multicast``: the same through group-table multicast (see ``groups``).
- ``hierarchical``: inter-node first (own block to the same local rank of every other node),
  then intra-node (own and received blocks to every local peer), both as unicast writes.
- ``hierarchical-multiwrite``: the same two steps, each a MultiWrite to the whole step's peers.
"""

from __future__ import annotations

from companion.multiwrite.operation import Piece, Plan, Write
from companion.multiwrite.scenario import Scenario


def block_chunks(origin: int, message_bytes: int, chunk_bytes: int) -> list[tuple[Piece, ...]]:
    """Rank ``origin``'s block as chunks, each one piece ``((origin, i), nbytes)``."""
    starts = range(0, message_bytes, chunk_bytes)
    return [(((origin, i), min(chunk_bytes, message_bytes - start)),) for i, start in enumerate(starts)]


def _shifted(rank: int, members: list[int]) -> list[int]:
    """``members`` other than ``rank``, starting after ``rank`` and wrapping around."""
    ordered = sorted(members)
    after = [m for m in ordered if m > rank]
    before = [m for m in ordered if m < rank]
    return after + before


def _ring(s: Scenario, r: int, blocks) -> list[Write]:
    n = s.ranks
    return [Write(r, ((r + 1) % n,), blocks[(r - step) % n]) for step in range(n - 1)]


def _mesh(s: Scenario, r: int, blocks) -> list[Write]:
    return [Write(r, (peer,), blocks[r]) for peer in _shifted(r, list(range(s.ranks)))]


def _one_to_all(kind: str):
    def build(s: Scenario, r: int, blocks) -> list[Write]:
        return [Write(r, tuple(p for p in range(s.ranks) if p != r), blocks[r], kind)]

    return build


def _rail_and_local(s: Scenario, r: int) -> tuple[list[int], list[int], list[int]]:
    """Peers of ``r``: same local index on other nodes (sending order), the blocks' arrival order, local peers."""
    g, nodes = s.node_ranks, s.nodes
    node, local = divmod(r, g)
    rail = [((node + j) % nodes) * g + local for j in range(1, nodes)]
    arrivals = [((node - j) % nodes) * g + local for j in range(1, nodes)]  # who sends to r at its j-th write
    local_peers = [node * g + (local + j) % g for j in range(1, g)]
    return rail, arrivals, local_peers


def _hierarchical(s: Scenario, r: int, blocks) -> list[Write]:
    rail, arrivals, local_peers = _rail_and_local(s, r)
    writes = [Write(r, (p,), blocks[r]) for p in rail]
    for origin in [r, *arrivals]:
        writes += [Write(r, (q,), blocks[origin]) for q in local_peers]
    return writes


def _hierarchical_multiwrite(s: Scenario, r: int, blocks) -> list[Write]:
    rail, arrivals, local_peers = _rail_and_local(s, r)
    writes = [Write(r, tuple(sorted(rail)), blocks[r], "multiwrite")] if rail else []
    if local_peers:
        writes += [Write(r, tuple(sorted(local_peers)), blocks[origin], "multiwrite") for origin in [r, *arrivals]]
    return writes


BUILDERS = {
    "ring": _ring,
    "mesh": _mesh,
    "multiwrite": _one_to_all("multiwrite"),
    "group-multicast": _one_to_all("group"),
    "hierarchical": _hierarchical,
    "hierarchical-multiwrite": _hierarchical_multiwrite,
}


def plan(s: Scenario) -> Plan:
    """The AllGather of ``s.message_bytes`` per rank with ``s.algorithm``."""
    chunk = s.chunk_bytes_for(s.message_bytes)
    blocks = [block_chunks(o, s.message_bytes, chunk) for o in range(s.ranks)]
    pieces = {key: n for block in blocks for chunk_pieces in block for key, n in chunk_pieces}
    expected = [{key: n for key, n in pieces.items() if key[0] != r} for r in range(s.ranks)]
    programs = [BUILDERS[s.algorithm](s, r, blocks) for r in range(s.ranks)]
    return Plan(programs=programs, expected=expected, data_bytes=float(s.ranks * s.message_bytes))
