"""Run profiles: ``smoke`` (seconds, tests), ``default`` (``make figures``), ``full`` (paper scale).

A profile is ``data/profiles/<name>.yaml``::

    description: what this profile is for
    notebooks:
      multiwrite/02_latency: {ranks: [8, 16, 32], message_sizes: [1024, 1048576]}

A notebook the profile does not mention runs with its own defaults, which are the smoke values.
"""

from __future__ import annotations

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
