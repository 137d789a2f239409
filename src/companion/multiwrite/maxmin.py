"""Max-min fair rates of flows over shared resources (the flow model's rate solve, :mod:`.flow`).

Pure array functions: a flow is a run of (resource, weight) entries, a resource has a capacity,
a flow may have a rate cap; the result is the unique max-min fair allocation, by progressive
filling (many bottlenecks per round) or, where rounds fix few flows, textbook water-filling one
level at a time. The thresholds below choose between the two for speed only: both are exact.
"""

from __future__ import annotations

import math

import numpy as np

# Progressive filling goes on level by level once a round fixes under this fraction of the flows left,
# with at least this many table entries left (see progressive_filling). Speed only (measured on
# 1024-rank dispatch solves: level by level is 1.5x faster for MultiWrite's trees, 1.8x slower for
# mesh's two-link paths).
LEVEL_BY_LEVEL_FRACTION = 0.1
LEVEL_BY_LEVEL_ENTRIES = 50_000
LEVEL_BY_LEVEL_AT_ONCE_ENTRIES = 400_000  # solves this large go level by level from the start
LEVEL_BY_LEVEL_MEAN_ENTRIES = 3  # ... if their flows have this many entries on average


def progressive_filling(
    res: np.ndarray, weight: np.ndarray, lengths: np.ndarray, capacity: np.ndarray, caps: np.ndarray
) -> np.ndarray:
    """Max-min fair rates of flows given as entries: flow i uses the ``lengths[i]`` next (resource, weight)
    pairs of ``res``/``weight``; ``capacity`` per resource, ``caps`` per flow. Shape (len(lengths),).

    Progressive filling, many bottlenecks per round: a resource whose fair share is the smallest
    among all resources its flows use is saturated now (shares elsewhere only grow as other flows
    are fixed), so every flow through it is fixed at that share. A flow without entries gets its cap.
    Where a round fixes few flows (densely cross-linked resources, such as a spine's downlinks under
    random dispatch), the rest is solved level by level (:func:`_level_by_level`), whose cost per
    level does not grow with the flows still unfixed.
    """
    rate = caps.astype(float).copy()
    members = np.flatnonzero(lengths > 0)
    classes = len(capacity)
    left = np.append(capacity.astype(float), np.inf)
    # Level by level pays where flows are long (each crosses many resources: many cross-links, so rounds
    # fix few flows each); with short flows rounds fix many at once and are cheaper.
    long_flows = len(res) >= LEVEL_BY_LEVEL_MEAN_ENTRIES * len(members)
    if long_flows and len(res) >= LEVEL_BY_LEVEL_AT_ONCE_ENTRIES:
        res_rows, weight_rows = table(res, weight, lengths, classes, by_flow=True)
        rate[members] = _level_by_level(res_rows[members], weight_rows[members], left, caps[members])
        return rate
    # Entries as a (slot, flow) table, short flows padded with a resource of infinite capacity (index
    # ``classes``): each round is a few whole-array operations, with no per-flow segments.
    res_of, weight_of = table(res, weight, lengths, classes)
    if len(members) < len(lengths):
        res_of, weight_of, caps = res_of[:, members], weight_of[:, members], caps[members]
    while len(members):
        load = np.bincount(res_of.ravel(), weight_of.ravel(), minlength=classes + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(load > 0, np.maximum(left, 0.0) / load, np.inf)
        entry_share = np.take(share, res_of)
        flow_share = np.minimum(entry_share.min(axis=0), caps)
        # A bottleneck: no flow through it has a smaller share elsewhere (padding never is one). Rounding
        # is monotone, so comparing with the least flow share x (1 + 1e-12) is comparing with each.
        least = np.full(classes + 1, np.inf)
        np.minimum.at(least, res_of.ravel(), np.broadcast_to(flow_share, res_of.shape).ravel())
        free = share <= least * (1 + 1e-12)
        free[classes] = False
        hit = np.take(free, res_of).any(axis=0) | (caps <= flow_share * (1 + 1e-12))
        rate[members[hit]] = flow_share[hit]
        used = np.compress(hit, weight_of, axis=1) * flow_share[hit]
        left -= np.bincount(np.compress(hit, res_of, axis=1).ravel(), used.ravel(), minlength=classes + 1)
        few = np.count_nonzero(hit) < LEVEL_BY_LEVEL_FRACTION * len(members)
        res_of, weight_of = np.compress(~hit, res_of, axis=1), np.compress(~hit, weight_of, axis=1)
        members, caps = members[~hit], caps[~hit]
        if few and long_flows and res_of.size >= LEVEL_BY_LEVEL_ENTRIES:
            rate[members] = _level_by_level(
                np.ascontiguousarray(res_of.T), np.ascontiguousarray(weight_of.T), left, caps
            )
            break
    return rate


def _level_by_level(res_of: np.ndarray, weight_of: np.ndarray, left: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """The max-min fair rates of the flows of a (flow, slot) table (:func:`table` ``by_flow``; the last
    resource, of infinite capacity, pads), given each resource's capacity ``left`` and each flow's cap: textbook
    water-filling, one level at a time (the smallest fair share, or cap, over all resources), each
    level fixing the flows through the resources at that level. Loads and capacities are updated by
    the entries of the flows each level fixes, and a resource's flows are found by index, so a level
    costs the resources' count plus the entries it fixes, however many flows are left."""
    count, slots = res_of.shape
    size = len(left)
    flat = res_of.ravel()  # entry i belongs to flow i // slots
    order = np.argsort(flat.astype(np.uint16) if size <= 1 << 16 else flat, kind="stable")  # radix sort
    flow_by_res = order // slots
    res_ptr = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=size))])
    load = np.bincount(flat, weight_of.ravel(), minlength=size)
    users = np.bincount(flat, minlength=size)  # unfixed entries on each resource
    users[-1] = 0  # the padding never binds
    left = left.copy()
    rate = np.empty(count)
    fixed = np.zeros(count, dtype=bool)
    capped = np.flatnonzero(np.isfinite(caps))
    capped = capped[np.argsort(caps[capped], kind="stable")]
    unfixed = count
    while unfixed:
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(users > 0, np.maximum(left, 0.0) / load, np.inf)
        level = float(share.min())
        if len(capped):
            capped = capped[~fixed[capped]]
            level = min(level, caps[capped[0]] if len(capped) else math.inf)
        if not math.isfinite(level):  # nothing left binds: every flow gets its cap
            rate[~fixed] = caps[~fixed]
            break
        bottlenecks = np.flatnonzero(share <= level * (1 + 1e-12))
        new = flow_by_res[row_offsets(res_ptr, bottlenecks)[0]]
        if len(capped):
            new = np.concatenate([new, capped[caps[capped] <= level * (1 + 1e-12)]])
        new = new[~fixed[new]]
        if len(bottlenecks) > 1 or len(capped):
            new = np.unique(new)
        elif len(new) > 1:  # one resource's flows come sorted: drop repeats next to each other
            new = new[np.concatenate([[True], new[1:] != new[:-1]])]
        rows_res, rows_weight = res_of[new], weight_of[new]
        rate[new] = np.minimum(np.take(share, rows_res).min(axis=1), caps[new])
        fixed[new] = True
        unfixed -= len(new)
        flat_new = rows_res.ravel()
        left -= np.bincount(flat_new, (rows_weight * rate[new][:, None]).ravel(), minlength=size)
        load -= np.bincount(flat_new, rows_weight.ravel(), minlength=size)
        users -= np.bincount(flat_new, minlength=size)
        users[-1] = 0
    return rate


def table(
    res: np.ndarray, weight: np.ndarray, lengths: np.ndarray, pad: int, by_flow: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Entries in flow order as (slot, flow) tables of resources and weights, or (flow, slot) tables with
    ``by_flow``; missing slots: ``pad``, 0."""
    slots, count = int(lengths.max(initial=0)), len(lengths)
    start = np.cumsum(lengths) - lengths
    if by_flow:  # entry j of flow f (its slot: j - start of f) goes to f * slots + slot
        place = np.arange(len(res)) + np.repeat(np.arange(count) * slots - start, lengths)
    else:  # ... to slot * count + f
        place = np.arange(len(res)) * count + np.repeat(np.arange(count) - start * count, lengths)
    res_of = np.full(slots * count, pad, dtype=np.int64)
    weight_of = np.zeros(slots * count)
    res_of[place] = res
    weight_of[place] = weight
    shape = (count, slots) if by_flow else (slots, count)
    return res_of.reshape(shape), weight_of.reshape(shape)


def row_offsets(ptr: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows ``ids`` of a CSR table (row pointers ``ptr``), row after row, and their lengths."""
    lengths = ptr[ids + 1] - ptr[ids]
    return np.repeat(ptr[ids] - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum())), lengths
