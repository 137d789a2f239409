"""``python -m companion.exercises strip --out build/exercises``: write the student copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.exercises.strip import EXERCISES_DIR, StripError, strip_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m companion.exercises",
        description="Coursework exercises: write student copies without solutions.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    strip = commands.add_parser("strip", help="write student copies (solutions replaced by '# YOUR CODE HERE')")
    strip.add_argument(
        "--out", type=Path, default=Path("build/exercises"), help="output folder (default: build/exercises)"
    )
    strip.add_argument(
        "--source", type=Path, default=EXERCISES_DIR, help=f"exercise notebooks (default: {EXERCISES_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        written = strip_all(args.out, args.source)
    except StripError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} student copies in {args.out}; solutions stay in {args.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
