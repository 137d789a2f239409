from companion.multiwrite.management import SEMANTICS, churn
from companion.multiwrite.scenario import Scenario


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
    assert rows["delivered_ok"].all() and (rows["group_setup_us"] == 5.0).all()
    stateless = churn(s.with_(algorithm="multiwrite"), operations=3)
    assert stateless["new_groups"].sum() == 0 and stateless["table_entries_used"].max() == 0


def test_semantics_table_names_its_sources():
    assert {"transport", "API", "switch state"} <= set(SEMANTICS["property"])


def test_paper_column_holds_only_the_abstract():
    """The companion's own bitmap assumption sits in the simulator column, never under "paper abstract"."""
    paper = SEMANTICS["MultiWrite (paper abstract)"]
    assert not paper.str.contains("bitmap").any()
    assert SEMANTICS["how the simulator models it (assumptions)"].str.contains("bitmap").any()
