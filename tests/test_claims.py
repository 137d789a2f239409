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
def outputs_in(tmp_path, monkeypatch):
    """``outputs_in(profile)``: the Outputs of 01_duplicates in a runner-like run of ``profile``, into tmp_path."""
    monkeypatch.setenv("COMPANION_FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("COMPANION_OUTPUT_ROOT", str(tmp_path))  # write as the runner does, into tmp_path

    def make(profile: str) -> Outputs:
        monkeypatch.setenv("COMPANION_PROFILE", profile)
        return Outputs("multiwrite/01_duplicates")

    return make


@pytest.fixture
def outputs(outputs_in):
    return outputs_in("smoke")


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
    with pytest.raises(
        ValueError, match="claim jcra.coco_ap is rebuilt by jcra/02_train_eval .*not by multiwrite/01_dup"
    ):
        outputs.record_claim("jcra.coco_ap", decision)
    with pytest.raises(TypeError, match="takes the Verdict of the claim's rule"):
        outputs.record_claim("mw.duplicates", ("reproduced", "a tuple from an old rule"))
    with pytest.raises(TypeError, match="verdict"):
        outputs.record_claim("mw.duplicates", verdict="reproduced", reason="the old keywords are gone")


def test_a_smoke_run_records_not_evidence_and_keeps_the_rule_outcome(outputs):
    record = outputs.record_claim("mw.duplicates", claims.Verdict("partly", "ring 1 copy, mesh 7"))
    assert record.verdict == "not evidence (smoke)" and record.rule_outcome == "partly"
    assert not record.counts_as_evidence and record.reason == "ring 1 copy, mesh 7"
    design = claims.Verdict("by design", "max 1 copy per link in 6 runs", design="allgather.multiwrite_plan")
    record = outputs.record_claim("mw.eliminates", design)
    assert record.verdict == "not evidence (smoke)" and record.rule_outcome == "by design"
    assert record.design == "allgather.multiwrite_plan"


@pytest.mark.parametrize("profile", ["default", "full"])
def test_runs_from_the_declared_evidence_profile_up_record_the_rule_outcome(outputs_in, profile):
    record = outputs_in(profile).record_claim("mw.duplicates", claims.Verdict("not reproduced", "no copy twice"))
    assert record.verdict == "not reproduced" == record.rule_outcome and record.counts_as_evidence
    assert record.conditions["profile"] == profile


def test_a_full_evidence_claim_run_in_default_is_not_evidence(outputs_in, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    text = (paths.DATA_DIR / "claims.yaml").read_text()
    start = text.index("  mw.duplicates:")
    at = text.index("evidence: default", start)
    (data / "claims.yaml").write_text(text[:at] + "evidence: full" + text[at + len("evidence: default") :])
    monkeypatch.setattr(paths, "DATA_DIR", data)
    assert claims.load_registry()["mw.duplicates"].test.evidence == "full"
    record = outputs_in("default").record_claim("mw.duplicates", claims.Verdict("reproduced", "mesh 7 copies"))
    assert record.verdict == "not evidence (default)" and record.rule_outcome == "reproduced"
    record = outputs_in("full").record_claim("mw.duplicates", claims.Verdict("reproduced", "mesh 7 copies"))
    assert record.verdict == "reproduced"


def test_verdicts_are_validated_where_they_are_made():
    with pytest.raises(ValueError, match="verdict outcome must be one of"):
        claims.Verdict("yes", "r")
    with pytest.raises(ValueError, match="one non-empty line"):
        claims.Verdict("partly", "two\nlines")
    with pytest.raises(ValueError, match="names the code"):
        claims.Verdict("by design", "checked")
    with pytest.raises(ValueError, match="names the code"):
        claims.Verdict("partly", "r", design="model.py")
    assert claims.Verdict("by design", "checked", design="model.py").design == "model.py"


def test_records_reject_verdicts_outside_the_vocabulary_and_unkept_rule_outcomes():
    registry = claims.load_registry()
    with pytest.raises(ValueError, match="verdict must be one of"):
        _record("mw.duplicates", "not evidence", "multiwrite/01_duplicates").validate(registry)
    with pytest.raises(ValueError, match="keeps the rule's outcome"):
        _record("mw.duplicates", "not evidence (smoke)", "multiwrite/01_duplicates").validate(registry)
    with pytest.raises(ValueError, match="differs from the verdict"):
        _record("mw.duplicates", "partly", "multiwrite/01_duplicates", rule_outcome="reproduced").validate(registry)
    with pytest.raises(ValueError, match="names the code"):
        _record("mw.eliminates", "by design", "multiwrite/01_duplicates").validate(registry)


def _record(claim_id, verdict, notebook, measured=None, unit=None, profile="default", rule_outcome=None, **kwargs):
    conditions = {"profile": profile, "hardware": "test machine"}
    return claims.ClaimRecord(
        claim_id, verdict, "why", notebook, measured or {}, unit, conditions, None, rule_outcome, **kwargs
    )


def test_scoreboard_shows_pending_until_recorded_and_prefers_the_primary_notebook():
    registry = claims.load_registry()
    board = claims.scoreboard(registry, [])
    assert set(board["verdict"]) == {"pending"}
    assert len(board) == len(registry) and not board["counts_as_evidence"].any()
    secondary = _record("mw.latency_33", "partly", "multiwrite/06_sensitivity", {"max_reduction": 20.0}, "%")
    board = claims.scoreboard(registry, [secondary]).set_index("claim")
    assert board.loc["mw.latency_33", "verdict"] == "partly"
    primary = _record("mw.latency_33", "not reproduced", "multiwrite/05_stress", {"max_reduction": 5.0}, "%")
    board = claims.scoreboard(registry, [secondary, primary]).set_index("claim")
    assert board.loc["mw.latency_33", "verdict"] == "not reproduced"
    assert board.loc["mw.latency_33", "recorded_by"] == "multiwrite/05_stress, multiwrite/06_sensitivity"
    counts = scoreboard.verdict_counts(board.reset_index())
    assert counts["evidence"]["not reproduced"] == 1
    assert counts["no evidence"] == {"pending": len(registry) - 1}


def test_units_stay_with_their_values_and_intervals_get_their_own_column():
    registry = claims.load_registry()
    measured = {"speedup": 1.7, "speedup_ci_low": 1.5, "speedup_ci_high": 1.9, "persons": 20.0}
    per_value = _record("jcra.speed_78", "partly", "jcra/06_speed", measured, {"speedup": "x"})
    one_unit = _record("mw.latency_33", "partly", "multiwrite/05_stress", {"p50": 10.0, "p99": 22.0}, "%")
    board = claims.scoreboard(registry, [per_value, one_unit]).set_index("claim")
    assert board.loc["jcra.speed_78", "companion_value"] == "speedup = 1.7 x; persons = 20"
    assert board.loc["jcra.speed_78", "interval"] == "speedup: 1.5 to 1.9 x"
    assert board.loc["jcra.speed_78", "headline"] == "speedup = 1.7 x (95% CI 1.5 to 1.9)"
    assert board.loc["mw.latency_33", "headline"] == board.loc["mw.latency_33", "companion_value"]
    assert board.loc["mw.latency_33", "companion_value"] == "p50 = 10%; p99 = 22%"
    assert board.loc["mw.latency_33", "paper_value"] == "33% latency reduction (max)"  # the abstract, nothing else
    with pytest.raises(ValueError, match=r"units given for \['speed'\]"):
        _record("jcra.speed_78", "partly", "jcra/06_speed", measured, {"speed": "x"}).validate(registry)
    with pytest.raises(ValueError, match="speedup_ci_low and speedup_ci_high must both be given"):
        _record("jcra.speed_78", "partly", "jcra/06_speed", {"speedup": 1.7, "speedup_ci_low": 1.5}).validate(registry)
    with pytest.raises(ValueError, match=r"\['throughput_reading'\] are readings of the paper"):
        _record("jcra.speed_78", "partly", "jcra/06_speed", {"throughput_reading": 1.78}).validate(registry)


def test_scoreboard_page_names_profile_hardware_commit_and_groups_evidence():
    registry = claims.load_registry()
    records = [
        _record("mw.duplicates", "reproduced", "multiwrite/01_duplicates", {"copies": 7.0}),
        _record(
            "mw.eliminates",
            "by design",
            "multiwrite/01_duplicates",
            design="multiwrite.allgather: one copy per tree edge",
        ),
        _record("jcra.speed_78", "not evidence (smoke)", "jcra/06_speed", profile="smoke", rule_outcome="partly"),
    ]
    board = claims.scoreboard(registry, records)
    page = scoreboard.markdown(board, commit="abc123")
    assert (
        "Profile: default, smoke. Hardware: test machine. Git commit: abc123. 2 of 12 verdicts count as evidence."
        in page
    )
    assert "evidence 2 (1 reproduced, 1 by design); no evidence 10 (1 not evidence (smoke), 9 pending)" in page
    assert "| jcra.speed_78 | 78% faster |  |  | not evidence (smoke) | partly | why |" in page
    assert "why (by design: multiwrite.allgather: one copy per tree edge)" in page
    text = scoreboard.counts_text(board)
    assert text.splitlines()[0] == "evidence: 2" and "no evidence: 10" in text and "  not evidence (smoke): 1" in text
    fig = scoreboard.figure(board, commit="abc123")
    assert fig.axes and "Git commit: abc123" in " ".join(t.get_text() for t in fig.axes[0].texts)


def test_golden_key_numbers_are_what_a_smoke_run_recording_every_claim_gives():
    """Every smoke record is 'not evidence (smoke)', whatever its rule decided (timings included)."""
    registry = claims.load_registry()
    records = [
        _record(c.id, "not evidence (smoke)", c.notebook, profile="smoke", rule_outcome=outcome)
        for c, outcome in zip(registry.values(), ["reproduced", "partly", "not reproduced"] * 4)
    ]
    golden = (paths.REPO_ROOT / "tests" / "golden" / "00_claims.txt").read_text()
    assert scoreboard.counts_text(claims.scoreboard(registry, records)) + "\n" == golden


def test_every_verdict_has_a_colour_and_readable_text():
    from companion import style

    for verdict in (*claims.OUTCOMES, claims.PENDING, "not evidence (smoke)", "not evidence (default)"):
        assert style.verdict_color(verdict).startswith("#")
        assert style.verdict_text_color(verdict) in ("black", "white")
    assert style.verdict_color("not evidence (smoke)") != style.verdict_color("pending")
    with pytest.raises(ValueError, match="no colour for verdict 'yes'"):
        style.verdict_color("yes")


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
