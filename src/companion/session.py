"""Who is running a notebook: ``make figures`` (the runner publishes) or a person (a hand run).

The notebook's ``profile`` parameter selects the profile however it arrives: the runner, papermill's
``-p profile default``, or an edited parameters cell in JupyterLab.

- Under the runner, outputs go to its staging tree, and only the runner publishes them (into
  ``paths.published_dir(profile)``) once the whole notebook has succeeded.
- In a hand run, outputs go to ``build/scratch/<notebook>/``, never to a published tree, and the
  notebook says so. Parameters still at the notebook's defaults take the profile's values from
  ``data/profiles/<profile>.yaml`` (written back into the notebook's namespace, so the following
  cells see them); a value given by hand that differs from the default is kept. Every value, path
  parameters included, is then validated before any work starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion import params, paths, profiles

PROFILE_ENV = "COMPANION_PROFILE"  # set by the runner next to paths.RUNNER_OUTPUT_ENV
HAND_RUN_DEFAULT_PROFILE = "smoke"  # the notebooks' own defaults are the smoke profile


@dataclass(frozen=True)
class Session:
    """One run of one notebook.

    Attributes:
        notebook: the pipeline name, e.g. ``jcra/02_train_eval``.
        profile: the profile whose parameters the notebook runs with.
        output_root: where the notebook's folder and top-level files (``claims.md``) are written.
        by_runner: True under ``make figures``.
        from_profile: parameters a hand run took from the profile file.
        by_hand: parameters a hand run kept because they were given by hand.
    """

    notebook: str
    profile: str
    output_root: Path
    by_runner: bool
    from_profile: dict[str, Any] = field(default_factory=dict)
    by_hand: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """What a hand run prints first: where its outputs go and where its parameters came from."""
        lines = [
            f"hand run, profile {self.profile!r}: outputs go to {_shown(self.output_root / self.notebook)}/ "
            f"(scratch); only `make figures` publishes to {_shown(paths.published_dir(self.profile))}/"
        ]
        if self.from_profile:
            values = ", ".join(f"{name}={value!r}" for name, value in self.from_profile.items())
            lines.append(f"parameters from data/profiles/{self.profile}.yaml: {values}")
        if self.by_hand:
            values = ", ".join(f"{name}={value!r}" for name, value in self.by_hand.items())
            lines.append(f"parameters given by hand (kept instead of the profile's): {values}")
        return "\n".join(lines)


def _shown(path: Path) -> str:
    return str(path.relative_to(paths.REPO_ROOT)) if path.is_relative_to(paths.REPO_ROOT) else str(path)


def notebook_namespace() -> dict[str, Any] | None:
    """The running notebook's global variables (IPython's user namespace), or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.user_ns


def apply_profile(
    source: Path, notebook: str, profile: str, namespace: dict[str, Any], profiles_dir: Path | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Give ``namespace`` the profile's values for parameters still at their defaults, then validate.

    Returns (taken from the profile, kept because given by hand). Raises ParameterError.
    """
    declared = params.declared_parameters(source)
    from_profile, by_hand = {}, {}
    for name, value in profiles.load(profile, profiles_dir).get(notebook, {}).items():
        default = declared[name].default if name in declared else None
        current = namespace.get(name, default)
        if current == value:
            continue
        if current == default:
            namespace[name] = value
            from_profile[name] = value
        else:
            by_hand[name] = current
    params.validate(source, {name: namespace[name] for name in declared if name in namespace})
    return from_profile, by_hand


def start(notebook: str, namespace: dict[str, Any] | None = None) -> Session:
    """The session of ``notebook`` (e.g. ``jcra/02_train_eval``) in this process.

    ``namespace`` is the notebook's globals (:func:`notebook_namespace`); its ``profile`` wins over
    the hand-run default. Raises ParameterError on an unknown profile, a bad value or a bad path.
    """
    namespace = namespace if namespace is not None else {}
    given = namespace.get("profile")
    runner_root = paths.runner_output_root()
    if runner_root is not None:
        profile = os.environ.get(PROFILE_ENV, given or "default")
        if given is not None and given != profile:
            raise params.ParameterError(
                f"{notebook}: parameter 'profile' is {given!r} but `make figures` runs profile {profile!r}"
            )
        return Session(notebook, profile, runner_root, by_runner=True)
    profile = given or HAND_RUN_DEFAULT_PROFILE
    if profile not in profiles.available():
        raise params.ParameterError(
            f"{notebook}: parameter 'profile' = {profile!r} is not a profile; "
            f"available: {', '.join(profiles.available())}"
        )
    source = paths.NOTEBOOKS_DIR / f"{notebook}.ipynb"
    from_profile, by_hand = {}, {}
    if namespace and source.exists():
        from_profile, by_hand = apply_profile(source, notebook, profile, namespace)
    return Session(notebook, profile, paths.scratch_dir(), False, from_profile, by_hand)
