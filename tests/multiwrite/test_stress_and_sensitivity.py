import math

import numpy as np
import pandas as pd
import pytest

from companion import paths
from companion.multiwrite import sensitivity, stress
from companion.multiwrite.scenario import Scenario

SMALL = Scenario(topology="leafspine", ranks=8, ranks_per_node=4, max_chunks_per_message=2)


@pytest.fixture(autouse=True)
def build_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)


def test_stress_checks_every_operation_and_faces_each_algorithm_with_the_same_sizes():
    config = stress.StressConfig(
        operations=30, segments=2, sizes_bytes=(4096, 65536), background_load=0.2, background_bytes=65536
    )
    frames = {a: stress.stress(SMALL.with_(algorithm=a), config, max_workers=1) for a in ("mesh", "multiwrite")}
    for frame in frames.values():
        assert len(frame) == 30 and frame["delivered_ok"].all()
    assert frames["mesh"]["message_bytes"].tolist() == frames["multiwrite"]["message_bytes"].tolist()
    table = stress.percentiles(frames["mesh"])
    assert table.loc[0, "p99_us"] >= table.loc[0, "p50_us"] > 0


def test_background_traffic_slows_operations_down():
    quiet = stress.StressConfig(operations=20, segments=1, background_load=0.0, start_jitter_us=0.0)
    busy = stress.StressConfig(operations=20, segments=1, background_load=0.5, start_jitter_us=0.0)
    mesh = SMALL.with_(algorithm="mesh")
    assert (
        stress.stress(mesh, busy, max_workers=1)["latency_us"].mean()
        > stress.stress(mesh, quiet, max_workers=1)["latency_us"].mean()
    )


def test_stress_config_validation():
    with pytest.raises(ValueError, match="background_load"):
        stress.StressConfig(background_load=1.0)
    with pytest.raises(ValueError, match="segments"):
        stress.StressConfig(operations=1, segments=2)


def test_sensitivity_study_covers_every_factor_low_and_high():
    table = sensitivity.study(SMALL.with_(ranks=8), message_sizes=[65536], max_workers=1)
    assert set(table["factor"]) == {"default", *sensitivity.FACTORS}
    assert len(table) == 1 + 2 * len(sensitivity.FACTORS)
    shared = table[(table["factor"] == "engine") & (table["setting"] == "high")]["reduction"].iloc[0]
    duplex = table[(table["factor"] == "engine") & (table["setting"] == "low")]["reduction"].iloc[0]
    assert shared > duplex  # a shared engine is one of the sources of MultiWrite's gain
    slow_replication = table[(table["factor"] == "switch_replication_GBps") & (table["setting"] == "low")][
        "reduction"
    ].iloc[0]
    assert slow_replication < 0 and math.isfinite(slow_replication)  # where MultiWrite loses


def test_reductions_pick_the_best_baseline_per_quantile_and_size():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "algorithm": ["mesh", "mesh", "ring", "ring", "multiwrite", "multiwrite"],
            "message_bytes": [1, 2, 1, 2, 1, 2],
            "latency_us": [10.0, 40.0, 20.0, 30.0, 5.0, 30.0],
        }
    )
    table = stress.reductions(frame, quantiles=(0.5,))
    by_size = table.set_index("message_bytes")
    assert by_size.loc[1, "best_baseline"] == "mesh" and by_size.loc[1, "reduction"] == pytest.approx(0.5)
    assert by_size.loc[2, "best_baseline"] == "ring" and by_size.loc[2, "reduction"] == pytest.approx(0.0)
    assert "all" in set(table["message_bytes"])


def test_reduction_intervals_bootstrap_over_operations_against_the_best_baseline():

    rng = np.random.default_rng(0)
    rows = []
    for algorithm, mean in (("multiwrite", 8.0), ("mesh", 10.0), ("ring", 12.0)):
        for size in (4096, 1 << 20):
            for value in rng.normal(mean * (1 if size == 4096 else 2), 0.5, 200):
                rows.append({"algorithm": algorithm, "message_bytes": size, "latency_us": value})
    cells = stress.reduction_intervals(pd.DataFrame(rows), [50.0, 99.0], baselines=("mesh", "ring"))
    assert len(cells) == 4 and (cells["best_baseline"] == "mesh").all()
    assert (cells["reduction_ci_low"] <= cells["reduction"]).all() and (
        cells["reduction"] <= cells["reduction_ci_high"]
    ).all()
    median = cells[(cells["percentile"] == 50.0) & (cells["message_bytes"] == 4096)].iloc[0]
    assert median["reduction"] == pytest.approx(0.2, abs=0.02) and median["reduction_ci_low"] > 0.15
    assert stress.cell_label(65536, 99.0) == "p99 at 64 KiB"


def test_deviations_name_every_departure_from_the_assumptions_scenario():
    assert (
        stress.deviations(
            Scenario(ranks=16, ranks_per_node=8), [4096, 1 << 20], ["ring", "mesh", "hierarchical", "multiwrite"]
        )
        == []
    )
    found = stress.deviations(
        Scenario(ranks=8, ranks_per_node=4, issue_overhead_ns=0.0), [4096, 65536], ["mesh", "multiwrite"]
    )
    assert any("4 ranks per node" in d for d in found)
    assert any("largest size 65536" in d for d in found)
    assert any("ring, hierarchical" in d for d in found)
    assert any("issue_overhead_ns = 0.0" in d for d in found)


def test_the_stress_grain_says_which_runs_stopped_before_converging():
    """One MTU packet per message cannot be refined: the stress grain says "packet grain", not "converged";
    a run stopped by the cap outranks it (a departure the notebook names)."""
    base = Scenario(topology="star", ranks=4)
    one_packet = stress.converged_grain(base, ["ring"], [4096])
    assert (one_packet.chunks_per_message, one_packet.stop) == (1, "packet grain")
    capped = stress.converged_grain(base, ["ring"], [4096, 1 << 20], max_grain=2)
    assert capped.stop == "grain cap" and capped.chunks_per_message == 2
