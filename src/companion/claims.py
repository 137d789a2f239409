"""The claims registry and the verdicts that notebooks record about it.

``data/claims.yaml`` lists every claim of both abstracts. A notebook that rebuilds a claim
records a verdict with :meth:`companion.outputs.Outputs.record_claim`; the records land in
``figures/<notebook>/claims.json``, and ``notebooks/00_claims.ipynb`` joins them with the
registry into the scoreboard. A claim nobody has recorded is ``pending``, never reproduced.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from companion import paths

if TYPE_CHECKING:
    import pandas as pd

OUTCOMES = ("reproduced", "partly", "not reproduced", "inconclusive", "by design", "not measurable here")
PENDING = "pending"
PROFILE_ORDER = ("smoke", "default", "full")  # a run counts as evidence from its claim's `evidence` profile up
RECORDS_FILE = "claims.json"
REGISTRY_FIELDS = {
    "paper",
    "statement",
    "reported_value",
    "reported_unit",
    "notebook",
    "also",
    "source",
    "test",
    "readings",
    "grid",
}
TEST_FIELDS = ("measure", "rule", "why", "baseline", "evidence")


def no_evidence(profile: str) -> str:
    """The verdict of a run below its claim's evidence profile, e.g. ``'not evidence (smoke)'``."""
    return f"not evidence ({profile})"


def counts_as_evidence(profile: str, evidence: str) -> bool:
    """Is a run in ``profile`` at or above the claim's lowest evidence profile?"""
    if profile not in PROFILE_ORDER:
        return False
    return PROFILE_ORDER.index(profile) >= PROFILE_ORDER.index(evidence)


@dataclass(frozen=True)
class Verdict:
    """What a rule function (a wing's ``verdicts.py``) decides: an outcome and a one-line reason.

    ``design`` is required for ``by design``: it names the code that makes the property hold (the
    reason then gives the measured check showing that code is not broken).
    """

    outcome: str
    reason: str
    design: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"verdict outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if not self.reason.strip() or "\n" in self.reason.strip():
            raise ValueError(f"verdict reason must be one non-empty line, got {self.reason!r}")
        if (self.outcome == "by design") != bool(self.design):
            raise ValueError("a 'by design' verdict names the code that makes it so in `design` (and only it does)")


@dataclass(frozen=True)
class ClaimTest:
    """A claim's test, declared before anything is measured (``test:`` in ``data/claims.yaml``)."""

    measure: str
    rule: str
    why: str
    baseline: str
    evidence: str


@dataclass(frozen=True)
class Claim:
    """One claim of a paper's abstract, as listed in ``data/claims.yaml``."""

    id: str
    paper: str
    statement: str
    notebook: str
    reported_value: float | None = None
    reported_unit: str | None = None
    source: str | None = None
    also: tuple[str, ...] = ()
    test: ClaimTest | None = None
    readings: dict[str, float] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)

    @property
    def notebooks(self) -> tuple[str, ...]:
        return (self.notebook, *self.also)


CI_LOW, CI_HIGH = "_ci_low", "_ci_high"  # suffixes of a measurement's 95% bounds in a record's `measured`
_NO_EVIDENCE = re.compile(r"not evidence \((\w+)\)")


@dataclass
class ClaimRecord:
    """A notebook's verdict on one claim, with the measurements and conditions behind it.

    ``unit`` is either one unit for every value in ``measured`` or a mapping from a measurement's name
    to its unit (names left out have none, e.g. counts); bounds ``<name>_ci_low``/``<name>_ci_high``
    take the unit of ``<name>``.
    """

    claim_id: str
    verdict: str
    reason: str
    notebook: str
    measured: dict[str, float] = field(default_factory=dict)
    unit: str | dict[str, str] | None = None
    conditions: dict[str, Any] = field(default_factory=dict)
    figure: str | None = None
    rule_outcome: str | None = None
    design: str = ""

    def validate(self, registry: dict[str, Claim]) -> None:
        if self.claim_id not in registry:
            raise ValueError(f"unknown claim id {self.claim_id!r}; known ids: {', '.join(sorted(registry))}")
        where = f"claim {self.claim_id} ({self.notebook})"
        self._validate_verdict(where)
        if not self.reason or "\n" in self.reason.strip():
            raise ValueError(f"{where}: reason must be one non-empty line")
        for name, value in self.measured.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{where}: measured[{name!r}] must be a finite number, got {value!r}")
        readings = set(registry[self.claim_id].readings) & set(self.measured)
        if readings:
            raise ValueError(
                f"{where}: {sorted(readings)} are readings of the paper (data/claims.yaml `readings`), not measurements"
            )
        for base in self.intervals():
            if base not in self.measured:
                raise ValueError(f"{where}: interval bounds of {base!r} need the estimate measured[{base!r}]")
        self._validate_unit(where)

    def _validate_verdict(self, where: str) -> None:
        if self.verdict in OUTCOMES:
            if self.rule_outcome not in (None, self.verdict):
                raise ValueError(
                    f"{where}: rule_outcome {self.rule_outcome!r} differs from the verdict {self.verdict!r}"
                )
        elif _NO_EVIDENCE.fullmatch(self.verdict):
            if self.rule_outcome not in OUTCOMES:
                raise ValueError(
                    f"{where}: a {self.verdict!r} record keeps the rule's outcome, got {self.rule_outcome!r}"
                )
        else:
            raise ValueError(
                f"{where}: verdict must be one of {OUTCOMES} or 'not evidence (<profile>)', got {self.verdict!r}"
            )
        if (self.rule_outcome or self.verdict) == "by design" and not self.design:
            raise ValueError(f"{where}: a 'by design' record names the code that makes it so in `design`")

    def _validate_unit(self, where: str) -> None:
        if self.unit is None or isinstance(self.unit, str):
            return
        if not isinstance(self.unit, dict) or not all(isinstance(u, str) for u in self.unit.values()):
            raise ValueError(f"{where}: unit must be text or a mapping of measurement name -> unit text")
        unknown = sorted(set(self.unit) - set(self.estimates()))
        if unknown:
            raise ValueError(f"{where}: units given for {unknown}, which are not measured estimates")

    @property
    def counts_as_evidence(self) -> bool:
        return self.verdict in OUTCOMES

    def estimates(self) -> dict[str, float]:
        """The measured values without their interval bounds."""
        return {k: v for k, v in self.measured.items() if not k.endswith((CI_LOW, CI_HIGH))}

    def intervals(self) -> dict[str, tuple[float, float]]:
        """``name -> (low, high)`` for every measurement recorded with both bounds (errors if one is missing)."""
        bases = {k[: -len(s)] for k in self.measured for s in (CI_LOW, CI_HIGH) if k.endswith(s)}
        found = {}
        for base in sorted(bases):
            low, high = self.measured.get(base + CI_LOW), self.measured.get(base + CI_HIGH)
            if low is None or high is None or not low <= high:
                raise ValueError(
                    f"claim {self.claim_id}: {base}{CI_LOW} and {base}{CI_HIGH} must both be given, low <= high"
                )
            found[base] = (low, high)
        return found

    def unit_of(self, name: str) -> str:
        if isinstance(self.unit, dict):
            return self.unit.get(name, "")
        return self.unit or ""

    def values_text(self) -> str:
        """E.g. ``'speedup = 1.72 x; persons = 20'``: each value with its own unit."""
        return "; ".join(
            f"{name} = {_with_unit(value, self.unit_of(name))}" for name, value in self.estimates().items()
        )

    def headline_text(self) -> str:
        """The measurements the rule decided on, with their intervals (``'speedup = 1.7 x (95% CI 1.5 to
        1.9)'``); all values when none has an interval."""
        intervals = self.intervals()
        if not intervals:
            return self.values_text()
        return "; ".join(
            f"{name} = {_with_unit(self.measured[name], self.unit_of(name))} (95% CI {low:.4g} to {high:.4g})"
            for name, (low, high) in intervals.items()
        )

    def intervals_text(self) -> str:
        """E.g. ``'speedup: 1.51 to 1.93 x'`` (95% bounds)."""
        return "; ".join(
            f"{name}: {low:.4g} to {_with_unit(high, self.unit_of(name))}"
            for name, (low, high) in self.intervals().items()
        )


def _with_unit(value: float, unit: str) -> str:
    """``'1.7 x'``, ``'33% latency reduction'``, ``'7'``."""
    return f"{value:.4g}{'' if unit.startswith('%') else ' '}{unit}".rstrip()


def load_registry(path: Path | None = None) -> dict[str, Claim]:
    """Read and check ``data/claims.yaml``; errors name the file and the offending entry."""
    path = path or paths.DATA_DIR / "claims.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the claims registry: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("claims"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'claims' mapping of id -> fields")
    registry = {}
    for claim_id, fields in raw["claims"].items():
        if not isinstance(fields, dict):
            raise ValueError(f"{path}: claim {claim_id!r} must be a mapping")
        unknown = set(fields) - REGISTRY_FIELDS
        missing = {"paper", "statement", "notebook"} - set(fields)
        if unknown or missing:
            raise ValueError(f"{path}: claim {claim_id!r}: unknown fields {sorted(unknown)}, missing {sorted(missing)}")
        fields = dict(fields)
        fields["also"] = tuple(fields.get("also") or ())
        fields["test"] = _load_test(path, claim_id, fields.get("test"))
        fields["readings"] = _load_readings(path, claim_id, fields.get("readings"))
        fields["grid"] = _load_mapping(path, claim_id, "grid", fields.get("grid"))
        registry[claim_id] = Claim(id=claim_id, **fields)
    return registry


def _load_test(path: Path, claim_id: str, raw: Any) -> ClaimTest:
    if raw is None:
        raise ValueError(
            f"{path}: claim {claim_id!r} has no `test` block; declare its test before measuring it, "
            f"with the keys {list(TEST_FIELDS)}"
        )
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: claim {claim_id!r}: `test` must be a mapping with the keys {list(TEST_FIELDS)}")
    missing = [key for key in TEST_FIELDS if key not in raw]
    unknown = sorted(set(raw) - set(TEST_FIELDS))
    if missing or unknown:
        raise ValueError(
            f"{path}: claim {claim_id!r}: `test` must have exactly the keys {list(TEST_FIELDS)}; "
            f"missing {missing}, unknown {unknown}"
        )
    if raw["evidence"] not in PROFILE_ORDER[1:]:
        raise ValueError(
            f"{path}: claim {claim_id!r}: test.evidence must be 'default' or 'full', got {raw['evidence']!r}"
        )
    for key in TEST_FIELDS:
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ValueError(f"{path}: claim {claim_id!r}: test.{key} must be non-empty text")
    return ClaimTest(**{key: " ".join(raw[key].split()) for key in TEST_FIELDS})


def _load_mapping(path: Path, claim_id: str, key: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(name, str) for name in raw):
        raise ValueError(f"{path}: claim {claim_id!r}: `{key}` must be a mapping of name -> value")
    return dict(raw)


def _load_readings(path: Path, claim_id: str, raw: Any) -> dict[str, float]:
    readings = _load_mapping(path, claim_id, "readings", raw)
    for name, value in readings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{path}: claim {claim_id!r}: readings.{name} must be a finite number, got {value!r}")
    return {name: float(value) for name, value in readings.items()}


def declared_tests_markdown(notebook: str, registry: dict[str, Claim] | None = None) -> str:
    """The declared tests of every claim ``notebook`` records (primary or ``also``), as Markdown.

    Rendered from the registry, so a notebook shows its test without retyping it.
    """
    registry = registry if registry is not None else load_registry()
    recorded = [claim for claim in registry.values() if notebook in claim.notebooks]
    if not recorded:
        return f"`{notebook}` records no claim of the registry (`data/claims.yaml`)."
    parts = [
        f"**Declared tests** of the claims `{notebook}` records, from `data/claims.yaml` "
        "(written before anything was measured):"
    ]
    for claim in recorded:
        parts.append(_claim_test_markdown(claim, notebook))
    return "\n\n".join(parts) + "\n"


def _claim_test_markdown(claim: Claim, notebook: str) -> str:
    heading = f"#### `{claim.id}` ({claim.paper}): {claim.statement}"
    lines = []
    if claim.reported_value is not None:
        lines.append(f"- **Paper (abstract):** {claim.reported_value:g} {claim.reported_unit or ''}".rstrip())
    if claim.notebook != notebook:
        lines.append(f"- **Primary notebook:** `{claim.notebook}`; this notebook adds evidence.")
    test = claim.test
    if test is not None:
        lines += [
            f"- **Measure:** {test.measure}",
            f"- **Rule:** {test.rule}",
            f"- **Why these thresholds:** {test.why}",
            f"- **Baseline:** {test.baseline}",
        ]
    if claim.readings:
        readings = "; ".join(f"`{name}` = {value:g}" for name, value in claim.readings.items())
        lines.append(f"- **Readings of the paper:** {readings}")
    if claim.grid:
        grid = "; ".join(f"`{name}` = {_grid_value(value)}" for name, value in claim.grid.items())
        lines.append(f"- **Grid (fixed here):** {grid}")
    if test is not None:
        lines.append(
            f"- **Evidence:** runs of the `{test.evidence}` profile or above count; a run below it records "
            f"`{no_evidence('<profile>')}`."
        )
    return heading + "\n\n" + "\n".join(lines)


def _grid_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def show_declared_tests(notebook: str) -> None:
    """Display, in a notebook, the declared tests of the claims it records (see :func:`declared_tests_markdown`)."""
    from IPython.display import Markdown, display

    display(Markdown(declared_tests_markdown(notebook)))


def write_records(path: Path, records: dict[str, ClaimRecord]) -> None:
    from companion.atomic import write_text

    payload = {claim_id: asdict(record) for claim_id, record in sorted(records.items())}
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_records(path: Path) -> dict[str, ClaimRecord]:
    if not path.exists():
        return {}
    payload = json.loads(path.read_text(encoding="utf-8"))
    return {claim_id: ClaimRecord(**fields) for claim_id, fields in payload.items()}


def collect_records(figures_root: Path | None = None) -> list[ClaimRecord]:
    """Every record under the figures tree, in a stable order."""
    root = figures_root or paths.figures_dir()
    records = []
    for path in sorted(root.glob(f"**/{RECORDS_FILE}")):
        records.extend(read_records(path).values())
    return sorted(records, key=lambda r: (r.claim_id, r.notebook))


def scoreboard(registry: dict[str, Claim], records: list[ClaimRecord]) -> pd.DataFrame:
    """One row per registered claim: what the abstract says, what was measured, the verdict and why.

    The row shows the record of the claim's primary notebook; records from the other notebooks
    listed for it stand in only when the primary one has not recorded yet. ``paper_value`` holds only
    what the abstract reports; ``rule_outcome`` is filled for rows that do not count as evidence.
    """
    import pandas as pd  # imported here: the runner reads records on every `make figures`

    by_claim: dict[str, list[ClaimRecord]] = {}
    for record in records:
        if record.claim_id in registry:
            by_claim.setdefault(record.claim_id, []).append(record)
    rows = []
    for claim in registry.values():
        found = {r.notebook: r for r in by_claim.get(claim.id, [])}
        chosen = next((found[nb] for nb in claim.notebooks if nb in found), None)
        reported = "" if claim.reported_value is None else _with_unit(claim.reported_value, claim.reported_unit or "")
        evidence = chosen is not None and chosen.counts_as_evidence
        rows.append(
            {
                "claim": claim.id,
                "paper": claim.paper,
                "statement": claim.statement,
                "paper_value": reported,
                "companion_value": chosen.values_text() if chosen else "",
                "interval": chosen.intervals_text() if chosen else "",
                "headline": chosen.headline_text() if chosen else "",
                "verdict": chosen.verdict if chosen else PENDING,
                "rule_outcome": "" if chosen is None or evidence else (chosen.rule_outcome or ""),
                "counts_as_evidence": evidence,
                "reason": chosen.reason if chosen else "no notebook has recorded this claim yet",
                "design": chosen.design if chosen else "",
                "notebook": chosen.notebook if chosen else claim.notebook,
                "figure": f"{chosen.notebook}/{chosen.figure}.png" if chosen and chosen.figure else "",
                "recorded_by": ", ".join(sorted(found)),
                "profile": str(chosen.conditions.get("profile", "")) if chosen else "",
                "hardware": str(chosen.conditions.get("hardware", "")) if chosen else "",
            }
        )
    return pd.DataFrame(rows)
