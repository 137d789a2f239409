"""The jcra.speed_78 rule at every edge: each side of x1.78, inside the band, the ideal-map and AP caps."""

import pytest

from companion import claims
from companion.jcra import verdicts
from companion.stats import Interval

READINGS = claims.load_registry()["jcra.speed_78"].readings
THROUGHPUT, TIME = READINGS["throughput_reading"], READINGS["time_reading"]
CASES = [(128, 1), (128, 10), (256, 1), (256, 10)]
AHEAD = Interval(0.01, 0.0, 0.02)  # JCRA AP minus baseline AP: not below zero


def _all(estimate: float, low: float, high: float) -> dict:
    return {case: Interval(estimate, low, high) for case in CASES}


def _speedups(flip: dict, ideal: dict | None = None) -> dict:
    return {
        "bottomup": _all(1.5, 1.4, 1.6),
        "bottomup_flip": flip,
        "bottomup_multiscale": _all(6.0, 5.5, 6.5),
        "bottomup_ideal": ideal if ideal is not None else _all(2.0, 1.9, 2.1),
    }


def _decide(speedups: dict, ap_difference: Interval = AHEAD) -> claims.Verdict:
    return verdicts.speed_78(speedups, ap_difference, 0.51, 0.50, THROUGHPUT, TIME)


def test_readings_come_from_the_registry():
    assert THROUGHPUT == pytest.approx(1.78) and TIME == pytest.approx(4.55)


def test_every_interval_above_is_reproduced_and_below_is_not():
    assert _decide(_speedups(_all(2.0, 1.79, 2.2))).outcome == "reproduced"
    assert _decide(_speedups(_all(1.5, 1.4, 1.77))).outcome == "not reproduced"


def test_intervals_containing_the_reading_are_inconclusive():
    verdict = _decide(_speedups(_all(1.78, 1.70, 1.85)))
    assert verdict.outcome == "inconclusive" and "undecided in 4" in verdict.reason
    # One case decides on each side, the others undecided: partly, naming them.
    mixed = _all(1.78, 1.70, 1.85)
    mixed[(256, 10)] = Interval(2.5, 2.2, 2.8)
    mixed[(128, 1)] = Interval(1.2, 1.1, 1.3)
    verdict = _decide(_speedups(mixed))
    assert verdict.outcome == "partly"
    assert "above x1.78 in 10p@256px" in verdict.reason and "below in 1p@128px" in verdict.reason


def test_a_win_only_against_the_trained_baseline_is_named_and_capped():
    ideal = _all(2.0, 1.9, 2.1)
    ideal[(256, 10)] = Interval(1.0, 0.9, 1.1)
    verdict = _decide(_speedups(_all(2.0, 1.79, 2.2), ideal))
    assert verdict.outcome == "partly" and "only against the trained baseline" in verdict.reason
    # An ideal interval that only touches the reading does not cap the verdict.
    ideal[(256, 10)] = Interval(1.78, 1.70, 1.85)
    assert _decide(_speedups(_all(2.0, 1.79, 2.2), ideal)).outcome == "reproduced"


def test_a_less_accurate_jcra_caps_a_win_at_partly():
    behind = Interval(-0.05, -0.08, -0.01)
    verdict = _decide(_speedups(_all(2.0, 1.79, 2.2)), behind)
    assert verdict.outcome == "partly" and "JCRA less accurate" in verdict.reason
    touching = Interval(-0.05, -0.08, 0.0)
    assert _decide(_speedups(_all(2.0, 1.79, 2.2)), touching).outcome == "reproduced"


def test_the_reason_reports_every_protocol_and_both_readings():
    verdict = _decide(_speedups(_all(5.0, 4.6, 5.5)))
    assert "above x4.55 (78% less time) in 4" in verdict.reason
    for name in ("trained single scale", "multi-scale", "ideal maps", "AP at the same budget"):
        assert name in verdict.reason
    assert "\n" not in verdict.reason


def test_missing_protocols_are_refused():
    with pytest.raises(ValueError, match="bottomup_ideal"):
        verdicts.speed_78({"bottomup_flip": _all(2.0, 1.9, 2.1)}, AHEAD, 0.5, 0.5, THROUGHPUT, TIME)
