"""MoE AlltoAll dispatch: every token goes to the ranks hosting its top-k experts.

Routing is seeded. Each rank hosts ``experts_per_rank`` experts; a token picks ``top_k``
distinct experts, uniformly or with Zipf popularity (``skewed``: expert e has weight
1/(1+rank_of_e)^routing_skew, with the popularity order shuffled over the experts). Sampling
without replacement uses the Gumbel-top-k trick, vectorised over all tokens.

A token's destinations are the distinct ranks of its experts, minus its own rank (local tokens
never touch the network). Token t of rank r is the pieces ``(r, t, part)``.

- ``mesh`` (unicast baseline): one write per destination rank with every token it needs, so a
  token with r destination ranks is sent r times.
- ``multiwrite``: one write per distinct destination set, carrying its tokens once; the writes
  go out in mesh's order (sorted by their destinations' shifted positions r+1, r+2, ...).
- ``group-multicast``: the same sets through group-table multicast (one group per set).
"""

from __future__ import annotations

import numpy as np

from companion.multiwrite.operation import Piece, Plan, Write
from companion.multiwrite.scenario import Scenario


def expert_choices(s: Scenario) -> np.ndarray:
    """Chosen experts, shape (ranks, tokens_per_rank, top_k), int."""
    rng = np.random.default_rng(s.seed)
    experts = s.ranks * s.experts_per_rank
    if s.routing == "uniform":
        log_weight = np.zeros(experts)
    else:
        popularity = rng.permutation(experts)
        log_weight = -s.routing_skew * np.log1p(popularity.astype(float))
    # One rank at a time (the same draws, in the same order, as one (ranks, tokens, experts) array):
    # at 1024 ranks the whole array would take gigabytes.
    chosen = np.empty((s.ranks, s.tokens_per_rank, s.top_k), dtype=np.int64)
    shape = (s.tokens_per_rank, experts)
    draws = np.empty(shape)  # one buffer for every rank's uniform draws
    for r in range(s.ranks):
        if s.routing == "uniform":
            chosen[r] = _uniform_top_k(rng, draws, s.top_k)
        else:
            scores = log_weight + rng.gumbel(size=shape)
            chosen[r] = np.argpartition(-scores, s.top_k - 1, axis=-1)[:, : s.top_k]
    return chosen


# The k-th and (k+1)-th smallest uniform draws of a token this close are ranked by the Gumbel numbers.
UNIFORM_GAP = 1e-9


def _uniform_top_k(rng: np.random.Generator, draws: np.ndarray, k: int) -> np.ndarray:
    """``argpartition(-rng.gumbel(size=draws.shape), k - 1)[:, :k]``, 3x faster, from the same draws
    (``draws``: a buffer for them).

    numpy's Gumbel number is ``-log(-log(1 - u))`` of one uniform draw ``u`` (``rng.random``'s own), a
    strictly decreasing function, so the k largest Gumbel numbers are the k smallest draws, and
    argpartition, which only compares, picks them (in the same order, unless rounding ties the Gumbel
    numbers of two different draws of a token, which needs draws within about 1e-15). Where the k-th and (k+1)-th
    smallest draws of a token are so close that rounding could tie their Gumbel numbers, or a draw is
    0 (which ``gumbel`` redraws), the Gumbel numbers themselves are drawn again from the same state."""
    state = rng.bit_generator.state
    rng.random(out=draws)
    picked = np.argpartition(draws, k - 1, axis=-1)[:, :k]
    smallest = np.take_along_axis(draws, picked, axis=-1)  # the k smallest draws of each token
    # No other draw within UNIFORM_GAP above a token's k-th smallest, and no draw 0.
    within = np.count_nonzero(draws <= smallest.max(axis=-1, keepdims=True) + UNIFORM_GAP, axis=-1)
    if (within == k).all() and smallest.min(initial=1.0) > 0.0:
        return picked
    rng.bit_generator.state = state
    return np.argpartition(-rng.gumbel(size=draws.shape), k - 1, axis=-1)[:, :k]


def destination_sets(s: Scenario) -> list[list[tuple[int, ...]]]:
    """For each rank and token, the sorted remote ranks it must reach (possibly empty)."""
    ranks_of = expert_choices(s) // s.experts_per_rank
    return [[tuple(sorted(set(row.tolist()) - {r})) for row in ranks_of[r]] for r in range(s.ranks)]


def _token_pieces(s: Scenario, r: int, t: int, grain: int) -> list[Piece]:
    return [((r, t, i), min(grain, s.token_bytes - start)) for i, start in enumerate(range(0, s.token_bytes, grain))]


def _pack(pieces: list[Piece], grain: int) -> list[tuple[Piece, ...]]:
    """Consecutive pieces packed into chunks of at most ``grain`` payload bytes."""
    chunks, current, size = [], [], 0
    for piece in pieces:
        if current and size + piece[1] > grain:
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(piece)
        size += piece[1]
    if current:
        chunks.append(tuple(current))
    return chunks


def plan(s: Scenario) -> Plan:
    """The dispatch of ``s.tokens_per_rank`` tokens per rank with ``s.algorithm``."""
    sets = destination_sets(s)
    grain = s.chunk_bytes_for(s.tokens_per_rank * s.token_bytes)
    programs: list[list[Write]] = []
    expected: list[dict] = [{} for _ in range(s.ranks)]
    for r in range(s.ranks):
        tokens = {t: _token_pieces(s, r, t, grain) for t in range(s.tokens_per_rank)}
        for t, dests in enumerate(sets[r]):
            for d in dests:
                expected[d].update(tokens[t])
        if s.algorithm == "mesh":
            # Each destination's tokens in token order, gathered in one pass (not one scan per destination).
            tokens_to: dict[int, list[int]] = {}
            for t, dests in enumerate(sets[r]):
                for d in dests:
                    tokens_to.setdefault(d, []).append(t)
            writes = []
            for step in range(1, s.ranks):
                d = (r + step) % s.ranks
                if d in tokens_to:
                    needed = [p for t in tokens_to[d] for p in tokens[t]]
                    writes.append(Write(r, (d,), _pack(needed, grain)))
        else:
            kind = "multiwrite" if s.algorithm == "multiwrite" else "group"
            by_set: dict[tuple[int, ...], list[Piece]] = {}
            for t, dests in enumerate(sets[r]):
                if dests:
                    by_set.setdefault(dests, []).extend(tokens[t])
            # Same order discipline as mesh: by the first destination in shifted order (r+1, r+2, ...).
            order = sorted(by_set, key=lambda dests: sorted((d - r) % s.ranks for d in dests))
            writes = [Write(r, dests, _pack(by_set[dests], grain), kind) for dests in order]
        programs.append(writes)
    # S of algbw: the mean receive-buffer size per rank, one copy of each token per destination rank.
    data_bytes = sum(sum(e.values()) for e in expected) / s.ranks
    distinct = len({(r, d) for r in range(s.ranks) for d in sets[r] if d})
    return Plan(
        programs=programs, expected=expected, data_bytes=data_bytes, notes={"distinct_destination_sets": distinct}
    )
