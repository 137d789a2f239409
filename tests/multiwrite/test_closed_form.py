"""Where a closed form is exact, simulator and analytic model agree within 2%."""

import pytest

from companion.multiwrite.analytic import closed_form_allgather_beta, predict
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

IDEAL = dict(link_latency_ns=0.0, switch_latency_ns=0.0, issue_overhead_ns=0.0)


@pytest.mark.parametrize("ranks", [4, 16])
@pytest.mark.parametrize("algorithm", ["mesh", "ring"])
def test_star_allgather_matches_the_textbook_formula(ranks, algorithm):
    # Packet-sized chunks: the textbook formula has no pipeline-fill term.
    s = Scenario(
        algorithm=algorithm,
        topology="star",
        ranks=ranks,
        message_bytes=1 << 20,
        chunk_bytes=4096,
        max_chunks_per_message=256,
        **IDEAL,
    )
    wire = s.wire_bytes(s.message_bytes)
    textbook_s = (ranks - 1) * wire / s.link_Bps  # (N-1) m / B
    assert simulate(s).latency_s == pytest.approx(textbook_s, rel=0.02)


@pytest.mark.parametrize(
    "changes",
    [
        dict(algorithm="mesh", topology="star", **IDEAL),
        dict(algorithm="ring", topology="star", **IDEAL),
        dict(algorithm="mesh", topology="star"),
        dict(algorithm="ring", topology="star"),
        dict(algorithm="multiwrite", topology="star"),
        dict(algorithm="mesh", topology="star", engine="shared"),
        dict(algorithm="mesh", topology="leafspine", ranks=32),
        dict(algorithm="ring", topology="leafspine", ranks=32, oversubscription=4.0),
        dict(algorithm="mesh", topology="leafspine", ranks=32, oversubscription=4.0),
        dict(algorithm="ring", topology="fullmesh"),
        dict(algorithm="multiwrite", topology="fullmesh", **IDEAL),
        dict(algorithm="group-multicast", topology="star"),
    ],
    ids=lambda c: "-".join(f"{v}" for v in c.values()),
)
def test_simulator_matches_analytic_model_within_2_percent(changes):
    s = Scenario(**{"ranks": 16, "message_bytes": 1 << 20, **changes})
    assert simulate(s).latency_s == pytest.approx(predict(s).latency_s, rel=0.02)


@pytest.mark.parametrize("topology", ["star", "leafspine", "fullmesh"])
@pytest.mark.parametrize("algorithm", ["ring", "mesh", "multiwrite", "group-multicast", "hierarchical"])
@pytest.mark.parametrize("engine", ["duplex", "shared"])
def test_counted_loads_agree_with_the_closed_form(topology, algorithm, engine):
    s = Scenario(
        algorithm=algorithm, topology=topology, engine=engine, ranks=32, oversubscription=2.0, message_bytes=1 << 16
    )
    assert predict(s).beta_s == pytest.approx(closed_form_allgather_beta(s), rel=1e-9)


def test_analytic_model_is_a_lower_bound_where_queues_form():
    s = Scenario(algorithm="hierarchical", topology="leafspine", ranks=32, oversubscription=4.0)
    assert simulate(s).latency_s >= predict(s).latency_s * 0.98
