"""The associative-embedding network: JCRA's backbone, a feature pyramid to stride 4, heatmaps
and tags, and HigherHRNet's higher-resolution heatmap branch.

    images [B, 3, H, W]
      -> ResNetBackbone (JCRA's class and stage widths/depths; all four stages C2..C5 returned)
      -> top-down pyramid: 1x1 lateral convolutions to ``head_width``, upsample-and-add from C5
         down to C2, two coordinate channels, a 3x3 convolution: features at stride 4
      -> 1x1 convolution: K heatmaps and K tags at stride 4 (one tag per joint type, as
         HigherHRNet's ``TAG_PER_JOINT``)
      -> (higher_resolution) HigherHRNet's deconvolution module: concat(features, heatmaps, tags)
         -> 4x4 transposed convolution to stride 2 -> a residual block -> K heatmaps at stride 2.

HigherHRNet builds this on HRNet; here the backbone is JCRA's ResNet so the two models differ only
in what follows the backbone. Heatmaps are raw regressions of Gaussians (no activation).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..backbone import BasicBlock, ResNetBackbone
from ..config import ModelConfig, get_config
from .loss import LossWeights


@dataclass(frozen=True)
class BottomUpConfig:
    """The baseline's shape: JCRA's ``model`` config supplies backbone, keypoints and input size.

    Attributes:
        model: the JCRA config whose backbone, ``num_keypoints`` and ``input_size`` are shared.
        head_width: channels of the pyramid and the higher-resolution branch (HigherHRNet-W32's
            final branch has 32).
        higher_resolution: add the stride-2 heatmap branch (HigherHRNet) or stop at stride 4
            (Associative Embedding on a simple pyramid).
        sigma: Gaussian target spread in heatmap cells, at both strides (HigherHRNet: 2).
        coordinates: append normalised (x, y) channels to the stride-4 features (CoordConv). Not
            in HigherHRNet; tags must differ between persons that look alike, which needs a
            sense of position, and a small network trained briefly separates tags better with it
            (push loss 0.05 vs 0.17 after 300 steps at push 1 / pull 0.1, synthetic data).
        loss: loss weights.
    """

    model: ModelConfig = field(default_factory=lambda: get_config("small"))
    head_width: int = 32
    higher_resolution: bool = True
    sigma: float = 2.0
    coordinates: bool = True
    loss: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        if self.head_width < 1:
            raise ValueError(f"head_width must be >= 1, got {self.head_width}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be > 0 cells, got {self.sigma}")

    @property
    def name(self) -> str:
        return f"bottomup-{self.model.name}"

    @property
    def strides(self) -> tuple[int, ...]:
        """Output strides: 4, and 2 with the higher-resolution branch."""
        return (4, 2) if self.higher_resolution else (4,)

    def to_dict(self) -> dict:
        return {
            "model": self.model.to_dict(),
            "head_width": self.head_width,
            "higher_resolution": self.higher_resolution,
            "sigma": self.sigma,
            "coordinates": self.coordinates,
            "loss": dataclasses.asdict(self.loss),
        }

    @classmethod
    def from_dict(cls, data: dict) -> BottomUpConfig:
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"bottom-up config has unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(model=ModelConfig.from_dict(data.pop("model")), loss=LossWeights(**data.pop("loss", {})), **data)

    def key(self) -> str:
        """Stable JSON of the whole config, for cache keys and checkpoint checks."""
        return json.dumps(self.to_dict(), sort_keys=True)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class AssociativeEmbedding(nn.Module):
    """``forward(images [B, 3, H, W]) -> dict``.

    Output dict:
        heatmaps: ``[B, K, ceil(H/4), ceil(W/4)]``.
        tags: ``[B, K, ceil(H/4), ceil(W/4)]``.
        heatmaps_higher: ``[B, K, 2 ceil(H/4), 2 ceil(W/4)]`` (higher_resolution only).
    """

    def __init__(self, config: BottomUpConfig):
        super().__init__()
        self.config = config
        num_keypoints, width = config.model.num_keypoints, config.head_width
        backbone_config = dataclasses.replace(config.model.backbone, return_stages=(0, 1, 2, 3))
        self.backbone = ResNetBackbone(backbone_config)
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in self.backbone.out_channels)
        self.smooth = _conv_bn_relu(width + (2 if config.coordinates else 0), width, 3)
        self.final = nn.Conv2d(width, 2 * num_keypoints, 1)
        if config.higher_resolution:
            self.deconv = nn.Sequential(
                nn.ConvTranspose2d(width + 2 * num_keypoints, width, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                BasicBlock(width, width, 1),
            )
            self.final_higher = nn.Conv2d(width, num_keypoints, 1)
        # Heatmap outputs start near zero (HigherHRNet's std 0.001), i.e. empty heatmaps. The tag
        # outputs keep the default init: identical tags are a stationary point of the push loss
        # (its gradient is proportional to the tag difference), so near-zero tags never separate.
        heatmap_layers = [(self.final, num_keypoints)]
        if config.higher_resolution:
            heatmap_layers.append((self.final_higher, num_keypoints))
        for layer, channels in heatmap_layers:
            nn.init.normal_(layer.weight[:channels], std=0.001)
            nn.init.zeros_(layer.bias[:channels])

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W], got {list(images.shape)}")
        stages = self.backbone(images)
        features = self.lateral[-1](stages[-1])
        for lateral, stage in zip(reversed(self.lateral[:-1]), reversed(stages[:-1])):
            features = lateral(stage) + F.interpolate(features, size=stage.shape[-2:], mode="nearest")
        if self.config.coordinates:
            batch, _, height, width = features.shape
            ys = (
                torch.linspace(-1, 1, height, device=features.device)
                .view(1, 1, height, 1)
                .expand(batch, 1, height, width)
            )
            xs = (
                torch.linspace(-1, 1, width, device=features.device)
                .view(1, 1, 1, width)
                .expand(batch, 1, height, width)
            )
            features = torch.cat((features, xs, ys), dim=1)
        features = self.smooth(features)
        output = self.final(features)
        num_keypoints = self.config.model.num_keypoints
        result = {"heatmaps": output[:, :num_keypoints], "tags": output[:, num_keypoints:]}
        if self.config.higher_resolution:
            result["heatmaps_higher"] = self.final_higher(self.deconv(torch.cat((features, output), dim=1)))
        return result
