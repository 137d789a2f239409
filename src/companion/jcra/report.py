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
from ..stats import Interval

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


CROWD_LEVEL_COLUMNS = {"easy": "APE", "medium": "APM", "hard": "APH"}
PROXY_MODELS = {"jcra": "JCRA AP", "bottomup": "bottom-up AP", "difference": "JCRA - bottom-up"}


def crowdpose_row(method: str, data: str, stats: dict, intervals: dict[str, Interval] | None = None) -> dict:
    """A CrowdPose-style row (%, NaN where a level has no image) from ``keypoints_crowd`` stats;
    ``intervals`` (crowd level -> AP % interval) add ``APE low`` / ``APE high`` etc., the bounds."""
    row = {
        "method": method,
        "backbone": "companion ResNet",
        "data": data,
        "source": style.MEASURED,
        **{name: 100 * stats[name] if stats.get(name, -1) >= 0 else float("nan") for name in CROWDPOSE_COLUMNS},
    }
    for level, interval in (intervals or {}).items():
        row |= {f"{CROWD_LEVEL_COLUMNS[level]} low": interval.low, f"{CROWD_LEVEL_COLUMNS[level]} high": interval.high}
    return row


def crowd_proxy_table(proxy: dict[str, dict[str, Interval]], images: dict[str, int]) -> pd.DataFrame:
    """One row per crowd level of the synthetic proxy (``evaluate.crowd_level_intervals``): the
    level's images, JCRA's AP, the bottom-up baseline's and their difference (%), each with the
    bounds of its 95% bootstrap interval over the level's images."""
    rows = []
    for level, intervals in proxy.items():
        row = {"crowd level": level, "images": images[level]}
        for key, label in PROXY_MODELS.items():
            row |= {
                label: intervals[key].estimate,
                f"{label} low": intervals[key].low,
                f"{label} high": intervals[key].high,
            }
        rows.append(row | {"source": style.MEASURED})
    return pd.DataFrame(rows)


def crowd_proxy_measured(stats: dict, baseline_stats: dict, proxy: dict[str, dict[str, Interval]]) -> dict:
    """The claim record's ``measured`` for the synthetic proxy, in %: both models' AP, AP50 and AP75
    (``synthetic_AP``, ``synthetic_bottomup_AP``, ...) and per crowd level each model's AP and the
    difference with its interval (``synthetic_APE``, ``synthetic_bottomup_APE``,
    ``synthetic_difference_APE``, each with ``_ci_low`` and ``_ci_high``)."""
    overall = [name for name in CROWDPOSE_COLUMNS if name not in CROWD_LEVEL_COLUMNS.values()]
    measured = {f"synthetic_{name}": 100 * stats[name] for name in overall if stats[name] >= 0}
    measured |= {
        f"synthetic_bottomup_{name}": 100 * baseline_stats[name] for name in overall if baseline_stats[name] >= 0
    }
    for level, intervals in proxy.items():
        column = CROWD_LEVEL_COLUMNS[level]
        measured |= intervals["jcra"].measured(f"synthetic_{column}")
        measured |= intervals["bottomup"].measured(f"synthetic_bottomup_{column}")
        measured |= intervals["difference"].measured(f"synthetic_difference_{column}")
    return measured


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
