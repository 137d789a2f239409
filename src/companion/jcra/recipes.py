"""What each notebook profile trains and evaluates on, in one place.

Notebooks 02, 03, 04 and 06 all ask for "the profile's model"; going through
:func:`profile_checkpoint` gives them the same cached build artifact
(``build/jcra/<config>-<hash>/checkpoint.pt``), trained once.

- ``smoke``: the tiny config on 16 synthetic 64-pixel images for a few dozen steps (seconds); it
  learns little, it only exercises every step.
- ``default``: the small config on the 2000-image synthetic train split at 128 pixels, 2500
  steps of 8 images, sized to train within 20 minutes on 2 CPU cores (``make figures``).
- ``full``: the same small model trained three times longer on three times the data; the
  paper-scale run (``paper`` config on COCO with GPUs) is the documented command in the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
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


RECIPES: dict[str, Recipe] = {
    "smoke": Recipe(
        config="tiny",
        train_data={"n_images": 16, "image_size": 64},
        val_data={"n_images": 8, "image_size": 64},
        train={
            "steps": 40,
            "batch_size": 4,
            "lr": 2e-3,
            "warmup_steps": 5,
            "checkpoint_every": 40,
            "rotation": 0.0,
            "scale": (1.0, 1.0),
            "crop_min_fraction": 1.0,
        },
    ),
    "default": Recipe(
        config="small",
        train_data={},
        val_data={},
        train={"steps": 2500, "batch_size": 8},
    ),
    "full": Recipe(
        config="small",
        train_data={"n_images": 6000},
        val_data={},
        train={"steps": 7500, "batch_size": 8},
    ),
}


def get_recipe(profile: str) -> Recipe:
    if profile not in RECIPES:
        raise ValueError(f"profile must be one of {sorted(RECIPES)}, got {profile!r}")
    return RECIPES[profile]


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
