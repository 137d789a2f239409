import pytest

from companion.multiwrite import verdicts
from companion.multiwrite.management import SEMANTICS, churn
from companion.multiwrite.scenario import Scenario


def test_duplicates_and_eliminates_rules():
    assert verdicts.duplicates({"mesh": 7, "ring": 1}, ring_max_dup=1)[0] == "reproduced"
    assert verdicts.duplicates({"ring": 1})[0] == "not reproduced"
    assert verdicts.eliminates({"a": 1, "b": 0})[0] == "reproduced"
    assert verdicts.eliminates({"a": 2})[0] == "not reproduced"


def test_congestion_rule_separates_fabrics():
    best = {"star": 0.0, "leafspine R=4": 0.1}
    assert verdicts.congestion(best, {"star": 0.0, "leafspine R=4": 0.6})[0] == "partly"
    assert verdicts.congestion(best, {"leafspine R=4": 0.6})[0] == "reproduced"
    verdict, reason = verdicts.congestion(best, {"star": -0.01})
    assert verdict == "not reproduced" and "best unicast" in reason


@pytest.mark.parametrize(
    "value, verdict, words",
    [
        (0.30, "partly", "same size"),
        (0.8, "partly", "above"),
        (0.05, "partly", "below"),
        (-0.1, "not reproduced", "never"),
    ],
)
def test_latency_33_rule(value, verdict, words):
    found, reason = verdicts.latency_33(value, "somewhere")
    assert found == verdict and "33%" in reason and words in reason and "\n" not in reason


def test_group_churn_fills_the_table_then_falls_back():
    s = Scenario(
        collective="dispatch",
        algorithm="group-multicast",
        ranks=8,
        tokens_per_rank=8,
        token_bytes=1024,
        top_k=4,
        experts_per_rank=2,
        group_table_entries=40,
        group_setup_us=5.0,
    )
    rows = churn(s, operations=3)
    assert rows["new_groups"].sum() == 40 and rows["table_entries_used"].iloc[-1] == 40
    assert rows["fallbacks"].iloc[-1] > 0
    assert rows["distinct_sets_so_far"].is_monotonic_increasing
    stateless = churn(s.with_(algorithm="multiwrite"), operations=3)
    assert stateless["new_groups"].sum() == 0 and stateless["table_entries_used"].max() == 0


def test_semantics_table_names_its_sources():
    assert {"transport", "API", "switch state"} <= set(SEMANTICS["property"])


def test_mgmt_plane_and_compat_rules():
    assert verdicts.mgmt_plane(50.0, 100, 10, 0, 100.0, 64)[0] == "reproduced"
    assert verdicts.mgmt_plane(50.0, 100, 0, 0, 100.0, 64)[0] == "partly"
    verdict, reason = verdicts.mgmt_plane(0.9, 100, 0, 0, 100.0, 64)
    assert verdict == "not reproduced" and "never fill" in reason
    assert verdicts.compat()[0] == "partly"
