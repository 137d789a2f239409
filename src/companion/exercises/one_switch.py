"""Exercise multiwrite/02: predict, then simulate, why multicast gives no gain on one ideal switch.

N ranks hang off one non-blocking switch by full-duplex links of bandwidth B. In a direct
("mesh") AllGather each rank writes its m-byte block to each of the N-1 others; with MultiWrite
it writes the block once and the switch replicates it. The uplink load drops from (N-1) m to m,
but every downlink still receives (N-1) m, so the bandwidth bound (N-1) m / B does not move.
A gain must come from somewhere else; the exercise asks which effects supply one, and checks
each prediction against the wing's simulator (:func:`companion.multiwrite.simulation.simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from companion.exercises.feedback import Feedback, as_number, checker, correct, not_yet, require_answer
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

ALGORITHMS = ("mesh", "multiwrite")
LINKS = ("uplink", "downlink", "both")
OUTCOMES = ("faster", "same", "slower")
SAME_WITHIN = 0.05  # a latency ratio within 5% of 1 counts as "same"

# Effects switched on one at a time on top of the ideal switch: (scenario changes, what it models).
EFFECTS = {
    "issue_overhead": ({"issue_overhead_ns": 2000.0}, "a rank needs 2 us to post each write"),
    "issue_overhead_small_blocks": (
        {"issue_overhead_ns": 2000.0, "message_bytes": 4096},
        "the same 2 us per write, with 4 KiB blocks",
    ),
    "shared_engine": ({"engine": "shared"}, "one DMA engine per rank carries both what it sends and what it receives"),
    "slow_replication": ({"switch_replication_GBps": 56.0}, "the switch makes copies at one link's rate in total"),
}
_EFFECT_HINTS = {
    "issue_overhead": "while the first write streams, the rank can post the next ones; is posting ever the bottleneck "
    "when a block takes tens of microseconds to send?",
    "issue_overhead_small_blocks": "with 4 KiB blocks a block leaves in well under a microsecond; "
    "compare that with 2 us per post.",
    "shared_engine": "add up what one rank's engine must move in each algorithm: sent plus received bytes.",
    "slow_replication": "with MultiWrite the switch must produce every one of the N (N-1) copies itself.",
}


@dataclass(frozen=True)
class SwitchExercise:
    """An ideal star: no headers, no latencies, no posting cost; the wing's defaults otherwise."""

    n_ranks: int = 8
    block_bytes: int = 1 << 20
    link_bandwidth_GBps: float = 56.0

    def scenario(self, algorithm: str, **changes) -> Scenario:
        ideal = dict(
            header_bytes=0,
            issue_overhead_ns=0.0,
            link_latency_ns=0.0,
            switch_latency_ns=0.0,
            message_bytes=self.block_bytes,
            link_bandwidth_GBps=self.link_bandwidth_GBps,
        )
        return Scenario(
            collective="allgather", algorithm=algorithm, topology="star", ranks=self.n_ranks, **{**ideal, **changes}
        )

    @property
    def bandwidth_bound_us(self) -> float:
        """(N-1) m / B: every downlink must receive N-1 blocks, whatever the algorithm."""
        return (self.n_ranks - 1) * self.block_bytes / (self.link_bandwidth_GBps * 1e9) * 1e6


@lru_cache(maxsize=64)
def simulated_latency_us(exercise: SwitchExercise, algorithm: str, effect: str | None = None) -> float:
    """The simulator's AllGather latency on the ideal star, with one of ``EFFECTS`` switched on."""
    changes = EFFECTS[effect][0] if effect else {}
    return simulate(exercise.scenario(algorithm, **changes)).latency_us


def simulated_outcome(exercise: SwitchExercise, effect: str) -> str:
    """Whether MultiWrite ends ``faster``, the ``same`` or ``slower`` than mesh with ``effect`` on."""
    ratio = simulated_latency_us(exercise, "mesh", effect) / simulated_latency_us(exercise, "multiwrite", effect)
    if ratio > 1 + SAME_WITHIN:
        return "faster"
    return "slower" if ratio < 1 - SAME_WITHIN else "same"


def _unanswered(answer, keys) -> bool:
    return not isinstance(answer, dict) or any(answer.get(k) is None or answer.get(k) is Ellipsis for k in keys)


def prediction_table(exercise: SwitchExercise, predicted_us) -> pd.DataFrame:
    """Your predicted latencies beside the simulated ones (only once every prediction is filled in)."""
    if _unanswered(predicted_us, ALGORITHMS):
        return pd.DataFrame({"note": ["predict first: fill in predicted_us above, then run this cell again"]})
    rows = [
        {"algorithm": a, "predicted_us": float(predicted_us[a]), "simulated_us": simulated_latency_us(exercise, a)}
        for a in ALGORITHMS
    ]
    frame = pd.DataFrame(rows)
    return frame.assign(**{"simulated / predicted": frame.simulated_us / frame.predicted_us})


def effects_table(exercise: SwitchExercise, predictions) -> pd.DataFrame:
    """Per effect: what it models, your prediction, both simulated latencies (us) and the simulated outcome.

    The simulated columns appear only once every effect has a prediction.
    """
    rows = []
    for name, (_, what) in EFFECTS.items():
        row = {"effect": name, "what it models": what}
        if not _unanswered(predictions, tuple(EFFECTS)):
            mesh, multiwrite = (simulated_latency_us(exercise, a, name) for a in ALGORITHMS)
            row.update(
                {
                    "your prediction": predictions[name],
                    "mesh_us": mesh,
                    "multiwrite_us": multiwrite,
                    "mesh / multiwrite": mesh / multiwrite,
                    "simulated: multiwrite is": simulated_outcome(exercise, name),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _dict_answer(answer, name: str, keys: tuple[str, ...], allowed: tuple[str, ...] | None = None) -> dict | Feedback:
    if not isinstance(answer, dict):
        return not_yet(f"`{name}` should be a dict, got {type(answer).__name__}.", f"use the keys {', '.join(keys)}.")
    blank = [k for k in keys if answer.get(k) is None or answer.get(k) is Ellipsis]
    if blank:
        return not_yet(
            f"`{name}` has no answer for {', '.join(blank)} yet.", f"give one for each of {', '.join(keys)}."
        )
    if allowed is not None:
        bad = [k for k in keys if not isinstance(answer[k], str) or answer[k] not in allowed]
        if bad:
            return not_yet(f"`{name}[{bad[0]!r}]` is {answer[bad[0]]!r}.", f"answer with one of {', '.join(allowed)}.")
    return answer


@checker
def check_prediction(predicted_us, exercise: SwitchExercise) -> Feedback:
    """``predicted_us``: {"mesh": us, "multiwrite": us}, the predicted AllGather latency on the ideal switch."""
    require_answer(predicted_us, "predicted_us", "a dict {'mesh': microseconds, 'multiwrite': microseconds}")
    answer = _dict_answer(predicted_us, "predicted_us", ALGORITHMS)
    if isinstance(answer, Feedback):
        return answer
    bound = exercise.bandwidth_bound_us
    n = exercise.n_ranks
    for algorithm in ALGORITHMS:
        value = as_number(answer[algorithm], f"predicted_us[{algorithm!r}]")
        if abs(value / bound - 1) <= 0.01:
            continue
        ratio = value / bound
        if abs(ratio - 1 / (n - 1)) <= 0.01:
            return not_yet(
                f"your {algorithm} prediction is one block's time.",
                "that is the uplink of a MultiWrite sender; which link must still carry N-1 blocks?",
            )
        if abs(ratio - n / (n - 1)) <= 0.01:
            return not_yet(f"your {algorithm} prediction counts N blocks.", "a rank already holds its own block.")
        if abs(ratio - 2) <= 0.02:
            return not_yet(
                f"your {algorithm} prediction adds the uplink and downlink times.",
                "links run in parallel and data streams through the switch chunk by chunk.",
            )
        side = "high" if value > bound else "low"
        return not_yet(
            f"your {algorithm} prediction is too {side}.",
            "B is in bytes per second, 1e9 per GB; find the busiest link and divide its bytes by B.",
        )
    return correct("both equal the bandwidth bound (N-1) m / B; run the simulator to see it agree.")


@checker
def check_busiest_link(busiest, exercise: SwitchExercise) -> Feedback:
    """``busiest``: {"mesh": ..., "multiwrite": ...}, each "uplink", "downlink" or "both"
    (the links that carry (N-1) m)."""
    require_answer(busiest, "busiest_link", "a dict {'mesh': 'uplink'|'downlink'|'both', 'multiwrite': ...}")
    answer = _dict_answer(busiest, "busiest_link", ALGORITHMS, LINKS)
    if isinstance(answer, Feedback):
        return answer
    expected = {"mesh": "both", "multiwrite": "downlink"}
    wrong = [a for a in ALGORITHMS if answer[a] != expected[a]]
    if not wrong:
        return correct("mesh loads both directions equally; MultiWrite unloads the uplink only.")
    hints = {
        "mesh": "a mesh rank sends N-1 copies of its block and receives N-1 blocks.",
        "multiwrite": "a MultiWrite rank sends one copy but still receives N-1 blocks.",
    }
    return not_yet(f"not for {' and '.join(wrong)}.", hints[wrong[0]])


@checker
def check_effects(effects, exercise: SwitchExercise) -> Feedback:
    """``effects``: {effect name: "faster" | "same" | "slower"}, MultiWrite vs mesh with that effect switched on."""
    require_answer(effects, "effects", f"a dict {{effect: one of {OUTCOMES}}}")
    answer = _dict_answer(effects, "effects", tuple(EFFECTS), OUTCOMES)
    if isinstance(answer, Feedback):
        return answer
    wrong = [name for name in EFFECTS if answer[name] != simulated_outcome(exercise, name)]
    if not wrong:
        return correct("all four predictions agree with the simulator.")
    return not_yet(
        f"the simulator disagrees on {len(wrong)} of {len(EFFECTS)}: {', '.join(wrong)}.",
        f"{wrong[0]}: {_EFFECT_HINTS[wrong[0]]}",
    )
