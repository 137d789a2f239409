"""The command line is a stable contract: flag names, JSON keys, exit codes and messages."""

import json
import subprocess
import sys

import pytest

from companion.multiwrite.__main__ import main

REQUIRED_KEYS = {
    "latency_us",
    "algbw_GBps",
    "busbw_GBps",
    "link_bytes",
    "max_link_duplication",
    "delivered_ok",
    "events",
}


def run_json(capsys, argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_output_has_the_contract_keys(capsys):
    out = run_json(
        capsys,
        [
            "--collective",
            "allgather",
            "--algorithm",
            "multiwrite",
            "--topology",
            "leafspine",
            "--ranks",
            "16",
            "--ranks-per-node",
            "4",
            "--oversubscription",
            "2",
            "--message-bytes",
            "64KiB",
            "--link-bandwidth-GBps",
            "50",
            "--link-latency-ns",
            "100",
            "--switch-latency-ns",
            "200",
            "--issue-overhead-ns",
            "300",
            "--mtu-bytes",
            "4096",
            "--header-bytes",
            "64",
            "--engine",
            "shared",
            "--seed",
            "3",
        ],
    )
    assert REQUIRED_KEYS <= set(out)
    assert out["delivered_ok"] is True and out["max_link_duplication"] == 1
    assert "r0->leaf0" in out["link_bytes"] and out["events"] > 0
    assert out["busbw_GBps"] == pytest.approx(out["algbw_GBps"] * 15 / 16)


def test_dispatch_flags(capsys):
    out = run_json(
        capsys,
        [
            "--collective",
            "dispatch",
            "--algorithm",
            "mesh",
            "--topology",
            "star",
            "--ranks",
            "8",
            "--tokens-per-rank",
            "8",
            "--token-bytes",
            "1024",
            "--top-k",
            "2",
            "--experts-per-rank",
            "2",
            "--routing",
            "skewed",
        ],
    )
    assert out["delivered_ok"] and out["latency_us"] > 0


def test_readable_summary_and_analytic(capsys):
    assert main(["--algorithm", "ring", "--ranks", "4", "--analytic"]) == 0
    text = capsys.readouterr().out
    assert "latency" in text and "analytic latency" in text and "delivery check" in text


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--message-bytes", "-5"], "--message-bytes"),
        (["--ranks", "12", "--ranks-per-node", "8"], "--ranks-per-node: must divide ranks (12)"),
        (["--algorithm", "butterfly"], "--algorithm: invalid choice"),
        (
            ["--collective", "dispatch", "--algorithm", "ring"],
            "--algorithm: must be one of mesh, multiwrite, group-multicast",
        ),
        (
            ["--collective", "dispatch", "--ranks", "2", "--experts-per-rank", "2", "--top-k", "5"],
            "--top-k: must be at most",
        ),
        (["--link-bandwidth-GBps", "-1"], "--link-bandwidth-GBps"),
        (["--ranks", "two"], "--ranks: expected an integer"),
    ],
)
def test_bad_values_exit_nonzero_naming_the_flag(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code != 0
    assert fragment in capsys.readouterr().err


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "companion.multiwrite", "--ranks", "4", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["delivered_ok"] is True
    bad = subprocess.run([sys.executable, "-m", "companion.multiwrite", "--ranks", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--ranks" in bad.stderr


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["--topology", "leafspine", "--ranks", "16", "--oversubscription", "inf"],
            "--oversubscription: must be a finite",
        ),
        (["--link-bandwidth-GBps", "1e308"], "--link-bandwidth-GBps: overflows"),
        (["--link-latency-ns", "1e400"], "--link-latency-ns: must be a finite"),
        (["--switch-latency-ns", "nan"], "--switch-latency-ns: must be a number"),
        (["--mtu-bytes", "32", "--header-bytes", "64"], "--mtu-bytes: must be larger than header_bytes (64)"),
        (["--mtu-bytes", "64", "--header-bytes", "64"], "--mtu-bytes: must be larger than header_bytes (64)"),
        (["--ranks", "20000"], "--model flow"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_flag(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_json_reports_the_converged_grain(capsys):
    out = run_json(capsys, ["--algorithm", "mesh", "--ranks", "4", "--message-bytes", "256KiB"])
    assert out["grain"] >= 4 and out["grain_stop"] in ("converged", "packet grain", "grain cap")
    assert out["grain_change"] is None or out["grain_change"] >= 0
    if out["grain_stop"] == "converged":
        assert out["grain_change"] < 0.01
    fixed = run_json(capsys, ["--algorithm", "mesh", "--ranks", "4", "--message-bytes", "256KiB", "--fixed-grain"])
    assert fixed["grain"] is None and fixed["grain_change"] is None


def test_long_runs_report_progress_on_stderr_unless_json(capsys, monkeypatch):
    from companion.multiwrite import simulation

    monkeypatch.setattr(simulation, "REPORT_BATCH", 100)
    monkeypatch.setattr(simulation, "PROGRESS_EVERY_S", 0.0)
    assert main(["--algorithm", "mesh", "--ranks", "8", "--message-bytes", "64KiB"]) == 0
    err = capsys.readouterr().err
    assert "events/s" in err and "simulated" in err and "grain" in err
    run_json(capsys, ["--algorithm", "mesh", "--ranks", "8", "--message-bytes", "64KiB"])
    assert capsys.readouterr().err == ""
