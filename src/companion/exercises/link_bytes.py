"""Exercise multiwrite/01: per-link bytes of AllGather on a leaf/spine fabric, ring vs mesh vs MultiWrite.

N = L x G ranks sit under L leaves (G per leaf); every leaf connects to every spine. Each rank
contributes a block of m bytes and ends with all N blocks. The student counts the payload bytes
each class of link carries in one AllGather; the reference is the wing's simulator
(:func:`companion.multiwrite.simulation.simulate`), whose links count every payload byte they
carry. Link classes:

- ``rank_up``: one rank's link into its leaf;  ``rank_down``: the leaf's link to one rank;
- ``leaf_up``: all links from one leaf to the spines, together (how traffic spreads over the
  spines is a routing choice; the total is not);  ``leaf_down``: all spine-to-leaf links of one leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from companion.exercises.feedback import Feedback, as_number, checker, correct, not_yet, require_answer
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

ALGORITHMS = ("ring", "mesh", "multiwrite")
LINK_CLASSES = ("rank_up", "rank_down", "leaf_up", "leaf_down")

# Where to look when one entry is wrong: (algorithm, link class) -> hint. Never the value.
_HINTS = {
    ("ring", "rank_up"): "in N-1 steps a ring rank forwards one block per step to its successor.",
    ("ring", "rank_down"): "every rank receives the N-1 blocks it does not own, one per step.",
    ("ring", "leaf_up"): "only the ring edge from a leaf's last rank to the next leaf's first rank leaves the leaf; "
    "how many blocks cross that edge in N-1 steps?",
    ("ring", "leaf_down"): "one ring edge enters each leaf; it carries as many blocks as any other ring edge.",
    ("mesh", "rank_up"): "a mesh rank writes its own block to each of the N-1 others separately.",
    ("mesh", "rank_down"): "every rank receives the N-1 blocks it does not own.",
    ("mesh", "leaf_up"): "each of the G ranks of a leaf sends its block separately to every rank outside the leaf.",
    ("mesh", "leaf_down"): "each rank of the leaf receives, separately, the block of every rank outside the leaf.",
    ("multiwrite", "rank_up"): "a MultiWrite sends the block once; the switches replicate it.",
    ("multiwrite", "rank_down"): "replication does not reduce what each receiver must get.",
    ("multiwrite", "leaf_up"): "each local block leaves the leaf once; a spine replicates it to the other leaves.",
    ("multiwrite", "leaf_down"): "each block from outside enters the leaf once; the leaf replicates it to its ranks.",
}


@dataclass(frozen=True)
class FabricExercise:
    """``n_leaves`` leaves of ``ranks_per_leaf`` ranks each (spines default to ranks_per_leaf);
    blocks of ``block_bytes``."""

    n_leaves: int = 4
    ranks_per_leaf: int = 4
    block_bytes: int = 1 << 18

    def __post_init__(self) -> None:
        for name in ("n_leaves", "ranks_per_leaf", "block_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "n_leaves" else 1):
                raise ValueError(f"{name} must be an integer >= {2 if name == 'n_leaves' else 1}, got {value!r}")

    @property
    def n_ranks(self) -> int:
        return self.n_leaves * self.ranks_per_leaf

    def scenario(self, algorithm: str) -> Scenario:
        """The simulator's scenario for this fabric (a non-blocking leaf/spine, the wing's defaults otherwise)."""
        return Scenario(
            collective="allgather",
            algorithm=algorithm,
            topology="leafspine",
            ranks=self.n_ranks,
            ranks_per_node=self.ranks_per_leaf,
            message_bytes=self.block_bytes,
        )


def _link_class(src: str, dst: str) -> str:
    if src.startswith("r"):
        return "rank_up"
    if dst.startswith("r"):
        return "rank_down"
    return "leaf_up" if src.startswith("leaf") else "leaf_down"


@lru_cache(maxsize=32)
def simulated_link_bytes(exercise: FabricExercise, algorithm: str) -> dict[str, int]:
    """Payload bytes per link class from the simulator: per rank link, and per leaf summed over spines.

    The busiest instance of each class is returned (all instances are equal on this symmetric fabric).
    """
    links = simulate(exercise.scenario(algorithm)).links
    classes = [_link_class(src, dst) for src, dst in zip(links["src"], links["dst"])]
    leaf = [
        dst if c == "leaf_down" else src if c == "leaf_up" else None
        for c, src, dst in zip(classes, links["src"], links["dst"])
    ]
    frame = links.assign(link_class=classes, leaf=leaf)
    ranks = frame[frame.leaf.isna()].groupby("link_class")["payload_bytes"].max()
    leaves = (
        frame[frame.leaf.notna()].groupby(["link_class", "leaf"])["payload_bytes"].sum().groupby("link_class").max()
    )
    both = pd.concat([ranks, leaves])
    return {name: int(both.get(name, 0)) for name in LINK_CLASSES}


@checker
def check_link_bytes(answer, exercise: FabricExercise) -> Feedback:
    """``answer``: {algorithm: {link class: payload bytes}} for ring, mesh and multiwrite."""
    require_answer(answer, "link_bytes", "a dict {algorithm: {link class: bytes}}")
    if not isinstance(answer, dict):
        return not_yet(
            f"`link_bytes` should be a dict, got {type(answer).__name__}.",
            f"use keys {ALGORITHMS}, each mapping {LINK_CLASSES} to a number of bytes.",
        )
    missing = [a for a in ALGORITHMS if not isinstance(answer.get(a), dict)]
    if missing:
        return not_yet(f"`link_bytes` has no dict for {', '.join(missing)}.", f"give all of {', '.join(ALGORITHMS)}.")
    wrong, blank = [], []
    for algorithm in ALGORITHMS:
        expected = simulated_link_bytes(exercise, algorithm)
        for link_class in LINK_CLASSES:
            value = answer[algorithm].get(link_class)
            if value is None or value is Ellipsis:
                blank.append(f"{algorithm}/{link_class}")
                continue
            if as_number(value, f"link_bytes[{algorithm!r}][{link_class!r}]") != expected[link_class]:
                wrong.append((algorithm, link_class))
    if blank:
        return not_yet(
            f"{len(blank)} entries are not filled in yet: {', '.join(blank[:4])}{' ...' if len(blank) > 4 else ''}.",
            "count each link class for each algorithm, in bytes.",
        )
    if not wrong:
        return correct("all 12 entries equal the simulator's per-link payload bytes.")
    algorithm, link_class = wrong[0]
    where = ", ".join(f"{a}/{c}" for a, c in wrong)
    return not_yet(
        f"{len(wrong)} of 12 entries differ from the simulator: {where}.",
        f"for {algorithm}/{link_class}: {_HINTS[algorithm, link_class]}",
    )


@checker
def check_redundant_bytes(answer, exercise: FabricExercise) -> Feedback:
    """``answer``: bytes the ring carries into one leaf that originated inside that leaf."""
    value = as_number(answer, "redundant_bytes")
    m, g = exercise.block_bytes, exercise.ranks_per_leaf
    expected = (g - 1) * m  # the edge into a leaf carries every block but its receiver's, G-1 of them local
    if value == expected:
        return correct(
            "the ring edge into a leaf brings back the blocks of that leaf's other ranks: "
            "bytes a leaf-level multicast would never send."
        )
    if value == g * m:
        return not_yet("one block too many.", "the first rank of the leaf never receives its own block.")
    if value == (exercise.n_ranks - g) * m:
        return not_yet(
            "that is the useful part: the blocks from other leaves.", "count the blocks that started in this leaf."
        )
    return not_yet(
        "not the redundant bytes.",
        "list the blocks that cross the ring edge into the leaf in N-1 steps and "
        "mark those whose owner sits in the same leaf.",
    )
