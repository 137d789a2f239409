"""The benchmark's test images: synthetic crowds of a given size, dataset items, and the maps a
perfect bottom-up network would output for them.

A :class:`Case` is one image at batch 1 with its ground-truth persons; the timing harness
(:mod:`.timing`) cycles over a few cases per measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .bottomup.targets import render_heatmaps
from .data.skeleton import get_layout
from .data.synthetic import SyntheticConfig, render_scene
from .data.transforms import to_tensor


@dataclass(frozen=True)
class Case:
    """One benchmark image: ``image`` float[1, 3, H, W], ``meta`` (image_id, orig_size, size) and
    the drawn persons' ``keypoints`` float[N, K, 3] in pixels."""

    image: torch.Tensor
    meta: dict
    keypoints: np.ndarray


def person_height(crowd_size: int) -> tuple[float, float]:
    """Stature range (fractions of the image side) for ``crowd_size`` persons: the training range
    (0.5-0.9) up to two persons, shrunk by sqrt(n / 2) beyond so that n persons fit."""
    shrink = max(1.0, math.sqrt(crowd_size / 2))
    return 0.5 / shrink, 0.9 / shrink


def crowd_cases(crowd_size: int, input_size: int, count: int, seed: int, layout: str = "coco") -> list[Case]:
    """``count`` synthetic square images of side ``input_size`` with ``crowd_size`` persons drawn
    (the generator may leave out a person it cannot place with at most half of another hidden)."""
    config = SyntheticConfig(
        n_images=count,
        seed=seed,
        image_size=input_size,
        persons_per_image=(crowd_size, crowd_size),
        person_height=person_height(crowd_size),
        max_cover=0.5,
    )
    joints = get_layout(layout).superset_index
    cases = []
    for index in range(count):
        pixels, persons = render_scene(config, np.random.default_rng([seed, crowd_size, input_size, index]))
        keypoints = np.zeros((len(persons), len(joints), 3))
        for p, person in enumerate(persons):
            keypoints[p, :, :2] = person["joints"][joints]
            keypoints[p, :, 2] = person["visibility"][joints]
        keypoints[keypoints[..., 2] == 0] = 0.0
        meta = {"image_id": index + 1, "orig_size": (input_size, input_size), "size": (input_size, input_size)}
        cases.append(Case(to_tensor(Image.fromarray(pixels))[None], meta, keypoints))
    return cases


def dataset_cases(dataset: torch.utils.data.Dataset, count: int | None = None) -> list[Case]:
    """Benchmark cases from the first ``count`` items of a pose dataset (``(image, target)`` items)."""
    cases = []
    for index in range(len(dataset) if count is None else min(count, len(dataset))):
        image, target = dataset[index]
        meta = {
            "image_id": target["image_id"],
            "orig_size": tuple(int(v) for v in target["orig_size"]),
            "size": tuple(int(v) for v in target["size"]),
        }
        cases.append(Case(image[None], meta, target["keypoints"].numpy().astype(np.float64)))
    return cases


def ideal_outputs(
    keypoints: np.ndarray, input_size: tuple[int, int], strides: tuple[int, ...], sigma: float
) -> dict[str, torch.Tensor]:
    """What a perfect bottom-up network would output for persons ``keypoints`` float[N, K, 3].

    Heatmaps are the training targets; the tag of every cell of joint map k is 2 x the index of
    the person whose joint k is nearest (tags two apart, twice the grouping threshold).
    """
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    num_joints = kp.shape[1]
    outputs = {}
    for stride, key in zip(strides, ("heatmaps", "heatmaps_higher")):
        size = (-(-input_size[0] // 4) * (4 // stride), -(-input_size[1] // 4) * (4 // stride))
        outputs[key] = render_heatmaps(kp, size, stride, sigma)[None]
    height, width = outputs["heatmaps"].shape[-2:]
    centres = (
        torch.stack(torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij"), -1).float().flip(-1) + 0.5
    ) * 4  # [h, w, 2] cell centres (x, y) in pixels
    distance = ((centres[None, None] - kp[:, :, None, None, :2]) ** 2).sum(-1)  # [N, K, h, w]
    distance = distance.masked_fill(~(kp[:, :, 2] > 0)[..., None, None], float("inf"))
    tags = (2.0 * distance.argmin(dim=0)).float() if len(kp) else torch.zeros(num_joints, height, width)
    outputs["tags"] = tags[None]
    return outputs
