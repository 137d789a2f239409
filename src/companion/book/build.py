"""Build the book into a fresh folder and swap it in whole, so a reader never sees half a book.

build/book/index.html                    notebooks by paper, claims one by one
build/book/scoreboard.html               figures/claims.md
build/book/notebooks/<wing>/<name>.html  one page per executed notebook
build/book/figures/...                   copies of the figures tree's PNG, PDF, CSV and Markdown
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from companion import paths
from companion.atomic import write_text
from companion.book.contents import BookContents, collect
from companion.book.index import render_index, render_scoreboard
from companion.book.links import check_site
from companion.book.pages import exporter, render_notebook

COPIED_SUFFIXES = {".png", ".pdf", ".csv", ".md", ".json"}


@dataclass
class BuildReport:
    out: Path
    pages: list[Path]
    copied_files: int
    broken: list[str]
    external: list[str]


def copy_figures(figures_root: Path, target: Path) -> int:
    """Copy the published outputs (not the runner's hidden state or staging folders); return the count."""
    count = 0
    for path in sorted(figures_root.rglob("*")) if figures_root.is_dir() else []:
        relative = path.relative_to(figures_root)
        if not path.is_file() or path.suffix not in COPIED_SUFFIXES or any(p.startswith(".") for p in relative.parts):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        count += 1
    return count


def _make_readable(site: Path) -> None:
    """Temporary files and folders are private (0600/0700); a book is for reading: 0644/0755."""
    site.chmod(0o755)
    for path in site.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write_site(contents: BookContents, site: Path, notebooks_dir: Path) -> list[Path]:
    pages = [write_text(site / "index.html", render_index(contents))]
    if contents.scoreboard_markdown is not None:
        pages.append(write_text(site / "scoreboard.html", render_scoreboard(contents)))
    html_exporter = exporter()
    for entry in contents.notebooks:
        source_dir = (notebooks_dir / entry.name).parent
        page = render_notebook(entry, contents, source_dir if source_dir.is_dir() else None, html_exporter)
        pages.append(write_text(site / entry.href, page))
    return pages


def build(
    out: Path, executed_dir: Path | None = None, figures_root: Path | None = None, notebooks_dir: Path | None = None
) -> BuildReport:
    """Render the book into ``out`` (replaced whole on success; left as it was on failure)."""
    executed_dir = executed_dir or paths.BUILD_DIR / "executed"
    figures_root = figures_root or paths.figures_dir()
    contents = collect(executed_dir, figures_root)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        pages = _write_site(contents, staging, notebooks_dir or paths.NOTEBOOKS_DIR)
        copied = copy_figures(figures_root, staging / "figures")
        broken, external = check_site(staging)
        _make_readable(staging)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, retired / "book")
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildReport(
        out=out,
        pages=[out / p.relative_to(staging) for p in pages],
        copied_files=copied,
        broken=broken,
        external=external,
    )
