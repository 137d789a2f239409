"""Accuracy tables: every row labelled with its source and data."""

import math

from companion import style
from companion.jcra import report


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
