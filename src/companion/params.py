"""Notebook parameters: read the typed ``parameters`` cell and validate values against it.

A parameters cell is a list of typed assignments with optional constraint comments::

    profile: str = "smoke"      # choices: smoke, default, full
    n_ranks: int = 8            # range: 2..1024
    sizes: list[int] = [1024]   # range: 1..

papermill alone accepts any name and any value; :func:`validate` stops a run that passes an
unknown name, a wrong type or a value outside its range or choices, naming what is allowed.
Parameters that name data on disk (:data:`PATH_PARAMETERS`) are checked for existence and for the
files they must contain, so a wrong path fails before any training starts, naming the parameter.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.nbfile import read_cells, tags

TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")
_LINE = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>[\w\[\], ]+?)\s*=\s*(?P<value>.+?)\s*(?:#\s*(?P<comment>.*))?$"
)
_RANGE = re.compile(r"range:\s*(?P<lo>-?[\d.e+-]*)\s*\.\.\s*(?P<hi>-?[\d.e+-]*)\s*$")
_CHOICES = re.compile(r"choices:\s*(?P<choices>.+)$")


class ParameterError(ValueError):
    """A parameter that the notebook does not declare, or a value it does not allow."""


@dataclass(frozen=True)
class PathParameter:
    """What a path-valued parameter must point at; an empty value means "not given: skip that part".

    ``contains`` lists entries that must exist inside a folder (a trailing ``/`` marks a folder).
    """

    what: str
    kind: str = "dir"  # "dir" or "file"
    contains: tuple[str, ...] = ()

    def problem(self, value: str) -> str | None:
        """Why ``value`` does not fit, or None."""
        path = Path(value).expanduser()
        if self.kind == "file":
            return None if path.is_file() else "no such file"
        if not path.is_dir():
            return "no such folder"
        missing = [entry for entry in self.contains if not _entry_exists(path, entry)]
        return f"missing {', '.join(missing)}" if missing else None


def _entry_exists(folder: Path, entry: str) -> bool:
    target = folder / entry.rstrip("/")
    return target.is_dir() if entry.endswith("/") else target.is_file()


# Every notebook parameter that names data on disk, by name (the same name means the same thing in
# every notebook that declares it).
PATH_PARAMETERS = {
    "coco_root": PathParameter(
        "a COCO 2017 folder", contains=("annotations/person_keypoints_val2017.json", "val2017/")
    ),
    "crowdpose_root": PathParameter("a CrowdPose folder", contains=("json/", "images/")),
    "crowdpose_checkpoint": PathParameter("a checkpoint file (.pt) trained on CrowdPose", kind="file"),
}


def check_paths(values: dict[str, Any], where: str) -> None:
    """Raise ParameterError for the first path parameter in ``values`` that is set and does not fit."""
    for name, spec in PATH_PARAMETERS.items():
        value = values.get(name)
        if not value:
            continue
        problem = spec.problem(str(value))
        if problem:
            expected = f" containing {' and '.join(spec.contains)}" if spec.contains else ""
            raise ParameterError(
                f"{where}: parameter {name!r} = {value!r}: {problem}; expected {spec.what}{expected} "
                f"(leave {name} empty to skip it)"
            )


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    def allowed(self) -> str:
        text = self.type
        if self.choices:
            text += f" in {{{', '.join(self.choices)}}}"
        if self.low is not None or self.high is not None:
            lo = "" if self.low is None else f"{self.low:g}"
            hi = "" if self.high is None else f"{self.high:g}"
            text += f" in range {lo}..{hi}"
        return text

    def check(self, value: Any, where: str) -> None:
        """Raise ParameterError unless ``value`` fits this parameter."""
        element_type = self.type[5:-1] if self.type.startswith("list[") else self.type
        if self.type.startswith("list["):
            if not isinstance(value, list):
                raise ParameterError(f"{where}: parameter {self.name!r} must be {self.allowed()}, got {value!r}")
            elements = value
        else:
            elements = [value]
        for element in elements:
            if not _is_type(element, element_type):
                raise ParameterError(f"{where}: parameter {self.name!r} must be {self.allowed()}, got {value!r}")
            if self.choices is not None and str(element) not in self.choices:
                raise ParameterError(f"{where}: parameter {self.name!r} must be {self.allowed()}, got {element!r}")
            if element_type in ("int", "float"):
                if (self.low is not None and element < self.low) or (self.high is not None and element > self.high):
                    raise ParameterError(f"{where}: parameter {self.name!r} must be {self.allowed()}, got {element!r}")


def _is_type(value: Any, type_name: str) -> bool:
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def _parse_line(line: str, where: str) -> Parameter:
    match = _LINE.match(line.strip())
    if not match:
        raise ParameterError(
            f"{where}: cannot read parameter line {line.strip()!r}; expected 'name: type = value  # constraint'"
        )
    name, type_name = match["name"], match["type"].replace(" ", "")
    if type_name not in TYPES:
        raise ParameterError(f"{where}: parameter {name!r} has type {type_name!r}; allowed types: {', '.join(TYPES)}")
    try:
        default = ast.literal_eval(match["value"])
    except (ValueError, SyntaxError) as error:
        raise ParameterError(f"{where}: parameter {name!r} default {match['value']!r} is not a literal") from error
    low = high = choices = None
    comment = (match["comment"] or "").strip()
    if range_match := _RANGE.search(comment):
        low = float(range_match["lo"]) if range_match["lo"] else None
        high = float(range_match["hi"]) if range_match["hi"] else None
    elif choice_match := _CHOICES.search(comment):
        choices = tuple(c.strip() for c in choice_match["choices"].split(",") if c.strip())
    parameter = Parameter(name, type_name, default, low, high, choices)
    parameter.check(default, f"{where} (default)")
    return parameter


def parameters_cell(cells: list[dict], where: str) -> dict:
    """The single code cell tagged ``parameters``."""
    tagged = [c for c in cells if c["cell_type"] == "code" and "parameters" in tags(c)]
    if len(tagged) != 1:
        raise ParameterError(f"{where}: expected exactly one code cell tagged 'parameters', found {len(tagged)}")
    return tagged[0]


def declared_parameters(notebook_path: Path) -> dict[str, Parameter]:
    """Parse the parameters cell of ``notebook_path``."""
    where = str(notebook_path)
    declared = {}
    for line in parameters_cell(read_cells(notebook_path), where)["source"].splitlines():
        if line.strip() and not line.strip().startswith("#"):
            parameter = _parse_line(line, where)
            declared[parameter.name] = parameter
    return declared


def validate(notebook_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` against the notebook's declared parameters; return them unchanged."""
    declared = declared_parameters(notebook_path)
    for name, value in values.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(f"{notebook_path}: unknown parameter {name!r}; the notebook declares: {known}")
        declared[name].check(value, str(notebook_path))
    check_paths(values, str(notebook_path))
    return values
