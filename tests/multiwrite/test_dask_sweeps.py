"""Sweeps on a real distributed engine: a Dask LocalCluster of two worker processes gives exactly
the serial result."""

import pandas as pd
import pytest

from companion import paths
from companion.multiwrite import sweeps
from companion.multiwrite.scenario import Scenario

distributed = pytest.importorskip("distributed")

TIMING = ["wall_s"]  # wall-clock columns differ between any two runs


@pytest.fixture
def build_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)
    return tmp_path


def test_dask_cluster_sweep_equals_the_serial_sweep(build_dir):
    base = Scenario(ranks=8, message_bytes=16384, topology="leafspine", ranks_per_node=4)
    scenarios = sweeps.grid(base, algorithm=["ring", "mesh", "multiwrite"], model=["packet", "flow"])
    serial = sweeps.sweep(scenarios, name="serial", max_workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with sweeps.executor_for(cluster.scheduler_address) as executor:
            assert executor is not None
            on_dask = sweeps.sweep(scenarios, name="dask", executor=executor)
            workers = executor._client.run(lambda: 1)  # noqa: SLF001 (the executor's client: which workers ran)
    assert len(workers) == 2
    assert serial["delivered_ok"].all()
    pd.testing.assert_frame_equal(serial.drop(columns=TIMING), on_dask.drop(columns=TIMING))


def test_empty_scheduler_means_the_local_pool():
    with sweeps.executor_for("") as executor:
        assert executor is None
