"""MultiWrite wing: a discrete-event simulator (simpy) of unicast vs multicast collectives, an
analytic alpha-beta model, and the sweeps and figures that rebuild the ``mw.*`` claims.

    from companion.multiwrite import Scenario, simulate, predict
    result = simulate(Scenario(algorithm="multiwrite", topology="leafspine", ranks=64))
    result.latency_us, result.max_link_duplication, predict(scenario).latency_us

Modules, one concept each: ``scenario`` (validated parameters), ``topology`` (graphs, routing),
``server`` (FIFO links, engines, replicators), ``fabric`` (servers + routes), ``rank`` (issue
loop), ``groups`` (group-table multicast), ``operation`` (writes, plans, delivery check),
``allgather`` and ``dispatch`` (algorithms), ``simulation`` (run loop), ``result``,
``analytic``, ``sweeps``, ``stress``, ``sensitivity``, ``plots``; ``python -m
companion.multiwrite`` is the command line.
"""

from companion.multiwrite.analytic import Prediction, predict
from companion.multiwrite.operation import DeliveryError
from companion.multiwrite.result import RunResult
from companion.multiwrite.scenario import ASSUMPTIONS, Scenario, ScenarioError
from companion.multiwrite.simulation import Simulation, simulate

__all__ = [
    "ASSUMPTIONS",
    "DeliveryError",
    "Prediction",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "predict",
    "simulate",
]
