"""Every committed notebook keeps the project's conventions, and every profile validates."""

import json
import re

import pytest

from companion import params, paths, profiles, run

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.rglob("*.ipynb"))
IDS = [str(p.relative_to(paths.NOTEBOOKS_DIR)) for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_conventions(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown", "the first cell says which claim the notebook rebuilds"
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, "strip outputs before committing"
    declared = params.declared_parameters(path)  # exactly one typed parameters cell
    assert declared["profile"].default == "smoke"


@pytest.mark.parametrize("profile", profiles.available())
def test_every_profile_validates_against_the_notebooks(profile):
    jobs = run.plan(profile)
    assert jobs[-1].name == run.CLAIMS_NOTEBOOK
    assert {j.name for j in jobs} == {run.notebook_name(p) for p in run.discover()}


def test_profiles_are_smoke_default_full():
    assert profiles.available() == ["default", "full", "smoke"]


# ----------------------------------------------------------------------------- notebooks read as notes

MAX_CODE_LINES = 20
HAND_BUILT_POSE_MINI = re.compile(r"""["']pose-mini["']\s*[/)]|/\s*["']pose-mini""")
FIGURE_CALLS = ("out.figure(", "plt.show(")


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code_lines(source: str) -> list[str]:
    """Lines that are code: not blank, not a comment, not an IPython magic."""
    return [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith(("#", "%", "!"))]


def _imports(source: str) -> list[str]:
    return [line for line in _code_lines(source) if line.startswith(("import ", "from ")) and " import " in line + " "]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_reads_as_notes(path):
    """Imports in the first code cell after the parameters (tagged hide-input); no code cell over 20
    code lines; no __import__; a markdown cell before every figure; pose-mini through pose_mini_paths."""
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]
    problems = []
    if code and _imports(_source(code[0])) and "hide-input" not in code[0].get("metadata", {}).get("tags", []):
        problems.append("the imports cell (first code cell after the parameters) is not tagged hide-input")
    for index, cell in enumerate(code):
        source = _source(cell)
        if index > 0 and _imports(source):
            problems.append(f"imports outside the first code cell: {_imports(source)[0]!r}")
        if len(_code_lines(source)) > MAX_CODE_LINES:
            problems.append(f"a code cell of {len(_code_lines(source))} code lines (at most {MAX_CODE_LINES})")
        if "__import__" in source:
            problems.append("__import__ in a code cell")
        if HAND_BUILT_POSE_MINI.search(source):
            problems.append("a hand-built pose-mini path (use companion.jcra.data.real.pose_mini_paths)")
    text_since_figure = True
    for cell in cells:
        if cell["cell_type"] == "markdown" and _source(cell).strip():
            text_since_figure = True
        elif cell["cell_type"] == "code" and any(call in _source(cell) for call in FIGURE_CALLS):
            if not text_since_figure:
                problems.append(f"a figure without a sentence before it: {_code_lines(_source(cell))[-1].strip()!r}")
            text_since_figure = False
    assert not problems, "\n".join(problems)
