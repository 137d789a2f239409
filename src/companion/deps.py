"""Which library source files a notebook depends on, found by following its imports.

``make figures`` re-runs a notebook when one of these files changes, and the manifest records
their hash, so a figure can be traced to the exact code that drew it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from companion import paths
from companion.nbfile import read_cells

PACKAGE = "companion"


def _module_file(module: str) -> Path | None:
    """``companion.jcra.model`` -> its .py file (or package __init__), if it is in the library."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = paths.LIBRARY_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(paths.LIBRARY_DIR).with_suffix("")
    parts = [PACKAGE, *relative.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(source: str, current: str | None, is_package: bool) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and current:
                anchor = current.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in modules if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def notebook_code(notebook_path: Path) -> str:
    """The notebook's code cells, with IPython magics and shell lines blanked out."""
    lines = []
    for cell in read_cells(notebook_path):
        if cell["cell_type"] == "code":
            for line in cell["source"].splitlines():
                lines.append("" if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines)


def library_files(notebook_path: Path) -> list[Path]:
    """Library files reachable from the notebook's imports (transitively), sorted."""
    return module_files(_imported_modules(notebook_code(notebook_path), None, False))


def module_files(modules: Iterable[str]) -> list[Path]:
    """Library files of ``modules`` (e.g. ``companion.jcra.train``) and all they import, sorted."""
    pending = list(modules)
    seen_modules: set[str] = set()
    files: set[Path] = set()
    while pending:
        module = pending.pop()
        for name in _with_parents(module):
            if name in seen_modules:
                continue
            seen_modules.add(name)
            path = _module_file(name)
            if path is None:
                continue
            files.add(path)
            pending.extend(_imported_modules(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"))
    return sorted(files)
