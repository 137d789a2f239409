import pytest
from helpers import write_notebook

from companion.params import ParameterError, declared_parameters, validate

PARAMETERS = """profile: str = "smoke"  # choices: smoke, default, full
ranks: int = 8  # range: 2..64
scale: float = 0.5  # range: 0..1
sizes: list[int] = [1024, 2048]  # range: 1..
names: list[str] = ["a"]
verbose: bool = False
"""


@pytest.fixture
def notebook(tmp_path):
    return write_notebook(tmp_path / "wing" / "01_x.ipynb", PARAMETERS, ["print(ranks)"])


def test_declared_parameters_are_parsed_with_types_and_constraints(notebook):
    declared = declared_parameters(notebook)
    assert list(declared) == ["profile", "ranks", "scale", "sizes", "names", "verbose"]
    assert declared["ranks"].default == 8 and (declared["ranks"].low, declared["ranks"].high) == (2, 64)
    assert declared["profile"].choices == ("smoke", "default", "full")
    assert declared["sizes"].low == 1 and declared["sizes"].high is None


def test_valid_values_pass(notebook):
    values = {"profile": "default", "ranks": 64, "scale": 1, "sizes": [1, 5], "names": [], "verbose": True}
    assert validate(notebook, values) == values


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"rank": 8}, "unknown parameter 'rank'"),
        ({"ranks": "8"}, "parameter 'ranks' must be int"),
        ({"ranks": True}, "parameter 'ranks' must be int"),
        ({"ranks": 65}, "in range 2..64"),
        ({"scale": -0.1}, "in range 0..1"),
        ({"profile": "huge"}, "in {smoke, default, full}"),
        ({"sizes": [1024, 0]}, "parameter 'sizes'"),
        ({"sizes": 1024}, "must be list[int]"),
        ({"verbose": 1}, "must be bool"),
    ],
)
def test_bad_values_name_notebook_parameter_and_what_is_allowed(notebook, values, fragment):
    with pytest.raises(ParameterError) as error:
        validate(notebook, values)
    assert fragment in str(error.value)
    assert "01_x.ipynb" in str(error.value)


def test_untyped_or_non_literal_parameter_lines_are_rejected(tmp_path):
    untyped = write_notebook(tmp_path / "a.ipynb", "ranks = 8", [])
    with pytest.raises(ParameterError, match="cannot read parameter line"):
        declared_parameters(untyped)
    computed = write_notebook(tmp_path / "b.ipynb", "ranks: int = 2 ** 3", [])
    with pytest.raises(ParameterError, match="not a literal"):
        declared_parameters(computed)
    bad_default = write_notebook(tmp_path / "c.ipynb", "ranks: int = 1  # range: 2..4", [])
    with pytest.raises(ParameterError, match="default"):
        declared_parameters(bad_default)


def test_exactly_one_parameters_cell_is_required(tmp_path):
    path = write_notebook(tmp_path / "two.ipynb", "a: int = 1", ["b: int = 2"], tags_per_cell={0: ["parameters"]})
    with pytest.raises(ParameterError, match="exactly one code cell tagged 'parameters', found 2"):
        declared_parameters(path)


def test_path_parameters_are_checked_before_anything_runs_and_named(tmp_path):
    notebook = write_notebook(
        tmp_path / "02_x.ipynb",
        'profile: str = "smoke"\ncoco_root: str = ""\ncrowdpose_checkpoint: str = ""',
        [],
    )
    assert validate(notebook, {"coco_root": ""}) == {"coco_root": ""}, "empty: the notebook skips that part"
    with pytest.raises(ParameterError, match=r"parameter 'coco_root' = '/nonexistent/coco': no such folder; expected"):
        validate(notebook, {"coco_root": "/nonexistent/coco"})
    coco = tmp_path / "coco"
    (coco / "val2017").mkdir(parents=True)
    with pytest.raises(ParameterError, match=r"missing annotations/person_keypoints_val2017.json"):
        validate(notebook, {"coco_root": str(coco)})
    (coco / "annotations").mkdir()
    (coco / "annotations" / "person_keypoints_val2017.json").write_text("{}")
    assert validate(notebook, {"coco_root": str(coco)})
    with pytest.raises(ParameterError, match=r"'crowdpose_checkpoint' = .*: no such file; expected a checkpoint"):
        validate(notebook, {"crowdpose_checkpoint": str(tmp_path / "none.pt")})
