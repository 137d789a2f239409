"""The strip tool: solutions out, scaffolds and checks kept, every convention error caught before writing."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from companion.exercises.__main__ import main
from companion.exercises.strip import (
    BEGIN,
    END,
    SCAFFOLD,
    StripError,
    exercise_notebooks,
    strip_all,
    strip_source,
    student_copy,
)

SOLVED = f"answer = None  # a number\n{BEGIN}\nanswer = 6 * 7\n{END}\nprint('kept')"


def _exercise(cells) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return notebook


def _standard(solution_source=SOLVED):
    return _exercise(
        [
            new_markdown_cell("# Exercise"),
            new_code_cell(
                solution_source,
                metadata={"tags": ["solution"]},
                execution_count=3,
                outputs=[nbformat.v4.new_output("stream", text="42\n")],
            ),
            new_code_cell("print(check(answer))", metadata={"tags": ["check"]}),
        ]
    )


def test_region_is_replaced_by_the_scaffold_and_the_rest_is_kept():
    assert strip_source(SOLVED, "x") == f"answer = None  # a number\n{SCAFFOLD}\nprint('kept')"


def test_indented_region_keeps_valid_python():
    source = f"def f(x):\n    {BEGIN}\n    return x + 1\n    {END}"
    stripped = strip_source(source, "x")
    assert stripped == f"def f(x):\n    {SCAFFOLD}\n    pass"
    compile(stripped, "stripped", "exec")


def test_several_regions_in_one_cell():
    source = f"a = None\n{BEGIN}\na = 1\n{END}\nb = None\n{BEGIN}\nb = 2\n{END}"
    assert strip_source(source, "x") == f"a = None\n{SCAFFOLD}\nb = None\n{SCAFFOLD}"


@pytest.mark.parametrize(
    "source, message",
    [
        (f"{BEGIN}\nx = 1", "has no"),
        (f"x = 1\n{END}", "without"),
        (f"{BEGIN}\n{BEGIN}\n{END}", "inside the region"),
        ("x = 1", "must mark its solution"),
    ],
)
def test_malformed_regions_are_errors_naming_the_line(source, message):
    with pytest.raises(StripError, match=message):
        strip_source(source, "nb: cell 1")


def test_copy_clears_outputs_keeps_checks_and_records_its_source():
    copy = student_copy(_standard(), "notebooks/exercises/x.ipynb")
    solution, check = copy.cells[1], copy.cells[2]
    assert "6 * 7" not in solution.source and SCAFFOLD in solution.source
    assert solution.outputs == [] and solution.execution_count is None
    assert check.source == "print(check(answer))"
    assert copy.metadata["companion"] == {"student_copy": True, "source": "notebooks/exercises/x.ipynb"}


@pytest.mark.parametrize(
    "cells, message",
    [
        ([new_code_cell(SOLVED), new_code_cell("check()", metadata={"tags": ["check"]})], "not tagged 'solution'"),
        (
            [
                new_markdown_cell(SOLVED, metadata={"tags": ["solution"]}),
                new_code_cell("c", metadata={"tags": ["check"]}),
            ],
            "only code cells",
        ),
        ([new_code_cell(SOLVED, metadata={"tags": ["solution"]})], "found 1 and 0"),
    ],
)
def test_notebooks_that_would_leak_or_strip_nothing_are_refused(cells, message):
    with pytest.raises(StripError, match=message):
        student_copy(_exercise(cells), "nb")


def test_a_student_copy_is_not_stripped_again():
    with pytest.raises(StripError, match="already a student copy"):
        student_copy(student_copy(_standard(), "nb"), "copy")


def test_cli_writes_copies_and_reports_errors_without_writing(tmp_path, capsys):
    source, out = tmp_path / "exercises", tmp_path / "out"
    (source / "paper").mkdir(parents=True)
    nbformat.write(_standard(), source / "paper" / "01_x.ipynb")
    assert main(["strip", "--source", str(source), "--out", str(out)]) == 0
    assert f"{SCAFFOLD}" in nbformat.read(out / "paper" / "01_x.ipynb", as_version=4).cells[1].source
    nbformat.write(_exercise([new_code_cell(SOLVED)]), source / "paper" / "02_bad.ipynb")
    (out / "paper" / "01_x.ipynb").unlink()
    assert main(["strip", "--source", str(source), "--out", str(out)]) == 2
    assert "02_bad.ipynb" in capsys.readouterr().err
    assert not (out / "paper" / "01_x.ipynb").exists(), "nothing is written when any notebook breaks the convention"


@pytest.mark.parametrize("path", exercise_notebooks(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_exercise_strips_to_runnable_cells_without_its_solution_lines(path):
    source = nbformat.read(path, as_version=4)
    copy = student_copy(source, str(path))
    for original, stripped in zip(source.cells, copy.cells):
        if "solution" not in original.metadata.get("tags", []):
            assert stripped.source == original.source
            continue
        inside, solution_lines = False, set()
        for line in original.source.splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside and line.strip():
                solution_lines.add(line.strip())
        leaked = solution_lines & {line.strip() for line in stripped.source.splitlines()}
        assert not leaked, f"{path.name}: solution lines left in the student copy: {leaked}"
        compile(stripped.source, f"{path.name} (student copy)", "exec")


def test_strip_all_writes_one_copy_per_exercise(tmp_path):
    written = strip_all(tmp_path)
    assert len(written) == len(exercise_notebooks()) >= 6
    papers = {p.parent.name for p in written}
    assert papers == {"jcra", "multiwrite"}
    assert all(sum(p.parent.name == paper for p in written) >= 3 for paper in papers), "at least three per paper"
