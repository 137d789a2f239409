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
    monkeypatch.setenv("COMPANION_OUTPUT_ROOT", str(tmp_path))  # write as the runner does, into tmp_path
    return Outputs("multiwrite/01_duplicates")


def test_record_claim_validates_and_round_trips(outputs, tmp_path):
    decision = claims.Verdict("reproduced", "ring carries 7 copies")
    record = outputs.record_claim("mw.duplicates", decision, measured={"dup": 7}, unit="x")
    stored = json.loads((tmp_path / "multiwrite/01_duplicates/claims.json").read_text())
    assert stored["mw.duplicates"]["measured"] == {"dup": 7.0}
    assert "hardware" in record.conditions and record.conditions["profile"] == "smoke"
    with pytest.raises(ValueError, match="unknown claim id 'mw.nope'"):
        outputs.record_claim("mw.nope", decision)
    with pytest.raises(ValueError, match="finite number"):
        outputs.record_claim("mw.duplicates", decision, measured={"x": float("nan")})
    with pytest.raises(ValueError, match="figure 'nope' has not been saved"):
        outputs.record_claim("mw.duplicates", decision, figure="nope")


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


TEST_BLOCK = (
    "    test:\n      measure: m\n      rule: r above 1.5\n      why: w\n      baseline: b\n      evidence: default\n"
)


def _registry_file(tmp_path, test_block: str, extra: str = ""):
    path = tmp_path / "claims.yaml"
    path.write_text("claims:\n  x.y:\n    paper: P\n    statement: S\n    notebook: nb/a\n" + test_block + extra)
    return path


def test_registry_rejects_a_claim_without_a_test_block(tmp_path):
    with pytest.raises(ValueError, match=r"claims.yaml: claim 'x.y' has no `test` block.*'measure'"):
        claims.load_registry(_registry_file(tmp_path, ""))


@pytest.mark.parametrize("drop", ["measure", "rule", "why", "baseline", "evidence"])
def test_registry_rejects_a_test_block_missing_a_key_and_names_it(tmp_path, drop):
    block = "".join(line + "\n" for line in TEST_BLOCK.splitlines() if not line.strip().startswith(f"{drop}:"))
    with pytest.raises(ValueError, match=rf"claims.yaml: claim 'x.y': `test` must have exactly.*missing \['{drop}'\]"):
        claims.load_registry(_registry_file(tmp_path, block))


def test_registry_rejects_unknown_test_keys_bad_evidence_and_non_numeric_readings(tmp_path):
    with pytest.raises(ValueError, match=r"unknown \['thresholds'\]"):
        claims.load_registry(_registry_file(tmp_path, TEST_BLOCK + "      thresholds: t\n"))
    with pytest.raises(ValueError, match=r"test.evidence must be 'default' or 'full', got 'smoke'"):
        claims.load_registry(_registry_file(tmp_path, TEST_BLOCK.replace("evidence: default", "evidence: smoke")))
    with pytest.raises(ValueError, match=r"readings.x must be a finite number, got 'a lot'"):
        claims.load_registry(_registry_file(tmp_path, TEST_BLOCK, "    readings: {x: a lot}\n"))


def test_registry_loads_readings_and_grid(tmp_path):
    path = _registry_file(tmp_path, TEST_BLOCK, "    readings: {throughput: 1.78}\n    grid: {sizes: [1, 2]}\n")
    claim = claims.load_registry(path)["x.y"]
    assert claim.test == claims.ClaimTest("m", "r above 1.5", "w", "b", "default")
    assert claim.readings == {"throughput": 1.78} and claim.grid == {"sizes": [1, 2]}


def test_every_registered_claim_declares_numbers_in_its_rule_and_paper_readings_stay_out_of_measured():
    registry = claims.load_registry()
    for claim in registry.values():
        assert any(ch.isdigit() for ch in claim.test.rule), f"{claim.id}: the rule states no threshold as a number"
    assert registry["jcra.speed_78"].readings == {"throughput_reading": 1.78, "time_reading": 4.55}
    assert registry["mw.latency_33"].readings == {"reduction_reading": 0.33}
    assert {"message_bytes", "percentiles"} <= set(registry["mw.latency_33"].grid)
    assert registry["mw.mgmt_plane"].grid["group_setup_us"][0] == 1
    assert registry["mw.mgmt_plane"].grid["group_setup_us"][-1] == 1000


def test_declared_tests_markdown_renders_every_claim_a_notebook_records_from_the_registry():
    registry = claims.load_registry()
    text = claims.declared_tests_markdown("multiwrite/04_management_plane", registry)
    for claim_id in ("mw.mgmt_plane", "mw.compat"):
        test = registry[claim_id].test
        assert f"`{claim_id}`" in text
        assert all(part in text for part in (test.measure, test.rule, test.why, test.baseline))
    assert "`group_setup_us` = 1, 10, 100, 1000" in text
    also = claims.declared_tests_markdown("multiwrite/06_sensitivity", registry)
    assert "`mw.latency_33`" in also and "Primary notebook:** `multiwrite/05_stress`" in also
    assert "`reduction_reading` = 0.33" in also
    assert "records no claim" in claims.declared_tests_markdown("jcra/05_oks", registry)
    assert "mw." not in claims.declared_tests_markdown("jcra/06_speed", registry)


def test_show_declared_tests_displays_the_markdown(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    claims.show_declared_tests("jcra/06_speed")
    assert len(shown) == 1 and shown[0].data == claims.declared_tests_markdown("jcra/06_speed")
