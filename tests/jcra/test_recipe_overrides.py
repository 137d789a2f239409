"""``make figures SET="jcra_recipe.train.steps=500"``: a training budget set from the command line."""

import json

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from companion import paths, profiles, run
from companion.jcra import recipes, train


def test_a_dotted_name_is_a_profile_section_value():
    assert run.parse_overrides(["jcra_recipe.train.steps=500", "jcra_recipe.train.lr=1e-3"]) == {
        "jcra_recipe.train.steps": 500,
        "jcra_recipe.train.lr": 1e-3,
    }
    with pytest.raises(ValueError, match="SECTION.KEY"):
        run.parse_overrides(["jcra_recipe..steps=5"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train.stepz": 5}, r"unknown key jcra_recipe.train.stepz; .*train.\{steps, batch_size"),
        ({"train.steps": "500x"}, r"jcra_recipe.train.steps must be int, got '500x'"),
        ({"train.steps": 1.5}, r"jcra_recipe.train.steps must be int, got 1.5"),
        ({"train.steps": True}, r"jcra_recipe.train.steps must be int, got True"),
        ({"train.amp": 1}, r"jcra_recipe.train.amp must be bool, got 1"),
        ({"train.scale": [0.9]}, r"jcra_recipe.train.scale must be tuple\[float, float\], got \[0.9\]"),
        ({"config": "huge"}, r"jcra_recipe.config must be one of paper, small, tiny, got 'huge'"),
        ({"train.steps": 0}, r"--set jcra_recipe.train.steps=0: train params steps must be >= 1"),
        ({"train_data.image_size": 8}, r"--set jcra_recipe.train_data.image_size=8: image_size must be"),
    ],
)
def test_bad_overrides_name_the_key_and_what_it_allows(overrides, message):
    _, section = profiles.section("smoke", recipes.RECIPE_SECTION)
    with pytest.raises(ValueError, match=message):
        recipes.apply_overrides(section, overrides)


def test_overrides_leave_the_profile_alone_and_normalise_numbers():
    _, section = profiles.section("smoke", recipes.RECIPE_SECTION)
    merged = recipes.apply_overrides(section, {"train.steps": 7, "train.lr": 1, "val_data.n_images": 3})
    assert merged["train"]["steps"] == 7 and merged["train"]["lr"] == 1.0 and isinstance(merged["train"]["lr"], float)
    assert merged["val_data"] == {**section["val_data"], "n_images": 3}
    assert section["train"]["steps"] == 40  # the profile's own mapping is untouched


def test_the_override_reaches_the_recipe_and_changes_the_cached_model(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path)  # the synthetic train split is generated here
    recipe = recipes.get_recipe("smoke")
    monkeypatch.setenv(profiles.OVERRIDES_ENV, json.dumps({"jcra_recipe.train.steps": 7, "other.key": 1}))
    changed = recipes.get_recipe("smoke")
    assert changed.train == {**recipe.train, "steps": 7} and changed.train_params().steps == 7
    assert changed.train_data == recipe.train_data and changed.config == recipe.config

    def cache_dir(r):
        return train.trained_dir(r.model_config(), r.train_data, r.train_params())

    assert cache_dir(changed) != cache_dir(recipe)
    monkeypatch.setenv(profiles.OVERRIDES_ENV, json.dumps({"jcra_recipe.train.steps": "many"}))
    with pytest.raises(ValueError, match="jcra_recipe.train.steps must be int"):
        recipes.get_recipe("smoke")


def test_plan_gives_the_override_to_every_notebook_that_uses_the_recipe_and_only_to_them():
    overrides = {"jcra_recipe.train.steps": 50}
    plain = {job.name: job for job in run.plan("smoke")}
    jobs = {job.name: job for job in run.plan("smoke", overrides=overrides)}
    uses_recipe = {name for name, job in jobs.items() if paths.LIBRARY_DIR / "jcra" / "recipes.py" in job.library}
    assert {"jcra/02_train_eval", "jcra/03_crowdpose", "jcra/04_symmetric", "jcra/06_speed"} <= uses_recipe
    for name, job in jobs.items():
        if name in uses_recipe:
            assert job.recorded_parameters() == {"profile": "smoke", "jcra_recipe.train.steps": 50}
            assert job.sections["jcra_recipe"]["train"]["steps"] == 50
            assert job.input_hash(paths.REPO_ROOT) != plain[name].input_hash(paths.REPO_ROOT)
        else:
            assert job.recorded_parameters() == {"profile": "smoke"} and not job.sections
    with pytest.raises(ValueError, match="no notebook of this run reads that profile section"):
        run.plan("smoke", ["multiwrite/01_duplicates"], overrides=overrides)
    with pytest.raises(ValueError, match="'jcra' is not a profile section.*jcra_recipe"):
        run.plan("smoke", overrides={"jcra.train.steps": 50})
    with pytest.raises(ValueError, match="unknown key jcra_recipe.steps"):
        run.plan("smoke", overrides={"jcra_recipe.steps": 50})


def test_the_runner_hands_the_override_to_the_kernel_and_records_it(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebook = new_notebook()
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    notebook.cells = [
        new_code_cell('profile: str = "smoke"  # choices: smoke, default', metadata={"tags": ["parameters"]}),
        new_code_cell(
            "import pandas as pd\nfrom companion.jcra import recipes\nfrom companion.outputs import Outputs\n"
            "Outputs('demo/01_recipe').table(pd.DataFrame([recipes.get_recipe(profile).train]), 'train')"
        ),
    ]
    (notebooks / "demo").mkdir(parents=True)
    nbformat.write(notebook, notebooks / "demo" / "01_recipe.ipynb")
    figures = tmp_path / "figures"
    jobs = run.plan("smoke", notebooks_dir=notebooks, overrides={"jcra_recipe.train.steps": 9})
    messages = []
    assert run.Runner(figures, log=messages.append, executed_dir=tmp_path / "executed").run(jobs), messages
    assert pd.read_csv(figures / "demo" / "01_recipe" / "train.csv")["steps"].tolist() == [9]
    entries = json.loads((figures / "manifest.json").read_text())["outputs"]
    assert entries and all(e["parameters"] == {"profile": "smoke", "jcra_recipe.train.steps": 9} for e in entries)
