"""Clip classifier for sound scenes: waveform → log-mel → first layer (Gabor) → compact CNN →
class logits per analysis window.

The back end follows the PANN recipe at a small scale: blocks of two 3×3 convolutions with
batch norm and ReLU, each followed by 2×2 average pooling, then a mean over mel bands and the
sum of the mean and max over time, and one linear layer. Global pooling makes the network
accept any window length of at least :attr:`SceneNet.min_samples` samples.

``first_layer`` allows the ablations: a free 2-D convolution of the Gabor layer's kernel size
and output channels, or no first layer (the log-mel goes straight into the back end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .framenet import FIRST_LAYERS
from .frontend import LogMel
from .gabor import GaborConv2d


@dataclass(frozen=True)
class SceneConfig:
    """Architecture hyper-parameters (stored in checkpoints and ONNX metadata)."""

    sample_rate: int = 16000
    win_length: int = 400  # 25 ms
    mel_hop: int = 160  # 10 ms
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 8000.0
    n_kernels: int = 16
    kernel_size: tuple[int, int] = (9, 25)  # (mel bins, frames)
    gabor_stride: int = 2
    channels: tuple[int, ...] = (32, 64, 128)
    dropout: float = 0.3
    n_classes: int = 14
    first_layer: str = "gabor"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return nn.functional.avg_pool2d(x, 2)


class SceneNet(nn.Module):
    """Waveform ``(B, N)`` float32 at ``sample_rate`` → logits ``(B, n_classes)``."""

    mel_mean: torch.Tensor  # (n_mels, 1)
    mel_std: torch.Tensor  # (n_mels, 1)

    def __init__(self, config: SceneConfig | None = None, seed: int | None = 0) -> None:
        super().__init__()
        c = config or SceneConfig()
        self.config = c
        if c.first_layer not in FIRST_LAYERS:
            raise ValueError(f"first_layer must be one of {FIRST_LAYERS}, got {c.first_layer!r}")
        self.frontend = LogMel(c.sample_rate, c.win_length, c.mel_hop, c.n_mels, c.f_min, c.f_max)
        self.register_buffer("mel_mean", torch.zeros(c.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(c.n_mels, 1))
        lf = c.kernel_size[0]
        self.gabor: nn.Module
        if c.first_layer == "gabor":
            self.gabor = GaborConv2d(
                c.n_kernels, c.kernel_size, "concat", c.gabor_stride, seed=seed
            )
            first = 2 * c.n_kernels
        elif c.first_layer == "conv":
            self.gabor = nn.Conv2d(
                1, 2 * c.n_kernels, c.kernel_size, stride=(1, c.gabor_stride), padding=(lf // 2, 0)
            )
            first = 2 * c.n_kernels
        else:
            self.gabor = nn.Identity()
            first = 1
        self.first_norm = nn.BatchNorm2d(first)
        blocks, c_in = [], first
        for c_out in c.channels:
            blocks.append(_ConvBlock(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c_in, c.n_classes)

    @property
    def min_samples(self) -> int:
        """Shortest window the network accepts (shorter ones are zero-padded by the runtime)."""
        c = self.config
        frames = int(c.kernel_size[1]) + c.gabor_stride * (2 * 2 ** len(c.channels) - 1)
        return int((frames - 1) * c.mel_hop + c.win_length)

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``(B, n_mels, frames)``, a frame every ``mel_hop`` samples."""
        feats: torch.Tensor = (self.frontend(wav) - self.mel_mean) / self.mel_std
        return feats

    def classify(self, mel: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of normalised log-mel ``(B, n_mels, frames)``."""
        x = mel.unsqueeze(1)
        if self.config.first_layer == "none":
            x = x[:, :, :, :: self.config.gabor_stride]
        else:
            x = self.gabor(x)
        x = nn.functional.leaky_relu(self.first_norm(x), 0.1)
        x = nn.functional.max_pool2d(x, 2)
        x = self.blocks(x)
        x = x.mean(dim=2)  # over mel bands: (B, C, T)
        x = x.mean(dim=2) + x.amax(dim=2)
        logits: torch.Tensor = self.head(self.dropout(x))
        return logits

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(wav))


def from_checkpoint(ck: Mapping[str, Any]) -> SceneNet:
    """The network (eval mode) of a checkpoint dict holding ``config`` and ``model``."""
    cfg = dict(ck["config"])
    cfg["kernel_size"] = tuple(cfg["kernel_size"])
    cfg["channels"] = tuple(cfg["channels"])
    net = SceneNet(SceneConfig(**cfg))
    net.load_state_dict(ck["model"])
    return net.eval()
