"""Accuracy tables that put the companion's measurements beside published numbers.

Every row says where its numbers come from (``source``: "measured here" or "reported by ...")
and on which data (``data``, ``split``): a model measured on synthetic images and a method
reported on COCO val2017 are different experiments, side by side only for scale.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import paths, style
from ..claims import load_registry

COCO_COLUMNS = ("AP", "AP50", "AP75", "APM", "APL", "AR")
TABLE_COLUMNS = ("method", "backbone", "data", "split", *COCO_COLUMNS, "source")


def measured_row(method: str, backbone: str, data: str, split: str, stats: dict) -> dict:
    """A table row from ``coco_keypoint_stats`` fractions, in percent like published tables."""
    return {
        "method": method,
        "backbone": backbone,
        "data": data,
        "split": split,
        **{name: round(100 * stats[name], 1) if stats.get(name, -1) >= 0 else float("nan") for name in COCO_COLUMNS},
        "source": style.MEASURED,
    }


CROWDPOSE_COLUMNS = ("AP", "AP50", "AP75", "APE", "APM", "APH")


def crowdpose_row(method: str, data: str, stats: dict) -> dict:
    """A CrowdPose-style row (%, NaN where a level has no image) from ``keypoints_crowd`` stats."""
    return {
        "method": method,
        "backbone": "companion ResNet",
        "data": data,
        "source": style.MEASURED,
        **{name: 100 * stats[name] if stats.get(name, -1) >= 0 else float("nan") for name in CROWDPOSE_COLUMNS},
    }


def crowdpose_baselines(path: Path | None = None) -> pd.DataFrame:
    """Published CrowdPose rows of ``data/baselines_crowdpose.csv``, labelled ``reported by <repository>``."""
    path = path or paths.DATA_DIR / "baselines_crowdpose.csv"
    frame = pd.read_csv(path)
    missing = {"method", "backbone", "split", "source", *CROWDPOSE_COLUMNS} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return pd.DataFrame(
        {
            "method": frame["method"],
            "backbone": frame["backbone"],
            "data": "CrowdPose " + frame["split"],
            "source": [style.reported_by(s) for s in frame["source"]],
            **{name: frame[name] for name in CROWDPOSE_COLUMNS},
        }
    )


def paper_row(claim_id: str = "jcra.coco_ap") -> dict:
    """JCRA's own number, read from the claims registry (the abstract gives AP only)."""
    claim = load_registry()[claim_id]
    return {
        "method": "JCRA",
        "backbone": "unknown",
        "data": "COCO",
        "split": "val2017 (third-party summary)",
        "AP": claim.reported_value,
        **{name: float("nan") for name in COCO_COLUMNS[1:]},
        "source": style.SOURCE_LABELS["paper"],
    }


def baseline_rows(path: Path | None = None, splits: tuple[str, ...] = ("val2017", "test-dev")) -> pd.DataFrame:
    """Published rows of ``data/baselines_coco.csv``, labelled ``reported by <repository>``."""
    path = path or paths.DATA_DIR / "baselines_coco.csv"
    frame = pd.read_csv(path)
    missing = {"method", "backbone", "split", "source", *COCO_COLUMNS[:-1]} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    frame = frame[frame["split"].isin(splits)].copy()
    frame["data"] = "COCO"
    frame["AR"] = float("nan")
    frame["source"] = [style.reported_by(s) for s in frame["source"]]
    return frame[list(TABLE_COLUMNS)]


def coco_table(measured: list[dict], baselines_path: Path | None = None) -> pd.DataFrame:
    """Measured rows first, then JCRA's reported AP, then the published baselines."""
    rows = pd.DataFrame(measured + [paper_row()], columns=list(TABLE_COLUMNS))
    return pd.concat([rows, baseline_rows(baselines_path)], ignore_index=True)
