"""Converged grain, one path-selection policy for unicast and multicast, and the top-1 controls."""

import math
from collections import Counter

import pytest

from companion.multiwrite import dispatch
from companion.multiwrite.convergence import (
    TOLERANCE,
    at_grain,
    grain_band,
    grain_ladder,
    packets_per_message,
    simulate_converged,
)
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate
from companion.multiwrite.topology import build


def test_grain_ladder_doubles_down_to_mtu_packets():
    s = Scenario(message_bytes=1 << 20)
    assert packets_per_message(s) == 256
    assert grain_ladder(s) == [4, 8, 16, 32, 64, 128, 256]
    assert grain_ladder(s, max_grain=64)[-1] == 64
    assert grain_ladder(Scenario(message_bytes=4096)) == [1]
    assert grain_ladder(Scenario(message_bytes=5 * 4096)) == [4, 5]


def test_converged_result_is_the_run_at_that_grain():
    s = Scenario(algorithm="mesh", topology="leafspine", ranks=8, ranks_per_node=4, message_bytes=256 << 10)
    result, grain = simulate_converged(s)
    assert grain.stop in ("converged", "packet grain", "grain cap") and result.grain == grain.chunks_per_message
    if grain.stop == "converged":
        assert grain.change < TOLERANCE
    again = simulate(at_grain(s, grain.chunks_per_message))
    assert result.latency_s == again.latency_s and result.scenario == s.as_dict()
    coarser = simulate(at_grain(s, grain.chunks_per_message // 2))
    assert abs(again.latency_s / coarser.latency_s - 1) == pytest.approx(grain.change)


def test_a_single_packet_message_has_one_grain():
    result, grain = simulate_converged(Scenario(message_bytes=4096))
    assert grain.chunks_per_message == 1 and grain.change is None and grain.stop == "packet grain"
    assert result.grain_change is None


def test_tolerance_is_checked():
    with pytest.raises(ValueError, match="tolerance"):
        simulate_converged(Scenario(), tolerance=0)


def test_grain_band_adds_the_residual_errors():
    band = grain_band(0.2, 0.01, None, math.nan, 0.005)
    assert (band.low, band.estimate, band.high) == pytest.approx((0.185, 0.2, 0.215))


# --- one path-selection policy ---------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["source", "ecmp-hash"])
def test_unicast_and_multicast_flows_follow_the_same_rule(policy):
    s = Scenario(ranks=32, topology="leafspine", ranks_per_node=8, path_selection=policy)
    topo = build(s)
    for src in range(8):
        for dst in range(8, 32, 5):
            # A MultiWrite to one rank is the same flow as a unicast write to it: the same path.
            tree = topo.multicast_tree(src, (dst,))
            path = topo.unicast_path(src, dst)
            assert all(tree[a] == (b,) for a, b in zip(path, path[1:]))
    tree = topo.multicast_tree(3, tuple(r for r in range(32) if r != 3))
    assert len(tree["leaf0"]) == 8  # seven local peers and one spine: one tree


def test_source_policy_keeps_a_rank_on_its_spine_and_balances_uplinks():
    topo = build(Scenario(ranks=32, topology="leafspine", ranks_per_node=8, spines=4, path_selection="source"))
    assert {topo.unicast_path(5, d)[2] for d in range(8, 32)} == {"spine1"}
    spines = Counter(topo.unicast_path(src, dst)[2] for src in range(8) for dst in range(8, 32))
    assert set(spines.values()) == {2 * 24}


def test_ecmp_hash_is_deterministic_per_flow():
    topo = build(Scenario(ranks=32, topology="leafspine", ranks_per_node=8, path_selection="ecmp-hash"))
    assert topo.unicast_path(5, 20) == topo.unicast_path(5, 20)
    assert len({topo.unicast_path(5, d)[2] for d in range(8, 32)}) > 1  # per flow, not per source


def test_dispatch_posts_multiwrite_in_mesh_order_at_top_1():
    s = Scenario(collective="dispatch", ranks=12, tokens_per_rank=32, top_k=1, routing="skewed")
    mesh = dispatch.plan(s.with_(algorithm="mesh"))
    multi = dispatch.plan(s.with_(algorithm="multiwrite"))
    for unicast, multicast in zip(mesh.programs, multi.programs):
        assert [w.dests for w in unicast] == [w.dests for w in multicast]


@pytest.mark.parametrize("topology", ["star", "leafspine"])
@pytest.mark.parametrize("routing", ["uniform", "skewed"])
@pytest.mark.parametrize("policy", ["source", "ecmp-hash"])
def test_top_1_control_multiwrite_ties_mesh(topology, routing, policy):
    """With one expert per token nothing can be replicated: MultiWrite and mesh must be within 2%."""
    s = Scenario(
        collective="dispatch",
        topology=topology,
        ranks=12,
        ranks_per_node=4,
        oversubscription=3.0 if topology == "leafspine" else 1.0,
        tokens_per_rank=32,
        top_k=1,
        routing=routing,
        path_selection=policy,
    )
    mesh, _ = simulate_converged(s.with_(algorithm="mesh"))
    multi, _ = simulate_converged(s.with_(algorithm="multiwrite"))
    assert abs(multi.latency_s / mesh.latency_s - 1) < 0.02
