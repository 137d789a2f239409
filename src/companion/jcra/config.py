"""Named model configurations: ``tiny`` (tests), ``small`` (the default CPU profile), ``paper``.

JCRA's paper gives no architecture details beyond "deformable attention, symmetric
encoder/decoder, 300 pose queries"; where it is silent, ``paper`` follows PETR's published
settings (ResNet-50, width 256, 6 + 6 layers, 4 levels, 4 sampling points, FFN 1024, focal 2 /
L1 70 / OKS 2 loss weights; see ``../shared/papers/jcra.md``). ``small`` shrinks the same design
until a 2-core CPU trains it in minutes on 128-pixel synthetic images.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackboneConfig:
    """A ResNet: a stride-4 stem, then four stages C2..C5 at strides 4, 8, 16, 32.

    Attributes:
        block: ``"basic"`` (two 3x3 convolutions, ResNet-18/34) or ``"bottleneck"``
            (1x1-3x3-1x1 with 4x expansion, ResNet-50).
        stem_width: channels of the stem convolution.
        widths: inner channels of stages C2..C5.
        depths: residual blocks in stages C2..C5 (ResNet-50: 3, 4, 6, 3).
        return_stages: which stages feed the transformer, as indices into (C2, C3, C4, C5).
    """

    block: str = "basic"
    stem_width: int = 32
    widths: tuple[int, int, int, int] = (32, 64, 128, 256)
    depths: tuple[int, int, int, int] = (1, 1, 1, 1)
    return_stages: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self) -> None:
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"backbone block must be 'basic' or 'bottleneck', got {self.block!r}")
        if len(self.widths) != 4 or len(self.depths) != 4 or min(self.widths) < 1 or min(self.depths) < 1:
            raise ValueError(
                f"backbone widths and depths must be 4 positive integers, got {self.widths}, {self.depths}"
            )
        if (
            not self.return_stages
            or sorted(set(self.return_stages)) != list(self.return_stages)
            or not all(0 <= s <= 3 for s in self.return_stages)
        ):
            raise ValueError(f"backbone return_stages must be increasing indices in 0..3, got {self.return_stages}")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and matching costs (PETR's published values by default).

    Attributes:
        focal_alpha, focal_gamma: focal loss parameters for the person score.
        class_weight, keypoint_l1_weight, oks_weight, visibility_weight: loss weights.
        match_class, match_l1, match_oks: Hungarian matching cost weights.
        encoder_loss: also supervise the encoder's pose proposals (the query selection).
    """

    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    class_weight: float = 2.0
    keypoint_l1_weight: float = 70.0
    oks_weight: float = 2.0
    visibility_weight: float = 1.0
    match_class: float = 2.0
    match_l1: float = 70.0
    match_oks: float = 7.0
    encoder_loss: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the network's shape (a checkpoint is only valid for its config).

    Attributes:
        name: the config's name (``tiny``, ``small``, ``paper`` or a derived name).
        num_keypoints: K, 17 for COCO, 14 for CrowdPose.
        backbone: the ResNet.
        extra_levels: stride-2 convolutions added after the last returned stage (PETR: 1).
        fine_level: the keypoint refiners also sample stage C2 at stride 4 (projected, not
            encoded), so joints can be placed precisely in small images.
        d_model: transformer width.
        n_heads: attention heads.
        n_points: sampling points per head and level in the encoder (the decoder samples one
            point per keypoint).
        encoder_layers, decoder_layers: depth of each side (symmetric when equal).
        ffn_dim: hidden width of the feed-forward blocks.
        dropout: dropout in the transformer.
        num_queries: pose queries (person slots) per image.
        input_size: longer image side, in pixels, that inference resizes images to.
        loss: loss weights and matching costs.
    """

    name: str = "small"
    num_keypoints: int = 17
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    extra_levels: int = 0
    fine_level: bool = True
    d_model: int = 128
    n_heads: int = 4
    n_points: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    ffn_dim: int = 256
    dropout: float = 0.0
    num_queries: int = 20
    input_size: int = 128
    loss: LossConfig = field(default_factory=LossConfig)

    def __post_init__(self) -> None:
        positive = (
            "num_keypoints",
            "d_model",
            "n_heads",
            "n_points",
            "ffn_dim",
            "num_queries",
            "input_size",
            "encoder_layers",
            "decoder_layers",
        )
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"model config {name} must be >= 1, got {getattr(self, name)!r}")
        if self.fine_level and 0 in self.backbone.return_stages:
            raise ValueError("fine_level adds stage C2 for the refiners; backbone return_stages must not include 0")
        if self.extra_levels < 0:
            raise ValueError(f"model config extra_levels must be >= 0, got {self.extra_levels!r}")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model ({self.d_model}) must split into n_heads ({self.n_heads}) heads of even width")
        if self.d_model % 2:
            raise ValueError(f"d_model must be even for the sine positional encoding, got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model config dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def n_levels(self) -> int:
        """Feature levels the deformable attention sees."""
        return len(self.backbone.return_stages) + self.extra_levels

    @property
    def strides(self) -> tuple[int, ...]:
        """Stride, in input pixels, of each feature level."""
        base = tuple(4 * 2**s for s in self.backbone.return_stages)
        extra = tuple(base[-1] * 2 ** (i + 1) for i in range(self.extra_levels))
        return base + extra

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (``backbone`` and ``loss`` may be given as dicts)."""
        if isinstance(changes.get("backbone"), dict):
            changes["backbone"] = dataclasses.replace(self.backbone, **changes["backbone"])
        if isinstance(changes.get("loss"), dict):
            changes["loss"] = dataclasses.replace(self.loss, **changes["loss"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"model config has unknown keys {unknown}; expected some of {sorted(known)}")
        backbone = {k: tuple(v) if isinstance(v, list) else v for k, v in data.pop("backbone", {}).items()}
        return cls(backbone=BackboneConfig(**backbone), loss=LossConfig(**data.pop("loss", {})), **data)


CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        name="tiny",
        backbone=BackboneConfig(
            block="basic", stem_width=8, widths=(8, 16, 16, 32), depths=(1, 1, 1, 1), return_stages=(1, 2, 3)
        ),
        d_model=32,
        n_heads=2,
        n_points=2,
        encoder_layers=1,
        decoder_layers=1,
        ffn_dim=64,
        num_queries=10,
        input_size=64,
    ),
    "small": ModelConfig(name="small"),
    "paper": ModelConfig(
        name="paper",
        backbone=BackboneConfig(
            block="bottleneck", stem_width=64, widths=(64, 128, 256, 512), depths=(3, 4, 6, 3), return_stages=(1, 2, 3)
        ),
        extra_levels=1,
        fine_level=False,
        d_model=256,
        n_heads=8,
        n_points=4,
        encoder_layers=6,
        decoder_layers=6,
        ffn_dim=1024,
        dropout=0.1,
        num_queries=300,
        input_size=1333,
    ),
}


def get_config(name: str, **overrides) -> ModelConfig:
    """The named config (``tiny``, ``small``, ``paper``), with optional field overrides."""
    if name not in CONFIGS:
        raise ValueError(f"config name must be one of {sorted(CONFIGS)}, got {name!r}")
    return CONFIGS[name].replace(**overrides) if overrides else CONFIGS[name]
