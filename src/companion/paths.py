"""Where the project's inputs, caches and outputs live.

Everything is resolved from the repository root, so notebooks, tests and the command line
agree no matter which directory they were started from. Environment variables let the runner
and the tests redirect outputs without touching the notebooks.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = Path(os.environ.get("COMPANION_BUILD_DIR", REPO_ROOT / "build"))
PROFILES_DIR = DATA_DIR / "profiles"
LIBRARY_DIR = Path(__file__).resolve().parent


def figures_dir() -> Path:
    """The published figures tree (``figures/``), where finished outputs and claim records live."""
    return Path(os.environ.get("COMPANION_FIGURES_DIR", REPO_ROOT / "figures"))


def output_root() -> Path:
    """Where a running notebook writes: a staging tree under the runner, else ``figures_dir()``."""
    return Path(os.environ.get("COMPANION_OUTPUT_ROOT", figures_dir()))


def shared_dir() -> Path | None:
    """``../shared`` beside the checkout (papers, small real data), or None when absent."""
    candidate = Path(os.environ.get("COMPANION_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return candidate if candidate.is_dir() else None


def shared_data_dir() -> Path | None:
    """``../shared/data`` (e.g. pose-mini) when present; callers skip cleanly on None."""
    shared = shared_dir()
    if shared is None or not (shared / "data").is_dir():
        return None
    return shared / "data"
