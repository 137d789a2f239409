"""What each notebook profile trains and evaluates on: the ``jcra_recipe`` section of
``data/profiles/<profile>.yaml``.

Notebooks 01, 02, 03, 04 and 06 all ask for "the profile's model"; going through
:func:`profile_checkpoint` gives them the same cached build artifact
(``build/jcra/<config>-<hash>/checkpoint.pt``), trained once. The section's keys: ``config`` (a
``ModelConfig`` name), ``train_data`` and ``val_data`` (synthetic split parameters) and ``train``
(``engine.TrainParams`` fields).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import paths, profiles
from .bottomup import train as bottomup_train
from .config import ModelConfig, get_config
from .data.coco import synthetic_paths
from .data.synthetic import ensure_split
from .engine import TrainParams
from .train import ensure_trained


@dataclass(frozen=True)
class Recipe:
    """A model config, the synthetic data parameters and the training parameters of a profile."""

    config: str
    train_data: dict = field(default_factory=dict)
    val_data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def model_config(self, **overrides) -> ModelConfig:
        return get_config(self.config, **overrides)

    def train_params(self, **overrides) -> TrainParams:
        return TrainParams.from_dict({**self.train, **overrides})


RECIPE_SECTION = "jcra_recipe"


def get_recipe(profile: str) -> Recipe:
    """The recipe of ``profile``, read from its YAML file; a missing or malformed section is named."""
    path = paths.PROFILES_DIR / f"{profile}.yaml"
    if not path.is_file():
        raise ValueError(f"profile must be one of {profiles.available()}, got {profile!r}")
    section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(RECIPE_SECTION)
    fields = {f.name for f in dataclasses.fields(Recipe)}
    if not isinstance(section, dict) or "config" not in section or set(section) - fields:
        raise ValueError(f"{path}: {RECIPE_SECTION}: expected a mapping with config and some of {sorted(fields)}")
    recipe = Recipe(**section)
    recipe.train_params()  # bad training parameters fail here, naming the field
    return recipe


def profile_checkpoint(
    profile: str, progress: bool = True, config: ModelConfig | None = None, **train_overrides
) -> Path:
    """The trained checkpoint of ``profile`` (trained now if not cached).

    ``config`` and ``train_overrides`` derive a variant (e.g. another encoder/decoder split or
    seed, for the ablation); each variant is its own cached artifact.
    """
    recipe = get_recipe(profile)
    return ensure_trained(
        config or recipe.model_config(), recipe.train_data, recipe.train_params(**train_overrides), progress=progress
    )


def baseline_checkpoint(profile: str, progress: bool = True) -> Path:
    """The bottom-up baseline trained with ``profile``'s recipe: JCRA's backbone config, data and
    training parameters, so it sits beside :func:`profile_checkpoint` (trained now if not cached)."""
    recipe = get_recipe(profile)
    config = bottomup_train.make_config(recipe.model_config())
    return bottomup_train.ensure_trained(config, recipe.train_data, recipe.train_params(), progress)


def split_paths(profile: str, split: str = "val") -> tuple[Path, Path]:
    """(annotations.json, images/) of the profile's synthetic ``split`` (``val``, ``crowd``, ...)."""
    recipe = get_recipe(profile)
    image_size = recipe.model_config().input_size
    params = {"image_size": image_size, **recipe.val_data}
    return synthetic_paths(ensure_split(split, params, cache_root=paths.BUILD_DIR / "jcra" / "data"))
