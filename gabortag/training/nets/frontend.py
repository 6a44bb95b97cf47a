"""Log-mel front end in torch, written so that it exports to ONNX as plain convolutions.

The short-time Fourier transform is a ``Conv1d`` whose fixed weights are the windowed DFT basis
(cos and sin rows), followed by power, a mel matrix product and a log. Framing is *valid* (no
padding inside the graph): a waveform of ``N`` samples gives ``(N - win_length) // hop_length + 1``
frames, frame ``i`` covering samples ``[i * hop, i * hop + win_length)``. Callers pad; this is what
makes chunked processing equal to whole-file processing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...melscale import mel_filterbank


class LogMel(nn.Module):
    """Waveform ``(B, N)`` float32 at ``sample_rate`` Hz → log-mel ``(B, n_mels, T)``.

    Power spectrum of a Hann window of ``win_length`` samples (DFT size = window), mel filters
    from :func:`gabortag.melscale.mel_filterbank`, natural log of ``power + eps``.
    """

    dft: torch.Tensor  # (2 * n_bins, 1, win_length) windowed cos / -sin basis
    mel: torch.Tensor  # (n_mels, n_bins)

    def __init__(
        self,
        sample_rate: int = 16000,
        win_length: int = 400,
        hop_length: int = 160,
        n_mels: int = 40,
        f_min: float = 60.0,
        f_max: float = 8000.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.eps = eps
        n_bins = win_length // 2 + 1
        n = np.arange(win_length)
        window = 0.5 - 0.5 * np.cos(2 * math.pi * n / win_length)  # periodic Hann
        k = np.arange(n_bins)[:, None]
        phase = 2 * math.pi * k * n[None, :] / win_length
        basis = np.concatenate([np.cos(phase), -np.sin(phase)], axis=0) * window[None, :]
        self.register_buffer("dft", torch.tensor(basis[:, None, :], dtype=torch.float32))
        fb = mel_filterbank(sample_rate, win_length, n_mels, f_min, f_max)
        self.register_buffer("mel", torch.tensor(fb, dtype=torch.float32))
        self.n_bins = n_bins

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = nn.functional.conv1d(wav.unsqueeze(1), self.dft, stride=self.hop_length)
        real, imag = spec[:, : self.n_bins], spec[:, self.n_bins :]
        power = real * real + imag * imag  # (B, n_bins, T)
        mel = torch.matmul(self.mel, power)  # (B, n_mels, T)
        return torch.log(mel + self.eps)
