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
    ring = "; the ring carries each byte once per link but needs N-1 steps" if ring_max_dup == 1 else ""
    return (
        "reproduced",
        f"unicast {', '.join(sorted(duplicated))} repeat payload on shared links (up to {duplicated[worst]}x, {worst}){ring}",
    )


def eliminates(multicast_max_dup: dict[str, int]) -> tuple[str, str]:
    """mw.eliminates: MultiWrite never carries a payload byte twice on one link."""
    worst = max(multicast_max_dup.values())
    if worst <= 1:
        return (
            "reproduced",
            f"MultiWrite carried every payload byte at most once per link in all {len(multicast_max_dup)} runs (network replication at tree branches)",
        )
    return "not reproduced", f"a MultiWrite run carried a payload byte {worst}x on one link"


def congestion(vs_best: dict[str, float], vs_mesh: dict[str, float], tolerance: float = 0.02) -> tuple[str, str]:
    """mw.congestion: do duplicates lengthen large-message (bandwidth-bound) latency, and where?

    Both maps go from a fabric label to MultiWrite's reduction at the largest message: against the
    best unicast algorithm (``vs_best``) and against direct AllGather, the one that sends a copy
    per receiver (``vs_mesh``).
    """
    congested = {k: v for k, v in vs_mesh.items() if v > tolerance}
    flat = sorted(k for k, v in vs_mesh.items() if abs(v) <= tolerance)
    text = f"vs direct AllGather: {_fmt(vs_mesh)}; vs the best unicast algorithm: {_fmt(vs_best)}"
    if not congested:
        return "not reproduced", "duplicates cost no large-message latency on any fabric tried; " + text
    if flat:
        return "partly", f"duplicates cost latency only behind shared bottlenecks, none on {', '.join(flat)}; " + text
    return "reproduced", "duplicates lengthen large-message latency on every fabric tried; " + text


def latency_33(
    max_reduction: float, where: str, paper: float = PAPER_REDUCTION, tolerance: float = 0.10
) -> tuple[str, str]:
    """mw.latency_33: the largest reduction measured vs the paper's "up to 33%".

    The paper measured deployed Ascend NPUs; a simulator with assumed parameters cannot repeat that
    measurement, so a positive reduction is at best ``partly`` (its size follows the assumptions).
    """
    text = f"max reduction {100 * max_reduction:.1f}% ({where}) vs the paper's up to {100 * paper:.0f}%"
    if max_reduction <= 0:
        return "not reproduced", text + ": MultiWrite never faster here"
    if abs(max_reduction - paper) <= tolerance:
        size = f"of the same size (within {100 * tolerance:.0f} points)"
    else:
        size = "above the paper's figure" if max_reduction > paper else "below the paper's figure"
    return "partly", text + f": a reduction {size} under assumed parameters, not a measurement of Ascend hardware"


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(values.items()))


def mgmt_plane(
    latency_ratio: float,
    groups_created: int,
    small_table_fallbacks: int,
    multiwrite_entries: int,
    setup_us: float,
    small_table: int,
) -> tuple[str, str]:
    """mw.mgmt_plane: group setup slows group-table multicast, tables run out, MultiWrite keeps no state."""
    slower = latency_ratio > 1.0
    stateless = multiwrite_entries == 0
    exhausted = small_table_fallbacks > 0
    found = [slower and stateless, exhausted]
    verdict = "reproduced" if all(found) else ("partly" if any(found) else "not reproduced")
    reason = (
        f"with {setup_us:g} us per group (assumed), {groups_created} groups make group multicast {latency_ratio:.1f}x "
        f"MultiWrite's latency; {small_table}-entry tables {'overflow into unicast' if exhausted else 'never fill'}; "
        f"MultiWrite {'keeps no switch state' if stateless else f'used {multiwrite_entries} entries'}"
    )
    return verdict, reason


def compat() -> tuple[str, str]:
    """mw.compat is about software stacks: only its drop-in, reliable-write part shows in a simulator."""
    return "partly", (
        "semantics compared from the specifications, and MultiWrite runs as a drop-in algorithm with exact "
        "delivery; compatibility with real software stacks cannot be measured in a simulator"
    )
