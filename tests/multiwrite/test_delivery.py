"""The delivery check fails a run that drops, duplicates or misdirects data."""

import pytest

from companion.multiwrite.collectives import plan_for
from companion.multiwrite.operation import DeliveryError, Write
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import Simulation


def _run(plan, scenario):
    sim = Simulation(scenario)
    op = sim.launch(plan)
    sim.run()
    return op


def test_a_correct_plan_passes():
    s = Scenario(ranks=4, message_bytes=10_000)
    op = _run(plan_for(s), s)
    op.check()
    assert op.delivered_ok and op.latency_s > 0


def test_a_dropped_write_fails():
    s = Scenario(ranks=4, message_bytes=10_000)
    plan = plan_for(s)
    plan.programs[1].pop()
    with pytest.raises(DeliveryError, match="missing"):
        _run(plan, s).check()


def test_a_duplicated_write_fails():
    s = Scenario(ranks=4, message_bytes=10_000)
    plan = plan_for(s)
    plan.programs[2].append(plan.programs[2][0])
    with pytest.raises(DeliveryError, match="twice"):
        _run(plan, s).check()


def test_a_misdirected_write_fails():
    s = Scenario(collective="dispatch", ranks=4, tokens_per_rank=4, top_k=1, experts_per_rank=1, seed=1)
    plan = plan_for(s)
    write = next(w for writes in plan.programs for w in writes)
    wrong = next(r for r in range(4) if r not in write.dests and r != write.src)
    plan.programs[write.src].append(Write(write.src, (wrong,), write.chunks))
    with pytest.raises(DeliveryError, match="should not"):
        _run(plan, s).check()


def test_write_validation():
    with pytest.raises(ValueError, match="one destination"):
        Write(0, (1, 2), [], "unicast")
    with pytest.raises(ValueError, match="other ranks"):
        Write(0, (0,), [], "unicast")
    with pytest.raises(ValueError, match="kind"):
        Write(0, (1,), [], "broadcast")
