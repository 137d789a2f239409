"""Tables as CSV (for machines) and Markdown (for people), written atomically."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from companion.atomic import write_text


def _cell(value: object, float_digits: int) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.{float_digits}g}"
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pd.DataFrame, float_digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned, NaN shown as empty."""
    columns = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" if is_num else "---" for is_num in numeric) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, float_digits) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, stem: Path, caption: str | None = None) -> list[Path]:
    """Write ``stem.csv`` and ``stem.md``; the Markdown starts with the caption when given."""
    csv_path, md_path = stem.with_suffix(".csv"), stem.with_suffix(".md")
    write_text(csv_path, frame.to_csv(index=False, lineterminator="\n"))
    markdown = to_markdown(frame)
    if caption:
        markdown = f"{caption}\n\n{markdown}"
    write_text(md_path, markdown)
    return [csv_path, md_path]
