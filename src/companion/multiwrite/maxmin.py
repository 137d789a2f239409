"""Max-min fair rates of flows over shared resources (the flow model's rate solve, :mod:`.flow`).

A flow is a run of (resource, weight) entries, a resource has a capacity, a flow may have a rate
cap; :func:`water_filling` returns the unique max-min fair allocation, by textbook water-filling one
level at a time. Its loop is compiled with numba: the levels of a 1024-rank dispatch solve number
in the thousands, and in numpy each level costs tens of whole-array calls (3x to 9x slower per solve,
measured on 1024-rank dispatch solves). :func:`loads` sums the flows' rates on each resource;
:func:`table` and :func:`row_offsets` are the CSR helpers the flow model shares.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Resources whose fair share is within this fraction of the level saturate at that level (rounding).
TIE = 1e-12


def water_filling(
    res: np.ndarray, weight: np.ndarray, lengths: np.ndarray, capacity: np.ndarray, caps: np.ndarray
) -> np.ndarray:
    """Max-min fair rates of flows given as entries: flow i uses the ``lengths[i]`` next (resource, weight)
    pairs of ``res``/``weight``; ``capacity`` per resource, ``caps`` per flow (``inf``: none). Shape
    (len(lengths),). A flow without entries gets its cap.

    Water-filling: every unfixed flow's rate rises together; the level is the smallest fair share
    (capacity left / weight of the unfixed flows) over the resources, or the smallest cap; the flows
    through a resource at that level (and those capped at it) are fixed there, each at the least
    share among its resources; capacities and loads drop by the flows fixed, and the next level follows.
    """
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return _water_filling(
        ptr,
        np.ascontiguousarray(res, dtype=np.int64),
        np.ascontiguousarray(weight, dtype=np.float64),
        np.ascontiguousarray(capacity, dtype=np.float64),
        np.ascontiguousarray(caps, dtype=np.float64),
    )


@njit(cache=True)
def _water_filling(ptr, res, weight, capacity, caps):
    flows, resources = len(ptr) - 1, len(capacity)
    load = np.zeros(resources)  # weights of the unfixed flows on each resource
    users = np.zeros(resources, np.int64)  # their entries
    for e in range(len(res)):
        load[res[e]] += weight[e]
        users[res[e]] += 1
    # The flows through each resource, by a counting sort: flows_of[first[r]:first[r + 1]].
    first = np.zeros(resources + 1, np.int64)
    for r in range(resources):
        first[r + 1] = first[r] + users[r]
    fill = first[:-1].copy()
    flows_of = np.empty(len(res), np.int64)
    for f in range(flows):
        for e in range(ptr[f], ptr[f + 1]):
            flows_of[fill[res[e]]] = f
            fill[res[e]] += 1
    left = capacity.copy()
    in_use = np.flatnonzero(users > 0)  # the resources that may still bind: in_use[:live]
    live = len(in_use)
    capped = np.flatnonzero(np.isfinite(caps))
    capped = capped[np.argsort(caps[capped], kind="mergesort")]
    next_cap = 0
    share = np.full(resources, np.inf)
    rate = np.empty(flows)
    fixed = np.zeros(flows, np.bool_)
    new = np.empty(flows, np.int64)
    unfixed = flows
    while unfixed > 0:
        level = np.inf
        i = 0
        while i < live:  # fair shares; a resource without unfixed flows leaves the list
            r = in_use[i]
            if users[r] == 0:
                share[r] = np.inf
                live -= 1
                in_use[i] = in_use[live]
                continue
            share[r] = max(left[r], 0.0) / load[r] if load[r] > 0 else np.inf
            level = min(level, share[r])
            i += 1
        while next_cap < len(capped) and fixed[capped[next_cap]]:
            next_cap += 1
        if next_cap < len(capped):
            level = min(level, caps[capped[next_cap]])
        if level == np.inf:  # nothing left binds: every flow left gets its cap
            for f in range(flows):
                if not fixed[f]:
                    rate[f] = caps[f]
            break
        bound = level * (1 + TIE)
        count = 0
        for i in range(live):
            r = in_use[i]
            if share[r] <= bound:
                for j in range(first[r], first[r + 1]):
                    if not fixed[flows_of[j]]:
                        fixed[flows_of[j]] = True
                        new[count] = flows_of[j]
                        count += 1
        k = next_cap
        while k < len(capped) and caps[capped[k]] <= bound:
            if not fixed[capped[k]]:
                fixed[capped[k]] = True
                new[count] = capped[k]
                count += 1
            k += 1
        for c in range(count):  # rates from this level's shares (not updated until the next level)
            f = new[c]
            x = caps[f]
            for e in range(ptr[f], ptr[f + 1]):
                x = min(x, share[res[e]])
            rate[f] = x
            for e in range(ptr[f], ptr[f + 1]):  # then f leaves its resources
                left[res[e]] -= weight[e] * x
                load[res[e]] -= weight[e]
                users[res[e]] -= 1
        unfixed -= count
    return rate


def loads(
    ptr: np.ndarray, res: np.ndarray, weight: np.ndarray, ids: np.ndarray, rate: np.ndarray, resources: int
) -> np.ndarray:
    """Load on each resource when the rows ``ids`` of a CSR table of flows (row pointers ``ptr``) run at
    ``rate`` (one per row), shape (resources,). Sums flow after flow, entry after entry."""
    ids, rate = np.ascontiguousarray(ids, np.int64), np.ascontiguousarray(rate, np.float64)
    return _loads(ptr, res, weight, ids, rate, resources)


@njit(cache=True)
def _loads(ptr, res, weight, ids, rate, resources):
    total = np.zeros(resources)
    for i in range(len(ids)):
        for e in range(ptr[ids[i]], ptr[ids[i] + 1]):
            total[res[e]] += weight[e] * rate[i]
    return total


def table(res: np.ndarray, weight: np.ndarray, lengths: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Entries in flow order as (slot, flow) tables of resources and weights; missing slots: ``pad``, 0."""
    slots, count = int(lengths.max(initial=0)), len(lengths)
    start = np.cumsum(lengths) - lengths
    place = np.arange(len(res)) * count + np.repeat(np.arange(count) - start * count, lengths)  # slot * count + f
    res_of = np.full(slots * count, pad, dtype=np.int64)
    weight_of = np.zeros(slots * count)
    res_of[place] = res
    weight_of[place] = weight
    return res_of.reshape(slots, count), weight_of.reshape(slots, count)


def row_offsets(ptr: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows ``ids`` of a CSR table (row pointers ``ptr``), row after row, and their lengths."""
    lengths = ptr[ids + 1] - ptr[ids]
    return np.repeat(ptr[ids] - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum())), lengths
