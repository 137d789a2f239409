"""Every committed notebook keeps the project's conventions, and every profile validates."""

import json

import pytest

from companion import params, paths, profiles, run

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.rglob("*.ipynb"))
IDS = [str(p.relative_to(paths.NOTEBOOKS_DIR)) for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_conventions(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown", "the first cell says which claim the notebook rebuilds"
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, "strip outputs before committing"
    declared = params.declared_parameters(path)  # exactly one typed parameters cell
    assert declared["profile"].default == "smoke"


@pytest.mark.parametrize("profile", profiles.available())
def test_every_profile_validates_against_the_notebooks(profile):
    jobs = run.plan(profile)
    assert jobs[-1].name == run.CLAIMS_NOTEBOOK
    assert {j.name for j in jobs} == {run.notebook_name(p) for p in run.discover()}


def test_profiles_are_smoke_default_full():
    assert profiles.available() == ["default", "full", "smoke"]
