from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from companion import paths
from companion.multiwrite import sweeps
from companion.multiwrite.scenario import Scenario


@pytest.fixture
def build_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)
    return tmp_path


def test_grid_is_the_cartesian_product():
    scenarios = sweeps.grid(Scenario(ranks=4), algorithm=["mesh", "ring"], message_bytes=[1024, 2048, 4096])
    assert len(scenarios) == 6 and {s.algorithm for s in scenarios} == {"mesh", "ring"}


def test_sweep_is_cached_and_runs_through_any_executor(build_dir, monkeypatch):
    scenarios = sweeps.grid(Scenario(ranks=4, message_bytes=4096), algorithm=["mesh", "multiwrite"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = sweeps.sweep(scenarios, name="t", executor=pool)
    assert list(first["algorithm"]) == ["mesh", "multiwrite"] and first["delivered_ok"].all()
    monkeypatch.setattr(sweeps, "measure", lambda s: pytest.fail("a cached sweep must not simulate again"))
    second = sweeps.sweep(scenarios, name="t", max_workers=1)
    pd.testing.assert_frame_equal(first, second)


def test_process_pool_gives_the_same_rows(build_dir):
    scenarios = sweeps.grid(Scenario(ranks=4, message_bytes=4096), algorithm=["mesh", "ring", "multiwrite"])
    inline = sweeps.sweep(scenarios, name="inline", max_workers=1)
    pooled = sweeps.sweep(scenarios, name="pooled", max_workers=2)
    pd.testing.assert_frame_equal(inline.drop(columns="wall_s"), pooled.drop(columns="wall_s"))


def test_reduction_against_the_best_unicast_baseline():
    frame = pd.DataFrame(
        {
            "message_bytes": [1, 1, 1, 2, 2, 2],
            "algorithm": ["ring", "mesh", "multiwrite"] * 2,
            "latency_us": [10.0, 8.0, 6.0, 10.0, 20.0, 12.0],
        }
    )
    table = sweeps.reduction(frame, by=["message_bytes"])
    assert table["best_baseline"].tolist() == ["mesh", "ring"]
    assert table["reduction"].tolist() == pytest.approx([0.25, -0.2])
    assert table["reduction_vs_mesh"].tolist() == pytest.approx([0.25, 0.4])


def test_link_sweep_labels_link_classes(build_dir):
    links = sweeps.link_sweep(
        [Scenario(ranks=8, ranks_per_node=4, topology="leafspine", spines=2, message_bytes=4096)], max_workers=1
    )
    assert set(links["link_class"]) == {"rank->leaf", "leaf->rank", "leaf->spine", "spine->leaf"}
    assert sweeps.link_class("r1", "r2") == "rank->rank" and sweeps.link_class("sw", "r0") == "sw->rank"


def test_a_scenario_listed_twice_is_measured_once(build_dir, monkeypatch):
    measured = []
    real = sweeps.measure
    monkeypatch.setattr(sweeps, "measure", lambda s, **kw: measured.append(s) or real(s, **kw))
    mesh, ring = Scenario(ranks=4, message_bytes=4096), Scenario(ranks=4, message_bytes=4096, algorithm="ring")
    frame = sweeps.sweep([mesh, ring, mesh], name="twice", max_workers=1)
    assert sorted(s.algorithm for s in measured) == ["mesh", "ring"]
    assert list(frame["algorithm"]) == ["mesh", "ring", "mesh"]
    pd.testing.assert_series_equal(frame.iloc[0], frame.iloc[2], check_names=False)


def test_a_run_is_simulated_once_and_comes_back_bit_for_bit(build_dir, monkeypatch):
    scenario = Scenario(ranks=8, ranks_per_node=4, topology="leafspine", algorithm="multiwrite", message_bytes=50_000)
    first = sweeps.simulate_once(scenario)
    monkeypatch.setattr(sweeps, "simulate", lambda s: pytest.fail("a stored run must not be simulated again"))
    again = sweeps.simulate_once(scenario)
    assert again.latency_s == first.latency_s and again.rank_completion_s == first.rank_completion_s
    pd.testing.assert_frame_equal(again.links, first.links)
    assert again.events == first.events and again.wall_s == first.wall_s
