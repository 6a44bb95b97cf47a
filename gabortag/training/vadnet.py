"""The voice activity network: waveform → log-mel → Gabor layer → small TCN → speech logits.

Everything is *valid* along time, so the network is a fixed function of a sliding window of
samples: output frame ``j`` depends only on padded samples ``[j·hop, j·hop + receptive_field)``.
The runtime pads ``left_pad`` zeros before the audio, which centres output frame ``j`` on the
interval ``[j·hop, (j+1)·hop)`` of the original audio, and can then cut a file into chunks
that overlap by ``receptive_field - hop`` samples with results identical to one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .frontend import LogMel
from .gabor import GaborConv2d


@dataclass(frozen=True)
class VadConfig:
    """Architecture hyper-parameters (stored in checkpoints and ONNX metadata)."""

    sample_rate: int = 16000
    win_length: int = 400  # 25 ms
    mel_hop: int = 160  # 10 ms
    n_mels: int = 40
    f_min: float = 60.0
    f_max: float = 8000.0
    n_kernels: int = 32
    kernel_size: tuple[int, int] = (9, 31)  # (mel bins, frames)
    gabor_stride: int = 2  # output hop = mel_hop * gabor_stride = 20 ms
    freq_pool: int = 4
    channels: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    tcn_kernel: int = 5

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Block(nn.Module):
    """Residual block: depthwise dilated conv (valid), pointwise, BN, ReLU; centre-cropped skip."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.trim = (kernel - 1) * dilation // 2
        self.depthwise = nn.Conv1d(channels, channels, kernel, dilation=dilation, groups=channels)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm(self.pointwise(self.depthwise(x))))
        return x[:, :, self.trim : x.shape[-1] - self.trim] + y


class VadNet(nn.Module):
    """Waveform ``(B, N)`` float32 at 16 kHz → speech logits ``(B, T)`` at ``hop`` samples."""

    mel_mean: torch.Tensor  # (n_mels, 1) log-mel mean of the training mixtures
    mel_std: torch.Tensor  # (n_mels, 1)

    def __init__(self, config: VadConfig | None = None, seed: int | None = 0) -> None:
        super().__init__()
        c = config or VadConfig()
        self.config = c
        self.frontend = LogMel(c.sample_rate, c.win_length, c.mel_hop, c.n_mels, c.f_min, c.f_max)
        self.register_buffer("mel_mean", torch.zeros(c.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(c.n_mels, 1))
        self.gabor = GaborConv2d(c.n_kernels, c.kernel_size, "concat", c.gabor_stride, seed=seed)
        self.gabor_norm = nn.BatchNorm2d(self.gabor.out_channels)
        self.pool = nn.MaxPool2d((c.freq_pool, 1))
        n_feat = self.gabor.out_channels * (c.n_mels // c.freq_pool)
        self.proj = nn.Conv1d(n_feat, c.channels, 1)
        self.proj_norm = nn.BatchNorm1d(c.channels)
        self.blocks = nn.Sequential(*[_Block(c.channels, c.tcn_kernel, d) for d in c.dilations])
        self.head = nn.Conv1d(c.channels, 1, 1)

    # --- frame geometry ------------------------------------------------------------------
    @property
    def hop(self) -> int:
        """Output hop in samples (320 = 20 ms at 16 kHz)."""
        return self.config.mel_hop * self.config.gabor_stride

    @property
    def tcn_trim(self) -> int:
        """Output frames removed by the back end's valid convolutions (both sides together)."""
        c = self.config
        return sum((c.tcn_kernel - 1) * d for d in c.dilations)

    @property
    def receptive_field(self) -> int:
        """Samples of padded input that one output frame sees."""
        c = self.config
        mel_frames = c.gabor_stride * self.tcn_trim + c.kernel_size[1]
        return (mel_frames - 1) * c.mel_hop + c.win_length

    @property
    def left_pad(self) -> int:
        """Zeros to put before the audio so output ``j`` is centred on ``[j·hop, (j+1)·hop)``."""
        return (self.receptive_field - self.hop) // 2

    # --- forward ---------------------------------------------------------------------------
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``(B, n_mels, T_mel)``."""
        feats: torch.Tensor = (self.frontend(wav) - self.mel_mean) / self.mel_std
        return feats

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(wav).unsqueeze(1)
        x = nn.functional.leaky_relu(self.gabor_norm(self.gabor(x)), 0.1)
        x = self.pool(x)
        b, ch, f, t = x.shape
        x = torch.relu(self.proj_norm(self.proj(x.reshape(b, ch * f, t))))
        x = self.blocks(x)
        logits: torch.Tensor = self.head(x).squeeze(1)
        return logits

    def n_outputs(self, n_padded: int) -> int:
        """Number of output frames for a padded input of ``n_padded`` samples."""
        return max(0, (n_padded - self.receptive_field) // self.hop + 1)
