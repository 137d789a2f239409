"""Property tests: conservation, no duplicates under MultiWrite, monotonicity, determinism."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.multiwrite.collectives import plan_for
from companion.multiwrite.scenario import ALGORITHMS, ALGORITHMS_FOR, Scenario
from companion.multiwrite.simulation import simulate

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw, collective=None):
    collective = collective or draw(st.sampled_from(["allgather", "dispatch"]))
    group = draw(st.sampled_from([1, 2, 4]))
    nodes = draw(st.integers(1, 4))
    ranks = max(2, group * nodes)
    if ranks % group:
        group = ranks
    return Scenario(
        collective=collective,
        algorithm=draw(st.sampled_from(ALGORITHMS_FOR[collective])),
        topology=draw(st.sampled_from(["star", "leafspine", "fullmesh"])),
        ranks=ranks,
        ranks_per_node=group,
        spines=draw(st.integers(1, 3)),
        oversubscription=draw(st.sampled_from([1.0, 2.0, 3.5])),
        message_bytes=draw(st.integers(1, 300_000)),
        chunk_bytes=draw(st.sampled_from([4096, 16384, 65536])),
        issue_overhead_ns=draw(st.sampled_from([0.0, 500.0])),
        engine=draw(st.sampled_from(["duplex", "shared"])),
        switch_replication_GBps=draw(st.sampled_from([float("inf"), 30.0])),
        mtu_bytes=draw(st.sampled_from([1024, 4096])),
        tokens_per_rank=draw(st.integers(1, 12)),
        token_bytes=draw(st.sampled_from([512, 7168])),
        experts_per_rank=2,
        top_k=draw(st.integers(1, 2 * ranks)) if collective == "dispatch" else 1,
        routing=draw(st.sampled_from(["uniform", "skewed"])),
        group_table_entries=draw(st.sampled_from([0, 3, 4096])),
        group_setup_us=1.0,
        seed=draw(st.integers(0, 1000)),
    )


@SETTINGS
@given(scenarios())
def test_bytes_are_conserved(s):
    result = simulate(s)  # raises unless every receiver got exactly its bytes, once
    links = result.links
    expected = plan_for(s).expected
    # Every delivered byte crossed exactly one link into its receiver.
    into_ranks = links[links["dst"].str.match(r"^r\d+$")]["payload_bytes"].sum()
    assert into_ranks == sum(sum(e.values()) for e in expected)
    # Wire bytes are payload plus one header per packet.
    header = s.multicast_header_bytes if s.uses_bitmap else s.header_bytes
    assert (links["bytes"] == links["payload_bytes"] + links["packets"] * header).all()
    # A unicast switch forwards what it receives, no more, no less.
    if s.algorithm in ("ring", "mesh", "hierarchical"):
        for switch in set(links["dst"]) - {f"r{r}" for r in range(s.ranks)}:
            assert (
                links[links["dst"] == switch]["payload_bytes"].sum()
                == links[links["src"] == switch]["payload_bytes"].sum()
            )


@SETTINGS
@given(scenarios())
def test_multiwrite_never_carries_a_payload_byte_twice_on_one_link(s):
    s = s.with_(algorithm="multiwrite")
    assert simulate(s).max_link_duplication <= 1  # 0 when every token stayed local


@SETTINGS
@given(
    scenarios(collective="allgather"),
    st.sampled_from(["link_bandwidth_GBps", "engine_bandwidth_GBps", "switch_replication_GBps"]),
    st.sampled_from([1.5, 4.0]),
)
def test_latency_does_not_grow_when_a_bandwidth_grows(s, name, factor):
    current = getattr(s, name)
    if current is None:
        current = s.engine_Bps / 1e9
    faster = s.with_(**{name: current * factor})
    assert simulate(faster).latency_s <= simulate(s).latency_s * (1 + 1e-9)


@SETTINGS
@given(scenarios())
def test_same_seed_same_result(s):
    first, second = simulate(s), simulate(s)
    assert first.latency_s == second.latency_s
    assert first.rank_completion_s == second.rank_completion_s
    assert first.links.drop(columns=[]).equals(second.links)


def test_every_algorithm_is_reachable_from_the_strategy():
    assert set(ALGORITHMS) == set(ALGORITHMS_FOR["allgather"])
