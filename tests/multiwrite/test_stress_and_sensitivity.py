import math

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
