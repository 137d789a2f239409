"""`make figures PROFILE=smoke` end to end: every notebook runs, records its claims, lands in the
manifest, shows every figure it saves; the printed key numbers (read from the smoke run's executed
notebooks, ``build/executed-smoke/``) match the golden files; a rerun gives byte-identical outputs."""

import json
import os
import shutil

import nbformat
import pytest

from companion import claims, paths, run
from companion.hashing import sha256_file

GOLDEN = paths.REPO_ROOT / "tests" / "golden"
# Notebooks whose outputs carry no wall-clock measurement, so their bytes must repeat exactly.
DETERMINISTIC = ["00_claims", "multiwrite/01_duplicates", "jcra/05_oks"]
BOOKKEEPING = {"manifest.json", ".lock"}


@pytest.fixture(scope="module")
def smoke_figures(tmp_path_factory):
    figures = tmp_path_factory.mktemp("smoke") / "figures"
    messages = []
    runner = run.Runner(figures, log=messages.append)
    ok = runner.run(run.plan("smoke"))
    assert ok, "\n".join(messages)
    return figures


def _published_files(figures):
    return sorted(
        p
        for p in figures.rglob("*")
        if p.is_file() and not {".state", ".staging"} & set(p.relative_to(figures).parts) and p.name not in BOOKKEEPING
    )


def test_every_claim_is_recorded_by_its_notebook(smoke_figures):
    records = claims.collect_records(smoke_figures)
    board = claims.scoreboard(claims.load_registry(), records)
    assert "pending" not in set(board["verdict"]), board[board.verdict == "pending"]["claim"].tolist()
    assert (smoke_figures / "claims.md").exists()


def test_manifest_lists_every_published_file_with_its_hash(smoke_figures):
    manifest = json.loads((smoke_figures / "manifest.json").read_text())
    entries = {e["path"]: e for e in manifest["outputs"]}
    for path in _published_files(smoke_figures):
        relative = str(path.relative_to(smoke_figures))
        assert relative in entries, f"{relative} is not in the manifest"
        assert entries[relative]["sha256"] == sha256_file(path)
        assert entries[relative]["profile"] == "smoke"


def test_every_figure_has_png_pdf_and_its_data(smoke_figures):
    for png in smoke_figures.rglob("*.png"):
        assert png.with_suffix(".pdf").exists() and png.with_suffix(".csv").exists(), png


@pytest.mark.parametrize("path", run.discover(), ids=lambda p: run.notebook_name(p))
def test_executed_notebook_shows_every_figure_it_saves(smoke_figures, path):
    name = run.notebook_name(path)
    notebook = nbformat.read(paths.executed_dir("smoke") / f"{name}.ipynb", as_version=4)
    shown = sum("image/png" in o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    saved = len(list((smoke_figures / name).glob("*.png")))
    assert shown >= saved, f"{name} saved {saved} figures but shows {shown}"


def _key_numbers(executed):
    notebook = nbformat.read(executed, as_version=4)
    texts = []
    for cell in notebook.cells:
        if "key-numbers" in cell.get("metadata", {}).get("tags", []):
            texts.extend(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return "".join(texts)


@pytest.mark.parametrize("path", run.discover(), ids=lambda p: run.notebook_name(p))
def test_key_numbers_match_golden(smoke_figures, path):
    name = run.notebook_name(path)
    text = _key_numbers(paths.executed_dir("smoke") / f"{name}.ipynb")
    if not text:
        pytest.skip(f"{name} has no key-numbers cell")
    golden = GOLDEN / f"{name.replace('/', '__')}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; create it with UPDATE_GOLDEN=1 pytest tests/test_pipeline.py"
    assert text == golden.read_text()


def test_rerun_gives_byte_identical_outputs(smoke_figures, tmp_path):
    names = [n for n in DETERMINISTIC if (paths.NOTEBOOKS_DIR / f"{n}.ipynb").exists()]
    second = tmp_path / "figures"
    shutil.copytree(smoke_figures, second)
    runner = run.Runner(second, force=True, log=lambda m: None)
    assert runner.run(run.plan("smoke", only=names))
    assert sorted(runner.ran) == sorted(names)
    compared = 0
    for name in names:
        for path in sorted((smoke_figures / name).rglob("*")):
            if path.is_file():
                assert sha256_file(path) == sha256_file(second / path.relative_to(smoke_figures)), path
                compared += 1
    assert compared >= 4
