"""Student copies of the exercise notebooks: solutions out, scaffolds and checks kept.

The convention (one, for every exercise notebook under ``notebooks/exercises/``):

- A code cell the student fills in is tagged ``solution``. Inside it, the solution sits between
  a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION``. Everything outside the markers is
  the scaffold the student sees: typically the names to fill in, set to ``None`` above the region::

      oks_by_hand = None  # a float in [0, 1]
      ### BEGIN SOLUTION
      oks_by_hand = float(similarities[labelled].mean())
      ### END SOLUTION

- Stripping replaces each marked region by ``# YOUR CODE HERE`` at the marker's indentation
  (plus ``pass`` when the region is indented, so a function body stays valid Python). The copy
  therefore runs from top to bottom, and its checks answer "not yet" instead of crashing.
- A code cell tagged ``check`` calls a checker of :mod:`companion.exercises` and prints its
  feedback; checks are kept unchanged. Every exercise notebook needs at least one.
- A marker outside a ``solution`` cell, unbalanced markers, or a ``solution`` cell without a
  marked region are errors: each would leak a solution or strip nothing.

Outputs and execution counts are cleared; the copy's metadata records its source notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from companion.atomic import write_text
from companion.paths import NOTEBOOKS_DIR, REPO_ROOT

EXERCISES_DIR = NOTEBOOKS_DIR / "exercises"
SOLUTION_TAG = "solution"
CHECK_TAG = "check"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SCAFFOLD = "# YOUR CODE HERE"
_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>### (?:BEGIN|END) SOLUTION)\s*$")


class StripError(ValueError):
    """An exercise notebook that breaks the solution-marking convention."""


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def strip_source(source: str, where: str) -> str:
    """``source`` with every ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` region replaced by the scaffold."""
    kept: list[str] = []
    inside_since: int | None = None
    regions = 0
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.match(line)
        if match is None:
            if inside_since is None:
                kept.append(line)
            continue
        if match["marker"] == BEGIN:
            if inside_since is not None:
                raise StripError(f"{where}: line {number}: {BEGIN!r} inside the region opened on line {inside_since}")
            inside_since = number
            indent = match["indent"]
            kept.append(indent + SCAFFOLD)
            if indent:
                kept.append(indent + "pass")
            regions += 1
        else:
            if inside_since is None:
                raise StripError(f"{where}: line {number}: {END!r} without a {BEGIN!r} before it")
            inside_since = None
    if inside_since is not None:
        raise StripError(f"{where}: the region opened on line {inside_since} has no {END!r}")
    if regions == 0:
        raise StripError(f"{where}: a cell tagged {SOLUTION_TAG!r} must mark its solution with {BEGIN!r} .. {END!r}")
    return "\n".join(kept)


def student_copy(notebook: nbformat.NotebookNode, where: str) -> nbformat.NotebookNode:
    """A new notebook: solutions replaced by scaffolds, outputs cleared. ``where`` names it in errors."""
    if notebook.metadata.get("companion", {}).get("student_copy"):
        raise StripError(f"{where}: is already a student copy; strip the source notebook instead")
    copy = nbformat.from_dict(notebook)
    solution_cells = check_cells = 0
    for index, cell in enumerate(copy.cells):
        cell_where = f"{where}: cell {index} ({cell.get('id', 'no id')})"
        has_marker = any(_MARKER.match(line) for line in cell.source.splitlines())
        if SOLUTION_TAG in _tags(cell):
            if cell.cell_type != "code":
                raise StripError(f"{cell_where}: only code cells can be tagged {SOLUTION_TAG!r}")
            cell.source = strip_source(cell.source, cell_where)
            solution_cells += 1
        elif has_marker:
            raise StripError(f"{cell_where}: has solution markers but is not tagged {SOLUTION_TAG!r}")
        check_cells += CHECK_TAG in _tags(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    if solution_cells == 0 or check_cells == 0:
        raise StripError(
            f"{where}: an exercise needs cells tagged {SOLUTION_TAG!r} and {CHECK_TAG!r}; "
            f"found {solution_cells} and {check_cells}"
        )
    copy.metadata.setdefault("companion", {})["student_copy"] = True
    copy.metadata["companion"]["source"] = where
    return copy


def exercise_notebooks(source_dir: Path = EXERCISES_DIR) -> list[Path]:
    """Every exercise notebook under ``source_dir`` (checkpoints excluded), sorted."""
    if not source_dir.is_dir():
        raise StripError(f"exercise folder {source_dir} does not exist")
    return sorted(p for p in source_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def strip_all(out_dir: Path, source_dir: Path = EXERCISES_DIR) -> list[Path]:
    """Write the student copy of every exercise under ``out_dir``, same relative paths; return them.

    Every notebook is checked before anything is written, so a convention error leaves
    ``out_dir`` as it was.
    """
    notebooks = exercise_notebooks(source_dir)
    if not notebooks:
        raise StripError(f"no exercise notebooks under {source_dir}")
    copies = []
    for path in notebooks:
        where = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
        copies.append((path.relative_to(source_dir), student_copy(nbformat.read(path, as_version=4), where)))
    written = []
    for relative, copy in copies:
        path = write_text(out_dir / relative, nbformat.writes(copy) + "\n")
        path.chmod(0o644)  # handed out to students: readable beyond the temporary file's 0600
        written.append(path)
    return written
