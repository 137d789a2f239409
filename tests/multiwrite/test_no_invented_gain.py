"""On an ideal single switch MultiWrite moves less data but cannot beat direct AllGather:
every receiver's downlink still takes (N-1) m. The simulator must not invent a gain."""

import pytest

from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

IDEAL_STAR = dict(topology="star", issue_overhead_ns=0.0, engine="duplex")


@pytest.mark.parametrize("ranks", [8, 32])
@pytest.mark.parametrize("message_bytes", [1 << 20, 4 << 20])
def test_multiwrite_is_not_faster_than_mesh_on_an_ideal_switch(ranks, message_bytes):
    mesh = simulate(Scenario(algorithm="mesh", ranks=ranks, message_bytes=message_bytes, **IDEAL_STAR))
    multiwrite = simulate(Scenario(algorithm="multiwrite", ranks=ranks, message_bytes=message_bytes, **IDEAL_STAR))
    assert multiwrite.latency_s >= 0.98 * mesh.latency_s
    # ... although it does remove every duplicate from the sender's uplink.
    assert mesh.max_link_duplication == ranks - 1 and multiwrite.max_link_duplication == 1


def test_multiwrite_can_lose():
    """A replication engine slower than the ports makes MultiWrite slower than unicast."""
    slow = dict(IDEAL_STAR, ranks=16, message_bytes=1 << 20, switch_replication_GBps=56.0)
    assert (
        simulate(Scenario(algorithm="multiwrite", **slow)).latency_s
        > 1.5 * simulate(Scenario(algorithm="mesh", **slow)).latency_s
    )


def test_gain_appears_where_duplicates_cross_an_oversubscribed_link():
    common = dict(topology="leafspine", ranks=32, oversubscription=4.0, message_bytes=1 << 20, issue_overhead_ns=0.0)
    mesh = simulate(Scenario(algorithm="mesh", **common))
    multiwrite = simulate(Scenario(algorithm="multiwrite", **common))
    assert multiwrite.latency_s < 0.5 * mesh.latency_s
