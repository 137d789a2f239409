"""A ResNet written here (no torchvision, no downloaded weights), returning multi-scale features.

Stem (7x7 stride-2 convolution + 3x3 stride-2 max pool) to stride 4, then four stages C2..C5 at
strides 4, 8, 16, 32 built from basic blocks (ResNet-18/34 style) or bottlenecks (ResNet-50
style, 4x channel expansion). ``BackboneConfig.return_stages`` picks the stages handed to the
transformer.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import BackboneConfig


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection; ``[B, C_in, H, W] -> [B, C, H/s, W/s]``."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn(in_channels, width, 3, stride)
        self.conv2 = _conv_bn(width, width, 3)
        self.shortcut = (
            _conv_bn(in_channels, width, 1, stride) if stride != 1 or in_channels != width else nn.Identity()
        )
        nn.init.zeros_(self.conv2[1].weight)  # each block starts as the identity: stable from scratch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand to ``4 * width``; ``[B, C_in, H, W] -> [B, 4*width, H/s, W/s]``."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = _conv_bn(in_channels, width, 1)
        self.conv2 = _conv_bn(width, width, 3, stride)
        self.conv3 = _conv_bn(width, out_channels, 1)
        self.shortcut = (
            _conv_bn(in_channels, out_channels, 1, stride)
            if stride != 1 or in_channels != out_channels
            else nn.Identity()
        )
        nn.init.zeros_(self.conv3[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return torch.relu(self.conv3(y) + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """Image -> list of feature maps at the configured stages.

    ``forward(images [B, 3, H, W]) -> [f_l [B, out_channels[l], ceil(H/stride_l), ceil(W/stride_l)]]``
    for each stage in ``config.return_stages``.
    """

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        block = BasicBlock if config.block == "basic" else Bottleneck
        self.stem = nn.Sequential(
            _conv_bn(3, config.stem_width, 7, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, channels, in_channels = [], [], config.stem_width
        for index, (width, depth) in enumerate(zip(config.widths, config.depths)):
            blocks = []
            for b in range(depth):
                stride = 2 if index > 0 and b == 0 else 1
                blocks.append(block(in_channels, width, stride))
                in_channels = width * block.expansion
            stages.append(nn.Sequential(*blocks))
            channels.append(in_channels)
        self.stages = nn.ModuleList(stages)
        self.out_channels = [channels[s] for s in config.return_stages]
        self.strides = [4 * 2**s for s in config.return_stages]

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(images)
        features = []
        for index, stage in enumerate(self.stages[: max(self.config.return_stages) + 1]):
            x = stage(x)
            if index in self.config.return_stages:
                features.append(x)
        return features
