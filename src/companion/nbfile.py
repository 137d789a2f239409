"""Read a notebook's cells as plain JSON (nbformat takes over a second to import; the runner
reads every notebook on each ``make figures``)."""

from __future__ import annotations

import json
from pathlib import Path


def read_cells(path: Path) -> list[dict]:
    """The notebook's cells, each with ``source`` joined into one string."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a readable Jupyter notebook ({error})") from error
    for cell in cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return cells


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])
