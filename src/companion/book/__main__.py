"""``python -m companion.book --out build/book``: the reading companion as static HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion import paths
from companion.book.build import build
from companion.book.contents import BookError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m companion.book",
        description="Render the executed notebooks, claims and figures as a static HTML site.",
    )
    parser.add_argument(
        "--out", type=Path, default=paths.BUILD_DIR / "book", help="output folder (default: build/book)"
    )
    parser.add_argument(
        "--executed",
        type=Path,
        default=paths.BUILD_DIR / "executed",
        help="executed notebooks of the last `make figures` (default: build/executed)",
    )
    parser.add_argument("--figures", type=Path, default=paths.figures_dir(), help="figures tree (default: figures)")
    args = parser.parse_args(argv)
    try:
        report = build(args.out, args.executed, args.figures)
    except BookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(report.pages)} pages and {report.copied_files} figure files to {report.out}")
    for problem in report.broken + report.external:
        print(f"  link problem: {problem}", file=sys.stderr)
    if report.broken or report.external:
        return 1
    print(f"open {report.out / 'index.html'} in a browser (file:// works; no server needed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
