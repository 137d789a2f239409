"""Progress of long work (training, sweeps), for the reader and for the runner's heartbeat.

    with progress.track("training JCRA", total=2500, unit="step") as bar:
        for step in ...:
            bar.update(step + 1, loss=loss)

A notebook's output keeps a short summary (about ten lines, then one closing line) instead of
thousands. Under ``make figures`` the runner sets ``COMPANION_PROGRESS_FILE``; each update
rewrites that file (at most once a second) with one status line, which the heartbeat prints:
``training JCRA: step 1200/2500 (48%), loss 0.412, 450 s elapsed, about 490 s left``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

PROGRESS_ENV = "COMPANION_PROGRESS_FILE"
WRITE_INTERVAL_S = 1.0


def _format_metrics(metrics: dict[str, float]) -> str:
    return "".join(f", {name} {value:.4g}" for name, value in metrics.items())


class Progress:
    """Counts ``done`` out of ``total`` units of ``what``; prints ``lines`` evenly spaced updates."""

    def __init__(self, what: str, total: int, unit: str = "step", lines: int = 10, stream: TextIO | None = None):
        if total < 1:
            raise ValueError(f"progress of {what!r}: total must be at least 1, got {total}")
        self.what, self.total, self.unit = what, int(total), unit
        self.lines = max(1, lines)
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.done = 0
        self.metrics: dict[str, float] = {}
        self._printed_tenths = 0
        self._last_write = 0.0
        target = os.environ.get(PROGRESS_ENV)
        self.status_file = Path(target) if target else None

    def status(self) -> str:
        """One line: what, how far, the latest metrics, elapsed and estimated time left."""
        elapsed = time.monotonic() - self.started
        share = self.done / self.total
        left = f", about {elapsed * (1 - share) / share:.0f} s left" if 0 < share < 1 else ""
        return (
            f"{self.what}: {self.unit} {self.done}/{self.total} ({100 * share:.0f}%)"
            f"{_format_metrics(self.metrics)}, {elapsed:.0f} s elapsed{left}"
        )

    def update(self, done: int, **metrics: float) -> None:
        self.done = min(int(done), self.total)
        self.metrics = {k: float(v) for k, v in metrics.items()}
        slot = (self.done * self.lines) // self.total
        if slot > self._printed_tenths and self.done < self.total:
            self._printed_tenths = slot
            print(self.status(), file=self.stream, flush=True)
        now = time.monotonic()
        if self.status_file is not None and now - self._last_write >= WRITE_INTERVAL_S:
            self._last_write = now
            _write_status(self.status_file, self.status())

    def close(self) -> None:
        """Print the closing line (total time) and clear the runner's status line."""
        elapsed = time.monotonic() - self.started
        print(
            f"{self.what}: {self.done}/{self.total} {self.unit}s{_format_metrics(self.metrics)}, {elapsed:.0f} s",
            file=self.stream,
            flush=True,
        )
        if self.status_file is not None:
            self.status_file.unlink(missing_ok=True)


@contextmanager
def track(what: str, total: int, unit: str = "step", lines: int = 10) -> Iterator[Progress]:
    bar = Progress(what, total, unit, lines)
    try:
        yield bar
    finally:
        bar.close()


def _write_status(path: Path, line: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(line + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # progress is a courtesy: a full disk must not fail the work it reports on


def read_status(path: Path) -> str | None:
    """The latest status line written to ``path``, or None when there is none (yet)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None
