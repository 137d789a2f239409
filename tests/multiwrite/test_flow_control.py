"""Finite buffers with credits: lossless, never faster than infinite buffers, bounded backlog."""

import pytest

from companion.multiwrite.scenario import Scenario, ScenarioError
from companion.multiwrite.simulation import simulate

BASE = dict(topology="leafspine", ranks=16, ranks_per_node=4, oversubscription=4.0, message_bytes=1 << 19)


@pytest.mark.parametrize("algorithm", ["mesh", "multiwrite", "hierarchical", "ring"])
def test_small_buffers_still_deliver_and_are_not_faster(algorithm):
    unbounded = simulate(Scenario(algorithm=algorithm, **BASE))
    bounded = simulate(Scenario(algorithm=algorithm, buffer_bytes=140_000, **BASE))
    assert bounded.delivered_ok
    assert bounded.latency_s >= unbounded.latency_s * (1 - 1e-9)


def test_back_pressure_moves_the_backlog_out_of_the_fabric():
    unbounded = simulate(Scenario(algorithm="mesh", **BASE)).links
    bounded = simulate(Scenario(algorithm="mesh", buffer_bytes=140_000, **BASE)).links
    spine_links = lambda links: links[links["src"].str.startswith("spine")]["max_queue_bytes"].max()  # noqa: E731
    assert spine_links(bounded) <= spine_links(unbounded)


def test_a_buffer_smaller_than_a_chunk_is_rejected():
    with pytest.raises(ScenarioError, match="buffer_bytes"):
        Scenario(buffer_bytes=10_000.0)
