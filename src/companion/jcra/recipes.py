"""What each notebook profile trains and evaluates on: the ``jcra_recipe`` section of
``data/profiles/<profile>.yaml``.

Notebooks 01, 02, 03, 04 and 06 all ask for "the profile's model"; going through
:func:`profile_checkpoint` gives them the same cached build artifact
(``build/jcra/<config>-<hash>/checkpoint.pt``), trained once. The section's keys: ``config`` (a
``ModelConfig`` name), ``train_data`` and ``val_data`` (synthetic split parameters) and ``train``
(``engine.TrainParams`` fields). ``make figures SET="jcra_recipe.train.steps=500"`` overrides one
value for every notebook of the run that uses the recipe (:func:`apply_overrides` validates it); a
changed budget is a different cached model, since the cache key covers the training parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths, profiles
from .bottomup import train as bottomup_train
from .config import CONFIGS, ModelConfig, get_config
from .data.coco import synthetic_paths
from .data.synthetic import SyntheticConfig, ensure_split, split_config
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
_PARTS = {"train": TrainParams, "train_data": SyntheticConfig, "val_data": SyntheticConfig}


def get_recipe(profile: str) -> Recipe:
    """The recipe of ``profile``: its YAML section with the runner's ``--set jcra_recipe.KEY=VALUE``
    overrides applied; a missing or malformed section, or a bad override, is named."""
    path, section = profiles.section(profile, RECIPE_SECTION)
    where = f"{path}: {RECIPE_SECTION}"
    recipe = recipe_from_section(section, where)
    overrides = profiles.section_overrides(RECIPE_SECTION)
    return recipe_from_section(apply_overrides(section, overrides), where) if overrides else recipe


def recipe_from_section(section: object, where: str = RECIPE_SECTION) -> Recipe:
    """A validated ``Recipe`` of a ``jcra_recipe`` mapping; ``where`` starts every error message."""
    fields = {f.name for f in dataclasses.fields(Recipe)}
    if not isinstance(section, dict) or "config" not in section or set(section) - fields:
        raise ValueError(f"{where}: expected a mapping with config and some of {sorted(fields)}")
    recipe = Recipe(**section)
    try:  # bad values fail here, naming the field
        recipe.model_config()
        recipe.train_params()
        split_config("train", recipe.train_data)
        split_config("val", recipe.val_data)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None
    return recipe


def override_keys() -> dict[str, object]:
    """Every key ``--set jcra_recipe.KEY=VALUE`` may set, with its type: ``config``, ``train.steps``,
    ``train_data.n_images``, ... (the fields of ``TrainParams`` and ``SyntheticConfig``)."""
    keys: dict[str, object] = {"config": str}
    for part, fields_of in _PARTS.items():
        hints = typing.get_type_hints(fields_of)
        keys.update({f"{part}.{f.name}": hints[f.name] for f in dataclasses.fields(fields_of)})
    return keys


def apply_overrides(section: dict, overrides: dict[str, object]) -> dict:
    """A copy of ``section`` with overrides like ``{"train.steps": 500}`` set, each checked against
    :func:`override_keys` (ValueError naming the key and what it allows), then the whole recipe."""
    keys = override_keys()
    merged = copy.deepcopy(section)
    for key, value in overrides.items():
        name = f"{RECIPE_SECTION}.{key}"
        if key not in keys:
            allowed = "; ".join(
                [f"config (one of {', '.join(sorted(CONFIGS))})"]
                + [f"{part}.{{{', '.join(f.name for f in dataclasses.fields(cls))}}}" for part, cls in _PARTS.items()]
            )
            raise ValueError(f"unknown key {name}; --set can reach {RECIPE_SECTION}.KEY for KEY in: {allowed}")
        checked = _typed(value, keys[key])
        if checked is None or (key == "config" and checked not in CONFIGS):
            expected = f"one of {', '.join(sorted(CONFIGS))}" if key == "config" else _type_name(keys[key])
            raise ValueError(f"{name} must be {expected}, got {value!r}")
        part, _, field_name = key.rpartition(".")
        (merged.setdefault(part, {}) if part else merged)[field_name] = checked
    settings = ", ".join(f"{RECIPE_SECTION}.{key}={value!r}" for key, value in overrides.items())
    recipe_from_section(merged, f"{RECIPE_SECTION} with --set {settings}")
    return merged


def _typed(value: object, expected: object) -> object:
    """``value`` as ``expected`` (int, float, bool, str or a fixed-length tuple), or None if it is not one."""
    if typing.get_origin(expected) is tuple:
        items = typing.get_args(expected)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            return None
        typed = [_typed(v, t) for v, t in zip(value, items, strict=True)]
        return None if any(v is None for v in typed) else typed
    if isinstance(value, bool) != (expected is bool):
        return None
    if expected is float and isinstance(value, (int, float)):
        return float(value)  # 1 and 1.0 are one budget, one cache key
    return value if isinstance(value, expected) else None


def _type_name(expected: object) -> str:
    return expected.__name__ if isinstance(expected, type) else str(expected)


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
