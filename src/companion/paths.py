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


RUNNER_OUTPUT_ENV = "COMPANION_OUTPUT_ROOT"  # set by the runner (``make figures``) only


def published_dir(profile: str) -> Path:
    """Where ``make figures PROFILE=<profile>`` publishes; profiles never overwrite each other.

    ``figures/`` holds the default profile (what the README, the book and the scoreboard present),
    ``figures-full/`` the paper-scale profile, ``build/figures-<name>/`` any other (smoke).
    """
    if profile == "default":
        return REPO_ROOT / "figures"
    if profile == "full":
        return REPO_ROOT / "figures-full"
    return BUILD_DIR / f"figures-{profile}"


def executed_dir(profile: str) -> Path:
    """The executed notebooks of the last ``make figures PROFILE=<profile>`` (what the book renders)."""
    return BUILD_DIR / ("executed" if profile == "default" else f"executed-{profile}")


def figures_dir(profile: str = "default") -> Path:
    """The published tree whose claim records a notebook reads: ``COMPANION_FIGURES_DIR`` when set
    (by the runner and the tests), else :func:`published_dir` of ``profile``."""
    override = os.environ.get("COMPANION_FIGURES_DIR")
    return Path(override) if override else published_dir(profile)


def runner_output_root() -> Path | None:
    """The runner's staging tree while ``make figures`` runs a notebook; None for a hand run."""
    root = os.environ.get(RUNNER_OUTPUT_ENV)
    return Path(root) if root else None


def scratch_dir() -> Path:
    """Where a notebook run by hand (JupyterLab, plain papermill, nbconvert) writes: never figures/."""
    return BUILD_DIR / "scratch"


def output_root() -> Path:
    """Where a running notebook writes: the runner's staging tree, else :func:`scratch_dir`."""
    return runner_output_root() or scratch_dir()


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
