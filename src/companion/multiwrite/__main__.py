"""Command line: simulate one collective and print a summary, or one JSON object with ``--json``.

    python -m companion.multiwrite --collective allgather --algorithm multiwrite \\
        --topology leafspine --ranks 64 --message-bytes 1MiB --json

Every :class:`~companion.multiwrite.scenario.Scenario` field is a flag (``ranks_per_node`` ->
``--ranks-per-node``); byte sizes accept KiB/MiB/GiB suffixes. ``--analytic`` adds the alpha-beta
model's prediction. Each packet-model run refines its grain (chunks per message, doubled down to
MTU packets) until latency changes by less than 1% (``--fixed-grain`` turns that off); the JSON
reports ``grain`` and ``grain_change``. Long runs print progress (simulated time, events/s) to
stderr unless ``--json`` asks for quiet. A bad value exits with status 2 and a message naming the flag.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import typing
from dataclasses import MISSING, fields

from companion.multiwrite import analytic, flow
from companion.multiwrite.convergence import simulate_converged
from companion.multiwrite.operation import DeliveryError
from companion.multiwrite.scenario import (
    ALGORITHMS,
    COLLECTIVES,
    ENGINES,
    MODELS,
    PATH_SELECTIONS,
    ROUTINGS,
    TOPOLOGIES,
    Scenario,
    ScenarioError,
)
from companion.multiwrite.simulation import simulate

CHOICES = {
    "collective": COLLECTIVES,
    "algorithm": ALGORITHMS,
    "topology": TOPOLOGIES,
    "engine": ENGINES,
    "routing": ROUTINGS,
    "path_selection": PATH_SELECTIONS,
    "model": MODELS,
}
_SIZE = re.compile(r"^\s*(?P<number>[0-9]+)\s*(?P<unit>|B|KiB|MiB|GiB|K|M|G)\s*$")
_UNITS = {"": 1, "B": 1, "K": 1024, "KiB": 1024, "M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a byte count such as 4096, 64KiB or 1MiB, got {text!r}")
    return int(match["number"]) * _UNITS[match["unit"]]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (or inf), got {text!r}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


class _OneLineParser(argparse.ArgumentParser):
    """Bad input ends with exit status 2 and one line naming the flag (no usage block)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="python -m companion.multiwrite",
        description="Simulate a unicast or multicast collective on a modelled fabric (see companion.multiwrite).",
    )
    hints = typing.get_type_hints(Scenario)
    for f in fields(Scenario):
        kind = hints[f.name]
        default = None if f.default is MISSING else f.default
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        if f.name in CHOICES:
            parser.add_argument(flag(f.name), choices=CHOICES[f.name], default=default, help=help_text)
        elif f.name.endswith("_bytes") and f.name != "buffer_bytes":
            parser.add_argument(flag(f.name), type=_size, default=default, help=help_text)
        elif kind in (int, int | None):
            parser.add_argument(flag(f.name), type=_integer, default=default, help=help_text)
        else:
            parser.add_argument(flag(f.name), type=_number, default=default, help=help_text)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    parser.add_argument("--analytic", action="store_true", help="also report the analytic alpha-beta prediction")
    parser.add_argument(
        "--fixed-grain",
        action="store_true",
        help="packet model: simulate at --chunk-bytes / --max-chunks-per-message as given instead of refining the "
        "grain until latency changes by < 1%% (the default; the JSON reports grain and grain_change)",
    )
    return parser


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _summary(result, prediction) -> str:
    s = result.scenario
    busiest = result.links.sort_values(["bytes", "link"], ascending=[False, True]).iloc[0]
    lines = [
        f"{s['collective']} / {s['algorithm']} on {s['topology']}, {s['ranks']} ranks",
        f"  latency            {result.latency_us:12.3f} us",
        f"  algbw / busbw      {result.algbw_GBps:12.3f} / {result.busbw_GBps:.3f} GB/s (NCCL-tests definitions)",
        f"  delivery check     {'ok' if result.delivered_ok else 'FAILED':>12s}",
        f"  max duplication    {result.max_link_duplication:12d} (copies of one payload byte on one link)",
        f"  busiest link       {busiest['link']} {int(busiest['bytes'])} B",
        f"  writes posted      {result.writes_posted:12d}",
        f"  events             {result.events:12d} in {result.wall_s:.2f} s",
    ]
    if result.grain is not None:
        change = "n/a" if result.grain_change is None else f"{100 * result.grain_change:.2f}%"
        lines.append(f"  grain              {result.grain:12d} chunks/message ({result.grain_stop}, change {change})")
    if s["algorithm"] == "group-multicast":
        lines.append(f"  groups created     {result.group_setups:12d}, fallbacks to unicast {result.group_fallbacks}")
    if prediction is not None:
        lines.append(f"  analytic latency   {prediction.latency_us:12.3f} us (bottleneck {prediction.bottleneck})")
    return "\n".join(lines)


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    as_json, with_analytic, fixed_grain = args.pop("json"), args.pop("analytic"), args.pop("fixed_grain")
    try:
        scenario = Scenario(**args)
    except ScenarioError as error:
        parser.error(f"{flag(error.parameter)}: {error.detail}")
    try:
        if scenario.model == "flow":
            result = flow.simulate(scenario, progress=None if as_json else flow.stderr_progress)
        elif fixed_grain:
            result = simulate(scenario, progress=None if as_json else _stderr)
        else:
            result, _ = simulate_converged(scenario, progress=None if as_json else _stderr)
    except DeliveryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    prediction = analytic.predict(scenario) if with_analytic else None
    if as_json:
        payload = result.to_json()
        if prediction is not None:
            payload["analytic_latency_us"] = prediction.latency_us
            payload["analytic_bottleneck"] = prediction.bottleneck
        print(json.dumps(_jsonable(payload), sort_keys=True))
    else:
        print(_summary(result, prediction))
    return 0


if __name__ == "__main__":
    sys.exit(main())
