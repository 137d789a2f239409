"""The jcra.* decision rules (except speed_78: test_verdicts_speed.py), on both sides of every
threshold and inside the inconclusive band."""

import math

import pytest

from companion.jcra import verdicts
from companion.stats import Interval


def _interval(estimate: float, low: float, high: float) -> Interval:
    return Interval(estimate, low, high)


# ----------------------------------------------------------------------------- jcra.one_stage


def test_one_stage_decides_on_the_grouping_interval_once_predict_is_the_output():
    def decide(low, high, queries=80):
        return verdicts.one_stage(0.0, 0.0, 20, 20, _interval((low + high) / 2, low, high), queries).outcome

    assert decide(0.6, 0.9) == "by design"
    assert verdicts.one_stage(0.0, 0.0, 20, 20, _interval(0.8, 0.6, 0.9), 80).design == verdicts.ONE_STAGE_DESIGN
    assert decide(0.4, 0.6) == "inconclusive"  # contains 0.5
    assert decide(0.2, 0.45) == "partly"
    assert decide(0.6, 0.9, queries=verdicts.MIN_CONFIDENT_QUERIES - 1) == "inconclusive"
    assert decide(0.6, 0.9, queries=verdicts.MIN_CONFIDENT_QUERIES) == "by design"
    untrained = verdicts.one_stage(0.0, 0.0, 20, 20)
    assert untrained.outcome == "inconclusive" and "grouping not measured" in untrained.reason


@pytest.mark.parametrize(
    "px, score, results",
    [(verdicts.ONE_STAGE_TOLERANCE_PX, 0.0, 20), (0.0, verdicts.ONE_STAGE_TOLERANCE_SCORE, 20), (0.0, 0.0, 19)],
    ids=["coordinates moved", "scores changed", "a query removed"],
)
def test_one_stage_is_not_reproduced_when_something_changed_the_output(px, score, results):
    assert verdicts.one_stage(px, score, results, 20, _interval(0.8, 0.7, 0.9), 80).outcome == "not reproduced"
    just_below = verdicts.one_stage(0.9 * px, 0.9 * score, 20, 20, _interval(0.8, 0.7, 0.9), 80)
    assert just_below.outcome == "by design"


def test_one_stage_reports_the_grouping_share_with_its_interval():
    decision = verdicts.one_stage(0.0, 0.0, 20, 20, _interval(0.8, 0.7, 0.9), 80)
    assert "80% (95% CI 70% to 90%) of 80 confident queries" in decision.reason


# ----------------------------------------------------------------------------- jcra.direct_regression


def test_direct_regression_by_design_and_broken():
    assert verdicts.direct_regression(0, 34, 17).outcome == "by design"
    assert verdicts.direct_regression(1, 34, 17).outcome == "not reproduced"  # a spatial output: a heatmap
    assert verdicts.direct_regression(0, 17, 17).outcome == "not reproduced"  # not x and y per joint


# ----------------------------------------------------------------------------- jcra.symmetric


def test_detectable_difference_shrinks_with_seeds_and_needs_two():
    assert verdicts.detectable_difference(0.01, 2) == pytest.approx(1.96 * 0.01)
    assert verdicts.detectable_difference(0.01, 8) == pytest.approx(1.96 * 0.01 / 2)
    assert math.isinf(verdicts.detectable_difference(0.01, 1))


@pytest.mark.parametrize(
    "intervals, outcome",
    [
        ({"1/3": (0.05, 0.01, 0.09), "3/1": (0.03, 0.001, 0.05)}, "reproduced"),
        ({"1/3": (0.05, 0.01, 0.09), "3/1": (0.01, -0.001, 0.03)}, "inconclusive"),
        ({"1/3": (0.0, -0.02, 0.02), "3/1": (0.0, 0.0, 0.0)}, "inconclusive"),
        ({"1/3": (0.05, 0.01, 0.09), "3/1": (-0.03, -0.05, -0.001)}, "not reproduced"),
        ({"1/3": (0.05, 0.01, 0.09), "3/1": (0.015, 0.01, 0.02)}, "inconclusive"),
        ({"1/3": (0.05, 0.01, 0.09), "3/1": (-0.015, -0.02, -0.01)}, "inconclusive"),
    ],
    ids=[
        "all above 0",
        "one straddles 0",
        "ties",
        "one below 0",
        "above 0 within seed noise",
        "below 0 within seed noise",
    ],
)
def test_symmetric_decides_on_the_intervals(intervals, outcome):
    differences = {name: _interval(*values) for name, values in intervals.items()}
    decision = verdicts.symmetric(differences, "2/2", 0.02)
    assert decision.outcome == outcome
    assert "smallest difference this budget detects 0.020 AP" in decision.reason


def test_symmetric_without_a_symmetric_split_or_a_second_seed():
    assert verdicts.symmetric({}, None, 0.02).outcome == "not measurable here"
    one_seed = verdicts.symmetric({"1/2": _interval(0.0, 0.0, 0.0)}, "2/2", math.inf)
    assert one_seed.outcome == "inconclusive" and "one seed per split" in one_seed.reason


# ----------------------------------------------------------------------------- jcra.coco_ap


def test_coco_ap_needs_a_coco_model_and_labels_the_synthetic_number():
    decision = verdicts.coco_ap(41.2, None, 69.2, 68.8)
    assert (
        decision.outcome == "not measurable here" and "not comparable" in decision.reason and "41.2" in decision.reason
    )


@pytest.mark.parametrize(
    "low, high, outcome",
    [
        (68.5, 69.2, "reproduced"),  # contains the reading
        (69.5, 70.5, "reproduced"),  # above it
        (68.0, 69.1, "partly"),
        (68.0, 68.8, "partly"),  # reaches PETR R-50
        (67.0, 68.7, "not reproduced"),  # below PETR R-50
    ],
)
def test_coco_ap_against_the_reading_and_the_nearest_public_design(low, high, outcome):
    assert verdicts.coco_ap(40.0, _interval((low + high) / 2, low, high), 69.2, 68.8).outcome == outcome


# ----------------------------------------------------------------------------- jcra.crowdpose

PROXY = {
    "easy": {
        "jcra": _interval(50.0, 45.0, 55.0),
        "bottomup": _interval(40.0, 35.0, 45.0),
        "difference": _interval(10.0, 4.0, 16.0),
    },
    "medium": {
        "jcra": _interval(30.0, 26.0, 34.0),
        "bottomup": _interval(25.0, 20.0, 30.0),
        "difference": _interval(5.0, -1.0, 11.0),
    },
    "hard": {
        "jcra": _interval(10.0, 8.0, 12.0),
        "bottomup": _interval(16.0, 13.0, 19.0),
        "difference": _interval(-6.0, -9.0, -3.0),
    },
}


def test_crowdpose_without_data_reports_the_labelled_proxy_with_its_intervals():
    decision = verdicts.crowdpose(PROXY)
    assert decision.outcome == "not measurable here"  # a synthetic proxy never decides, whatever it says
    assert "synthetic crowd proxy" in decision.reason and "95% bootstrap CI" in decision.reason
    assert "hard 10.0 [8.0, 12.0] vs 16.0 [13.0, 19.0], difference -6.0 [-9.0, -3.0]" in decision.reason
    assert "easy 50.0 [45.0, 55.0] vs 40.0 [35.0, 45.0], difference +10.0 [+4.0, +16.0]" in decision.reason
    assert "JCRA ahead at: easy; behind at: hard;" in decision.reason  # medium's interval contains 0
    assert "no level measured" in verdicts.crowdpose({}).reason


def test_crowdpose_compares_only_the_test_split_with_published_rows():
    best = ("DEKR HRNet-W48", 67.3)
    assert verdicts.crowdpose(PROXY, 70.0, "val", best).outcome == "not measurable here"
    assert verdicts.crowdpose(PROXY, 67.4, "test", best).outcome == "reproduced"
    assert verdicts.crowdpose(PROXY, 67.3, "test", best).outcome == "not reproduced"  # a tie does not outperform
