"""Shared helpers for the torch tests (synthetic signals, randomised parameters).

Import this only after ``pytest.importorskip("torch")`` in the test module.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

SR = 16000


def speech_like(seconds: float, rng: np.random.Generator, noise_db: float = -30.0) -> np.ndarray:
    """Harmonic complex (f0 ~ 120-200 Hz, 1/k amplitudes) with a 4 Hz amplitude modulation, plus
    white noise ``noise_db`` below it; float32, peak about 0.5."""
    n = round(seconds * SR)
    t = np.arange(n) / SR
    f0 = rng.uniform(120.0, 200.0)
    vibrato = 1.0 + 0.03 * np.sin(2 * math.pi * 5.0 * t)
    phase = 2 * math.pi * f0 * np.cumsum(vibrato) / SR
    harm = sum(np.sin(k * phase + rng.uniform(0, 2 * math.pi)) / k for k in range(1, 20))
    envelope = 0.5 * (1.0 - np.cos(2 * math.pi * 4.0 * t + rng.uniform(0, 2 * math.pi)))
    x = harm * envelope
    x = 0.5 * x / (np.abs(x).max() + 1e-9)
    rms = float(np.sqrt(np.mean(x**2)))
    x = x + rng.standard_normal(n) * rms * 10 ** (noise_db / 20)
    return x.astype(np.float32)


def stationary_noise(n: int, rng: np.random.Generator, rms: float = 0.1) -> np.ndarray:
    """Gently coloured stationary noise (first-order low-pass of white noise), float32."""
    w = rng.standard_normal(n + 1)
    x = w[1:] + 0.5 * w[:-1]
    return (rms * x / x.std()).astype(np.float32)


def randomise_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """Give every BatchNorm non-identity running statistics and affine parameters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(1.0 + 0.3 * torch.randn(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
