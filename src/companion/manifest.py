"""``figures/manifest.json``: every output with the notebook, parameters and inputs that made it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from companion import paths
from companion.atomic import write_text
from companion.hashing import sha256_file

MANIFEST_NAME = "manifest.json"


def git_commit() -> str:
    """HEAD's commit, with ``-dirty`` when tracked files differ from it; ``unknown`` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=paths.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def _display_path(path: Path, figures_root: Path) -> str:
    """Outputs relative to figures/, other files (executed notebooks) relative to the repository."""
    for base in (figures_root, paths.REPO_ROOT):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return str(path)


def load(figures_root: Path) -> dict[str, Any]:
    path = figures_root / MANIFEST_NAME
    if not path.exists():
        return {"outputs": []}
    return json.loads(path.read_text(encoding="utf-8"))


def update(figures_root: Path, notebook: str, files: list[Path], provenance: dict[str, Any]) -> None:
    """Replace the manifest entries of ``notebook`` with one entry per file in ``files``."""
    manifest = load(figures_root)
    kept = [entry for entry in manifest["outputs"] if entry["notebook"] != notebook]
    for path in files:
        kept.append(
            {
                "path": _display_path(path, figures_root),
                "sha256": sha256_file(path),
                "notebook": notebook,
                **provenance,
            }
        )
    manifest["outputs"] = sorted(kept, key=lambda entry: entry["path"])
    write_text(figures_root / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
