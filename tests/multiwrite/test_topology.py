from collections import Counter

import pytest

from companion.multiwrite.scenario import Scenario
from companion.multiwrite.topology import build


def test_star_and_fullmesh_shapes():
    star = build(Scenario(ranks=8, topology="star"))
    assert star.graph.number_of_edges() == 16 and star.switches == ["sw"]
    mesh = build(Scenario(ranks=8, topology="fullmesh"))
    assert mesh.graph.number_of_edges() == 8 * 7 and mesh.switches == []
    assert mesh.unicast_path(0, 5) == ["r0", "r5"]


def test_leafspine_paths_and_balanced_ecmp():
    s = Scenario(ranks=32, topology="leafspine", ranks_per_node=8, spines=4)
    topo = build(s)
    assert topo.unicast_path(0, 3) == ["r0", "leaf0", "r3"]
    assert len(topo.unicast_path(0, 31)) == 5
    # Traffic from leaf 0 to the other leaves spreads evenly over the 4 spines.
    spines = Counter(topo.unicast_path(src, dst)[2] for src in range(8) for dst in range(8, 32))
    assert set(spines.values()) == {len(range(8)) * len(range(8, 32)) // 4}
    assert topo.unicast_path(5, 20) == topo.unicast_path(5, 20)  # deterministic


def test_multicast_tree_reaches_each_destination_once():
    topo = build(Scenario(ranks=32, topology="leafspine"))
    dests = tuple(range(1, 32))
    tree = topo.multicast_tree(0, dests)
    parents = Counter(child for children in tree.values() for child in children)
    assert all(count == 1 for count in parents.values())
    assert {f"r{d}" for d in dests} <= set(parents)
    # One spine carries the tree: the union of paths is a tree, not a mesh of paths.
    assert len([n for n in tree if n.startswith("spine")]) == 1


def test_edges_carry_bandwidth_and_switch_latency():
    s = Scenario(ranks=16, topology="leafspine", oversubscription=2.0, link_latency_ns=100, switch_latency_ns=250)
    graph = build(s).graph
    assert graph.edges["r0", "leaf0"]["latency_s"] == pytest.approx(350e-9)
    assert graph.edges["leaf0", "r0"]["latency_s"] == pytest.approx(100e-9)
    assert graph.edges["leaf0", "spine0"]["bandwidth_Bps"] == pytest.approx(s.link_Bps / 2)
