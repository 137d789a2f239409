"""The plan (writes per rank and expected deliveries) of a scenario's collective and algorithm."""

from __future__ import annotations

from companion.multiwrite import allgather, dispatch
from companion.multiwrite.operation import Plan
from companion.multiwrite.scenario import Scenario


def plan_for(scenario: Scenario) -> Plan:
    """AllGather or MoE dispatch, built with ``scenario.algorithm``."""
    return allgather.plan(scenario) if scenario.collective == "allgather" else dispatch.plan(scenario)
