import math

import pytest

from companion.multiwrite.scenario import Scenario, ScenarioError


@pytest.mark.parametrize(
    "changes, parameter",
    [
        ({"ranks": 1}, "ranks"),
        ({"ranks": 12, "ranks_per_node": 8}, "ranks_per_node"),
        ({"message_bytes": -5}, "message_bytes"),
        ({"message_bytes": 0}, "message_bytes"),
        ({"algorithm": "butterfly"}, "algorithm"),
        ({"collective": "dispatch", "algorithm": "ring"}, "algorithm"),
        ({"topology": "torus"}, "topology"),
        ({"engine": "half"}, "engine"),
        ({"link_bandwidth_GBps": 0.0}, "link_bandwidth_GBps"),
        ({"link_bandwidth_GBps": math.inf}, "link_bandwidth_GBps"),
        ({"link_latency_ns": -1.0}, "link_latency_ns"),
        ({"oversubscription": 0.5}, "oversubscription"),
        ({"top_k": 9, "ranks": 2, "experts_per_rank": 4}, "top_k"),
        ({"header_bytes": -1}, "header_bytes"),
        ({"mtu_bytes": 0}, "mtu_bytes"),
        ({"buffer_bytes": 1000.0}, "buffer_bytes"),
        ({"routing": "zipf"}, "routing"),
        ({"ranks": 8.0}, "ranks"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_values_name_the_parameter(changes, parameter):
    with pytest.raises(ScenarioError) as error:
        Scenario(**changes)
    assert error.value.parameter == parameter
    assert str(error.value).startswith(f"{parameter}:")


def test_defaults_resolve_from_the_topology():
    s = Scenario(ranks=64, topology="leafspine")
    assert (s.node_ranks, s.nodes, s.spine_count) == (8, 8, 8)
    assert s.uplink_Bps == pytest.approx(s.link_Bps)  # non-blocking by default
    assert Scenario(ranks=6).node_ranks == 6  # 8 does not divide 6: one node
    assert Scenario(topology="fullmesh", ranks=8).engine_Bps == pytest.approx(7 * 56e9)
    assert Scenario(ranks=64, topology="leafspine", oversubscription=4.0).uplink_Bps == pytest.approx(14e9)


def test_bitmap_header_grows_with_the_rank_count():
    assert Scenario(ranks=8).multicast_header_bytes == 64 + 1
    assert Scenario(ranks=1024).multicast_header_bytes == 64 + 128


def test_wire_bytes_count_one_header_per_mtu_packet():
    s = Scenario(mtu_bytes=4096, header_bytes=64)
    assert s.wire_bytes(4096) == 4096 + 64
    assert s.wire_bytes(4097) == 4097 + 128
    assert s.wire_bytes(4096, multicast=True) == 4096 + 64 + 1


def test_chunks_are_whole_packets_and_bounded_in_number():
    s = Scenario(chunk_bytes=10_000, mtu_bytes=4096, max_chunks_per_message=4)
    assert s.chunk_bytes_for(1 << 20) == 1 << 18
    assert s.chunk_bytes_for(1024) == 12288  # 10 000 rounded up to 3 packets


def test_with_revalidates():
    with pytest.raises(ScenarioError):
        Scenario().with_(ranks=0)
