"""The mw.* decision rules, each on both sides of every threshold (and inside the inconclusive band)."""

import math

import pytest

from companion.claims import OUTCOMES, Verdict
from companion.multiwrite import verdicts
from companion.stats import Interval


def one_line(decision: Verdict) -> Verdict:
    assert decision.outcome in OUTCOMES and "\n" not in decision.reason
    return decision


# --- mw.duplicates: threshold 2 copies, on the best unicast AllGather and on dispatch ------------
@pytest.mark.parametrize(
    "fastest, best_copies, dispatch, outcome",
    [
        (["mesh"], 2, 2, "reproduced"),  # both at the threshold
        (["mesh"], 2, 1, "partly"),  # dispatch just below
        (["ring"], 1, 4, "partly"),  # the ring is the best: one copy per link
        (["ring"], 1, 1, "not reproduced"),
        (["mesh", "hierarchical"], 2, 4, "reproduced"),  # a tie of duplicating algorithms
        (["mesh", "ring"], 2, 4, "partly"),  # a tie with the ring: duplicates avoidable at no cost
    ],
)
def test_duplicates_threshold(fastest, best_copies, dispatch, outcome):
    copies = {"ring": 1, "mesh": 7, "hierarchical": 4} | {fastest[0]: best_copies}
    decision = one_line(verdicts.duplicates(copies, fastest, dispatch))
    assert decision.outcome == outcome
    assert f"{', '.join(fastest)})" in decision.reason


def test_duplicates_names_the_ring_when_it_is_best():
    decision = verdicts.duplicates({"ring": 1, "mesh": 7, "hierarchical": 4}, ["ring"], 4)
    assert "ring" in decision.reason and "once per link" in decision.reason


def test_duplicates_rejects_an_unknown_best():
    with pytest.raises(ValueError, match="fastest"):
        verdicts.duplicates({"mesh": 2}, ["ring"], 2)


# --- mw.eliminates: by design, with the measured check --------------------------------------------
def test_eliminates_is_by_design_with_the_code_named():
    decision = one_line(verdicts.eliminates({"a": 1, "b": 0}, delivered_ok=True))
    assert decision.outcome == "by design" and "multicast_tree" in decision.design
    assert "measured check" in decision.reason


@pytest.mark.parametrize("copies, delivered", [({"a": 2}, True), ({"a": 1}, False)])
def test_eliminates_fails_when_the_check_fails(copies, delivered):
    assert verdicts.eliminates(copies, delivered_ok=delivered).outcome == "not reproduced"


# --- mw.congestion: threshold = resolution 0.01 on every shared fabric; the star is a control -----
@pytest.mark.parametrize(
    "r1, r4, outcome",
    [
        (0.011, 0.2, "reproduced"),
        (0.009, 0.2, "partly"),  # just below the resolution on one shared fabric
        (0.009, 0.01, "not reproduced"),  # at the resolution is not above it
        (-0.3, -0.2, "not reproduced"),
    ],
)
def test_congestion_threshold(r1, r4, outcome):
    best = {"star": 0.0, "leafspine R=1": r1, "leafspine R=4": r4}
    mesh = {"star": 0.0, "leafspine R=1": 0.1, "leafspine R=4": 0.5}
    decision = one_line(verdicts.congestion(best, mesh, controls=("star",)))
    assert decision.outcome == outcome and "vs mesh" in decision.reason


@pytest.mark.parametrize("star, named", [(0.011, True), (0.009, False), (-0.011, True)])
def test_congestion_names_a_control_outside_the_resolution(star, named):
    decision = verdicts.congestion({"star": star, "leafspine R=4": 0.2}, {"star": 0, "leafspine R=4": 0.5}, ("star",))
    assert decision.outcome == "reproduced"
    assert ("control star" in decision.reason) == named


def test_congestion_needs_a_shared_fabric():
    with pytest.raises(ValueError, match="shared"):
        verdicts.congestion({"star": 0.1}, {"star": 0.1}, ("star",))


# --- mw.latency_33: the best cell's interval against 0 ----------------------------------------------
def cells(*intervals):
    return {f"cell{i}": Interval(*v) for i, v in enumerate(intervals)}


@pytest.mark.parametrize(
    "grid, outcome",
    [
        (cells((0.2, 0.001, 0.3), (-0.1, -0.2, -0.05)), "partly"),  # best cell just above 0
        (cells((0.2, -0.001, 0.3), (-0.1, -0.2, -0.05)), "inconclusive"),  # best cell straddles 0
        (cells((0.0, 0.0, 0.0)), "inconclusive"),  # exactly at 0: not above
        (cells((-0.01, -0.02, -0.001), (-0.1, -0.2, -0.05)), "not reproduced"),  # every cell below
        (cells((-0.01, -0.02, 0.001), (-0.1, -0.2, -0.05)), "inconclusive"),  # one reaches 0
        (cells((0.8, 0.7, 0.9)), "partly"),  # far above the reading: never "reproduced"
        (cells((0.33, 0.3, 0.36)), "partly"),  # same size as the paper: still a simulator
    ],
)
def test_latency_33_rule(grid, outcome):
    decision = one_line(verdicts.latency_33(grid, reading=0.33))
    assert decision.outcome == outcome and "33%" in decision.reason


def test_latency_33_reason_gives_min_median_max_and_every_losing_cell():
    grid = cells((0.2, 0.1, 0.3), (-0.1, -0.2, -0.05), (-0.05, -0.1, 0.01), (0.05, 0.0, 0.1))
    reason = verdicts.latency_33(grid, reading=0.33).reason
    assert "min -10.0%" in reason and "median 0.0%" in reason and "max 20.0%" in reason and "at cell0" in reason
    assert "loses at cell1" in reason and "interval reaching 0: cell2" in reason


# --- mw.mgmt_plane: 1 + resolution at every setup cost / at the largest -------------------------------
SETUP = [1.0, 10.0, 100.0, 1000.0]


@pytest.mark.parametrize(
    "ratios, outcome",
    [
        ({2: [1.011, 1.5, 3.0, 20.0], 8: [1.02, 2.0, 5.0, 40.0]}, "reproduced"),
        ({2: [1.009, 1.5, 3.0, 20.0], 8: [1.02, 2.0, 5.0, 40.0]}, "partly"),  # one cell just below
        ({2: [0.9, 0.95, 0.99, 1.011], 8: [0.9, 0.9, 0.9, 0.9]}, "partly"),  # slower only at 1 ms
        ({2: [0.9, 0.95, 0.99, 1.009], 8: [0.9, 0.9, 0.9, 0.9]}, "not reproduced"),
    ],
)
def test_mgmt_plane_rule(ratios, outcome):
    decision = one_line(verdicts.mgmt_plane(SETUP, ratios, 100.0, 3, 256))
    assert decision.outcome == outcome
    assert "100 us is an assumption" in decision.reason and "256-entry tables: 3 fallbacks" in decision.reason


def test_mgmt_plane_rejects_ragged_ratios():
    with pytest.raises(ValueError):
        verdicts.mgmt_plane(SETUP, {2: [1.0]}, 100.0, 0, 256)


@pytest.mark.parametrize(
    "costs, ratios, expected",
    [
        ([1, 10, 100], [2.0, 3.0, 4.0], 0.0),  # always slower
        ([1, 10, 100], [0.5, 0.9, 0.99], math.inf),  # never
        ([1, 100], [0.5, 2.0], 10.0),  # log-log midpoint
    ],
)
def test_break_even(costs, ratios, expected):
    assert verdicts.break_even_us(costs, ratios) == pytest.approx(expected)


# --- mw.compat -----------------------------------------------------------------------------------
def test_compat_is_not_measurable_here_unless_delivery_fails():
    assert one_line(verdicts.compat(12, 12)).outcome == "not measurable here"
    assert verdicts.compat(12, 11).outcome == "not reproduced"
    with pytest.raises(ValueError):
        verdicts.compat(0, 0)
