"""Keep test runs (pytest and the notebooks nbval executes) out of the real figures/ and build/."""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    # Set before any kernel starts: nbval's kernels inherit the environment.
    os.environ.setdefault("COMPANION_FIGURES_DIR", str(_ROOT / "build" / "test" / "figures"))
    os.environ.setdefault("COMPANION_BUILD_DIR", str(_ROOT / "build" / "test"))
    os.environ.setdefault("MPLBACKEND", "Agg")
