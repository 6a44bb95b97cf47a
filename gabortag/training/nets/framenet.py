"""Frame taggers: waveform → log-mel → first layer (Gabor) → small TCN → per-frame logits.

The voice activity network (:class:`VadNet`, one output) and the bird call tagger (several
classes) share this architecture; ``first_layer`` also allows the ablations of the paper's
claim: a free 2-D convolution of the same kernel size, or no first layer at all.

Everything is *valid* along time, so the network is a fixed function of a sliding window of
samples: output frame ``j`` depends only on padded samples ``[j·hop, j·hop + receptive_field)``.
The runtime pads ``left_pad`` zeros before the audio, which centres output frame ``j`` on the
interval ``[j·hop, (j+1)·hop)`` of the original audio, and can then cut a file into chunks
that overlap by ``receptive_field - hop`` samples with results identical to one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

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
    n_outputs: int = 1  # 1: sigmoid (detection); > 1: softmax over classes
    first_layer: str = "gabor"  # "gabor", "conv" (free 2-D conv, same size) or "none"
    # Per-band noise floor subtracted from the log-mel (0: off, the global mean/std alone).
    # floor = max(min over ``floor_window`` frames of the mean over ``floor_smooth`` frames,
    # ``floor_min``): stationary noise and the recording level cancel, so a frame's features
    # say how far each band rises above the local floor.
    floor_smooth: int = 0  # mel frames (odd)
    floor_window: int = 0  # mel frames (odd)
    floor_min: float = -9.0  # natural-log mel power (white noise at about -66 dBFS)

    def to_dict(self) -> dict[str, object]:
        """The fields as a dict; without the noise-floor ones when it is off, so the configs
        of networks without it read as before it existed."""
        out = asdict(self)
        if self.floor_window == 0:
            for key in ("floor_smooth", "floor_window", "floor_min"):
                del out[key]
        return out


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


FIRST_LAYERS = ("gabor", "conv", "none")


class _Identity(nn.Module):
    """No first layer: the log-mel itself, cropped and strided like a valid (1, L_t) conv."""

    def __init__(self, kernel_size: tuple[int, int], stride: int) -> None:
        super().__init__()
        self.trim = kernel_size[1] // 2
        self.stride = stride
        self.out_channels = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :, self.trim : x.shape[-1] - self.trim : self.stride]


class _FreeConv(nn.Conv2d):
    """Free 2-D convolution with the Gabor layer's kernel size, stride and output channels."""

    def __init__(self, channels: int, kernel_size: tuple[int, int], stride: int) -> None:
        super().__init__(
            1, channels, kernel_size, stride=(1, stride), padding=(kernel_size[0] // 2, 0)
        )


class NoiseFloor(nn.Module):
    """Log-mel ``(B, n_mels, T)`` → its height above a local per-band floor ``(B, n_mels, T')``.

    ``T' = T - (smooth - 1) - (window - 1)`` (valid pooling); output frame ``i`` is input frame
    ``i + trim``, minus the floor of the ``smooth + window - 1`` frames centred on it.
    """

    def __init__(self, smooth: int, window: int, floor_min: float) -> None:
        super().__init__()
        self.smooth, self.window, self.floor_min = smooth, window, floor_min
        self.trim = (smooth - 1) // 2 + (window - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = nn.functional.avg_pool1d(x, self.smooth, stride=1)
        floor = -nn.functional.max_pool1d(-mean, self.window, stride=1)
        floor = torch.clamp(floor, min=self.floor_min)
        return x[:, :, self.trim : x.shape[-1] - self.trim] - floor


class VadNet(nn.Module):
    """Waveform ``(B, N)`` float32 → logits ``(B, T)`` (one output) or ``(B, T, C)``.

    ``T`` frames every ``hop`` samples (see the module docstring for the geometry).
    """

    mel_mean: torch.Tensor  # (n_mels, 1) log-mel mean of the training mixtures
    mel_std: torch.Tensor  # (n_mels, 1)

    def __init__(self, config: VadConfig | None = None, seed: int | None = 0) -> None:
        super().__init__()
        c = config or VadConfig()
        self.config = c
        self.frontend = LogMel(c.sample_rate, c.win_length, c.mel_hop, c.n_mels, c.f_min, c.f_max)
        self.register_buffer("mel_mean", torch.zeros(c.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(c.n_mels, 1))
        self.floor = (
            NoiseFloor(c.floor_smooth, c.floor_window, c.floor_min) if c.floor_window > 0 else None
        )
        if c.first_layer not in FIRST_LAYERS:
            raise ValueError(f"first_layer must be one of {FIRST_LAYERS}, got {c.first_layer!r}")
        self.gabor: nn.Module
        if c.first_layer == "gabor":
            self.gabor = GaborConv2d(
                c.n_kernels, c.kernel_size, "concat", c.gabor_stride, seed=seed
            )
        elif c.first_layer == "conv":
            self.gabor = _FreeConv(2 * c.n_kernels, c.kernel_size, c.gabor_stride)
        else:
            self.gabor = _Identity(c.kernel_size, c.gabor_stride)
        out_channels = int(self.gabor.out_channels)
        self.gabor_norm = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d((c.freq_pool, 1))
        n_feat = out_channels * (c.n_mels // c.freq_pool)
        self.proj = nn.Conv1d(n_feat, c.channels, 1)
        self.proj_norm = nn.BatchNorm1d(c.channels)
        self.blocks = nn.Sequential(*[_Block(c.channels, c.tcn_kernel, d) for d in c.dilations])
        self.head = nn.Conv1d(c.channels, c.n_outputs, 1)

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
        if self.floor is not None:
            mel_frames += 2 * self.floor.trim
        return (mel_frames - 1) * c.mel_hop + c.win_length

    @property
    def left_pad(self) -> int:
        """Zeros to put before the audio so output ``j`` is centred on ``[j·hop, (j+1)·hop)``."""
        return (self.receptive_field - self.hop) // 2

    # --- forward ---------------------------------------------------------------------------
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``(B, n_mels, T_mel)`` (above its noise floor when configured)."""
        mel = self.frontend(wav)
        if self.floor is not None:
            mel = self.floor(mel)
        feats: torch.Tensor = (mel - self.mel_mean) / self.mel_std
        return feats

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.features(wav).unsqueeze(1)
        x = nn.functional.leaky_relu(self.gabor_norm(self.gabor(x)), 0.1)
        x = self.pool(x)
        b, ch, f, t = x.shape
        x = torch.relu(self.proj_norm(self.proj(x.reshape(b, ch * f, t))))
        x = self.blocks(x)
        logits: torch.Tensor = self.head(x)
        if self.config.n_outputs == 1:
            return logits.squeeze(1)
        return logits.transpose(1, 2)

    def n_outputs(self, n_padded: int) -> int:
        """Number of output frames for a padded input of ``n_padded`` samples."""
        return max(0, (n_padded - self.receptive_field) // self.hop + 1)


def from_checkpoint(ck: Mapping[str, Any]) -> VadNet:
    """The network (eval mode) of a checkpoint dict holding ``config`` (a :class:`VadConfig` as
    a dict; lists for its tuples) and ``model`` (the state dict)."""
    cfg = dict(ck["config"])
    cfg["kernel_size"] = tuple(cfg["kernel_size"])
    cfg["dilations"] = tuple(cfg["dilations"])
    net = VadNet(VadConfig(**cfg))
    net.load_state_dict(ck["model"])
    return net.eval()
