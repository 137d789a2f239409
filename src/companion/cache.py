"""Cache for expensive, deterministic computations (simulator sweeps, evaluations).

A frame is stored as CSV under ``build/cache/<namespace>/<key hash>.csv``; any other result
(e.g. a simulator's run) is pickled beside it as ``<key hash>.pickle``. The key must name
everything the result depends on (parameters, and a code version where relevant); the cached
frame is what was read back from disk, so a cold and a warm run return identical frames.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from companion import paths
from companion.atomic import write_bytes, write_text
from companion.hashing import sha256_json


def cache_path(namespace: str, key: dict[str, Any], suffix: str = ".csv") -> Path:
    if not namespace or "/" in namespace or namespace.startswith("."):
        raise ValueError(f"cache namespace must be a plain folder name, got {namespace!r}")
    return paths.BUILD_DIR / "cache" / namespace / f"{sha256_json(key)[:20]}{suffix}"


def cached_frame(namespace: str, key: dict[str, Any], compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Return ``compute()``'s frame, computing it only when no cached copy exists for ``key``."""
    path = cache_path(namespace, key)
    if not path.exists():
        frame = compute()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"cached_frame({namespace!r}): compute() must return a DataFrame, got {type(frame).__name__}"
            )
        write_text(path, frame.to_csv(index=False, lineterminator="\n"))
    return pd.read_csv(path)


def cached_object(namespace: str, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """Return ``compute()``'s result, computing it only when no cached copy exists for ``key``; the copy
    is pickled, so it comes back bit for bit (only for trusted files: the project's own ``build/``)."""
    path = cache_path(namespace, key, ".pickle")
    if path.exists():
        return pickle.loads(path.read_bytes())
    result = compute()
    write_bytes(path, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return result
