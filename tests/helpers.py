"""Small builders shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def write_notebook(
    path: Path, parameters: str, body: list[str], tags_per_cell: dict[int, list[str]] | None = None
) -> Path:
    """A notebook with a markdown header, a parameters cell and the given code cells."""
    notebook = new_notebook()
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    cells = [new_markdown_cell("# test notebook"), new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    for index, source in enumerate(body):
        cells.append(new_code_cell(source, metadata={"tags": (tags_per_cell or {}).get(index, [])}))
    for index, cell in enumerate(cells):
        cell.id = f"c{index}"
    notebook.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
