"""Run profiles: ``smoke`` (seconds, tests), ``default`` (``make figures``), ``full`` (paper scale).

A profile is ``data/profiles/<name>.yaml``::

    description: what this profile is for
    notebooks:
      multiwrite/02_latency: {ranks: [8, 16, 32], message_sizes: [1024, 1048576]}

A notebook the profile does not mention runs with its own defaults, which are the smoke values.

Beside ``notebooks``, a profile may hold a section that a library module reads for every notebook
using it (:data:`SECTIONS`), e.g. ``jcra_recipe``, JCRA's training budget. ``--set
SECTION.KEY=VALUE`` overrides one of its values: the runner validates it with the module's
``apply_overrides`` and hands it to the notebooks through :data:`OVERRIDES_ENV`, where
:func:`section_overrides` reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from companion import paths


def available() -> list[str]:
    return sorted(p.stem for p in paths.PROFILES_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def load(name: str, profiles_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Parameters per notebook name for profile ``name``."""
    directory = profiles_dir or paths.PROFILES_DIR
    path = directory / f"{name}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in directory.glob("*.yaml") if not p.stem.startswith("_"))
        raise ValueError(f"unknown profile {name!r}: no {path}; available profiles: {', '.join(names)}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    notebooks = raw.get("notebooks") or {}
    if not isinstance(notebooks, dict) or not all(isinstance(v, dict) for v in notebooks.values()):
        raise ValueError(f"{path}: 'notebooks' must map notebook names to parameter mappings")
    return {str(k): dict(v) for k, v in notebooks.items()}


# Profile sections that --set reaches, and the module that reads each one (through
# :func:`section` and :func:`section_overrides`) and validates overrides (``apply_overrides``).
SECTIONS = {"jcra_recipe": "companion.jcra.recipes"}
OVERRIDES_ENV = "COMPANION_SECTION_OVERRIDES"


def section(name: str, section_name: str, profiles_dir: Path | None = None) -> tuple[Path, object]:
    """(the profile's file, its ``section_name`` section as written: None when absent)."""
    path = (profiles_dir or paths.PROFILES_DIR) / f"{name}.yaml"
    if not path.is_file():
        load(name, profiles_dir)  # raises, naming the available profiles
    return path, (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(section_name)


def section_overrides(section_name: str) -> dict[str, object]:
    """The runner's ``--set SECTION.KEY=VALUE`` values for ``section_name``, as ``{KEY: VALUE}``."""
    every = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    prefix = section_name + "."
    return {key[len(prefix) :]: value for key, value in every.items() if key.startswith(prefix)}
