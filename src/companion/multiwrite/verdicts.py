"""Decision rules that turn measurements into claim verdicts, kept here so they are tested and the
notebooks only apply them. Each returns ``(verdict, one-line reason)``."""

from __future__ import annotations

PAPER_REDUCTION = 0.33  # mw.latency_33: "up to 33%" (abstract)


def duplicates(unicast_max_dup: dict[str, int], ring_max_dup: int | None = None) -> tuple[str, str]:
    """mw.duplicates: do unicast collectives send one copy per receiver across a shared link?"""
    duplicated = {name: dup for name, dup in unicast_max_dup.items() if dup > 1}
    if not duplicated:
        return "not reproduced", "no unicast algorithm carried a payload byte twice on any link"
    worst = max(duplicated, key=duplicated.get)
    ring = f"; the ring carries each byte once per link but needs N-1 steps" if ring_max_dup == 1 else ""
    return "reproduced", f"unicast {', '.join(sorted(duplicated))} repeat payload on shared links (up to {duplicated[worst]}x, {worst}){ring}"


def eliminates(multicast_max_dup: dict[str, int]) -> tuple[str, str]:
    """mw.eliminates: MultiWrite never carries a payload byte twice on one link."""
    worst = max(multicast_max_dup.values())
    if worst <= 1:
        return "reproduced", f"MultiWrite carried every payload byte at most once per link in all {len(multicast_max_dup)} runs (network replication at tree branches)"
    return "not reproduced", f"a MultiWrite run carried a payload byte {worst}x on one link"


def congestion(large_message_reduction: dict[str, float], tolerance: float = 0.02) -> tuple[str, str]:
    """mw.congestion: duplicates lengthen latency at large messages (bandwidth-bound) -- where?

    ``large_message_reduction`` maps a fabric label to MultiWrite's reduction vs the best unicast
    algorithm at the largest message.
    """
    helped = {k: v for k, v in large_message_reduction.items() if v > tolerance}
    flat = {k: v for k, v in large_message_reduction.items() if abs(v) <= tolerance}
    if helped and not flat:
        return "reproduced", "duplicates lengthen large-message latency on every fabric tried: " + _fmt(helped)
    if helped:
        return "partly", f"duplicates cost latency only behind shared bottlenecks ({_fmt(helped)}); none on {', '.join(sorted(flat))}"
    return "not reproduced", "no fabric tried shows a large-message latency cost of duplicates: " + _fmt(large_message_reduction)


def latency_33(max_reduction: float, where: str, paper: float = PAPER_REDUCTION, tolerance: float = 0.10) -> tuple[str, str]:
    """mw.latency_33: the largest reduction measured vs the paper's "up to 33%"."""
    text = f"max reduction {100 * max_reduction:.1f}% ({where}) vs the paper's up to {100 * paper:.0f}%"
    if max_reduction <= 0:
        return "not reproduced", text + ": MultiWrite never faster here"
    if abs(max_reduction - paper) <= tolerance:
        return "reproduced", text + f" (within {100 * tolerance:.0f} points)"
    side = "above" if max_reduction > paper else "below"
    return "partly", text + f": a reduction, {side} the paper's figure; its size depends on the assumptions (see 06_sensitivity)"


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(values.items()))
