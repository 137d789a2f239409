"""Command line: simulate one collective and print a summary, or one JSON object with ``--json``.

    python -m companion.multiwrite --collective allgather --algorithm multiwrite \\
        --topology leafspine --ranks 64 --message-bytes 1MiB --json

Every :class:`~companion.multiwrite.scenario.Scenario` field is a flag (``ranks_per_node`` ->
``--ranks-per-node``); byte sizes accept KiB/MiB/GiB suffixes. ``--analytic`` adds the alpha-beta
model's prediction. A bad value exits with status 2 and a message naming the flag.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import typing
from dataclasses import MISSING, fields

from companion.multiwrite import analytic
from companion.multiwrite.operation import DeliveryError
from companion.multiwrite.scenario import (
    ALGORITHMS,
    COLLECTIVES,
    ENGINES,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    return parser


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
    as_json, with_analytic = args.pop("json"), args.pop("analytic")
    try:
        scenario = Scenario(**args)
    except ScenarioError as error:
        parser.error(f"{flag(error.parameter)}: {error.detail}")
    try:
        result = simulate(scenario)
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
