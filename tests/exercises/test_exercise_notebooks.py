"""Run every exercise twice: with its solution (every check says "correct") and as the student copy
`make exercises` writes (it runs to the end, and every check says "not yet" with a hint)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from companion.exercises.strip import CHECK_TAG, exercise_notebooks, strip_all

EXERCISES = exercise_notebooks()
IDS = [f"{p.parent.name}/{p.stem}" for p in EXERCISES]


def _execute(path: Path) -> nbformat.NotebookNode | str:
    """The executed notebook, or the error text when a cell raised."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        return str(error)
    return notebook


def _check_lines(notebook: nbformat.NotebookNode) -> list[str]:
    lines = []
    for cell in notebook.cells:
        if CHECK_TAG in cell.metadata.get("tags", []):
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            assert text.strip(), f"check cell {cell.id} printed nothing"
            lines += [line for line in text.splitlines() if line.strip()]
    return lines


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict[tuple[str, str], nbformat.NotebookNode | str]:
    """Every source notebook and every student copy, executed two at a time (one per core)."""
    students = tmp_path_factory.mktemp("student_copies")
    strip_all(students)
    jobs = {("solution", name): path for name, path in zip(IDS, EXERCISES)}
    jobs |= {("student", name): students / path.relative_to(path.parents[1]) for name, path in zip(IDS, EXERCISES)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(_execute, jobs.values())))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", IDS)
def test_with_its_solution_every_check_is_correct(executed, name):
    notebook = executed["solution", name]
    assert not isinstance(notebook, str), f"{name} failed with its solution:\n{notebook[-2000:]}"
    lines = _check_lines(notebook)
    assert lines and all(line.startswith("correct: ") for line in lines), "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("name", IDS)
def test_the_student_copy_runs_and_every_check_says_not_yet_with_a_hint(executed, name):
    notebook = executed["student", name]
    assert not isinstance(notebook, str), f"the student copy of {name} crashed:\n{notebook[-2000:]}"
    lines = _check_lines(notebook)
    assert lines and all(line.startswith("not yet: ") and "Hint:" in line for line in lines), "\n".join(lines)
