"""Augmentations that move keypoints with the pixels: flip (with left/right swap), affine
(scale + rotation), crop, resize, photometric, and the final tensor conversion.

Coordinates are continuous pixel coordinates: pixel (i, j) spans [i, i + 1) x [j, j + 1), the
convention PIL's geometric transforms use, so a flip maps x to ``width - x`` and an affine warp
of the image is exactly the same affine map applied to the keypoints. A joint that leaves the
image becomes unlabelled (0, 0, 0); areas (OKS scale) follow the geometric scale (x s^2 for a
resize or zoom by s; a crop leaves them unchanged: the person is as large as before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageEnhance

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class PoseSample:
    """One image and its persons while being augmented.

    Attributes:
        image: PIL RGB image, size (W, H).
        keypoints: float64[N, K, 3] (x, y, v); v = 0 rows are (0, 0, 0).
        areas: float64[N] person areas in pixels^2.
    """

    image: Image.Image
    keypoints: np.ndarray
    areas: np.ndarray

    def with_geometry(self, image: Image.Image, keypoints: np.ndarray, areas: np.ndarray) -> PoseSample:
        return PoseSample(image, _drop_outside(keypoints, image.size), areas)


def _drop_outside(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Unlabel joints outside [0, W) x [0, H) and zero every unlabelled row."""
    width, height = size
    kp = keypoints.copy()
    x, y = kp[..., 0], kp[..., 1]
    outside = (x < 0) | (x >= width) | (y < 0) | (y >= height)
    kp[..., 2] = np.where(outside, 0, kp[..., 2])
    kp[kp[..., 2] == 0] = 0.0
    return kp


def _apply_affine(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """keypoints float[N, K, 3] mapped by the 2x3 ``matrix``; v unchanged."""
    out = keypoints.copy()
    xy = keypoints[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    out[..., :2] = xy
    return out


def warp(sample: PoseSample, matrix: np.ndarray, out_size: tuple[int, int]) -> PoseSample:
    """Apply the forward affine map ``matrix`` (2x3, input -> output pixels) to image and keypoints.

    ``out_size`` is (W, H). Areas scale with the determinant (the area scale of the map).
    """
    forward = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(forward)[:2]  # PIL samples the input at inverse(output)
    image = sample.image.transform(
        out_size, Image.Transform.AFFINE, data=tuple(inverse.ravel()), resample=Image.Resampling.BILINEAR
    )
    area_scale = abs(np.linalg.det(matrix[:, :2]))
    return sample.with_geometry(image, _apply_affine(sample.keypoints, matrix), sample.areas * area_scale)


class Compose:
    def __init__(self, transforms: list) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: PoseSample, rng: np.random.Generator) -> PoseSample:
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample


class HorizontalFlip:
    """Mirror the image with probability ``p`` and swap left/right labels (``flip_index``)."""

    def __init__(self, flip_index: np.ndarray, p: float = 0.5) -> None:
        self.flip_index = np.asarray(flip_index, dtype=np.int64)
        self.p = p

    def __call__(self, sample: PoseSample, rng: np.random.Generator) -> PoseSample:
        if rng.random() >= self.p:
            return sample
        width = sample.image.size[0]
        image = sample.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        kp = sample.keypoints.copy()
        kp[..., 0] = width - kp[..., 0]
        kp = kp[:, self.flip_index]  # the joint now on the person's left was its right
        return sample.with_geometry(image, kp, sample.areas)


class RandomAffine:
    """Zoom by a factor in ``scale`` and rotate by up to ``max_rotation`` degrees about the centre."""

    def __init__(
        self, scale: tuple[float, float] = (0.75, 1.25), max_rotation: float = 30.0, p_rotate: float = 0.5
    ) -> None:
        self.scale = scale
        self.max_rotation = max_rotation
        self.p_rotate = p_rotate

    def __call__(self, sample: PoseSample, rng: np.random.Generator) -> PoseSample:
        s = rng.uniform(*self.scale)
        angle = rng.uniform(-self.max_rotation, self.max_rotation) if rng.random() < self.p_rotate else 0.0
        return warp(sample, rotation_scale_matrix(sample.image.size, angle, s), sample.image.size)


def rotation_scale_matrix(size: tuple[int, int], angle_deg: float, scale: float) -> np.ndarray:
    """2x3 map rotating by ``angle_deg`` (counter-clockwise on screen) and zooming about the centre."""
    cx, cy = size[0] / 2.0, size[1] / 2.0
    a = np.deg2rad(angle_deg)
    cos, sin = np.cos(a) * scale, np.sin(a) * scale
    # y points down, so a counter-clockwise turn on screen is (x, y) -> (x cos + y sin, -x sin + y cos).
    linear = np.array([[cos, sin], [-sin, cos]])
    centre = np.array([cx, cy])
    return np.hstack([linear, (centre - linear @ centre)[:, None]])


class RandomCrop:
    """With probability ``p``, keep a random window of ``min_fraction``..1 of each side."""

    def __init__(self, min_fraction: float = 0.7, p: float = 0.5) -> None:
        if not 0.0 < min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
        self.min_fraction = min_fraction
        self.p = p

    def __call__(self, sample: PoseSample, rng: np.random.Generator) -> PoseSample:
        if rng.random() >= self.p:
            return sample
        width, height = sample.image.size
        cw = max(1, int(round(width * rng.uniform(self.min_fraction, 1.0))))
        ch = max(1, int(round(height * rng.uniform(self.min_fraction, 1.0))))
        x0 = int(rng.integers(0, width - cw + 1))
        y0 = int(rng.integers(0, height - ch + 1))
        kp = sample.keypoints.copy()
        kp[..., 0] -= x0
        kp[..., 1] -= y0
        return sample.with_geometry(sample.image.crop((x0, y0, x0 + cw, y0 + ch)), kp, sample.areas)


class ResizeLongestSide:
    """Scale the image so that its longer side is ``max_size`` pixels (aspect ratio kept)."""

    def __init__(self, max_size: int) -> None:
        if max_size < 8:
            raise ValueError(f"max_size must be >= 8 pixels, got {max_size}")
        self.max_size = int(max_size)

    def __call__(self, sample: PoseSample, rng: np.random.Generator | None = None) -> PoseSample:
        width, height = sample.image.size
        s = self.max_size / max(width, height)
        new_size = (max(1, int(round(width * s))), max(1, int(round(height * s))))
        if new_size == (width, height):
            return sample
        sx, sy = new_size[0] / width, new_size[1] / height
        image = sample.image.resize(new_size, Image.Resampling.BILINEAR)
        kp = sample.keypoints.copy()
        kp[..., 0] *= sx
        kp[..., 1] *= sy
        return sample.with_geometry(image, kp, sample.areas * sx * sy)


class PhotometricDistort:
    """Random brightness, contrast, saturation (each x U(1 - strength, 1 + strength)) and hue shift."""

    def __init__(self, strength: float = 0.3, max_hue_shift: float = 0.05, p: float = 0.5) -> None:
        self.strength = strength
        self.max_hue_shift = max_hue_shift
        self.p = p

    def __call__(self, sample: PoseSample, rng: np.random.Generator) -> PoseSample:
        image = sample.image
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            if rng.random() < self.p:
                image = enhancer(image).enhance(rng.uniform(1 - self.strength, 1 + self.strength))
        if rng.random() < self.p:
            hsv = np.asarray(image.convert("HSV")).copy()
            shift = int(round(rng.uniform(-self.max_hue_shift, self.max_hue_shift) * 256))
            hsv[..., 0] = (hsv[..., 0].astype(np.int32) + shift) % 256
            image = Image.frombytes("HSV", image.size, hsv.tobytes()).convert("RGB")
        return PoseSample(image, sample.keypoints, sample.areas)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> FloatTensor[3, H, W] normalised with the ImageNet mean and std."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (tensor - mean) / std


def denormalize(image: torch.Tensor) -> np.ndarray:
    """FloatTensor[3, H, W] from ``to_tensor`` -> uint8[H, W, 3], for showing images."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    array = ((image.detach().cpu() * std + mean).clamp(0, 1) * 255).round().byte()
    return array.permute(1, 2, 0).numpy()


def train_transforms(
    flip_index: np.ndarray,
    max_size: int,
    rotation: float = 30.0,
    scale: tuple[float, float] = (0.75, 1.25),
    crop_min_fraction: float = 0.7,
) -> Compose:
    """The training pipeline: photometric, flip, zoom + rotation, crop, resize to ``max_size``."""
    return Compose(
        [
            PhotometricDistort(),
            HorizontalFlip(flip_index),
            RandomAffine(scale, rotation),
            RandomCrop(crop_min_fraction),
            ResizeLongestSide(max_size),
        ]
    )


def eval_transforms(max_size: int) -> Compose:
    """The evaluation pipeline: resize the longer side to ``max_size`` only."""
    return Compose([ResizeLongestSide(max_size)])
