"""Shared helpers of the model and training tests: random targets and tiny synthetic splits."""

from __future__ import annotations

from pathlib import Path

import torch

from companion.jcra.data.coco import synthetic_paths
from companion.jcra.data.synthetic import generate
from companion.paths import shared_data_dir


def random_targets(persons_per_image: list[int], num_keypoints: int, size: int, seed: int = 0) -> list[dict]:
    """Dataset-style targets: keypoints [N, K, 3] in pixels with v in {0, 1, 2}, areas [N]."""
    generator = torch.Generator().manual_seed(seed)
    targets = []
    for image_id, n in enumerate(persons_per_image):
        keypoints = torch.rand(n, num_keypoints, 3, generator=generator) * size
        keypoints[..., 2] = torch.randint(0, 3, (n, num_keypoints), generator=generator).float()
        keypoints[:, 0, 2] = 2  # every person has at least one labelled keypoint, as the dataset guarantees
        areas = torch.rand(n, generator=generator) * size * size / 4 + size
        targets.append(
            {
                "keypoints": keypoints,
                "areas": areas,
                "image_id": image_id,
                "orig_size": torch.tensor([size, size]),
                "size": torch.tensor([size, size]),
            }
        )
    return targets


def synthetic_split(root: Path, n_images: int, image_size: int = 64, seed: int = 3) -> tuple[Path, Path]:
    """(annotations.json, images/) of a small synthetic split written under ``root``."""
    if not (root / "annotations.json").exists():
        generate(root, n_images=n_images, seed=seed, image_size=image_size)
    return synthetic_paths(root)


def pose_mini() -> Path | None:
    """``../shared/data/pose-mini`` when present."""
    shared = shared_data_dir()
    if shared is None or not (shared / "pose-mini" / "coco" / "test_coco.json").is_file():
        return None
    return shared / "pose-mini"
