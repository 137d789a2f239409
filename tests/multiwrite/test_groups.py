"""Group-table multicast: one group per destination set, serial setups, finite tables, fallback."""

from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

DISPATCH = dict(
    collective="dispatch",
    algorithm="group-multicast",
    topology="star",
    ranks=8,
    tokens_per_rank=16,
    token_bytes=1024,
    top_k=3,
    experts_per_rank=2,
    group_setup_us=10.0,
)


def test_one_group_per_distinct_destination_set_and_serial_setups():
    result = simulate(Scenario(**DISPATCH))
    distinct = result.notes["distinct_destination_sets"]
    assert result.group_setups == distinct and result.group_fallbacks == 0
    assert result.latency_s >= distinct * 10e-6  # one controller, one setup at a time
    assert result.max_link_duplication == 1


def test_a_full_table_falls_back_to_unicast():
    result = simulate(Scenario(**DISPATCH, group_table_entries=5))
    assert result.group_setups == 5 and result.group_table_max_entries == 5
    assert result.group_fallbacks == result.notes["distinct_destination_sets"] - 5
    assert result.max_link_duplication > 1  # the fallback copies cross the sender's uplink again


def test_multiwrite_needs_no_group_state():
    result = simulate(Scenario(**{**DISPATCH, "algorithm": "multiwrite"}))
    assert result.group_setups == 0 and result.group_table_max_entries == 0


def test_allgather_groups_on_a_full_mesh_live_at_the_source_port():
    result = simulate(Scenario(algorithm="group-multicast", topology="fullmesh", ranks=4, message_bytes=4096))
    assert result.group_setups == 4 and result.group_table_max_entries == 1
