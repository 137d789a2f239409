"""The environment is pinned exactly, and pip and conda users get the same one."""

import re
import tomllib

import yaml

from companion import paths

ROOT = paths.REPO_ROOT


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_pyproject_pins_exactly_and_agrees_with_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(
        project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    )
    locked = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert declared["torch"] == "2.13.0"
    assert "torchvision" not in declared and "torchvision" not in locked
    for name, version in declared.items():
        assert locked.get(name) == version, (
            f"{name}: pyproject says {version}, requirements.lock says {locked.get(name)}"
        )
    assert project["requires-python"] == "==3.11.*"


def test_environment_yml_delegates_to_the_same_pip_requirements():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    pip_section = next(d["pip"] for d in dependencies if isinstance(d, dict))
    assert pip_section == ["-r requirements.lock", "-e ."]
    assert all(not isinstance(d, str) or d.split("=")[0] in {"python", "pip"} for d in dependencies), (
        "conda packages would drift from the lock"
    )


def test_ci_runs_make_test_and_nothing_else():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in lines if line.strip() and not line.startswith("#")]
    assert commands[-1].strip() == "make test"
    assert not any(word in {"pytest", "pip", "python"} for line in commands for word in line.split())
