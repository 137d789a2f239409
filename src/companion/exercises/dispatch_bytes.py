"""Exercise multiwrite/03: MoE dispatch bytes as top-k grows, unicast vs MultiWrite.

R ranks host e experts each (expert x lives on rank x // e). Each token of rank 0 picks its
top-k distinct experts (the wing's seeded uniform routing, :func:`companion.multiwrite.dispatch.expert_choices`).
A token goes to the distinct ranks of its experts, minus rank 0 itself (local experts never touch
the network). Unicast sends it once per destination rank; MultiWrite once, if it has any remote
destination. Under uniform routing, with E = R e experts, a given other rank is hit with probability
1 - C(E - e, k) / C(E, k), so a token reaches on average (R - 1) (1 - C(E - e, k) / C(E, k)) remote ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import matplotlib.pyplot as plt
import numpy as np

from companion import style
from companion.exercises.feedback import Feedback, as_array, checker, correct, not_yet
from companion.multiwrite.dispatch import destination_sets
from companion.multiwrite.scenario import Scenario


@dataclass(frozen=True)
class DispatchExercise:
    """Rank 0's tokens on ``n_ranks`` ranks with ``experts_per_rank`` experts each, for every k in ``top_ks``."""

    n_ranks: int = 8
    experts_per_rank: int = 4
    tokens: int = 256
    token_bytes: int = 7168
    top_ks: tuple[int, ...] = (1, 2, 4, 8)
    seed: int = 0

    def scenario(self, top_k: int, algorithm: str = "mesh") -> Scenario:
        return Scenario(
            collective="dispatch",
            algorithm=algorithm,
            topology="star",
            ranks=self.n_ranks,
            experts_per_rank=self.experts_per_rank,
            tokens_per_rank=self.tokens,
            token_bytes=self.token_bytes,
            top_k=top_k,
            seed=self.seed,
        )

    @property
    def n_experts(self) -> int:
        return self.n_ranks * self.experts_per_rank


def sent_bytes(exercise: DispatchExercise, top_k: int) -> tuple[int, int]:
    """(unicast, MultiWrite) payload bytes rank 0 puts on its link, from the wing's destination sets."""
    remote = destination_sets(exercise.scenario(top_k))[0]
    unicast = exercise.token_bytes * sum(len(dests) for dests in remote)
    multiwrite = exercise.token_bytes * sum(1 for dests in remote if dests)
    return unicast, multiwrite


def expected_remote_ranks(exercise: DispatchExercise, top_k: int) -> float:
    """Mean number of distinct remote ranks a token reaches under uniform top-k routing."""
    miss = comb(exercise.n_experts - exercise.experts_per_rank, top_k) / comb(exercise.n_experts, top_k)
    return (exercise.n_ranks - 1) * (1 - miss)


def _per_k(answer, name: str, exercise: DispatchExercise) -> np.ndarray:
    return as_array(answer, name, (len(exercise.top_ks),), f"[one value per k in {list(exercise.top_ks)}]")


@checker
def check_sent_bytes(unicast_bytes, multiwrite_bytes, exercise: DispatchExercise) -> Feedback:
    """``unicast_bytes``, ``multiwrite_bytes``: float[len(top_ks)], rank 0's bytes on the network per k."""
    unicast = _per_k(unicast_bytes, "unicast_bytes", exercise)
    multiwrite = _per_k(multiwrite_bytes, "multiwrite_bytes", exercise)
    expected = np.array([sent_bytes(exercise, k) for k in exercise.top_ks], dtype=np.float64)
    ks = np.array(exercise.top_ks)
    unicast_ok = np.array_equal(unicast, expected[:, 0])
    multiwrite_ok = np.array_equal(multiwrite, expected[:, 1])
    if unicast_ok and multiwrite_ok:
        return correct("both series equal what the wing's dispatch sends for every k.")
    if not unicast_ok:
        if np.array_equal(unicast, ks * exercise.tokens * exercise.token_bytes):
            return not_yet(
                "`unicast_bytes` counts every chosen expert.",
                "two experts on the same rank need only one copy, and experts on rank 0 need none.",
            )
        wrong = ks[unicast != expected[:, 0]].tolist()
        return not_yet(
            f"`unicast_bytes` differs for k = {wrong}.",
            "per token: the set of expert ranks (expert // experts_per_rank), without rank 0, times token_bytes.",
        )
    if np.array_equal(multiwrite, np.full(len(ks), exercise.tokens * exercise.token_bytes, dtype=np.float64)):
        return not_yet(
            "`multiwrite_bytes` counts every token.", "a token whose experts all live on rank 0 is not sent."
        )
    wrong = ks[multiwrite != expected[:, 1]].tolist()
    return not_yet(
        f"`multiwrite_bytes` differs for k = {wrong}.",
        "MultiWrite sends a token once if it has at least one remote destination.",
    )


@checker
def check_expected_ranks(expected_ranks, exercise: DispatchExercise) -> Feedback:
    """``expected_ranks``: float[len(top_ks)], the mean number of remote ranks per token under uniform routing."""
    answer = _per_k(expected_ranks, "expected_ranks", exercise)
    ks = exercise.top_ks
    reference = np.array([expected_remote_ranks(exercise, k) for k in ks])
    if np.allclose(answer, reference, rtol=1e-6):
        return correct("your expectation matches the hypergeometric formula; compare it with the measured means.")
    r, e, n = exercise.n_ranks, exercise.experts_per_rank, exercise.n_experts
    with_own = np.array([r * (1 - comb(n - e, k) / comb(n, k)) for k in ks])
    with_replacement = np.array([(r - 1) * (1 - (1 - e / n) ** k) for k in ks])
    if np.allclose(answer, with_own, rtol=1e-6):
        return not_yet("your expectation counts rank 0 as a destination.", "only the R - 1 other ranks are remote.")
    if np.allclose(answer, with_replacement, rtol=1e-6):
        return not_yet(
            "your expectation draws experts with replacement.",
            "the k experts are distinct: the chance of missing a rank is C(E - e, k) / C(E, k).",
        )
    return not_yet(
        "your expectation differs from the formula.",
        "by linearity of expectation: (number of other ranks) "
        "x P(a given other rank hosts at least one of the k experts).",
    )


def plot_dispatch(exercise: DispatchExercise, unicast_bytes, multiwrite_bytes, expected_ranks) -> plt.Figure:
    """Your counts as copies per token (unicast, MultiWrite) against your expectation; missing answers are left out."""
    style.apply()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ks = list(exercise.top_ks)
    per_token = exercise.tokens * exercise.token_bytes
    series = [
        (unicast_bytes, "unicast: copies per token (your count, measured here)", "mesh", "o-"),
        (multiwrite_bytes, "MultiWrite: copies per token (your count, measured here)", "multiwrite", "s-"),
    ]
    for values, label, method, marker in series:
        if values is not None:
            ax.plot(
                ks, np.asarray(values, dtype=float) / per_token, marker, color=style.method_color(method), label=label
            )
    if expected_ranks is not None:
        ax.plot(ks, expected_ranks, "k--", label="expected remote ranks per token (your formula)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("experts per token (top-k)")
    ax.set_ylabel("copies of a token on rank 0's link")
    ax.set_title(f"MoE dispatch from rank 0: {exercise.n_ranks} ranks x {exercise.experts_per_rank} experts")
    if ax.lines:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "fill in the answers above to see them here", ha="center", transform=ax.transAxes)
    return fig
