"""Accuracy tables: every row labelled with its source and data."""

import math

from companion import style
from companion.jcra import report
from companion.stats import Interval


def test_table_labels_every_row_with_its_source_and_data():
    stats = {"AP": 0.5123, "AP50": 0.8, "AP75": 0.5, "APM": 0.49, "APL": -1.0, "AR": 0.6}
    table = report.coco_table([report.measured_row("ours", "tiny", "synthetic", "val", stats)])
    ours, paper = table.iloc[0], table.iloc[1]
    assert ours.source == style.MEASURED and ours.AP == 51.2 and math.isnan(ours.APL)  # -1: undefined
    assert paper.method == "JCRA" and paper.AP == 69.2 and paper.source == style.SOURCE_LABELS["paper"]
    published = table.iloc[2:]
    assert published.source.str.startswith("reported by ").all()
    assert set(published.split) <= {"val2017", "test-dev"} and (published.data == "COCO").all()
    petr = published[(published.method == "PETR") & (published.backbone == "R-50") & (published.split == "val2017")]
    assert petr.AP.item() == 68.8


PROXY = {
    "easy": {
        "jcra": Interval(50.0, 45.0, 55.0),
        "bottomup": Interval(40.0, 35.0, 45.0),
        "difference": Interval(10.0, 4.0, 16.0),
    },
    "hard": {
        "jcra": Interval(10.0, 8.0, 12.0),
        "bottomup": Interval(16.0, 13.0, 19.0),
        "difference": Interval(-6.0, -9.0, -3.0),
    },
}
CROWD_STATS = {"AP": 0.31, "AP50": 0.6, "AP75": 0.3, "APE": 0.5, "APM": -1.0, "APH": 0.1}


def test_crowd_proxy_rows_table_and_measured_carry_every_interval():
    row = report.crowdpose_row("JCRA", "synthetic", CROWD_STATS, {level: i["jcra"] for level, i in PROXY.items()})
    assert row["APE"] == 50.0 and (row["APE low"], row["APE high"]) == (45.0, 55.0) and math.isnan(row["APM"])
    assert (row["APH low"], row["APH high"]) == (8.0, 12.0) and "APM low" not in row  # no image at that level
    table = report.crowd_proxy_table(PROXY, {"easy": 7, "medium": 0, "hard": 5})
    assert table["crowd level"].tolist() == ["easy", "hard"] and table.images.tolist() == [7, 5]
    hard = table.iloc[1]
    assert (hard["JCRA - bottom-up"], hard["JCRA - bottom-up low"], hard["JCRA - bottom-up high"]) == (-6.0, -9.0, -3.0)
    assert (hard["bottom-up AP low"], hard["JCRA AP high"]) == (13.0, 12.0) and (table.source == style.MEASURED).all()
    measured = report.crowd_proxy_measured(CROWD_STATS, {**CROWD_STATS, "AP": 0.2}, PROXY)
    assert measured["synthetic_AP"] == 31.0 and measured["synthetic_bottomup_AP"] == 20.0
    assert measured["synthetic_difference_APE_ci_low"] == 4.0 and measured["synthetic_bottomup_APH_ci_high"] == 19.0
    assert measured["synthetic_APE"] == 50.0 and not any("APM" in name for name in measured)
