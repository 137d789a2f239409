"""``python -m companion.book [--profile default]``: the reading companion as a static HTML site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion import paths
from companion.book.build import build
from companion.book.source import BookError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m companion.book",
        description="Render the executed notebooks of the last `make figures` and the claims scoreboard as HTML.",
    )
    parser.add_argument("--profile", default="default", help="whose run to render (default: default)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: build/book[-<profile>])")
    parser.add_argument("--executed", type=Path, default=None, help="executed notebooks (default: the profile's)")
    parser.add_argument("--figures", type=Path, default=None, help="published tree (default: the profile's)")
    args = parser.parse_args(argv)
    out = args.out or paths.BUILD_DIR / ("book" if args.profile == "default" else f"book-{args.profile}")
    try:
        report = build(out, args.profile, args.executed, args.figures)
    except BookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(report.pages)} pages ({report.notebooks} notebooks) to {report.out} in {report.seconds:.0f} s")
    if report.warnings:
        print(f"{len(report.warnings)} Sphinx warnings, e.g.: {report.warnings[0]}", file=sys.stderr)
    for problem in report.broken + report.external:
        print(f"  link problem: {problem}", file=sys.stderr)
    if report.broken or report.external:
        return 1
    print(f"open {report.out / 'index.html'} in a browser (file:// works; no server, no network needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
