"""Build the book with Sphinx into a fresh folder and swap it in whole, so a reader never sees half a book.

build/book/index.html                       the claims scoreboard (landing page), papers cited
build/book/notebooks/<wing>/<name>.html     one page per executed notebook, figures where they are made
build/book/_static/mathjax/                 MathJax 2 for math without network
build/book/search.html                      full-text search (works from file://)
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sphinx.cmd.build import build_main

from companion import paths
from companion.book.links import check_site
from companion.book.source import BookError, write_source


@dataclass
class BuildReport:
    out: Path
    pages: list[Path]
    notebooks: int
    broken: list[str]
    external: list[str]
    warnings: list[str]
    seconds: float


def _make_readable(site: Path) -> None:
    """Temporary files and folders are private (0600/0700); a book is for reading: 0644/0755."""
    site.chmod(0o755)
    for path in site.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _sphinx(source: Path, site: Path) -> list[str]:
    """Run Sphinx's HTML builder; return its warnings. Raises BookError when Sphinx fails."""
    stdout, stderr = io.StringIO(), io.StringIO()
    arguments = ["-b", "html", "-q", "-E", "-d", str(source / "_doctrees"), str(source), str(site)]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = build_main(arguments)
    messages = [line for line in stderr.getvalue().splitlines() if line.strip()]
    if status != 0:
        raise BookError("Sphinx could not build the book:\n" + "\n".join(messages[-20:]))
    return messages


def build(
    out: Path, profile: str = "default", executed_dir: Path | None = None, figures_root: Path | None = None
) -> BuildReport:
    """Render the book of ``profile`` into ``out`` (replaced whole on success; left as it was on failure)."""
    started = time.monotonic()
    executed_dir = executed_dir or paths.executed_dir(profile)
    figures_root = figures_root or paths.figures_dir(profile)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        source, site = work / "source", work / "site"
        source.mkdir()
        notebooks = write_source(source, executed_dir, figures_root, profile)
        warnings = _sphinx(source, site)
        (site / ".buildinfo").unlink(missing_ok=True)
        shutil.rmtree(site / ".doctrees", ignore_errors=True)
        broken, external = check_site(site)
        _make_readable(site)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, retired / "book")
            os.replace(site, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(site, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BuildReport(
        out=out,
        pages=sorted(out.rglob("*.html")),
        notebooks=len(notebooks),
        broken=broken,
        external=external,
        warnings=warnings,
        seconds=time.monotonic() - started,
    )
