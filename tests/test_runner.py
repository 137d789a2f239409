"""The pipeline behind `make figures`: validation, incrementality, atomic publishing, manifest."""

import json
import subprocess
import sys

import pytest
from helpers import write_notebook

from companion import paths, run
from companion.hashing import sha256_file
from companion.params import ParameterError

FIGURE_BODY = [
    "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom companion.outputs import Outputs\nout = Outputs('demo/01_plot')",
    "frame = pd.DataFrame({'x': list(range(n_points)), 'y': [i * i for i in range(n_points)]})\n"
    "fig, ax = plt.subplots()\nax.plot(frame.x, frame.y, label='measured here')\nax.legend()\n"
    "out.figure(fig, 'squares', data=frame)\nout.table(frame, 'squares_table')",
    "assert not fail, 'asked to fail'",
]


@pytest.fixture
def project(tmp_path):
    """A notebooks folder with one figure notebook, a profiles folder and a figures root."""
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "demo" / "01_plot.ipynb",
        'profile: str = "smoke"  # choices: smoke, default\nn_points: int = 5  # range: 2..100\nfail: bool = False',
        FIGURE_BODY,
    )
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "smoke.yaml").write_text("notebooks: {}\n")
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {n_points: 9}\n")
    return notebooks, profiles, tmp_path / "figures"


def run_profile(project, profile="smoke", **runner_options):
    notebooks, profiles, figures = project
    jobs = run.plan(profile, notebooks_dir=notebooks, profiles_dir=profiles)
    messages = []
    runner = run.Runner(figures, log=messages.append, **runner_options)
    ok = runner.run(jobs)
    return ok, runner, "\n".join(messages)


def test_plan_validates_parameters_and_profiles(project):
    notebooks, profiles, _ = project
    jobs = run.plan("default", notebooks_dir=notebooks, profiles_dir=profiles)
    assert [(j.name, j.parameters) for j in jobs] == [("demo/01_plot", {"n_points": 9, "profile": "default"})]
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*available profiles: default, smoke"):
        run.plan("huge", notebooks_dir=notebooks, profiles_dir=profiles)
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {n_point: 9}\n")
    with pytest.raises(
        ParameterError,
        match=r"01_plot.ipynb: unknown parameter 'n_point'; the notebook declares: fail, n_points, profile",
    ):
        run.plan("default", notebooks_dir=notebooks, profiles_dir=profiles)
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {n_points: 1000}\n")
    with pytest.raises(ParameterError, match=r"'n_points' must be int in range 2..100, got 1000"):
        run.plan("default", notebooks_dir=notebooks, profiles_dir=profiles)
    (profiles / "default.yaml").write_text("notebooks:\n  demo/02_missing: {}\n")
    with pytest.raises(ValueError, match="names notebooks that do not exist: demo/02_missing"):
        run.plan("default", notebooks_dir=notebooks, profiles_dir=profiles)


def test_runs_once_then_skips_until_an_input_or_output_changes(project):
    notebooks, profiles, figures = project
    ok, runner, log = run_profile(project)
    assert ok and runner.ran == ["demo/01_plot"]
    assert "[ 1/1] demo/01_plot (smoke) running" in log and "summary: 1 notebooks run, 0 up to date, 0 failed" in log
    outputs = sorted(p.name for p in (figures / "demo/01_plot").iterdir())
    assert outputs == ["squares.csv", "squares.pdf", "squares.png", "squares_table.csv", "squares_table.md"]

    ok, runner, log = run_profile(project)
    assert runner.skipped == ["demo/01_plot"] and "up to date" in log

    (figures / "demo/01_plot/squares.pdf").unlink()  # a missing output is redone
    ok, runner, _ = run_profile(project)
    assert runner.ran == ["demo/01_plot"] and (figures / "demo/01_plot/squares.pdf").exists()

    ok, runner, _ = run_profile(project, profile="default")  # other parameters
    assert runner.ran == ["demo/01_plot"]
    assert len((figures / "demo/01_plot/squares.csv").read_text().splitlines()) == 10


def test_manifest_lists_every_output_with_provenance(project):
    _, _, figures = project
    run_profile(project)
    manifest = json.loads((figures / "manifest.json").read_text())
    entries = {e["path"]: e for e in manifest["outputs"]}
    assert "demo/01_plot/squares.png" in entries
    for path, entry in entries.items():
        if path.startswith("demo/"):
            assert entry["sha256"] == sha256_file(figures / path)
        assert entry["notebook"] == "demo/01_plot" and entry["profile"] == "smoke"
        assert entry["parameters"] == {"profile": "smoke"}
        assert {"git_commit", "library_hash", "run_seconds", "input_hash", "notebook_sha256"} <= set(entry)
    assert any(path.endswith("executed/demo/01_plot.ipynb") for path in entries)


def test_failed_run_publishes_nothing_and_is_redone(project):
    notebooks, profiles, figures = project
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {fail: true}\n")
    ok, runner, log = run_profile(project, profile="default")
    assert not ok and runner.failed == ["demo/01_plot"]
    assert "FAILED" in log and "asked to fail" in log
    assert not (figures / "demo/01_plot").exists()
    assert not any((figures / ".staging").iterdir())
    (profiles / "default.yaml").write_text("notebooks: {}\n")
    ok, runner, _ = run_profile(project, profile="default")
    assert ok and runner.ran == ["demo/01_plot"]


def test_two_runs_give_byte_identical_outputs(project, tmp_path):
    notebooks, profiles, _ = project
    digests = []
    for attempt in range(2):
        figures = tmp_path / f"figures{attempt}"
        run_profile((notebooks, profiles, figures))
        digests.append({p.name: sha256_file(p) for p in (figures / "demo/01_plot").iterdir()})
    assert digests[0] == digests[1] and len(digests[0]) == 5


def test_parallel_jobs_from_makeflags():
    assert run.jobs_from_makeflags(" -j2 --jobserver-auth=3,4") == 2
    assert run.jobs_from_makeflags("-j 4") == 4
    assert run.jobs_from_makeflags("w") == 1 and run.jobs_from_makeflags(None) == 1


def test_command_line_rejects_unknown_profile():
    result = subprocess.run(
        [sys.executable, "-m", "companion.run", "--profile", "huge"],
        capture_output=True,
        text=True,
        cwd=paths.REPO_ROOT,
    )
    assert result.returncode == 2
    assert "unknown profile 'huge'" in result.stderr and "smoke" in result.stderr


def test_library_dependencies_follow_imports_transitively():
    from companion import deps

    files = {p.name for p in deps.library_files(paths.NOTEBOOKS_DIR / "00_claims.ipynb")}
    assert {
        "claims.py",
        "scoreboard.py",
        "outputs.py",
        "style.py",
        "tables.py",
        "atomic.py",
        "paths.py",
        "__init__.py",
    } <= files
    assert "run.py" not in files


def test_set_overrides_the_profile_for_the_named_notebook_and_is_validated(project):
    notebooks, profiles, _ = project
    overrides = run.parse_overrides(["n_points=12", "fail=false"])
    assert overrides == {"n_points": 12, "fail": False}
    jobs = run.plan("default", ["demo/01_plot"], notebooks, profiles, overrides=overrides)
    assert jobs[0].parameters == {"n_points": 12, "fail": False, "profile": "default"}
    with pytest.raises(ValueError, match="--set needs --only"):
        run.plan("default", None, notebooks, profiles, overrides=overrides)
    with pytest.raises(ParameterError, match=r"'n_points' must be int in range 2..100, got 500"):
        run.plan("default", ["demo/01_plot"], notebooks, profiles, overrides={"n_points": 500})
    with pytest.raises(ValueError, match="NAME=VALUE"):
        run.parse_overrides(["n_points"])
    assert run.parse_overrides(["lr=1e-3", "root=/data/coco", "seeds=[0, 1]"]) == {
        "lr": 1e-3,
        "root": "/data/coco",
        "seeds": [0, 1],
    }
