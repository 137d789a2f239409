import json

import pytest

from companion import claims, paths, scoreboard
from companion.outputs import Outputs


def test_registry_lists_every_claim_of_both_papers_with_the_shared_ids():
    registry = claims.load_registry()
    shared = paths.shared_dir()
    expected = {
        "jcra.one_stage",
        "jcra.direct_regression",
        "jcra.symmetric",
        "jcra.coco_ap",
        "jcra.crowdpose",
        "jcra.speed_78",
        "mw.duplicates",
        "mw.congestion",
        "mw.eliminates",
        "mw.mgmt_plane",
        "mw.compat",
        "mw.latency_33",
    }
    assert set(registry) == expected
    if shared is not None:  # the ids are those of ../shared/papers
        text = (shared / "papers" / "jcra.md").read_text() + (shared / "papers" / "multiwrite.md").read_text()
        assert all(f"| {claim_id} |" in text for claim_id in expected)
    assert registry["jcra.coco_ap"].reported_value == 69.2
    assert registry["mw.latency_33"].reported_value == 33


def test_every_claim_names_a_notebook_that_exists():
    for claim in claims.load_registry().values():
        for notebook in claim.notebooks:
            assert (paths.NOTEBOOKS_DIR / f"{notebook}.ipynb").exists(), f"{claim.id}: {notebook} missing"


def test_malformed_registry_is_reported_with_file_and_claim(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  x.y:\n    paper: P\n    statment: typo\n    notebook: a\n")
    with pytest.raises(
        ValueError, match=r"claims.yaml: claim 'x.y': unknown fields \['statment'\], missing \['statement'\]"
    ):
        claims.load_registry(bad)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_FIGURES_DIR", str(tmp_path))
    monkeypatch.delenv("COMPANION_OUTPUT_ROOT", raising=False)
    return Outputs("multiwrite/01_duplicates")


def test_record_claim_validates_and_round_trips(outputs, tmp_path):
    record = outputs.record_claim(
        "mw.duplicates", verdict="reproduced", reason="ring carries 7 copies", measured={"dup": 7}, unit="x"
    )
    stored = json.loads((tmp_path / "multiwrite/01_duplicates/claims.json").read_text())
    assert stored["mw.duplicates"]["measured"] == {"dup": 7.0}
    assert "hardware" in record.conditions and record.conditions["profile"] == "smoke"
    with pytest.raises(ValueError, match="unknown claim id 'mw.nope'"):
        outputs.record_claim("mw.nope", verdict="reproduced", reason="r")
    with pytest.raises(ValueError, match="verdict must be one of"):
        outputs.record_claim("mw.duplicates", verdict="yes", reason="r")
    with pytest.raises(ValueError, match="finite number"):
        outputs.record_claim("mw.duplicates", verdict="partly", reason="r", measured={"x": float("nan")})
    with pytest.raises(ValueError, match="figure 'nope' has not been saved"):
        outputs.record_claim("mw.duplicates", verdict="partly", reason="r", figure="nope")


def test_scoreboard_shows_pending_until_recorded_and_prefers_the_primary_notebook(tmp_path, monkeypatch):
    registry = claims.load_registry()
    board = claims.scoreboard(registry, [])
    assert set(board["verdict"]) == {"pending"}
    assert len(board) == len(registry)
    secondary = claims.ClaimRecord(
        "mw.latency_33", "partly", "secondary", "multiwrite/06_sensitivity", {"max_reduction_pct": 20.0}, "%"
    )
    board = claims.scoreboard(registry, [secondary]).set_index("claim")
    assert board.loc["mw.latency_33", "verdict"] == "partly"
    primary = claims.ClaimRecord(
        "mw.latency_33", "not reproduced", "primary", "multiwrite/05_stress", {"max_reduction_pct": 5.0}, "%"
    )
    board = claims.scoreboard(registry, [secondary, primary]).set_index("claim")
    assert board.loc["mw.latency_33", "verdict"] == "not reproduced"
    assert board.loc["mw.latency_33", "companion_value"] == "max_reduction_pct = 5 %"
    assert board.loc["mw.latency_33", "evidence"] == "multiwrite/05_stress, multiwrite/06_sensitivity"
    counts = scoreboard.verdict_counts(board.reset_index())
    assert counts["not reproduced"] == 1 and counts["pending"] == len(registry) - 1
    assert (
        "| mw.latency_33 | 33 % latency reduction (max) | max_reduction_pct = 5 % | not reproduced |"
        in scoreboard.markdown(board.reset_index())
    )
