"""The flow-level model: max-min fair rates, the same traffic and delivery as the packet model, and
latencies within 2% of the converged packet model where messages amortise the pipeline fill."""

import json
import math

import numpy as np
import pytest

from companion.multiwrite import flow, maxmin
from companion.multiwrite.__main__ import main
from companion.multiwrite.convergence import simulate_converged
from companion.multiwrite.operation import DeliveryError
from companion.multiwrite.scenario import Scenario, ScenarioError
from companion.multiwrite.simulation import simulate


def _rates(resources: list[list[int]], capacity: list[float], caps: list[float]) -> np.ndarray:
    """Water-filling of flows given as lists of resources (weight 1 each)."""
    res = np.array([i for r in resources for i in r])
    lengths = np.array([len(r) for r in resources])
    return maxmin.water_filling(res, np.ones(len(res)), lengths, np.array(capacity), np.array(caps))


def test_max_min_rates_textbook_example():
    # Link 0 (capacity 1) carries flows a, b; link 1 (capacity 2) carries b, c: a = b = 0.5, c = 1.5.
    np.testing.assert_allclose(_rates([[0], [0, 1], [1]], [1.0, 2.0], [np.inf] * 3), [0.5, 0.5, 1.5])


def test_max_min_rates_respect_caps_and_give_the_rest_away():
    np.testing.assert_allclose(_rates([[0], [0]], [1.0], [0.2, np.inf]), [0.2, 0.8])


CASES = [
    Scenario(algorithm="mesh", topology="star", ranks=8, message_bytes=1 << 20),
    Scenario(algorithm="ring", topology="star", ranks=8, message_bytes=1 << 20),
    Scenario(algorithm="multiwrite", topology="leafspine", ranks=16, oversubscription=2.0, message_bytes=1 << 20),
    Scenario(algorithm="hierarchical", topology="leafspine", ranks=16, oversubscription=2.0, message_bytes=1 << 20),
]


@pytest.mark.parametrize("scenario", CASES, ids=lambda s: f"{s.algorithm}-{s.topology}")
def test_flow_latency_within_two_percent_of_the_converged_packet_model(scenario):
    packet, _ = simulate_converged(scenario)
    fluid = flow.simulate(scenario.with_(model="flow"))
    assert fluid.delivered_ok
    assert abs(fluid.latency_us / packet.latency_us - 1) < 0.02, (fluid.latency_us, packet.latency_us)


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(algorithm="hierarchical-multiwrite", topology="leafspine", ranks=16, message_bytes=65536),
        Scenario(algorithm="group-multicast", topology="star", ranks=8, message_bytes=65536),
        Scenario(collective="dispatch", algorithm="mesh", topology="leafspine", ranks=16, tokens_per_rank=16),
        Scenario(collective="dispatch", algorithm="multiwrite", topology="star", ranks=8, tokens_per_rank=16),
    ],
    ids=lambda s: f"{s.collective}-{s.algorithm}",
)
def test_flow_model_moves_exactly_the_packet_models_bytes(scenario):
    packet, fluid = simulate(scenario), flow.simulate(scenario.with_(model="flow"))
    by_link = packet.links.set_index("link")
    fluid_links = fluid.links.set_index("link").loc[by_link.index]
    for column in ("bytes", "payload_bytes", "packets", "max_duplication"):
        np.testing.assert_array_equal(fluid_links[column].to_numpy(), by_link[column].to_numpy(), err_msg=column)
    assert fluid.max_link_duplication == packet.max_link_duplication
    assert (fluid.writes_posted, fluid.group_setups) == (packet.writes_posted, packet.group_setups)


@pytest.mark.parametrize("algorithm", ["ring", "mesh", "hierarchical-multiwrite"])
def test_rate_classes_give_the_per_flow_result(algorithm, monkeypatch):
    scenario = Scenario(algorithm=algorithm, topology="leafspine", ranks=32, path_selection="source", model="flow")
    classes = flow.simulate(scenario)
    assert classes.notes["rate_class_shift"] == 8 and classes.notes["flows"] < classes.writes_posted
    monkeypatch.setattr(flow, "_candidate_steps", lambda s: [])
    per_flow = flow.simulate(scenario)
    assert per_flow.notes["rate_class_shift"] == 32
    assert per_flow.latency_us == pytest.approx(classes.latency_us, rel=1e-9)
    np.testing.assert_allclose(per_flow.rank_completion_s, classes.rank_completion_s, rtol=1e-9)
    np.testing.assert_array_equal(per_flow.links["bytes"].to_numpy(), classes.links["bytes"].to_numpy())


def test_a_plan_that_misses_bytes_fails_the_delivery_check(monkeypatch):
    from companion.multiwrite import collectives

    def broken(s):
        plan = collectives.plan_for(s)
        plan.programs[0] = plan.programs[0][:-1]  # rank 0 forgets its last write
        return plan

    monkeypatch.setattr(flow, "plan_for", broken)
    with pytest.raises(DeliveryError, match="delivery check failed"):
        flow.simulate(Scenario(algorithm="mesh", ranks=4, message_bytes=4096, model="flow"))


def test_group_setups_queue_at_one_controller():
    s = Scenario(algorithm="group-multicast", ranks=8, message_bytes=4096, group_setup_us=100.0, model="flow")
    result = flow.simulate(s)
    assert result.group_setups == 8
    assert result.latency_us > 8 * 100.0  # the last group is installed after eight setups in a row


def test_flow_model_rejects_credit_flow_control():
    with pytest.raises(ScenarioError, match="buffer_bytes"):
        Scenario(model="flow", buffer_bytes=1 << 20)


def test_cli_flow_model_prints_the_packet_models_json_shape(capsys):
    argv = ["--ranks", "8", "--message-bytes", "64KiB", "--algorithm", "multiwrite", "--json"]
    assert main(argv) == 0
    packet = json.loads(capsys.readouterr().out)
    assert main([*argv, "--model", "flow"]) == 0
    fluid = json.loads(capsys.readouterr().out)
    assert set(fluid) == set(packet) and fluid["scenario"]["model"] == "flow" and fluid["delivered_ok"]
    assert set(fluid["link_bytes"]) == set(packet["link_bytes"])
    assert math.isclose(fluid["latency_us"], packet["latency_us"], rel_tol=0.1)


def test_flow_model_reports_progress_on_long_runs(monkeypatch):
    lines = []
    monkeypatch.setattr(flow, "PROGRESS_INTERVAL_S", 0.0)
    flow.simulate(Scenario(algorithm="mesh", ranks=16, message_bytes=65536, model="flow"), progress=lines.append)
    assert lines and "us simulated" in lines[-1] and "events" in lines[-1]


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(algorithm="mesh", topology="leafspine", ranks=32, oversubscription=4.0, path_selection="ecmp-hash"),
        Scenario(collective="dispatch", algorithm="multiwrite", topology="leafspine", ranks=16, oversubscription=4.0),
    ],
    ids=["mesh", "dispatch"],
)
def test_event_window_changes_latency_by_under_half_a_percent(scenario):
    exact = flow.simulate(scenario.with_(model="flow"), resolution=0.0)
    windowed = flow.simulate(scenario.with_(model="flow"))
    assert windowed.events < exact.events
    assert windowed.latency_us == pytest.approx(exact.latency_us, rel=0.005)


def _reference_max_min(uses: list[dict[int, float]], capacity: list[float], caps: list[float]) -> list[float]:
    """Textbook water-filling: every unfixed flow grows at one level t until a resource (or a cap) is
    full; the flows there are fixed at t; repeat. One bottleneck level per round, pure Python."""
    rate = [math.nan] * len(uses)
    left = list(capacity)
    unfixed = set(range(len(uses)))
    while unfixed:
        load = [0.0] * len(capacity)
        for f in unfixed:
            for c, w in uses[f].items():
                load[c] += w
        shares = [left[c] / load[c] for c in range(len(capacity)) if load[c] > 0]
        level = min(shares + [caps[f] for f in unfixed])
        full = {c for c in range(len(capacity)) if load[c] > 0 and left[c] / load[c] <= level * (1 + 1e-12)}
        fixed = {f for f in unfixed if caps[f] <= level * (1 + 1e-12) or full & uses[f].keys()}
        for f in fixed:
            rate[f] = level
            for c, w in uses[f].items():
                left[c] -= w * level
        unfixed -= fixed
    return rate


def _random_instance(rng: np.random.Generator) -> tuple[list[dict[int, float]], list[float], list[float]]:
    resources = int(rng.integers(1, 8))
    uses = []
    for _ in range(int(rng.integers(1, 25))):
        chosen = rng.choice(resources, size=int(rng.integers(1, resources + 1)), replace=False)
        uses.append({int(c): float(rng.choice([1.0, 1.0, 2.0, 3.5])) for c in chosen})
    capacity = [float(x) for x in rng.choice([1.0, 2.0, 5.0], size=resources) * rng.uniform(0.5, 1.5, resources)]
    caps = [float(x) if rng.random() < 0.3 else math.inf for x in rng.uniform(0.01, 1.0, len(uses))]
    return uses, capacity, caps


@pytest.mark.parametrize("seed", range(300))
def test_water_filling_matches_the_textbook_reference(seed):
    uses, capacity, caps = _random_instance(np.random.default_rng(seed))
    res = np.array([c for u in uses for c in u], dtype=np.int64)
    weight = np.array([w for u in uses for w in u.values()])
    lengths = np.array([len(u) for u in uses])
    rates = maxmin.water_filling(res, weight, lengths, np.array(capacity), np.array(caps))
    np.testing.assert_allclose(rates, _reference_max_min(uses, capacity, caps), rtol=1e-9)


def test_water_filling_gives_a_flow_without_entries_its_cap():
    res, weight, lengths = np.array([0, 0]), np.array([1.0, 1.0]), np.array([1, 0, 1, 0])
    rates = maxmin.water_filling(res, weight, lengths, np.array([4.0]), np.array([np.inf, 3.0, 1.0, np.inf]))
    np.testing.assert_array_equal(rates, [3.0, 3.0, 1.0, np.inf])


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(collective="dispatch", algorithm="mesh", topology="leafspine", ranks=64, oversubscription=4.0),
        Scenario(collective="dispatch", algorithm="multiwrite", topology="leafspine", ranks=64, oversubscription=4.0),
        Scenario(algorithm="ring", topology="leafspine", ranks=32, oversubscription=2.0, message_bytes=65536),
        Scenario(algorithm="hierarchical", topology="star", ranks=16, message_bytes=65536),
    ],
    ids=lambda s: f"{s.collective}-{s.algorithm}",
)
def test_solving_without_slack_resources_and_with_merged_twins_gives_the_full_solution(scenario, monkeypatch):
    """Model._max_min leaves out resources far from saturation and merges twin flows: the flow
    finish times must be those of water-filling over every flow and every resource."""
    scenario = scenario.with_(model="flow")
    monkeypatch.setattr(flow, "SMALL_SOLVE_ENTRIES", 0)  # every solve takes the reduced path
    model = flow.Model(scenario)
    reduced, _ = model.run()
    merged = model.twins.count < len(model.flows.size)
    monkeypatch.setattr(
        flow.Model,
        "_max_min",
        lambda self, ids, entries, caps: maxmin.water_filling(*entries.get(), self.flows.capacity, caps),
    )
    full, _ = flow.Model(scenario).run()
    np.testing.assert_allclose(reduced, full, rtol=1e-9)
    if scenario.collective == "dispatch" and scenario.algorithm == "mesh":
        assert merged  # a rank's writes to one leaf share every resource but their receivers'
        assert model.fabric_twins.count < model.twins.count  # one leaf's ranks' writes on one spine to one leaf
