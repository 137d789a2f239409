"""Verdicts are decided only by the rule functions of the wings' ``verdicts.py``.

Scans every notebook's code and every library source for verdicts written as literals: a
``verdict=``/``outcome=`` given a string, ``record_claim(`` given an outcome string (or the old
``verdict=``/``reason=`` keywords), ``Verdict(`` built outside a ``verdicts.py`` (``claims.py``,
which defines it, excepted), and outcome strings returned (or stored under a verdict name) by
functions outside ``verdicts.py``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from companion import claims, paths

SOURCES = sorted(paths.LIBRARY_DIR.rglob("*.py"))
NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.rglob("*.ipynb"))
DEFINES_VERDICT = paths.LIBRARY_DIR / "claims.py"
VERDICT_NAMES = re.compile(r"verdict|outcome", re.IGNORECASE)
_MAGIC = re.compile(r"^\s*[%!]")


def _is_verdict_literal(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value in claims.OUTCOMES or node.value.startswith("not evidence ("))
    )


def _literals(node: ast.AST, *, any_string: bool = False) -> list[ast.AST]:
    """Verdict literals (or, with ``any_string``, any string literal) in ``node``'s value."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.Call, ast.Subscript)):  # a call's arguments and an index are inputs
            continue
        if isinstance(current, ast.Dict):  # keys name things; only values can be verdicts
            stack.extend(v for v in current.values if v is not None)
            continue
        if _is_verdict_literal(current) or (
            any_string
            and (
                isinstance(current, ast.JoinedStr)
                or isinstance(current, ast.Constant)
                and isinstance(current.value, str)
            )
        ):
            found.append(current)
            continue
        stack.extend(ast.iter_child_nodes(current))
    return found


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _target_names(targets: list[ast.AST]) -> list[str]:
    names = []
    for target in targets:
        names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        names += [n.attr for n in ast.walk(target) if isinstance(n, ast.Attribute)]
    return names


def literal_verdicts(source: str, in_verdicts_module: bool, defines_verdict: bool = False) -> list[tuple[int, str]]:
    """(line, what) for every literal verdict in ``source`` (Python code)."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name == "record_claim":
                values = [*node.args, *(k.value for k in node.keywords)]
                if any(_literals(v) for v in values):
                    problems.append((node.lineno, "record_claim( given a verdict string"))
                if {"verdict", "reason"} & {k.arg for k in node.keywords}:
                    problems.append((node.lineno, "record_claim( with the old verdict=/reason= keywords"))
            if name == "Verdict" and not (in_verdicts_module or defines_verdict):
                problems.append((node.lineno, "Verdict( built outside a verdicts.py"))
            for keyword in node.keywords:
                if keyword.arg in ("verdict", "outcome") and _literals(keyword.value, any_string=True):
                    problems.append((node.lineno, f"{keyword.arg}= given a string literal"))
        if in_verdicts_module or defines_verdict:
            continue
        if isinstance(node, ast.Return) and node.value is not None and _literals(node.value):
            problems.append((node.lineno, "an outcome string returned outside verdicts.py"))
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(VERDICT_NAMES.search(n) for n in _target_names(targets)) and _literals(node.value):
                problems.append((node.lineno, "an outcome string stored under a verdict name"))
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                is_verdict_key = isinstance(key, ast.Constant) and VERDICT_NAMES.search(str(key.value))
                if is_verdict_key and value is not None and _literals(value):
                    problems.append((node.lineno, "an outcome string under a 'verdict' key"))
    return sorted(set(problems))


def notebook_code(path: Path) -> list[tuple[int, str]]:
    """(cell index, code without IPython magics) of every code cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        (i, "\n".join("" if _MAGIC.match(line) else line for line in "".join(cell["source"]).splitlines()))
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code"
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(paths.LIBRARY_DIR)))
def test_library_sources_pass_no_literal_verdict(path):
    problems = literal_verdicts(path.read_text(encoding="utf-8"), path.name == "verdicts.py", path == DEFINES_VERDICT)
    assert not problems, "\n".join(f"{path}:{line}: {what}" for line, what in problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(paths.NOTEBOOKS_DIR)))
def test_notebooks_pass_no_literal_verdict(path):
    problems = [
        f"{path} cell {index} line {line}: {what}"
        for index, code in notebook_code(path)
        for line, what in literal_verdicts(code, in_verdicts_module=False)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('out.record_claim("mw.x", verdict="reproduced", reason="r")', "record_claim( given a verdict string"),
        ('out.record_claim("mw.x", verdict=v, reason=r)', "record_claim( with the old verdict=/reason= keywords"),
        ('record(verdict="partly" if ok else "not reproduced")', "verdict= given a string literal"),
        ('record(verdict=f"{x}")', "verdict= given a string literal"),
        ('claims.Verdict("partly", "r")', "Verdict( built outside a verdicts.py"),
        ('def rule(x):\n    return "partly", "r"', "an outcome string returned outside verdicts.py"),
        ('def rule(x):\n    return "reproduced" if x else "partly"', "an outcome string returned outside verdicts.py"),
        ('verdict = "reproduced" if x > 1 else "partly"', "an outcome string stored under a verdict name"),
        ('result = {"verdict": "partly" if x else "not reproduced"}', "an outcome string under a 'verdict' key"),
        ('claim = {"verdict": "by design", "reason": r}', "an outcome string under a 'verdict' key"),
    ],
)
def test_the_scan_finds_each_kind_of_literal_verdict(code, expected):
    assert expected in [what for _, what in literal_verdicts(code, in_verdicts_module=False)]


def test_the_scan_lets_rules_decide_and_others_compare():
    clean = (
        'out.record_claim("mw.x", verdicts.duplicates(counts, "star"), measured={"n": 1}, unit="x")\n'
        'if record.verdict == "reproduced":\n    pass\n'
        'VERDICT_COLORS = {"reproduced": "#2ca02c"}\n'
        'out.record_claim("mw.x", decision, verdict_note=claim["verdict"])\n'
        'def label(x):\n    return "reproduced here"\n'
    )
    assert literal_verdicts(clean, in_verdicts_module=False) == []
    rule = 'def rule(x):\n    return Verdict("partly" if x else "not reproduced", "r")'
    assert literal_verdicts(rule, in_verdicts_module=True) == []


@pytest.mark.parametrize(
    "notebook", sorted({nb for claim in claims.load_registry().values() for nb in claim.notebooks})
)
def test_every_notebook_that_records_a_claim_shows_its_declared_tests_first(notebook):
    """The test is shown before the measurement: in the first two code cells (parameters, then set-up)."""
    first_cells = [code for _, code in notebook_code(paths.NOTEBOOKS_DIR / f"{notebook}.ipynb")[:2]]
    assert any(f'show_declared_tests("{notebook}")' in code for code in first_cells), (
        f'{notebook}: call claims.show_declared_tests("{notebook}") in its set-up cell'
    )
