"""The pipeline behind `make figures`: validation, incrementality, atomic publishing, manifest."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import write_notebook

from companion import paths, run
from companion.hashing import sha256_file
from companion.params import ParameterError

FIGURE_BODY = [
    "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom companion.outputs import Outputs\n"
    "out = Outputs('demo/01_plot')",
    "frame = pd.DataFrame({'x': list(range(n_points)), 'y': [i * i for i in range(n_points)]})\n"
    "fig, ax = plt.subplots()\nax.plot(frame.x, frame.y, label='measured here')\nax.legend()\n"
    "out.figure(fig, 'squares', data=frame)\nout.table(frame, 'squares_table')\n"
    "out.glue('largest_square', int(frame.y.max()))",
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
    assert any(path.endswith("executed-smoke/demo/01_plot.ipynb") for path in entries)


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


PROGRESS_BODY = [
    "import time\nfrom companion import progress\nfrom companion.outputs import Outputs\nout = Outputs('demo/02_slow')",
    "with progress.track('waiting', total=50, unit='tick') as bar:\n"
    "    for i in range(50):\n        time.sleep(seconds / 50)\n        bar.update(i + 1, loss=1.0 / (i + 1))",
]


def _slow_project(tmp_path, seconds: float):
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "demo" / "02_slow.ipynb", f'profile: str = "smoke"\nseconds: float = {seconds}', PROGRESS_BODY
    )
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "smoke.yaml").write_text("notebooks: {}\n")
    return notebooks, profiles, tmp_path / "figures"


def test_executed_notebook_shows_figures_inline_and_hides_the_injected_parameters(project):
    ok, runner, _ = run_profile(project)
    executed = json.loads((paths.executed_dir("smoke") / "demo/01_plot.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "hide-input" in injected[0]["metadata"]["tags"]
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 1, "out.figure shows the figure where it is made"
    png = (project[2] / "demo/01_plot/squares.png").read_bytes()
    assert figures[0]["data"]["image/png"].replace("\n", "") == base64.b64encode(png).decode()
    captions = ["".join(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {})]
    assert captions and captions[0].startswith("**Figure 1.**") and "Saved as `squares`" in captions[0]
    glued = [o for o in outputs if o.get("metadata", {}).get("scrapbook", {}).get("name") == "largest_square"]
    assert len(glued) == 1 and "16" in str(glued[0]["data"]), "out.glue hands the run's number to the prose"


def test_heartbeat_shows_the_progress_status_line(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "HEARTBEAT_SECONDS", 1.0)
    ok, _, log = run_profile(_slow_project(tmp_path, seconds=8.0))
    assert ok
    assert re.search(
        r"still running, \d+ s: waiting: tick \d+/50 \(\d+%\), loss [\d.]+, \d+ s elapsed, about \d+ s left", log
    )


def test_failed_run_keeps_its_partial_notebook_where_it_says(project):
    notebooks, profiles, figures = project
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {fail: true}\n")
    ok, runner, log = run_profile(project, profile="default")
    partial = re.search(r"partial executed notebook: (\S+)\)", log).group(1)
    kept = paths.REPO_ROOT / partial if not partial.startswith("/") else Path(partial)
    assert kept.exists() and "asked to fail" in kept.read_text()


INTERRUPT_SCRIPT = """
import signal
import sys
from pathlib import Path
from companion import run
# a shell starts background jobs with SIGINT ignored (CI may run the tests so): act as a terminal's Ctrl-C would
signal.signal(signal.SIGINT, signal.default_int_handler)
root = Path(sys.argv[1])
jobs = run.plan("smoke", notebooks_dir=root / "notebooks", profiles_dir=root / "profiles")
runner = run.Runner(root / "figures", log=lambda m: print(m, flush=True))
try:
    runner.run(jobs)
except run.Interrupted as stop:
    print(stop.line(), file=sys.stderr, flush=True)
    sys.exit(130)
"""


@pytest.mark.slow
def test_ctrl_c_prints_one_line_publishes_nothing_and_keeps_the_partial_notebook(tmp_path):
    # long enough that the interrupt always lands inside the loop, even on a busy machine
    notebooks, profiles, figures = _slow_project(tmp_path, seconds=900.0)
    script = tmp_path / "go.py"
    script.write_text(INTERRUPT_SCRIPT)
    build = tmp_path / "build"
    env = {**os.environ, "COMPANION_BUILD_DIR": str(build)}
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while not list((figures / ".staging").glob("*.progress")) and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until the notebook is inside its long loop
    inside = bool(list((figures / ".staging").glob("*.progress")))
    process.send_signal(signal.SIGINT)
    assert inside, "the notebook never reported progress within 300 s"
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    lines = stderr.strip().splitlines()
    partial = build / "partial" / "smoke" / "demo" / "02_slow.ipynb"
    assert lines == [f"interrupted: demo/02_slow; nothing published (partial executed notebook: {partial})"]
    assert partial.exists() and "KeyboardInterrupt" in partial.read_text()
    assert not (figures / "demo").exists() and not (figures / "manifest.json").exists()
    assert not [p for p in build.rglob("*") if p.is_dir() and not any(p.iterdir())], "no empty folder is left"


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_plain_papermill_run_writes_to_scratch_and_never_touches_published_outputs(tmp_path):
    """The issue's case: papermill by hand, with -p profile default. The published tree the notebook
    reads (COMPANION_FIGURES_DIR, here a seeded copy) and its manifest stay byte-identical."""
    published = tmp_path / "figures"
    (published / "00_claims").mkdir(parents=True)
    (published / "00_claims" / "scoreboard.png").write_bytes(b"published figure")
    (published / "manifest.json").write_text('{"outputs": []}\n')
    before = _tree_digest(published)
    env = {k: v for k, v in os.environ.items() if k not in (paths.RUNNER_OUTPUT_ENV, "COMPANION_PROFILE")}
    env.update(COMPANION_FIGURES_DIR=str(published), COMPANION_BUILD_DIR=str(tmp_path / "build"))
    out = tmp_path / "out.ipynb"
    command = [sys.executable, "-m", "papermill", "00_claims.ipynb", str(out), "-p", "profile", "default"]
    result = subprocess.run(
        command + ["--no-progress-bar"], cwd=paths.NOTEBOOKS_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _tree_digest(published) == before
    assert "hand run, profile 'default': outputs go to" in out.read_text()
    scratch = tmp_path / "build" / "scratch"
    assert (scratch / "00_claims" / "scoreboard.png").exists() and (scratch / "claims.md").exists()


def test_profile_parameter_selects_the_profiles_values_in_a_hand_run(tmp_path):
    from companion import session

    source = write_notebook(
        tmp_path / "notebooks" / "demo" / "01_plot.ipynb",
        'profile: str = "smoke"  # choices: smoke, default\nn_points: int = 5  # range: 2..100\nfail: bool = False',
        [],
    )
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "default.yaml").write_text("notebooks:\n  demo/01_plot: {n_points: 9, fail: true}\n")
    namespace = {"profile": "default", "n_points": 5, "fail": False}
    taken, kept = session.apply_profile(source, "demo/01_plot", "default", namespace, profiles)
    assert namespace == {"profile": "default", "n_points": 9, "fail": True} and kept == {}
    namespace = {"profile": "default", "n_points": 12, "fail": False}  # n_points given by hand
    taken, kept = session.apply_profile(source, "demo/01_plot", "default", namespace, profiles)
    assert namespace["n_points"] == 12 and kept == {"n_points": 12} and taken == {"fail": True}
    with pytest.raises(ParameterError, match=r"'profile' = 'huge' is not a profile; available: default, full, smoke"):
        session.start("demo/01_plot", {"profile": "huge"})


def test_under_the_runner_the_profile_parameter_must_match(monkeypatch, tmp_path):
    from companion import session

    monkeypatch.setenv(paths.RUNNER_OUTPUT_ENV, str(tmp_path))
    monkeypatch.setenv("COMPANION_PROFILE", "default")
    assert session.start("demo/01_plot", {"profile": "default"}).output_root == tmp_path
    with pytest.raises(ParameterError, match="'profile' is 'smoke' but `make figures` runs profile 'default'"):
        session.start("demo/01_plot", {"profile": "smoke"})
